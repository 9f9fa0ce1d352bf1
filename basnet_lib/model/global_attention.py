"""Global Attention Block (GAB) of the semantic segmentation branch.

Paper §3.2 and Fig. 2; docs/method.md §1.5.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from basnet_lib.model.layers import HighLevelUpsampler, conv_bn_relu


class GlobalAttentionBlock(nn.Module):
    """``F_gab = conv1x1(ρ(F_h)) + F_l ⊙ A ⊙ S``, ``ρ`` the :class:`HighLevelUpsampler` (docs/method.md §1.4).

    - spatial attention ``S = sigmoid(conv1x1_{C→1}(F_l))`` locates objects from low-level detail;
    - channel attention ``A = sigmoid(conv1x1_{2C→C}([GAP(F_l), GAP(F_h)]))`` weighs channels by
      both stages. The paper's text says the 1×1 conv compresses "to 1" yet names the result
      ``C ∈ R^{C×1×1}``; docs/method.md §1.5 takes the ``C`` output channels, which a per-channel
      weighting needs.
    """

    def __init__(self, channels: int, *, upsample: bool) -> None:
        super().__init__()
        # ρ. The attribute keeps the figures' name for it (the red line), which checkpoints' keys carry.
        self.red_line = HighLevelUpsampler(channels, upsample=upsample)
        # Attention logits are plain convs with bias (docs/method.md §1.9).
        self.spatial_attention = nn.Conv2d(channels, 1, 1)
        self.channel_attention = nn.Conv2d(2 * channels, channels, 1)
        self.high_projection = conv_bn_relu(channels, channels, 1)
        self.global_pool = nn.AdaptiveAvgPool2d(1)  # GAP

    def forward(self, low: Tensor, high: Tensor) -> Tensor:
        spatial = torch.sigmoid(self.spatial_attention(low))
        pooled = torch.cat([self.global_pool(low), self.global_pool(high)], dim=1)
        channel = torch.sigmoid(self.channel_attention(pooled))
        upsampled = self.high_projection(self.red_line(high, low.shape[-2:]))
        # upsampled + low ⊙ A ⊙ S in one pass: one full-size temporary less than writing it out.
        return torch.addcmul(upsampled, low * channel, spatial)
