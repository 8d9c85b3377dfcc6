from . import algorithms, backbones, losses, necks  # noqa: F401 (registration)
