"""Everything about checkpoint files, in one package.

* :mod:`.files` -- which file a path or work_dir means (``last_checkpoint``), the one
  hash (:func:`sha256_file`), durable (atomic, fsynced) writes;
* :mod:`.loading` -- the one loader: weights-only with MMEngine's allow-list, trust on
  purpose (``trust_checkpoints``), the weights out of every layout;
* :mod:`.convert` -- foreign layouts (official MAE / VideoMAE / AMD, timm) <-> toolbox names;
* :mod:`.durable` -- ``DurableCheckpointHook``: a crash or full disk while saving always
  leaves a complete checkpoint that ``last_checkpoint`` names;
* :mod:`.pinning` -- ``TeacherPinHook``: the teachers' files and hashes in every
  checkpoint, checked on resume;
* :mod:`.load_check` -- ``CheckedLoadHook``: ``load_from`` / ``--resume`` /
  ``init_cfg`` ``Pretrained`` loads that do not fit the model are errors;
* :mod:`.publish` -- the published form of a checkpoint for plain toolbox processes.

May import :mod:`amd_mm.utils` and MMEngine / torch only: the models import it (a teacher
loads its file at build time), so it never imports :mod:`amd_mm.models`; pinning reads a
model's teachers through the small protocol it declares (:class:`TeacherFiles`).
"""
from .convert import to_toolbox_names
from .durable import CheckpointWriteError, DurableCheckpointHook, DurableLocalBackend
from .files import POINTER, durable_write, read_pointer, resolve_checkpoint, sha256_file
from .load_check import CheckedLoadHook
from .loading import (extract_state_dict, last_loaded, load_checkpoint_file, trust_checkpoints,
                      trusted_by, trusting_checkpoints)
from .pinning import TeacherFiles, TeacherPinHook

__all__ = ['CheckedLoadHook', 'CheckpointWriteError', 'DurableCheckpointHook',
           'DurableLocalBackend', 'POINTER', 'TeacherFiles', 'TeacherPinHook',
           'durable_write', 'extract_state_dict', 'last_loaded', 'load_checkpoint_file',
           'read_pointer', 'resolve_checkpoint', 'sha256_file', 'to_toolbox_names',
           'trust_checkpoints', 'trusted_by', 'trusting_checkpoints']
