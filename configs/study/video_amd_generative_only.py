# Study, videos, ablation of AMD: generative alignment only (no loss_dir). Everything else as
# video_amd.py.
_base_ = ['./video_amd.py']

model = dict(loss_dir=None)
