"""Small building blocks shared by the blocks: conv-BN-ReLU, its concatenation form, the high-level
upsampler, laterals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torchvision.ops import Conv2dNormActivation


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> Conv2dNormActivation:
    """Feature-producing conv (docs/method.md §1.9): conv (no bias) → BatchNorm → ReLU, 'same'
    padding."""
    return Conv2dNormActivation(in_channels, out_channels, kernel_size=kernel_size)


def is_same_padded_3x3(conv: nn.Conv2d) -> bool:
    """A 3×3 convolution with stride 1, 'same' zero padding (padding = dilation) and no groups:
    the shape :mod:`basnet_lib.speed.atrous` and :mod:`basnet_lib.speed.winograd` compute their own way."""
    return (
        tuple(conv.kernel_size) == (3, 3)
        and tuple(conv.stride) == (1, 1)
        and tuple(conv.padding) == tuple(conv.dilation)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


class ConvOfConcatenation(nn.Sequential):
    """``conv([a, b, …])``: conv → BatchNorm → ReLU over the channel concatenation of its inputs.

    Takes the parts as a list, so the concatenation is the module's own step (the SAB's
    ``conv3x3([F_l, ρ(F_h), G↓])``, docs/method.md §1.6). Children ``0``/``1``/``2`` as in
    :func:`conv_bn_relu`, so parameter names are those of a conv-BN-ReLU.
    """

    def __init__(self, conv: nn.Conv2d, norm: nn.Module, activation: nn.Module) -> None:
        super().__init__(conv, norm, activation)

    @classmethod
    def conv_bn_relu(cls, in_channels: int, out_channels: int, kernel_size: int) -> ConvOfConcatenation:
        """:func:`conv_bn_relu`'s modules (same initialisation) taking a list of parts."""
        return cls(*conv_bn_relu(in_channels, out_channels, kernel_size))

    def forward(self, parts: Sequence[Tensor]) -> Tensor:  # type: ignore[override]
        return super().forward(torch.cat(list(parts), dim=1))


class BroadcastToMap(nn.Module):
    """A pooled ``(N, C, 1, 1)`` vector repeated over a feature map's H×W.

    The bilinear upsampling of a 1×1 map to H×W (the AM's global context, paper §3.4), written as the
    broadcast it is.
    """

    def forward(self, vector: Tensor, feature_map: Tensor) -> Tensor:
        return vector.expand(-1, -1, *feature_map.shape[-2:])


class HighLevelUpsampler(nn.Module):
    """``ρ``: brings a GAB's or SAB's high-level input ``F_h`` to ``F_l``'s size (docs/method.md §1.4).

    With ``upsample`` (the third block of each branch, ``F_l`` from stage1) a 3×3 transposed conv with
    stride 2 followed by BN-ReLU (docs/method.md §1.9); without, ``F_h`` passes through unchanged.
    The exact output size is requested from the transposed conv, so odd input sizes work.
    """

    def __init__(self, channels: int, *, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        if upsample:
            self.deconv = nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, bias=False)
            self.norm = nn.BatchNorm2d(channels)
            self.act = nn.ReLU(inplace=True)

    def forward(self, high: Tensor, size: tuple[int, int]) -> Tensor:
        if not self.upsample:
            if tuple(high.shape[-2:]) != tuple(size):
                raise ValueError(
                    f"high-level input without upsampling got {tuple(high.shape[-2:])}, expected {size}"
                )
            return high
        return self.act(self.norm(self.deconv(high, output_size=list(size))))


class BranchInputs(NamedTuple):
    """The four tapped features after their lateral projections, all with ``C`` channels."""

    stage1: Tensor  # 1/4 of the input
    stage2: Tensor  # 1/8
    stage3: Tensor  # 1/8
    top: Tensor  # ASPP(layer4), 1/8


class LateralProjections(nn.Module):
    """1×1 conv-BN-ReLU from each tap to the decoder width ``C`` (docs/method.md §1.3).

    Computed once and read by both branches (docs/method.md §1.3): with one width everywhere,
    sharing them keeps every operation of the figures at half the cost.
    """

    def __init__(self, in_channels: dict[str, int], *, width: int) -> None:
        super().__init__()
        self.stage1 = conv_bn_relu(in_channels["stage1"], width, 1)
        self.stage2 = conv_bn_relu(in_channels["stage2"], width, 1)
        self.stage3 = conv_bn_relu(in_channels["stage3"], width, 1)
        self.top = conv_bn_relu(in_channels["top"], width, 1)

    def forward(self, features: dict[str, Tensor], top: Tensor) -> BranchInputs:
        return BranchInputs(
            stage1=self.stage1(features["stage1"]),
            stage2=self.stage2(features["stage2"]),
            stage3=self.stage3(features["stage3"]),
            top=self.top(top),
        )
