"""Measuring and planning training steps (used by ``tools/benchmark.py`` and ``tools/plan.py``).

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
* :mod:`.gpu_report` -- merges the outputs of ``tools/gpu_check.sh`` into one record.

Nothing here is imported by ``import amd_mm``: the tools import what they use.
"""
