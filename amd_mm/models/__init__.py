"""The model: student encoders and the frozen teacher (:mod:`.backbones`), pixel decoder
and feature generators (:mod:`.necks`), losses (:mod:`.losses`), token bookkeeping and
transformer blocks (:mod:`.utils`), the data preprocessors the toolboxes lack, and the
algorithm with its model-engine contract (:mod:`.algorithms`).

May import :mod:`amd_mm.masking`, :mod:`amd_mm.checkpoints` (a teacher loads its file at
build time), :mod:`amd_mm.registry` and :mod:`amd_mm.utils`, and the toolboxes; never
:mod:`amd_mm.datasets`, :mod:`amd_mm.engine`, :mod:`amd_mm.measure`,
:mod:`amd_mm.analysis` or :mod:`amd_mm.tools_lib`. Code outside this package reads an
amd_mm model through :mod:`amd_mm.models.algorithms.contract` only.
"""
from . import algorithms, backbones, data_preprocessors, losses, necks  # noqa: F401 (registration)
