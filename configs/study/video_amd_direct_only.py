# Study, videos, ablation of AMD: direct alignment only (no generator, no loss_gen).
# Everything else as video_amd.py.
_base_ = ['./video_amd.py']

model = dict(generator=None, loss_gen=None)
