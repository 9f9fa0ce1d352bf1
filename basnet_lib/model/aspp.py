"""Atrous spatial pyramid pooling and the DeepLabV3 head, from torchvision (docs/method.md §1.2, §1.8,
§1.10).

``ASPP`` is torchvision's module: a 1×1 branch, three 3×3 atrous branches and image pooling,
concatenated and projected by a 1×1 conv with dropout 0.5. The baseline is torchvision's
DeepLabV3 exactly (same modules, names, parameters and bit-identical logits, tested).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP

# docs/method.md §1.2: DeepLabV3's rates at output stride 8.
BACKBONE_ASPP_RATES = (12, 24, 36)
# docs/method.md §1.8: the aggregation module's ASPP works at 1/4 resolution with half the rates.
AGGREGATION_ASPP_RATES = (6, 12, 18)


class DeepLabV3Head(nn.Sequential):
    """torchvision's ``DeepLabHead`` with a configurable ASPP width (256 there).

    ASPP → 3×3 conv-BN-ReLU → 1×1 classifier. At ``channels=256`` it has the same modules, names
    and parameters as ``torchvision.models.segmentation.deeplabv3.DeepLabHead`` (the baseline of
    docs/method.md §1.10).
    """

    def __init__(self, in_channels: int, num_classes: int, *, channels: int = 256) -> None:
        super().__init__(
            ASPP(in_channels, list(BACKBONE_ASPP_RATES), out_channels=channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )
