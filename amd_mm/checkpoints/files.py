"""Checkpoint files on disk: which file a path or work_dir means, its hash, durable writes.

* :func:`resolve_checkpoint` turns a file or an MMEngine work_dir into one file (a
  work_dir's ``last_checkpoint`` pointer is read relative to the work_dir, so a copied or
  moved work_dir loads its own file, :func:`read_pointer`);
* :func:`sha256_file`, the one hash of the project (teacher pinning, published names);
* :func:`durable_write` replaces a file all at once (``.tmp``, ``fsync``, rename,
  ``fsync`` of the folder).
"""
import glob
import hashlib
import os
import os.path as osp
from typing import Optional

POINTER = 'last_checkpoint'


def read_pointer(work_dir: str, key: str = 'checkpoint') -> Optional[str]:
    """The checkpoint file that ``work_dir/last_checkpoint`` names, or None without a pointer.

    MMEngine writes the path as the run saw it (often absolute). The file of that name
    *beside the pointer* is preferred, so a copied work_dir loads its own checkpoint
    (not the original's) and a moved one still loads; the written path is used only
    when no such file is there (checkpoints saved to another ``out_dir``).
    """
    pointer = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        target = f.read().strip()
    if not target:
        found = sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth')))
        raise ValueError(f'{key}: {pointer!r} is empty (a run killed while writing it?); give a '
                         f'checkpoint file instead, e.g. one of {found[-3:] or "(none here)"}.')
    beside = osp.join(work_dir, osp.basename(target))
    if osp.isfile(beside):
        return beside
    if osp.isfile(target):
        return target
    raise FileNotFoundError(f'{key}: {pointer!r} names {target!r}, which does not exist, and '
                            f'{osp.basename(target)!r} is not beside the pointer either.')


def resolve_checkpoint(path: str, key: str = 'checkpoint') -> str:
    """A checkpoint file from ``path``: a file, or an MMEngine work_dir whose
    ``last_checkpoint`` names the newest checkpoint (see :func:`read_pointer`)."""
    if osp.isdir(path):
        target = read_pointer(path, key)
        if target is None:
            raise FileNotFoundError(
                f'{key}: {path!r} is a folder without a last_checkpoint file; train it first '
                'or give a checkpoint file.')
        path = target
    if not osp.isfile(path):
        raise FileNotFoundError(f'{key}: file {path!r} does not exist.')
    return path


def sha256_file(path: str, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: str):
    """Make a rename or deletion in ``folder`` durable (no-op where folders cannot be
    opened, e.g. Windows)."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def durable_write(path: str, data: bytes):
    """Replace ``path`` by ``data`` all at once: write ``path.tmp``, ``fsync``, rename,
    ``fsync`` the folder. A failure (full disk, kill) leaves ``path`` as it was."""
    folder = osp.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp'
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(folder)
