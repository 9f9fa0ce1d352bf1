"""Fast stand-ins for plain modules of the blocks: same function, different execution.

Each class here computes what the plain module it replaces computes (the forward values are
bit-identical; where a gradient's sum is reassociated, it differs by float rounding only) and
keeps its parameters and state-dict keys. The blocks themselves use the plain modules; the passes
of :mod:`basnet_lib.speed.passes` swap these in. Why each one pays off is said on it;
the measurements are in docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from basnet_lib.model.layers import BroadcastToMap, ConvOfConcatenation


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
    channels_last gradient of the pooled feature's other consumers, it turns that sum, and every
    elementwise backward op down to the previous convolution, into mixed-layout passes, which are
    several times slower on CPU than same-layout ones. This gradient keeps the input's layout.
    """
    return _GlobalAveragePool.apply(x)


class LayoutPreservingGlobalAveragePool(nn.Module):
    """``nn.AdaptiveAvgPool2d(1)`` by :func:`global_average_pool`: the gradient keeps ``x``'s layout."""

    def forward(self, x: Tensor) -> Tensor:
        return global_average_pool(x)


class LayoutPreservingImagePooling(nn.Sequential):
    """torchvision's ``ASPPPooling`` (same children) whose upsampled map has its input's layout.

    The image-pooling branch upsamples a 1×1 map, which comes back NCHW. Concatenated with the
    other, channels_last, ASPP branches, it made the whole five-branch tensor NCHW, and the
    projection conv converted all of it back; converting the pooled branch alone is much cheaper.
    """

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        pooled = super().forward(x)
        upsampled = F.interpolate(pooled, size=size, mode="bilinear", align_corners=False)
        return upsampled.contiguous(memory_format=memory_format_of(x))


class LayoutMatchingBroadcast(BroadcastToMap):
    """:class:`BroadcastToMap` laid out like ``feature_map``, for the same reason as
    :class:`LayoutPreservingImagePooling`: the concatenation it feeds stays in the model's layout."""

    def forward(self, vector: Tensor, feature_map: Tensor) -> Tensor:
        broadcast = super().forward(vector, feature_map)
        return broadcast.contiguous(memory_format=memory_format_of(feature_map))


def conv_of_concatenation(conv: nn.Conv2d, parts: Sequence[Tensor]) -> Tensor:
    """``conv(torch.cat(parts, dim=1))``; while autograd records, one convolution per part, summed.

    Same function of the same weight (its input-channel slices), so modules, parameters and
    checkpoints do not change; the sum is reassociated, so values differ by float rounding only
    (about 1e-6 relative, tested). Why: oneDNN's backward over the SAB's 2C + 4 concatenated
    channels (docs/method.md §1.6) ran slower than over the C, C and 4 channels of the parts separately.
    Without gradients the single convolution is the faster one, so it is kept there.
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


class SplitConvOfConcatenation(ConvOfConcatenation):
    """:class:`ConvOfConcatenation` (same children) whose conv runs by :func:`conv_of_concatenation`."""

    @classmethod
    def from_plain(cls, plain: ConvOfConcatenation) -> SplitConvOfConcatenation:
        """The split version of ``plain``, sharing its modules."""
        return cls(*plain)

    def forward(self, parts: Sequence[Tensor]) -> Tensor:  # type: ignore[override]
        conv, norm, activation = self
        return activation(norm(conv_of_concatenation(conv, parts)))
