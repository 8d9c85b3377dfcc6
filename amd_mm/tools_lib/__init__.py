"""The code behind the command-line tools (``tools/*.py``), not needed by a model or a
config: one-sentence errors and the checked loads of a run (``cli``), pre-flight checks of
configs, ``--cfg-options`` and data (``config_check``), the work_dir lock and ``--resume``
(``workdir``), and the generated data of the demo, the tests and the study
(``demo_data``: digits, mp4 videos, the motion task; ``demo_ava``: an AVA-style raw-frame
set).

The top floor: may import every other package; none imports it (configs are read by
:mod:`amd_mm.utils.config`, checkpoints published by :mod:`amd_mm.checkpoints.publish`)."""
