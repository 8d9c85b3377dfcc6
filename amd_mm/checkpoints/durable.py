"""Durable checkpoints: a run killed or out of disk at any moment can be resumed.

MMEngine 0.10.7's ``CheckpointHook`` deletes the oldest checkpoint *before* it writes
the new one (so with ``max_keep_ckpts=1`` a crash while saving leaves no checkpoint
while ``last_checkpoint`` names a deleted file), writes checkpoints and the
``last_checkpoint`` pointer in place (a crash leaves a truncated file or an empty
pointer) and never calls ``fsync`` (a power loss can leave a renamed but empty file).

:class:`DurableCheckpointHook` (``default_hooks.checkpoint.type`` in the configs) keeps
MMEngine's options and file names and changes the order and the writes:

1. the new checkpoint is written to ``<name>.tmp``, flushed and ``fsync``-ed, renamed
   over ``<name>`` (atomic on POSIX) and the folder is ``fsync``-ed
   (:class:`DurableLocalBackend`);
2. ``last_checkpoint`` is written the same way, so it names either the previous or the
   new checkpoint, both complete;
3. only then are checkpoints beyond ``max_keep_ckpts`` deleted; the ids still to delete
   are kept in the message hub until they are gone, so a crash before the deletion is
   cleaned up by the resumed run.

At every instant at least one complete checkpoint exists and ``last_checkpoint``
names it. ``.tmp`` files a killed run left behind are deleted when training starts.
Remote ``out_dir`` backends (``s3://`` ...) and ``FlexibleRunner`` keep MMEngine's
behaviour.
"""
import glob
import os
import os.path as osp
from collections import deque

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ..utils.errors import UserError
from .files import durable_write, fsync_dir, read_pointer

BACKEND = 'amd_mm_durable_local'
#: the hook event every rank reaches right before a checkpoint is written: MMEngine's
#: ``Runner.save_checkpoint`` (and with it ``before_save_checkpoint``) runs on rank 0
#: only, so a hook that must gather from every rank for the checkpoint (a collective)
#: does it in a method of this name (``RNGStateHook``); called through the public
#: ``Runner.call_hook``, which calls any hook method it is given the name of
GATHER_EVENT = 'before_save_checkpoint_on_every_rank'


class CheckpointWriteError(UserError, OSError):
    """A checkpoint or its pointer could not be written (a full disk, a read-only or
    vanished folder): one sentence naming the file, the reason and the checkpoint that
    stays (the durable writes leave the previous one complete and named)."""

    def __str__(self):
        return self.strerror or super().__str__()

    @classmethod
    def of(cls, err: OSError, path: str, work_dir: str) -> 'CheckpointWriteError':
        try:
            previous = read_pointer(work_dir)
        except (ValueError, FileNotFoundError):
            previous = None
        kept = (f'the previous checkpoint {previous!r} stays complete and last_checkpoint '
                'names it' if previous else 'no earlier checkpoint exists')
        reason = err.strerror or str(err)
        return cls(err.errno, f'checkpoint: could not write {path!r} ({reason}); {kept}: '
                              'free space (or fix the folder), then run again with --resume.')


@register_backend(BACKEND)
class DurableLocalBackend(LocalBackend):
    """MMEngine's local file backend whose writes are atomic and durable
    (:func:`durable_write`). Chosen with ``backend_args=dict(backend='amd_mm_durable_local')``;
    :class:`DurableCheckpointHook` uses it for local ``out_dir``."""

    def put(self, obj: bytes, filepath) -> None:
        durable_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        durable_write(str(filepath), obj.encode(encoding))

    def remove(self, filepath) -> None:
        super().remove(filepath)
        fsync_dir(osp.dirname(str(filepath)))


@HOOKS.register_module()
class DurableCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with durable writes and delete-after-save (module docstring).

    Takes MMEngine's ``CheckpointHook`` arguments. For a local ``out_dir`` (the default,
    the work_dir) and no ``backend_args`` / ``file_client_args`` of its own it writes
    through :class:`DurableLocalBackend`; otherwise it behaves as MMEngine's hook.
    """

    def before_train(self, runner) -> None:
        from mmengine.runner import FlexibleRunner
        self._check_accumulation(runner)
        out_dir = self.out_dir or runner.work_dir
        self._durable = (self.backend_args is None and self.file_client_args is None
                         and '://' not in str(out_dir) and not isinstance(runner, FlexibleRunner))
        if self._durable:
            self.backend_args = dict(backend=BACKEND)
        super().before_train(runner)
        if self._durable and is_main_process():
            left = glob.glob(osp.join(self.out_dir, '*.pth.tmp')) + glob.glob(
                osp.join(runner.work_dir, 'last_checkpoint.tmp'))
            for path in left:
                os.remove(path)
            if left:
                runner.logger.info('removed partial files of an interrupted save: '
                                   + ', '.join(sorted(osp.basename(p) for p in left)))

    def _check_accumulation(self, runner) -> None:
        """Checkpoints by iterations must fall at the end of gradient-accumulation windows:
        the gradients of a window cut by a checkpoint are not saved, so a run resumed from
        it would not equal an uninterrupted one."""
        optim = runner.cfg.get('optim_wrapper') or {}
        accumulate = optim.get('accumulative_counts', 1) if isinstance(optim, dict) else 1
        if not self.by_epoch and isinstance(accumulate, int) and self.interval % accumulate:
            raise ValueError(
                f'default_hooks.checkpoint.interval={self.interval} (iterations) is not a multiple '
                f'of optim_wrapper.accumulative_counts={accumulate}: a checkpoint inside an '
                'accumulation window loses its gradients, so resuming from it is not exact; use a '
                f'multiple of {accumulate}.')

    def _save_checkpoint_with_step(self, runner, step, meta):
        runner.call_hook(GATHER_EVENT)  # every rank is here; only rank 0 saves
        if not getattr(self, '_durable', False):
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            ids = list(self.keep_ckpt_ids) + [step]
            stale = ids[:-self.max_keep_ckpts]
            # until they are deleted the old ids stay listed, in the checkpoint too: a run
            # resumed from it deletes them (CheckpointHook.before_train trims the list)
            runner.message_hub.update_info('keep_ckpt_ids', ids)
            self.keep_ckpt_ids = deque(ids[-self.max_keep_ckpts:], self.max_keep_ckpts)

        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        try:
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                                   save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, backend_args=self.backend_args,
                                   **self.args)
            if stale:
                runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
            if not is_main_process():
                return
            self.file_backend.put_text(self.last_ckpt, pointer)
        except OSError as err:
            raise CheckpointWriteError.of(err, self.last_ckpt, runner.work_dir) from err
        for old in stale:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)
