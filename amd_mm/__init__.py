"""amd_mm: Asymmetric Masked Distillation for small ViTs, as an OpenMMLab plugin.

``custom_imports = dict(imports=['amd_mm'], allow_failed_imports=False)`` in an
mmpretrain or mmaction2 config registers every component.

Floors, each importing only the ones above it in this list (docs/design.md):
``compat`` / ``registry`` (dependency fixes, shared registration), ``utils`` (errors,
config reading), ``masking``, ``checkpoints`` (every checkpoint file concern),
``models`` (read from outside through ``models.algorithms.contract``), ``datasets``,
``engine`` (loops, hooks, optimizer wrappers), ``measure`` (step cost, memory plans),
``analysis`` (the study), ``tools_lib`` (the command lines' code).
"""
from . import compat

compat.apply()  # must run before anything imports mmaction.models

from . import checkpoints, datasets, engine, masking, models  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402,F401
