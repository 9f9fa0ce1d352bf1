"""Small building blocks shared by both branches: conv-BN-ReLU, the red line, laterals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
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


class _GlobalAveragePool(torch.autograd.Function):
    """Mean over H×W whose gradient keeps the input's memory format (see global_average_pool)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.input_shape = x.shape
        ctx.memory_format = memory_format_of(x)
        return x.mean((-2, -1), keepdim=True)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        # Each element gets grad / (H·W), exactly as autograd's mean backward computes it.
        spread = (grad / (ctx.input_shape[-2] * ctx.input_shape[-1])).expand(ctx.input_shape)
        return spread.contiguous(memory_format=ctx.memory_format)


def global_average_pool(x: Tensor) -> Tensor:
    """``F.adaptive_avg_pool2d(x, 1)`` (same values: torch computes that as this mean).

    Autograd's mean backward divides an expanded gradient and returns it NCHW. Added to the
    channels_last gradient of the pooled feature's other consumers, it turned the sum, and every
    elementwise backward op before the previous conv, into mixed-layout passes 5–14× slower than
    same-layout ones: 0.8–0.9 s of a 12–13 s ResNet-50 480×480 ×2 training step of the full model
    on the benchmark machine (paired runs; docs/decisions.md "Performance").
    """
    return _GlobalAveragePool.apply(x)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> Conv2dNormActivation:
    """Feature-producing conv (SPEC A9): conv (no bias) → BatchNorm → ReLU, 'same' padding."""
    return Conv2dNormActivation(in_channels, out_channels, kernel_size=kernel_size)


def is_same_padded_3x3(conv: nn.Conv2d) -> bool:
    """A 3×3 convolution with stride 1, 'same' zero padding (padding = dilation) and no groups:
    the shape :mod:`basnet_lib.model.atrous` and :mod:`basnet_lib.model.winograd` compute their own way."""
    return (
        tuple(conv.kernel_size) == (3, 3)
        and tuple(conv.stride) == (1, 1)
        and tuple(conv.padding) == tuple(conv.dilation)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def conv_of_concatenation(conv: nn.Conv2d, parts: Sequence[Tensor]) -> Tensor:
    """``conv(torch.cat(parts, dim=1))``; while autograd records, one convolution per part, summed.

    Same function of the same weight (its input-channel slices), so modules, parameters and
    checkpoints do not change; the sum is reassociated, so values differ by float rounding only
    (about 1e-6 relative, tested). Why: the SAB's fusion conv reads 2C + 4 channels (SPEC A6), and
    oneDNN's backward over 516 channels ran slower than over 256, 256 and 4 separately: forward +
    backward of the 1/4-resolution one of a 480×480 ×2 training step took 1289 vs 1094 ms on the
    benchmark machine. Without gradients the single convolution is the faster one (387 vs 403 ms at
    512×1024), so it is kept there.
    """
    if not (torch.is_grad_enabled() and (conv.weight.requires_grad or any(p.requires_grad for p in parts))):
        return conv(torch.cat(list(parts), dim=1))
    if conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError("conv_of_concatenation needs an ungrouped, zero-padded convolution")
    widths = [part.shape[1] for part in parts]
    if sum(widths) != conv.in_channels:
        raise ValueError(
            f"parts have {sum(widths)} channels in all, the convolution expects {conv.in_channels}"
        )
    weights = conv.weight.split(widths, dim=1)
    # The bias is added once, with the first part.
    out = F.conv2d(parts[0], weights[0], conv.bias, conv.stride, conv.padding, conv.dilation)
    for part, weight in zip(parts[1:], weights[1:], strict=True):
        out = out + F.conv2d(part, weight, None, conv.stride, conv.padding, conv.dilation)
    return out


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
