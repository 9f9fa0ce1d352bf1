"""Small building blocks shared by both branches: conv-BN-ReLU, the red line, laterals."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torchvision.ops import Conv2dNormActivation


def memory_format_of(tensor: Tensor) -> torch.memory_format:
    """``channels_last`` for an NHWC-strided 4-d tensor, else the default layout.

    Tensors made from a broadcast 1×1 map come out NCHW; putting them in their neighbours' layout
    before a concatenation keeps a channels_last model from converting the result back.
    """
    return (
        torch.channels_last
        if tensor.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> Conv2dNormActivation:
    """Feature-producing conv (SPEC A9): conv (no bias) → BatchNorm → ReLU, 'same' padding."""
    return Conv2dNormActivation(in_channels, out_channels, kernel_size=kernel_size)


class RedLine(nn.Module):
    """The red line of Figs. 2–3 (SPEC A4).

    In the third block of each branch (``F_l`` from stage1) it is a 3×3 transposed conv with stride 2
    (followed by BN-ReLU, SPEC A9) that brings ``F_h`` to ``F_l``'s size; elsewhere it passes ``F_h``
    through. The exact output size is requested from the transposed conv, so odd input sizes work.
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
                raise ValueError(f"red line without upsampling got {tuple(high.shape[-2:])}, expected {size}")
            return high
        return self.act(self.norm(self.deconv(high, output_size=list(size))))


class BranchInputs(NamedTuple):
    """The four tapped features after their lateral projections, all with ``C`` channels."""

    stage1: Tensor  # 1/4 of the input
    stage2: Tensor  # 1/8
    stage3: Tensor  # 1/8
    top: Tensor  # ASPP(layer4), 1/8


class LateralProjections(nn.Module):
    """1×1 conv-BN-ReLU from each tap to the decoder width ``C`` (SPEC A3).

    Computed once and read by both branches: SPEC A3 asks for one width everywhere and says nothing
    of per-branch projections, so sharing them keeps every operation of the figures at half the cost.
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
