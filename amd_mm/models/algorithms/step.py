"""The record of one training step: what the model hands to the engine.

An amd_mm algorithm publishes one :class:`StepRecord` per loss computation in
MMEngine's ``MessageHub`` runtime info (key :data:`STEP_KEY`, not saved in
checkpoints). Engine components read it with :func:`last_step` instead of reaching
into model attributes:

* ``NonFiniteGuardOptimWrapper`` names the loss terms and batch files of a bad step;
* ``DistSanityHook`` compares the masks drawn on every rank.

The record holds detached tensors only; nothing is converted to Python numbers (no
device synchronisation) until a reader asks (:meth:`StepRecord.loss_terms`).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import MessageHub

STEP_KEY = 'amd_mm.step'


@dataclass
class StepRecord:
    """One step of an amd_mm algorithm.

    Attributes:
        masks (AsymMask): the masks drawn for the batch.
        files (list[str]): the batch's sample files (``img_path`` / ``filename`` /
            ``frame_dir`` of the data samples), in batch order; empty if unknown.
        losses (dict[str, Tensor]): the loss terms, detached.
    """
    masks: object
    files: List[str] = field(default_factory=list)
    losses: Dict[str, torch.Tensor] = field(default_factory=dict)

    def loss_terms(self) -> Dict[str, float]:
        """The loss terms as Python floats (synchronises with the device)."""
        return {k: float(v) for k, v in self.losses.items()}


def sample_files(data_samples: Optional[Sequence]) -> List[str]:
    """The file each data sample was read from, where its metainfo names one."""
    files = []
    for sample in data_samples or []:
        meta = getattr(sample, 'metainfo', {}) or {}
        name = meta.get('img_path') or meta.get('filename') or meta.get('frame_dir')
        if name:
            files.append(str(name))
    return files


def publish_step(record: StepRecord) -> None:
    """Make ``record`` the current step's record (this process's message hub)."""
    MessageHub.get_current_instance().update_info(STEP_KEY, record, resumed=False)


def last_step() -> Optional[StepRecord]:
    """The record of the latest step of this process, or None before the first."""
    return MessageHub.get_current_instance().get_info(STEP_KEY)
