# Study, videos, control: the fine-tuning protocol of video_finetune.py with every clip
# replaced by one of its frames, repeated, in training and at test time: appearance only.
# tools/study.py runs it from the AMD students.
_base_ = ['./video_finetune.py']

model = dict(data_preprocessor=dict(temporal_control='single'))
