"""Shared pieces of the command-line tools (tools/train.py, tools/test.py, ...): one-sentence
errors (:func:`run_main`), the checked loads every run gets, MMEngine runs one after another
in one process. Configs are read by :func:`amd_mm.utils.config.load_config`."""
import contextlib
import os
import re
import sys

_BUILD_PREFIX = re.compile(r'class `\w+` in [^:]+: ')


@contextlib.contextmanager
def isolated_mmengine():
    """Run MMEngine in this process without leaving a trace for what runs next: the
    global instances created inside (default scope, message hubs, loggers, visualizers)
    are dropped afterwards (their log files closed) and the python / numpy / torch random
    states are restored. Used where several runners run one after another in one process
    (``tools/study.py --workers 0``, the tests)."""
    import random

    import numpy as np
    import torch
    from mmengine.utils import ManagerMixin

    def managers():
        out, todo = [], [ManagerMixin]
        while todo:
            cls = todo.pop()
            todo += cls.__subclasses__()
            if '_instance_dict' in cls.__dict__:
                out.append(cls)
        return out

    before = {cls: set(cls._instance_dict) for cls in managers()}
    states = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng():
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        for cls in managers():
            for name in [n for n in cls._instance_dict if n not in before.get(cls, ())]:
                instance = cls._instance_dict.pop(name)
                for handler in getattr(instance, 'handlers', []):
                    handler.close()


def with_checked_loads(cfg):
    """Add :class:`~amd_mm.checkpoints.CheckedLoadHook` to ``cfg.custom_hooks`` (once): the
    ``load_from`` / ``--resume`` / ``init_cfg`` ``Pretrained`` loads of the run are strict
    where it matters whatever the config's loop (``allow_partial_load=True`` opts out)."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'CheckedLoadHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='CheckedLoadHook')]
    return cfg


def run_main(main, argv=None):
    """Run ``main``; configuration and data errors the project raises for users end
    with one clear sentence (exit 2) instead of a traceback through MMEngine's builders
    (:func:`~amd_mm.utils.errors.is_user_error`; other errors keep their traceback).
    ``AMD_MM_DEBUG=1`` re-raises."""
    from ..utils.errors import is_user_error
    try:
        result = main(argv)
        finish_distributed()
        return result
    except Exception as err:
        if os.environ.get('AMD_MM_DEBUG') or not is_user_error(err):
            raise
        message = _BUILD_PREFIX.sub('', str(err))
        print(f'{type(err).__name__}: {message}\n(set AMD_MM_DEBUG=1 for the traceback)', file=sys.stderr)
        sys.exit(2)


def finish_distributed():
    """End a multi-process run cleanly: every rank waits for the others (rank 0 may still
    be writing the last checkpoint), then the process group is destroyed. Left to the
    interpreter's exit, gloo's threads can abort a rank ("terminate called without an
    active exception") after training finished, which turns a good run into exit 134."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
