"""The algorithm: the shared core (:mod:`.core`), one branch per teacher (:mod:`.branch`),
the options declared once (:mod:`.options`), the model-engine contract (:mod:`.contract`),
the pictures of what the model sees (:mod:`.pictures`), and the image (mmpretrain) and
video (mmaction2) shells. May import the other ``models`` subpackages,
:mod:`amd_mm.masking`, :mod:`amd_mm.registry` and :mod:`amd_mm.utils`."""
from .contract import DistillModel, StepRecord, TeacherView, as_distill_model, last_step
from .core import AsymmetricDistillMixin
from .image_amd import AMD
from .options import DistillOptions, VideoDistillOptions
from .video_amd import VideoAMD

__all__ = ['AsymmetricDistillMixin', 'AMD', 'VideoAMD', 'DistillModel', 'DistillOptions',
           'VideoDistillOptions', 'StepRecord', 'TeacherView', 'as_distill_model', 'last_step']
