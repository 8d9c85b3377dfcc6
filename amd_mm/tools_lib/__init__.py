"""The code behind the command-line tools (``tools/*.py``), not needed by a model or a
config: config loading and one-sentence errors (``cli``), pre-flight checks of configs,
``--cfg-options`` and data (``config_check``), the work_dir lock and ``--resume``
(``workdir``), publishing checkpoints (``publish``), and the generated data of the demo,
the tests and the study (``demo_data``: digits, mp4 videos, the motion task; ``demo_ava``:
an AVA-style raw-frame set)."""
