"""Aggregation Module (AM) merging both branches into two symmetrical outputs.

Paper §3.4 and Fig. 5; docs/method.md §1.8.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from basnet_lib.model.aspp import AGGREGATION_ASPP_RATES, ASPP
from basnet_lib.model.layers import BroadcastToMap, conv_bn_relu


class AggregationOutput(nn.Module):
    """One side of the AM: ``conv1x1([T, broadcast(conv1x1_{C→C/8}(GAP(F_o)))])`` → ``K_o`` logits.

    The paper upsamples the pooled 1×1 vector bilinearly to H×W, which is a broadcast.
    """

    def __init__(self, width: int, *, context_channels: int, out_channels: int) -> None:
        super().__init__()
        self.global_context = conv_bn_relu(width, width // 8, 1)
        self.classifier = nn.Conv2d(context_channels + width // 8, out_channels, 1)
        self.global_pool = nn.AdaptiveAvgPool2d(1)  # GAP
        self.broadcast = BroadcastToMap()

    def forward(self, shared_context: Tensor, branch_feature: Tensor) -> Tensor:
        pooled = self.global_context(self.global_pool(branch_feature))
        return self.classifier(torch.cat([shared_context, self.broadcast(pooled, shared_context)], dim=1))


class AggregationModule(nn.Module):
    """``T = ASPP_am(conv1x1_{2C→C}([F_ssb, F_bdb]))`` shared by the segmentation and boundary outputs.

    ``T`` has ``C/4`` channels (ASPP rates 6, 12, 18 at 1/4 resolution). Returns
    ``(segmentation logits, boundary logits)`` at the branches' resolution (1/4 of the input).
    """

    def __init__(self, width: int, *, num_classes: int) -> None:
        super().__init__()
        context_channels = width // 4
        self.fuse = conv_bn_relu(2 * width, width, 1)
        self.context = ASPP(width, list(AGGREGATION_ASPP_RATES), out_channels=context_channels)
        self.segmentation = AggregationOutput(
            width, context_channels=context_channels, out_channels=num_classes
        )
        self.boundary = AggregationOutput(width, context_channels=context_channels, out_channels=1)

    def forward(self, semantic: Tensor, boundary: Tensor) -> tuple[Tensor, Tensor]:
        shared = self.context(self.fuse(torch.cat([semantic, boundary], dim=1)))
        return self.segmentation(shared, semantic), self.boundary(shared, boundary)
