"""Atrous 3×3 convolution whose weight gradient skips the taps that fall into zero padding.

The ASPPs (docs/method.md §1.2, §1.8) dilate 3×3 kernels by up to 36 on 1/8-resolution features: at a
480×480 training crop that is a 60×60 map, where most of a rate-36 kernel's taps read zero padding.
oneDNN's forward and input-gradient kernels skip those taps, but its weight gradient does not, so
at large rates it does several times the useful work. :func:`atrous_conv2d` computes the weight
gradient as one matrix product per tap over the positions where that tap reads the input, in
training when enough of the kernel reads padding, and is plain ``conv(x)`` otherwise.
:class:`TapGradientASPPConv` is torchvision's ``ASPPConv`` running its conv this way; the pass
:func:`basnet_lib.speed.passes.use_tap_gradient_atrous_convs_` swaps it in.
The forward pass and the input gradient are the library's own (oneDNN); only the weight gradient's
sums are reassociated (float rounding, ~1e-6 relative, tests/speed/test_atrous.py). Measurements:
docs/performance.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.segmentation import deeplabv3

from basnet_lib.model.layers import is_same_padded_3x3
from basnet_lib.speed.fast_layers import memory_format_of

# Per-tap products pay off when at least this share of the kernel's counted taps reads padding
# (the measured break-even, docs/performance.md): the backbone ASPP's rate-12 branch at 1/8 of a
# 480×480 crop qualifies, the aggregation ASPP at 1/4 does not.
PADDING_SHARE_FOR_TAPS = 0.2


def valid_tap_share(size: tuple[int, int], dilation: tuple[int, int]) -> float:
    """Share of a 'same'-padded 3×3 kernel's (position, tap) pairs that read the input, not padding."""
    share = 1.0
    for length, rate in zip(size, dilation, strict=True):
        valid = sum(max(0, length - abs(offset)) for offset in (-rate, 0, rate))
        share *= valid / (3 * length)
    return share


def uses_tap_gradient(conv: nn.Conv2d, x: Tensor) -> bool:
    """Whether :func:`atrous_conv2d` computes ``conv``'s weight gradient tap by tap for input ``x``."""
    return (
        torch.is_grad_enabled()
        and conv.weight.requires_grad
        and x.device.type == "cpu"  # measured with oneDNN only; cuDNN keeps its own backward
        and x.ndim == 4
        and memory_format_of(x) == torch.channels_last
        and is_same_padded_3x3(conv)
        and 1.0 - valid_tap_share((x.shape[-2], x.shape[-1]), tuple(conv.dilation)) >= PADDING_SHARE_FOR_TAPS
    )


def atrous_conv2d(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` for a 'same'-padded dilated 3×3 ``conv``; same values, faster weight gradient.

    The module, its parameters and checkpoints are unchanged; without gradients (inference) this is
    exactly ``conv(x)``.
    """
    if not uses_tap_gradient(conv, x):
        return conv(x)
    return _AtrousConvolution.apply(x, conv.weight, conv.bias, tuple(conv.dilation))


class TapGradientASPPConv(nn.Sequential):
    """torchvision's ``ASPPConv`` (same children: dilated 3×3 conv, BatchNorm, ReLU) whose conv
    runs through :func:`atrous_conv2d`."""

    @classmethod
    def from_plain(cls, plain: deeplabv3.ASPPConv) -> TapGradientASPPConv:
        """The tap-gradient version of ``plain``, sharing its modules."""
        return cls(*plain)

    def forward(self, x: Tensor) -> Tensor:
        conv, norm, activation = self
        return activation(norm(atrous_conv2d(conv, x)))


class _AtrousConvolution(torch.autograd.Function):
    """F.conv2d with stride 1 and padding = dilation; backward as in :func:`atrous_conv2d`."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, dilation: tuple[int, int]) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.dilation = dilation
        return F.conv2d(x, weight, bias, 1, dilation, dilation)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        dilation = ctx.dilation
        grad = grad.contiguous(memory_format=torch.channels_last)
        # Under autocast the forward ran in the output's dtype (F.conv2d cast x and the weight), so the
        # backward does too: oneDNN's bf16 kernels accept the fp32 weight (same bits as this cast),
        # the kernels of CPUs without bf16 support (AVX2) require equal dtypes.
        x, weight = x.to(grad.dtype), weight.to(grad.dtype)
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = F.grad.conv2d_input(x.shape, weight, grad, 1, dilation, dilation)
        if ctx.needs_input_grad[1]:
            grad_weight = _weight_gradient_by_taps(x, grad, dilation)
            grad_weight = grad_weight.contiguous(memory_format=memory_format_of(weight))
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_input, grad_weight, grad_bias, None


def _weight_gradient_by_taps(x: Tensor, grad: Tensor, dilation: tuple[int, int]) -> Tensor:
    """dL/dW of a 'same' dilated 3×3 conv: per tap, (input shifted by the tap)ᵀ · grad, valid area only.

    ``x`` (N, C_in, H, W) and ``grad`` (N, C_out, H, W) are channels_last, so their NHWC views are
    (positions × channels) matrices. Returns (C_out, C_in, 3, 3).
    """
    height, width = x.shape[-2:]
    in_channels, out_channels = x.shape[1], grad.shape[1]
    x_nhwc = x.permute(0, 2, 3, 1)
    grad_nhwc = grad.permute(0, 2, 3, 1)
    # (tap row, tap column, C_in, C_out): x regionᵀ · grad region, the faster of the two orders.
    taps = x.new_empty(3, 3, in_channels, out_channels)
    for row in range(3):
        row_offset = (row - 1) * dilation[0]
        top, bottom = max(0, -row_offset), min(height, height - row_offset)
        for column in range(3):
            column_offset = (column - 1) * dilation[1]
            left, right = max(0, -column_offset), min(width, width - column_offset)
            if bottom <= top or right <= left:
                taps[row, column].zero_()  # this tap reads only padding
                continue
            grad_region = grad_nhwc[:, top:bottom, left:right].reshape(-1, out_channels)
            x_region = x_nhwc[
                :, top + row_offset : bottom + row_offset, left + column_offset : right + column_offset
            ].reshape(-1, in_channels)
            torch.mm(x_region.t(), grad_region, out=taps[row, column])
    return taps.permute(3, 2, 0, 1)
