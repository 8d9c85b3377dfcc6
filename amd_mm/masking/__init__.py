"""Asymmetric mask generation and the mask object of a step (:class:`AsymMask`: the token
sets ``ids_student``, ``ids_masked``, ``ids_teacher_only``, ``ids_teacher``, each sorted
once). Pure tensor code on the model's device.

May import :mod:`amd_mm.registry` only (and torch / MMEngine's distributed rank).
"""
from .asymmetric import AsymmetricMaskGenerator, AsymMask

__all__ = ['AsymmetricMaskGenerator', 'AsymMask']
