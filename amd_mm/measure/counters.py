"""What a step costs when it runs: FLOPs, bytes kept for backward, allocator peak, RSS."""
import os
import resource
import statistics
import time
from typing import Callable, Iterable, List, Optional

import torch


def sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


# -- time ---------------------------------------------------------------------
def time_calls(fn: Callable[[], object], device: torch.device, calls: int) -> List[float]:
    """Wall time of each of ``calls`` calls of ``fn()`` (seconds, device synchronised)."""
    times = []
    for _ in range(calls):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def time_summary(times: List[float]) -> dict:
    return dict(median=round(statistics.median(times), 5), min=round(min(times), 5),
                max=round(max(times), 5))


# -- FLOPs ----------------------------------------------------------------------
def flop_counter():
    """``FlopCounterMode`` that also counts the CPU fused-attention kernels (torch counts
    only the CUDA ones), so fused and explicit attention are counted alike."""
    from torch.utils import flop_counter as fc
    aten = torch.ops.aten
    mapping = {}

    def fwd(query, key, value, *args, out_shape=None, **kwargs):
        return fc.sdpa_flop_count(query, key, value)

    def bwd(grad_out, query, key, value, *args, out_shape=None, **kwargs):
        return fc.sdpa_backward_flop_count(grad_out, query, key, value)

    for name, fn in (('_scaled_dot_product_flash_attention_for_cpu', fwd),
                     ('_scaled_dot_product_flash_attention_for_cpu_backward', bwd)):
        op = getattr(aten, name, None)
        if op is not None and op not in getattr(fc, "flop_registry", {}):
            mapping[op] = fn
    return fc.FlopCounterMode(display=False, custom_mapping=mapping)


def matmul_peak_gflops(device: torch.device, size: Optional[int] = None, reps: int = 20,
                       dtype: torch.dtype = torch.float32) -> float:
    """Best-of-``reps`` ``size x size`` matmul throughput in ``dtype`` (GFLOP/s); the
    default size is 2048 on CPUs and 8192 on GPUs (large enough to saturate them)."""
    size = size or (8192 if device.type == 'cuda' else 2048)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float('inf')
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


# -- memory --------------------------------------------------------------------
def current_rss_mb() -> float:
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def storage_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views and repeats counted once)."""
    seen = {}
    for tensor in tensors:
        if torch.is_tensor(tensor):
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def optimizer_state_tensors(optimizer) -> list:
    return [v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]


def saved_for_backward_bytes(step: Callable[[], object], params) -> int:
    """Bytes of the distinct storages autograd saves for backward during ``step()``,
    leaving out ``params`` (weights saved by linear layers are not activations)."""
    skip = {p.untyped_storage().data_ptr() for p in params}
    seen = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip and storage.device.type != 'meta':
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    return sum(seen.values())


def allocator_peak_bytes(step: Callable[[], object], device: torch.device, calls: int = 1) -> int:
    """The allocator's own count of the peak bytes the last of ``calls`` calls of
    ``step()`` adds to what is allocated when the first call starts.

    * CUDA: ``torch.cuda.max_memory_allocated`` during the last call minus the bytes
      allocated before the first.
    * CPU: torch's CPU allocator reports every allocation and free to the profiler
      (``profile_memory=True``); the running sum of those events, in time order, is the
      change since the profile started, and its maximum during the last call is the
      peak. Frees of blocks allocated before the profile started are not reported, so
      the first call should not free memory held before it (e.g. gradients): a step
      that frees the previous step's gradients needs ``calls=2``.
    """
    if device.type == 'cuda':
        sync(device)
        before = torch.cuda.memory_allocated(device)
        for _ in range(calls - 1):
            step()
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, record_function
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(calls - 1):
            step()
        with record_function('amd_mm_measured_call'):
            step()
    events = prof.profiler.kineto_results.events()
    start = min((e.start_ns() for e in events if e.name() == 'amd_mm_measured_call'), default=0)
    memory = sorted((e.start_ns(), e.nbytes()) for e in events
                    if e.name() == '[memory]' and e.device_type() == DeviceType.CPU)
    current = peak = 0
    for time_ns, nbytes in memory:
        current += nbytes
        if time_ns >= start:
            peak = max(peak, current)
    return peak
