"""Speed passes: swap plain modules of a built model for fast ones that compute the same function.

The blocks (``aspp``, ``global_attention``, ``spatial_attention``, ``aggregation``, ``branches``)
are written as the paper's equations with plain modules. Each pass below replaces one kind of
plain module, in place, by its fast stand-in from :mod:`basnet_lib.speed.fast_layers` or
:mod:`basnet_lib.speed.atrous`. Passes share the plain modules' parameters (no new ones, no
random draws), so parameter names, state-dict keys, checkpoints and optimiser state are the same
with or without them. Forward values are bit-identical; gradients differ by float rounding only
where a pass reassociates a sum (the split concatenation convs, the atrous weight gradient). Each
pass swaps exact plain types only, so running it again changes nothing.

:func:`prepare_for_training` applies :data:`TRAINING_PASSES`; inference uses
:data:`INFERENCE_PASSES` through :func:`basnet_lib.speed.inference.prepare_for_inference`.
Measurements of what each buys: docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision.models.segmentation import deeplabv3

from basnet_lib.model.layers import BroadcastToMap, ConvOfConcatenation
from basnet_lib.speed.atrous import TapGradientASPPConv
from basnet_lib.speed.fast_layers import (
    LayoutMatchingBroadcast,
    LayoutPreservingGlobalAveragePool,
    LayoutPreservingImagePooling,
    SplitConvOfConcatenation,
)

Pass = Callable[[nn.Module], nn.Module]


def split_concatenation_convs_(model: nn.Module) -> nn.Module:
    """Every :class:`ConvOfConcatenation` (the SABs' fusion) → :class:`SplitConvOfConcatenation`."""
    return _swap(model, ConvOfConcatenation, SplitConvOfConcatenation.from_plain)


def use_layout_preserving_pooling_(model: nn.Module) -> nn.Module:
    """Every global ``nn.AdaptiveAvgPool2d(1)`` → :class:`LayoutPreservingGlobalAveragePool`."""
    return _swap(model, nn.AdaptiveAvgPool2d, _layout_preserving_pool)


def use_tap_gradient_atrous_convs_(model: nn.Module) -> nn.Module:
    """Every ASPP atrous branch (``ASPPConv``) → :class:`TapGradientASPPConv`."""
    return _swap(model, deeplabv3.ASPPConv, TapGradientASPPConv.from_plain)


def keep_broadcast_maps_in_layout_(model: nn.Module) -> nn.Module:
    """Every ASPP image pooling (``ASPPPooling``) → :class:`LayoutPreservingImagePooling`, and
    every :class:`BroadcastToMap` (the AM's global context) → :class:`LayoutMatchingBroadcast`."""
    _swap(model, deeplabv3.ASPPPooling, lambda pooling: LayoutPreservingImagePooling(*pooling))
    return _swap(model, BroadcastToMap, lambda _: LayoutMatchingBroadcast())


# The passes a training model gets, each with what it buys (figures: docs/performance.md).
TRAINING_PASSES: tuple[tuple[Pass, str], ...] = (
    (split_concatenation_convs_, "SAB fusion backward by parts: oneDNN's is slower over the concatenation"),
    (use_layout_preserving_pooling_, "pooling gradient keeps channels_last: no mixed-layout backward ops"),
    (use_tap_gradient_atrous_convs_, "ASPP atrous weight gradients skip the taps that read zero padding"),
    (keep_broadcast_maps_in_layout_, "pooled maps in their neighbours' layout: no copy of a concatenation"),
)
# The passes that change an inference model's execution (the others act only while autograd records).
INFERENCE_PASSES: tuple[Pass, ...] = (use_layout_preserving_pooling_, keep_broadcast_maps_in_layout_)


def prepare_for_training(model: nn.Module) -> nn.Module:
    """Apply every pass of :data:`TRAINING_PASSES` to ``model`` in place and return it.

    Call it on the built model, before wrapping it (SyncBatchNorm, DDP); before or after
    ``.to(device, memory_format=...)`` alike, as the passes create no tensors.
    """
    for apply_pass, _ in TRAINING_PASSES:
        model = apply_pass(model)
    return model


def _layout_preserving_pool(pool: nn.AdaptiveAvgPool2d) -> nn.Module:
    # Only global pooling has the fast version; other adaptive poolings stay.
    return LayoutPreservingGlobalAveragePool() if pool.output_size in (1, (1, 1)) else pool


def _swap(
    model: nn.Module, plain_type: type[nn.Module], make_fast: Callable[[nn.Module], nn.Module]
) -> nn.Module:
    """Replace every child of exactly ``plain_type`` (not subclasses, so fast ones stay) in place."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is plain_type:
                setattr(parent, name, make_fast(child))
    return model
