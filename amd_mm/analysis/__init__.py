"""Measuring training steps and what they teach (used by ``tools/benchmark.py``,
``tools/plan.py`` and ``tools/study.py``).

Steps:

* :mod:`.step` -- one training step of any config on a synthetic batch: input geometry,
  batches shaped as the pipeline gives them, the model and optimizer as the runner
  builds them.
* :mod:`.counters` -- what a step costs when it runs: FLOPs, bytes kept for backward,
  the allocator's peak, RSS, the machine's matmul rate.
* :mod:`.memory_plan` -- what a step would cost at sizes that do not run here: per-device
  peak memory from fake tensors (``FakeTensorMode`` + ``MemTracker``), the largest batch
  that fits.
* :mod:`.official_amd` -- the same step of the official MCG-NJU/AMD code, imported at
  run time from an export of its repository.
* :mod:`.data_pipeline` -- what a config's data pipeline costs: seconds per video, the
  per-step profile, DataLoader throughput per worker count, alternating rounds against
  another implementation.
* :mod:`.official_data` -- the official loaders (its ``dataset`` package, imported at run
  time) at a config's settings, for those rounds.
* :mod:`.gpu_report` -- merges the outputs of ``tools/gpu_check.sh`` into one record.

What a pre-trained encoder learned (the study):

* :mod:`.probe`: frozen-encoder features and a cross-validated linear probe;
* :mod:`.stats`: means, spreads and seed-paired differences of accuracies;
* :mod:`.runs`: one study job (pre-train, probe, fine-tune) with MMEngine runners from
  config files, and what a finished run left (losses, checkpoint);
* :mod:`.report`: the study's tables and pictures.

Nothing here is imported by ``import amd_mm``: the tools import what they use
(scikit-learn and matplotlib are only needed by the study's modules).
"""
