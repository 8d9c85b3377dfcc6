"""amd_mm: Asymmetric Masked Distillation for small ViTs, as an OpenMMLab plugin.

``custom_imports = dict(imports=['amd_mm'], allow_failed_imports=False)`` in an
mmpretrain or mmaction2 config registers every component.
"""
from . import compat

compat.apply()  # must run before anything imports mmaction.models

from . import datasets, engine, masking, models  # noqa: E402,F401  (registration)
from .version import __version__  # noqa: E402,F401
