"""Atrous spatial pyramid pooling and the DeepLabV3 head, from torchvision (SPEC A2, A8, A10).

``ASPP`` is torchvision's module (1×1 branch, three 3×3 atrous branches, image pooling, 1×1
projection with dropout 0.5) with changes to *how* it runs, not what it computes: every branch is
laid out in the input's memory format before the concatenation, the image pooling's gradient
comes back in that format too, and the atrous branches' weight gradients skip the taps that read
zero padding (:mod:`basnet_lib.model.atrous`). The baseline is still torchvision's
DeepLabV3 exactly (same modules, names, parameters and bit-identical logits, tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.segmentation import deeplabv3

from basnet_lib.model.atrous import atrous_conv2d
from basnet_lib.model.layers import global_average_pool, memory_format_of

# SPEC A2: DeepLabV3's rates at output stride 8.
BACKBONE_ASPP_RATES = (12, 24, 36)
# SPEC A8: the aggregation module's ASPP works at 1/4 resolution with half the rates.
AGGREGATION_ASPP_RATES = (6, 12, 18)

__all__ = ["AGGREGATION_ASPP_RATES", "ASPP", "BACKBONE_ASPP_RATES", "DeepLabV3Head"]


class ASPP(deeplabv3.ASPP):
    """torchvision's ASPP whose concatenation stays in the input's memory format.

    The image-pooling branch upsamples a 1×1 map, which comes back in the default (NCHW) layout.
    Concatenated with channels_last branches, it made the whole 5-branch tensor NCHW, and the
    projection conv then converted it back: a 42 ms copy per ResNet-101 image at 512×1024 on the
    benchmark machine, against ~2 ms to convert the pooled branch alone (benchmarks/bench_model.py).
    The atrous branches go through :func:`atrous_conv2d` (same forward; in training, a weight
    gradient that skips the padding rate 24 and 36 kernels mostly read at 1/8 resolution).
    """

    def forward(self, x: Tensor) -> Tensor:
        memory_format = memory_format_of(x)
        pointwise, *atrous, pooling = self.convs
        branches = [
            pointwise(x),
            *(_atrous_branch(branch, x) for branch in atrous),
            _image_pooling(pooling, x),
        ]
        return self.project(
            torch.cat([branch.contiguous(memory_format=memory_format) for branch in branches], dim=1)
        )


def _atrous_branch(branch: deeplabv3.ASPPConv, x: Tensor) -> Tensor:
    """torchvision's ``ASPPConv`` (dilated 3×3 conv, BatchNorm, ReLU) with :func:`atrous_conv2d`."""
    conv, norm, activation = branch
    return activation(norm(atrous_conv2d(conv, x)))


def _image_pooling(pooling: deeplabv3.ASPPPooling, x: Tensor) -> Tensor:
    """torchvision's ``ASPPPooling.forward`` with :func:`global_average_pool` for its first module.

    Same values (its ``AdaptiveAvgPool2d(1)`` is this mean); the pooled gradient comes back in
    ``x``'s memory format instead of NCHW, which kept the backbone's last block off channels_last
    in training.
    """
    pooled = global_average_pool(x)
    for module in list(pooling)[1:]:  # conv, BatchNorm, ReLU
        pooled = module(pooled)
    return F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)


class DeepLabV3Head(nn.Sequential):
    """torchvision's ``DeepLabHead`` with a configurable ASPP width (256 there).

    ASPP → 3×3 conv-BN-ReLU → 1×1 classifier. At ``channels=256`` it has the same modules, names
    and parameters as ``torchvision.models.segmentation.deeplabv3.DeepLabHead`` (SPEC A10 baseline).
    """

    def __init__(self, in_channels: int, num_classes: int, *, channels: int = 256) -> None:
        super().__init__(
            ASPP(in_channels, list(BACKBONE_ASPP_RATES), out_channels=channels),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, num_classes, 1),
        )
