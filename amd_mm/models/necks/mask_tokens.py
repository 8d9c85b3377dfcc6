"""The one mask-token insertion, shared by the pixel decoder and the feature generators."""
import torch

from ..utils.tokens import gather_tokens, sincos_pos_embed


class MaskTokenPredictor:
    """Mixin of a transformer that predicts hidden tokens from the student's:
    :class:`~amd_mm.models.necks.PixelDecoder` (``ids_masked``) and
    :class:`~amd_mm.models.necks.FeatureGenerator` (``ids_teacher_only``).

    Expects ``embed_dims``, a learned ``mask_token`` ``(1, 1, embed_dims)``, ``blocks`` (a
    :class:`~amd_mm.models.utils.TransformerStack`) and ``prune_last_block``.
    """

    def predict(self, visible: torch.Tensor, ids_student: torch.Tensor,
                ids_predicted: torch.Tensor, grid, dtype: torch.dtype) -> torch.Tensor:
        """``visible (B, n_s, C)`` at ``ids_student`` plus the mask token at every
        ``ids_predicted``, each with its fixed sin-cos position (``dtype``), through the
        blocks -> ``(B, n_p, C)``, the outputs at ``ids_predicted``.

        With ``prune_last_block`` the last block computes only the predicted tokens
        (attention still sees every token): same outputs, less compute."""
        b = visible.shape[0]
        pos = sincos_pos_embed(grid, self.embed_dims, visible.device, dtype).expand(b, -1, -1)
        seen = visible + gather_tokens(pos, ids_student)
        hidden = self.mask_token.to(dtype) + gather_tokens(pos, ids_predicted)
        n_out = hidden.shape[1]
        x = self.blocks(torch.cat([seen, hidden], dim=1),
                        num_out=n_out if self.prune_last_block else None)
        return x[:, x.shape[1] - n_out:]
