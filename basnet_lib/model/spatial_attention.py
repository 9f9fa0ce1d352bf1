"""Spatial Attention Block (SAB) of the boundary detection branch.

Paper §3.3 and Fig. 3; docs/method.md §1.6.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from basnet_lib.gradient_map import resize_gradient_map
from basnet_lib.model.layers import ConvOfConcatenation, HighLevelUpsampler, conv_bn_relu

GRADIENT_MAP_CHANNELS = 4  # docs/method.md §1.7: normalized RGB + Canny


class SpatialAttentionBlock(nn.Module):
    """``F_sab = conv1x1(ρ(F_h)) + conv3x3([F_l, ρ(F_h), G↓]) ⊙ S``, ``ρ`` the :class:`HighLevelUpsampler`.

    ``S = sigmoid(conv1x1_{C→1}(F_l))`` enhances boundary pixels; the image-gradient map ``G``, given
    at the input's resolution and resized here to ``F_l``'s (``G↓``, docs/method.md §1.7), helps
    suppress non-boundary responses. With one width ``C`` the concatenation has ``2C + 4`` channels
    (the paper's "3C + 4" counts ``F_h`` as 2C, docs/method.md §1.3). The final addition uses the projected ``F_h`` "as same as GAB" (paper §3.3, last paragraph).
    """

    def __init__(self, channels: int, *, upsample: bool) -> None:
        super().__init__()
        # ρ. The attribute keeps the figures' name for it (the red line), which checkpoints' keys carry.
        self.red_line = HighLevelUpsampler(channels, upsample=upsample)
        self.spatial_attention = nn.Conv2d(channels, 1, 1)
        self.fuse = ConvOfConcatenation.conv_bn_relu(2 * channels + GRADIENT_MAP_CHANNELS, channels, 3)
        self.high_projection = conv_bn_relu(channels, channels, 1)

    def forward(self, low: Tensor, high: Tensor, gradient_map: Tensor) -> Tensor:
        size = low.shape[-2:]
        high = self.red_line(high, size)
        spatial = torch.sigmoid(self.spatial_attention(low))
        fused = self.fuse([low, high, resize_gradient_map(gradient_map, size)])
        return torch.addcmul(self.high_projection(high), fused, spatial)
