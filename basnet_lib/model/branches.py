"""The two symmetrical decoder branches: SSB of GABs and BDB of SABs.

Paper §3.2–3.3; docs/method.md §1.4.
"""

from __future__ import annotations

from torch import Tensor, nn

from basnet_lib.model.global_attention import GlobalAttentionBlock
from basnet_lib.model.layers import BranchInputs
from basnet_lib.model.spatial_attention import SpatialAttentionBlock


class SemanticSegmentationBranch(nn.Module):
    """Three GABs, coarse to fine (docs/method.md §1.4); returns ``F_ssb`` with ``C`` channels at 1/4.

    block1(stage3, top) → block2(stage2, block1) → block3(stage1, block2); only block3 upsamples.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.block1 = GlobalAttentionBlock(width, upsample=False)
        self.block2 = GlobalAttentionBlock(width, upsample=False)
        self.block3 = GlobalAttentionBlock(width, upsample=True)

    def forward(self, inputs: BranchInputs) -> Tensor:
        x = self.block1(inputs.stage3, inputs.top)
        x = self.block2(inputs.stage2, x)
        return self.block3(inputs.stage1, x)


class BoundaryDetectionBranch(nn.Module):
    """Three SABs in the same order as the SSB (docs/method.md §1.4); returns every SAB output.

    Each SAB gets the image-gradient map ``G`` at the input's resolution and resizes it to its own
    (docs/method.md §1.6–1.7).

    The last output is ``F_bdb``; all three feed the optional Fig. 4 probes (docs/method.md §1.11).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.block1 = SpatialAttentionBlock(width, upsample=False)
        self.block2 = SpatialAttentionBlock(width, upsample=False)
        self.block3 = SpatialAttentionBlock(width, upsample=True)

    def forward(self, inputs: BranchInputs, gradient_map: Tensor) -> list[Tensor]:
        first = self.block1(inputs.stage3, inputs.top, gradient_map)
        second = self.block2(inputs.stage2, first, gradient_map)
        third = self.block3(inputs.stage1, second, gradient_map)
        return [first, second, third]
