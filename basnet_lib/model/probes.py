"""Fig. 4 probes: what each SAB stage knows about boundaries .

Paper §3.3, last paragraph; docs/method.md §1.11.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class SABProbes(nn.Module):
    """A 1×1 conv (C→1) boundary head per SAB, fed *detached* features.

    Detaching means the probe loss trains only these convs and never changes the model. The paper
    upsamples then applies the 1×1 conv; both are linear and bilinear weights sum to 1, so
    conv-then-upsample gives the same logits at a fraction of the cost.
    """

    def __init__(self, width: int, *, num_stages: int = 3) -> None:
        super().__init__()
        self.heads = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(num_stages))

    def forward(self, sab_outputs: list[Tensor], size: tuple[int, int]) -> list[Tensor]:
        if len(sab_outputs) != len(self.heads):
            raise ValueError(f"expected {len(self.heads)} SAB outputs, got {len(sab_outputs)}")
        return [
            F.interpolate(head(feature.detach()), size=size, mode="bilinear", align_corners=False)
            for head, feature in zip(self.heads, sab_outputs, strict=True)
        ]
