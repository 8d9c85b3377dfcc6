"""The study: what a pre-trained encoder learned (``tools/study.py``).

* :mod:`.probe`: frozen-encoder features and a cross-validated linear probe;
* :mod:`.stats`: means, spreads and seed-paired differences of accuracies;
* :mod:`.runs`: one study job (pre-train, probe, fine-tune) with MMEngine runners from
  config files, and what a finished run left (losses, checkpoint);
* :mod:`.report`: the study's tables and pictures.

May import :mod:`amd_mm.models` (through the model-engine contract and its pictures,
:mod:`amd_mm.models.algorithms.contract`, :mod:`amd_mm.models.algorithms.pictures`) and
:mod:`amd_mm.utils`; never :mod:`amd_mm.engine` or :mod:`amd_mm.tools_lib`. What a step
costs is measured by :mod:`amd_mm.measure`. Nothing here is imported by
``import amd_mm`` (scikit-learn and matplotlib are only needed here).
"""
