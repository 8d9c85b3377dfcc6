"""Multi-process runs that lose a process: name the lost rank, keep the way back open.

When a process of a distributed run dies (a killed worker, a lost node), the others fail
in their next collective with a transport error that names an address, not a rank
(gloo: ``Connection closed by peer [10.0.0.2]:40123``), or only after the process-group
timeout. :func:`lost_ranks` finds out which ranks are gone: every surviving rank
announces itself in the run's TCP store (the one ``MASTER_ADDR`` / ``MASTER_PORT`` name;
under torchrun the agent's store, which outlives the workers) and waits up to
``timeout`` seconds for the others; the ranks that never answer are lost.
:class:`~amd_mm.engine.ResumableEpochBasedTrainLoop` turns such a failure into
:class:`LostRankError`, one sentence naming the lost ranks, the iteration and the last
complete checkpoint, before torch elastic restarts the group (``--max-restarts``) or the
run ends.
"""
import datetime
import os
import re
import time
from typing import List, Optional

from ..utils.errors import UserError

COMM_ERROR = re.compile(r'gloo|nccl|connection (closed|reset)|broken pipe|read error|'
                        r'timed? ?out|socket', re.I)


class LostRankError(UserError, RuntimeError):
    """A rank of a distributed run stopped answering (its process or node is gone)."""


def is_comm_error(err: BaseException) -> bool:
    """Whether ``err`` looks like a failed collective (transport error or timeout)."""
    import torch.distributed as dist
    dist_error = getattr(dist, 'DistError', ())
    return isinstance(err, dist_error) or (isinstance(err, RuntimeError)
                                           and bool(COMM_ERROR.search(str(err))))


def _store(timeout: float):
    import torch.distributed as dist
    host, port = os.environ.get('MASTER_ADDR'), os.environ.get('MASTER_PORT')
    if not host or not port:
        return None, None
    where = f'{host}:{port}'
    try:
        return dist.TCPStore(host, int(port), is_master=False, wait_for_workers=False,
                             timeout=datetime.timedelta(seconds=timeout)), where
    except Exception:  # noqa: BLE001 - unreachable: the node hosting it is gone
        return None, where


def lost_ranks(rank: int, world_size: int, timeout: float = 30.0,
               run_id: str = 'run') -> Optional[List[int]]:
    """The ranks that do not announce themselves within ``timeout`` seconds (this rank
    announces itself); None if the store cannot be reached (it lives with rank 0: in
    rank 0's process, or under torchrun in the agent of rank 0's node). ``run_id`` names
    this start of the run (the same on every rank), so a restarted group never reads the
    signs of life of an earlier one."""
    store, _ = _store(timeout)
    if store is None:
        return None
    keys = [f'amd_mm/alive/{run_id}/{r}' for r in range(world_size)]
    store.set(keys[rank], '1')
    deadline = time.monotonic() + timeout
    while True:
        present = [r for r, key in enumerate(keys) if store.check([key])]
        if len(present) == world_size or time.monotonic() > deadline:
            return sorted(set(range(world_size)) - set(present))
        time.sleep(0.2)


def describe_loss(err: BaseException, iteration: int, work_dir: str, timeout: float,
                  run_id: str = 'run') -> Optional[str]:
    """The sentence of a :class:`LostRankError` for the collective failure ``err`` of this
    rank at ``iteration``, or None when every rank is still there (not a lost rank)."""
    from mmengine.dist import get_rank, get_world_size

    from ..checkpoints import read_pointer
    rank, world = get_rank(), get_world_size()
    lost = lost_ranks(rank, world, timeout, run_id)
    if lost == []:
        return None
    try:
        last = read_pointer(work_dir)
    except (ValueError, FileNotFoundError):
        last = None
    cause = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
    who = (f"rank 0 of {world} stopped answering (the run's store at "
           f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}, which rank 0's "
           'node hosts, is unreachable)' if lost is None else
           f"rank{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))} of {world} "
           f"stopped answering (no sign of life within {timeout:g} s)")
    checkpoint = (f'the last checkpoint {last!r} is complete' if last else
                  'no checkpoint was written yet')
    return (f'distributed run: {who} after a failed collective at iter {iteration} on rank '
            f'{rank} ({cause}); {checkpoint}: torchrun restarts the group from it while '
            '--max-restarts allow and every node is back, else run again with --resume.')
