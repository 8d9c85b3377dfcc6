"""A train loop that resumes exactly, also from a checkpoint taken mid-epoch."""
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop

from .hooks import RNGStateHook


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
    """

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1, dynamic_intervals=None):
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals)
        if not any(isinstance(h, RNGStateHook) for h in runner.hooks):
            runner.register_hook(RNGStateHook())

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        if done > 0:
            self.runner.logger.info(f'resuming mid-epoch: skipping the {done} batches of epoch '
                                    f'{self._epoch + 1} trained before the checkpoint')
        # the random states saved with the checkpoint are restored right before the
        # first batch the interrupted run had not trained on is drawn
        rng = getattr(self.runner, 'amd_rng_state', None)
        self.runner.amd_rng_state = None
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
