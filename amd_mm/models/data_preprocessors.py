"""Data preprocessors the toolboxes lack."""
import copy
from typing import Optional

from mmaction.models.data_preprocessors import ActionDataPreprocessor
from mmaction.registry import MODELS

from ..utils.clips import TEMPORAL_CONTROLS, remove_temporal_order


@MODELS.register_module()
class ViewsAsSamplesPreprocessor(ActionDataPreprocessor):
    """``ActionDataPreprocessor`` that, in training, turns the ``V`` augmented views of
    each video (:class:`~amd_mm.datasets.RepeatAugment`) into ``V`` samples with the
    video's label: the official ``num_sample`` repeated augmentation for fine-tuning.

    mmaction2's recognizers otherwise treat views as clips of one sample (scores of a
    sample are averaged), so a loss over ``B`` labels would meet ``B x V`` scores.
    Batch blending (mixup / cutmix) then mixes views as independent samples, as the
    official code does. In validation and test nothing changes (multi-clip protocols).

    Args:
        temporal_control (str, optional): for control experiments, take the temporal
            order out of every clip, in training and in test (see
            :func:`remove_temporal_order`): ``'shuffle'`` or ``'single'``. A model that
            then stays near chance shows that its task needs the order of the frames.
        *args, **kwargs: ``ActionDataPreprocessor`` arguments.
    """

    def __init__(self, *args, temporal_control: Optional[str] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if temporal_control is not None and temporal_control not in TEMPORAL_CONTROLS:
            raise ValueError(f'data_preprocessor.temporal_control={temporal_control!r} must be one '
                             f'of {TEMPORAL_CONTROLS} or None')
        self.temporal_control = temporal_control

    def forward(self, data: dict, training: bool = False) -> dict:
        if training and isinstance(data.get('inputs'), (list, tuple)):
            inputs, samples = [], []
            for clip, sample in zip(data['inputs'], data['data_samples']):
                for v in range(clip.shape[0]):
                    inputs.append(clip[v:v + 1])
                    samples.append(sample if v == 0 else copy.deepcopy(sample))
            data = dict(data, inputs=inputs, data_samples=samples)
        data = super().forward(data, training)
        if self.temporal_control is not None:
            data['inputs'] = remove_temporal_order(data['inputs'], self.temporal_control)
        return data
