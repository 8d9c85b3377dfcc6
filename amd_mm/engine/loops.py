"""A train loop that resumes exactly, also from a checkpoint taken mid-epoch."""
from mmengine.dist import all_gather_object, get_world_size, is_distributed
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop

from ..checkpoints import CheckedLoadHook, TeacherPinHook
from ..utils.runtime import unwrap
from .elastic import LostRankError, describe_loss, is_comm_error
from .hooks import RNGStateHook

EPOCH_LENGTH = 'amd_mm.epoch_length'  # message-hub key, saved in every checkpoint


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues where a checkpoint was taken.

    MMEngine's epoch loop restarts an epoch from its first batch when it resumes
    from a checkpoint saved mid-epoch (``CheckpointHook(by_epoch=False)``), which
    repeats data and shifts every later iteration. This loop skips the batches the
    interrupted run had already trained on (the sampler's order is a function of
    the seed and the epoch), then restores the random states saved with the
    checkpoint (:class:`RNGStateHook`, added automatically), so the run goes on
    exactly as an uninterrupted one: same data order, augmentations, masks,
    optimizer state and schedule position.

    Skipped batches are still loaded (as MMEngine's iteration loop does), so
    resuming late in a long epoch costs some data-loading time.

    The batches per epoch (with the batch size and number of processes) are saved in
    every checkpoint; resuming with another number of batches per epoch (another batch
    size or number of processes) would skip or repeat data, so it is refused with one
    sentence naming both.

    Before the first batch it also checks that every label of the training set fits
    the model's classes (:func:`~amd_mm.datasets.list_files.check_labels`) and, in a
    distributed run, that every rank starts at the same iteration (the ranks of a
    resumed run read the same checkpoint: the work_dir must be shared). A collective that
    fails because a rank is gone becomes a :class:`~amd_mm.engine.elastic.LostRankError`
    naming the lost ranks and the last checkpoint (see :mod:`amd_mm.engine.elastic`).

    Args:
        lost_rank_timeout (float): seconds the surviving ranks wait for each other's
            sign of life after a failed collective before they name the missing ones.
        Others as MMEngine's ``EpochBasedTrainLoop``.

    :class:`~amd_mm.checkpoints.TeacherPinHook` and
    :class:`~amd_mm.checkpoints.CheckedLoadHook` are added too.
    """

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals=None, lost_rank_timeout: float = 30.0):
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals)
        self.lost_rank_timeout = float(lost_rank_timeout)
        for hook in (RNGStateHook, TeacherPinHook, CheckedLoadHook):
            if not any(isinstance(h, hook) for h in runner.hooks):
                runner.register_hook(hook())
        self._rng = next(h for h in runner.hooks if isinstance(h, RNGStateHook))

    def run(self):
        from ..datasets.list_files import check_labels
        self._check_epoch_length()
        check_labels(self.dataloader.dataset, unwrap(self.runner.model))
        if not is_distributed():
            return super().run()
        run_id = self._check_same_start()
        try:
            return super().run()
        except Exception as err:
            message = describe_loss(err, self._iter + 1, self.runner.work_dir,
                                    self.lost_rank_timeout, run_id) if is_comm_error(err) else None
            if message is None:
                raise
            self.runner.logger.error(message)
            raise LostRankError(message) from err

    def _check_same_start(self) -> str:
        """Every rank starts at the same iteration (they resumed from the same file).
        Returns an id of this start of the run, the same on every rank (rank 0's)."""
        import uuid
        starts = all_gather_object((self._iter, uuid.uuid4().hex))
        if len({it for it, _ in starts}) > 1:
            raise ValueError(
                'resume: the ranks start at different iterations (' + ', '.join(
                    f'rank {r}: iter {it}' for r, (it, _) in enumerate(starts)) + '): they did '
                'not load the same checkpoint; the work_dir must be on a file system every node '
                'shares.')
        return starts[0][1]

    def _check_epoch_length(self):
        """Refuse a resume whose batches per epoch differ from the checkpoint's; record
        this run's (restored from the checkpoint by MMEngine's message hub)."""
        hub = self.runner.message_hub
        now = dict(batches=len(self.dataloader), batch_size=self.dataloader.batch_size,
                   processes=get_world_size())
        saved = hub.get_info(EPOCH_LENGTH)
        if self._iter > 0:  # resumed
            def describe(d):
                return (f"{d['batches']} batches per epoch (batch size {d['batch_size']} x "
                        f"{d['processes']} process{'es' if d['processes'] != 1 else ''})")
            if saved is not None and saved['batches'] != now['batches']:
                raise ValueError(
                    f'resume: the checkpoint (iter {self._iter}, epoch {self._epoch}) was '
                    f'trained with {describe(saved)} but this run has {describe(now)}, so '
                    'resuming would skip or repeat data; resume with train_dataloader.batch_size='
                    f"{saved['batch_size']} on {saved['processes']} process(es), or start a new "
                    'run from its weights with load_from=CHECKPOINT (no --resume).')
            done = self._iter - self._epoch * now['batches']
            if saved is None and not 0 <= done < now['batches']:
                raise ValueError(
                    f'resume: the checkpoint (iter {self._iter}, epoch {self._epoch}) does not fit '
                    f"{describe(now)}: it was trained with another batch size or number of "
                    'processes; resume with those, or start a new run from its weights with '
                    'load_from=CHECKPOINT (no --resume).')
            if saved is not None and saved != now:
                self.runner.logger.warning(
                    f'resume: the checkpoint was trained with {describe(saved)}, this run has '
                    f'{describe(now)}: the schedule continues, but the order of samples differs '
                    'from an uninterrupted run.')
        hub.update_info(EPOCH_LENGTH, now)

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        if done > 0:
            self.runner.logger.info(f'resuming mid-epoch: skipping the {done} batches of epoch '
                                    f'{self._epoch + 1} trained before the checkpoint')
        # the random states saved with the checkpoint are restored right before the
        # first batch the interrupted run had not trained on is drawn
        rng = self._rng.take_loaded()
        if rng is not None and done <= 0:
            RNGStateHook.restore(rng)
        for idx, data_batch in enumerate(self.dataloader):
            if idx < done:
                if idx == done - 1 and rng is not None:
                    RNGStateHook.restore(rng)
                continue
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
