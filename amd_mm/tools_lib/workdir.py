"""A training run's hold on its work_dir: one run at a time, and what ``--resume`` resumes."""
import json
import os
import os.path as osp
import socket
import sys
import time

from ..checkpoints import POINTER, read_pointer

LOCK = '.train.lock'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkDirLock:
    """An exclusive lock on a work_dir for one training run (``<work_dir>/.train.lock``).

    The lock is an ``flock`` on the lock file, which the kernel drops when the holder
    exits in any way (SIGKILL included); the file holds the holder's pid, host and start
    time for the error a second run gets. A lock file left by a run that died is stale:
    it is taken over (and reported). On file systems without ``flock`` the pid decides:
    a holder on this host whose pid is gone is stale; so is a holder of the same torch
    elastic job (same ``TORCHELASTIC_RUN_ID``) on any host: a job has one rank 0 at a time
    and torchrun stops every worker before it restarts them, so that holder is an earlier
    attempt (the new rank 0 may start on another node). The launch scripts make the id
    unique among live jobs (the rendezvous address and port; slurm: the job id).
    :meth:`release` (or leaving the ``with`` block) removes the file.
    """

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK)
        self._fd = None
        self.previous = None  # the stale holder taken over, if any

    def acquire(self) -> 'WorkDirLock':
        import fcntl
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read(fd)
                os.close(fd)
                raise ValueError(self._busy(holder)) from None
            except OSError:  # no flock on this file system: the recorded pid decides
                holder = self._read(fd)
                if holder and not _earlier_attempt(holder) and (
                        holder.get('host') != socket.gethostname() or _alive(holder['pid'])):
                    os.close(fd)
                    raise ValueError(self._busy(holder)) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file a releasing holder unlinked meanwhile
                break
            os.close(fd)
        self.previous = self._read(fd)
        me = dict(pid=os.getpid(), host=socket.gethostname(),
                  started=time.strftime('%Y-%m-%d %H:%M:%S'), argv=sys.argv, **_attempt())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    @staticmethod
    def _read(fd) -> dict:
        try:
            raw = os.pread(fd, 1 << 16, 0)
            return json.loads(raw) if raw else {}
        except (OSError, ValueError):
            return {}

    def _busy(self, holder: dict) -> str:
        who = (f"pid {holder.get('pid')} on host {holder.get('host')}, started "
               f"{holder.get('started')}") if holder else 'a process that left no details'
        return (f'work_dir {self.work_dir!r} is in use by another training run ({who}); wait '
                f'for it to end, stop it, or give this run another --work-dir (lock file '
                f'{self.path!r}).')


def _attempt() -> dict:
    """This process's torch elastic job and attempt (empty outside torchrun). The restart
    count is recorded for people only: each node's agent counts its own restarts."""
    run_id = os.environ.get('TORCHELASTIC_RUN_ID')
    if not run_id or run_id == 'none':  # torchrun's default id: not a job identity
        return {}
    return dict(run_id=run_id, restart=int(os.environ.get('TORCHELASTIC_RESTART_COUNT', 0)))


def _earlier_attempt(holder: dict) -> bool:
    """Whether ``holder`` is an earlier attempt of this process's elastic job."""
    mine = _attempt()
    return bool(mine) and holder.get('run_id') == mine['run_id'] and \
        (holder.get('pid'), holder.get('host')) != (os.getpid(), socket.gethostname())


def _rank(launcher: str) -> int:
    names = dict(pytorch='RANK', slurm='SLURM_PROCID', mpi='OMPI_COMM_WORLD_RANK').get(launcher)
    return int(os.environ.get(names, 0)) if names else 0


class work_dir_lock:  # noqa: N801 - used as a context manager, like open()
    """Hold :class:`WorkDirLock` on ``work_dir`` for a ``with`` block, in the first
    process of a run only (``launcher`` other than ``'none'``: the process of rank 0)."""

    def __init__(self, work_dir: str, launcher: str = 'none'):
        self.lock = WorkDirLock(work_dir) if _rank(launcher) == 0 else None

    def __enter__(self):
        if self.lock is not None:
            self.lock.acquire()
            old = self.lock.previous
            if old:
                print(f"work_dir lock: taking over the stale lock of pid {old.get('pid')} on "
                      f"host {old.get('host')} (started {old.get('started')}), which ended "
                      'without releasing it.', file=sys.stderr)
        return self.lock

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()


def settle_resume(cfg, resume):
    """Apply ``tools/train.py --resume [CKPT]`` to ``cfg``.

    ``resume='auto'`` (no value): the checkpoint ``<work_dir>/last_checkpoint`` names
    (read relative to the work_dir); without one, a warning and a fresh start.
    A path: that file, or the newest checkpoint of that work_dir; missing is an error.
    None: nothing to do. Errors are one sentence naming the file.
    """
    if resume is None:
        return cfg
    if resume == 'auto':
        target = read_pointer(cfg.work_dir, key='--resume') if osp.isdir(cfg.work_dir) else None
        if target is None:
            print(f'--resume: {cfg.work_dir!r} has no {POINTER} (no checkpoint to resume from); '
                  'training from the start.', file=sys.stderr)
            cfg.resume = False
            return cfg
    elif osp.isdir(resume):
        target = read_pointer(resume, key='--resume')
        if target is None:
            raise FileNotFoundError(f'--resume: {resume!r} is a folder without a {POINTER} file; '
                                    'give a checkpoint file.')
    elif not osp.isfile(resume):
        raise FileNotFoundError(f'--resume: file {resume!r} does not exist.')
    else:
        target = resume
    cfg.resume = True
    cfg.load_from = target
    return cfg


def use_resumable_loop(cfg) -> bool:
    """Train MMEngine's epoch loop as :class:`~amd_mm.engine.ResumableEpochBasedTrainLoop`
    (a drop-in subclass: same arguments, same batches and losses), so every config trained
    by tools/train.py, the toolboxes' own included, resumes exactly and refuses a resume
    with another batch size instead of repeating data. Returns whether it changed
    ``cfg.train_cfg``."""
    loop = cfg.get('train_cfg')
    if not isinstance(loop, dict):
        return False
    kind = loop.get('type')
    if kind is None and loop.get('by_epoch', False) is True:
        new = {k: v for k, v in loop.items() if k != 'by_epoch'}
    elif kind in ('EpochBasedTrainLoop', 'mmengine.EpochBasedTrainLoop'):
        new = dict(loop)
    else:
        return False
    new['type'] = 'ResumableEpochBasedTrainLoop'
    cfg.train_cfg = new
    return True
