"""Measuring what a pre-trained encoder learned (used by tools/study.py).

* :mod:`.probe`: frozen-encoder features and a cross-validated linear probe;
* :mod:`.stats`: means, spreads and seed-paired differences of accuracies;
* :mod:`.runs`: one study job (pre-train, probe, fine-tune) with MMEngine runners from
  config files, and what a finished run left (losses, checkpoint);
* :mod:`.report`: the study's tables and pictures.

Sub-modules are imported on use: scikit-learn and matplotlib are only needed here.
"""
