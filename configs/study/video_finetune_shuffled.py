# Study, videos, control: the fine-tuning protocol of video_finetune.py with the frames of
# every clip in a random order, in training and at test time (the frames of the main
# protocol, without their order). A motion and its time reversal (move right / left,
# ...) then look alike; the four kinds of motion may still be told apart, so 50% is this
# control's ceiling. tools/study.py runs it from the AMD students.
_base_ = ['./video_finetune.py']

model = dict(data_preprocessor=dict(temporal_control='shuffle'))
