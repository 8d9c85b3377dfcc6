"""Data preprocessors the toolboxes lack."""
import copy

from mmaction.models.data_preprocessors import ActionDataPreprocessor
from mmaction.registry import MODELS


@MODELS.register_module()
class ViewsAsSamplesPreprocessor(ActionDataPreprocessor):
    """``ActionDataPreprocessor`` that, in training, turns the ``V`` augmented views of
    each video (:class:`~amd_mm.datasets.RepeatAugment`) into ``V`` samples with the
    video's label: the official ``num_sample`` repeated augmentation for fine-tuning.

    mmaction2's recognizers otherwise treat views as clips of one sample (scores of a
    sample are averaged), so a loss over ``B`` labels would meet ``B x V`` scores.
    Batch blending (mixup / cutmix) then mixes views as independent samples, as the
    official code does. In validation and test nothing changes (multi-clip protocols).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        if training and isinstance(data.get('inputs'), (list, tuple)):
            inputs, samples = [], []
            for clip, sample in zip(data['inputs'], data['data_samples']):
                for v in range(clip.shape[0]):
                    inputs.append(clip[v:v + 1])
                    samples.append(sample if v == 0 else copy.deepcopy(sample))
            data = dict(data, inputs=inputs, data_samples=samples)
        return super().forward(data, training)
