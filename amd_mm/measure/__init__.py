"""Measuring what a training step and a data pipeline cost (``tools/benchmark.py``,
``tools/plan.py``, ``tools/gpu_check.sh``).

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

May import :mod:`amd_mm.models` (an amd_mm model through the model-engine contract,
:mod:`amd_mm.models.algorithms.contract`, only), :mod:`amd_mm.utils` and the toolboxes;
never :mod:`amd_mm.engine`, :mod:`amd_mm.analysis` or :mod:`amd_mm.tools_lib`. Nothing
here is imported by ``import amd_mm``: the tools import what they use.
"""
