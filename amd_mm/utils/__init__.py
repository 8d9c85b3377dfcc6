from .checkpoint import extract_state_dict, resolve_checkpoint

__all__ = ['extract_state_dict', 'resolve_checkpoint']
