from . import algorithms, backbones, data_preprocessors, losses, necks  # noqa: F401 (registration)
