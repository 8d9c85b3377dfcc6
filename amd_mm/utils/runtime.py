"""Small MMEngine runtime helpers shared by the hooks, the loops and the tools."""
from mmengine.model import is_model_wrapper


def unwrap(model):
    """The model inside MMEngine's / torch's wrappers (DDP, FSDP ...), or ``model``."""
    return model.module if is_model_wrapper(model) else model
