"""3×3 convolutions by Winograd's minimal filtering (NNPACK) for CPU inference on large maps.

The SAB's fusion conv (docs/method.md §1.6: 3×3 over ``2C + 4`` channels at 1/8 and 1/4 resolution) is the
largest block of work the decoder adds to DeepLabV3. oneDNN computes it directly, already near
the machine's practical peak. PyTorch also ships NNPACK, whose inference convolution for 3×3
kernels uses Winograd's F(6×6, 3×3) transform and needs ~4× fewer multiplications, which pays
off on large maps with many channels even with the layout conversions both ways (measured grid:
docs/performance.md). It changes float rounding only (~1e-5 relative to the output's scale,
tested). PyTorch's own dispatcher never picks it for channels_last inputs or batches under 16,
so :func:`use_winograd_` swaps the eligible convolutions of a prepared inference model for
:class:`WinogradConv2d`.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from basnet_lib.model.layers import is_same_padded_3x3
from basnet_lib.speed.fast_layers import memory_format_of

# The measured crossover (batch 1, channels_last in and out, conversions included;
# docs/performance.md): smaller maps or fewer channels stay with oneDNN.
MIN_CHANNEL_PRODUCT = 256 * 256  # in_channels × out_channels
MIN_PIXELS = 64 * 128  # output height × width


@functools.cache
def winograd_available() -> bool:
    """Whether this PyTorch build has NNPACK for this CPU (the call also initialises NNPACK)."""
    # The operator is underscored (PyTorch's own convolution dispatcher calls it); if a later
    # release drops it, the convolutions fall back to the plain ones.
    return hasattr(torch, "_nnpack_spatial_convolution") and torch.backends.nnpack.is_available()


def is_winograd_eligible(conv: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` with a 3×3 kernel, stride 1, dilation 1, 'same' zero padding, no groups,
    and enough channels (:data:`MIN_CHANNEL_PRODUCT`) for NNPACK to beat oneDNN."""
    return (
        type(conv) is nn.Conv2d
        and is_same_padded_3x3(conv)
        and tuple(conv.dilation) == (1, 1)
        and conv.in_channels * conv.out_channels >= MIN_CHANNEL_PRODUCT
    )


class WinogradConv2d(nn.Conv2d):
    """An eligible ``nn.Conv2d`` (same parameters and state-dict keys) that runs NNPACK when it can.

    NNPACK's path is taken for float32 CPU inputs of at least :data:`MIN_PIXELS` pixels when no
    gradient is being recorded and autocast is off; anything else (training, bf16 autocast, CUDA,
    small maps, a build without NNPACK) is the plain convolution. Batches run one image at a time:
    for a batch NNPACK switches to its training algorithm, which was slower than oneDNN (measured).
    Results are the same from run to run (tested).
    """

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> WinogradConv2d:
        """The Winograd version of ``conv``, sharing its weight and bias tensors."""
        if not is_winograd_eligible(conv):
            raise ValueError(f"not a stride-1, 'same'-padded 3×3 convolution with enough channels: {conv}")
        winograd = cls(
            conv.in_channels,
            conv.out_channels,
            3,
            padding=1,
            bias=conv.bias is not None,
            device="meta",  # parameters are replaced below; nothing to allocate or initialise
        )
        winograd.weight = conv.weight
        winograd.bias = conv.bias
        return winograd

    def uses_winograd(self, x: Tensor) -> bool:
        recording = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        return (
            not recording
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and x.ndim == 4
            and not torch.is_autocast_enabled("cpu")
            and x.shape[-2] * x.shape[-1] >= MIN_PIXELS
            and winograd_available()
        )

    def forward(self, x: Tensor) -> Tensor:
        if not self.uses_winograd(x):
            return super().forward(x)
        memory_format = memory_format_of(x)
        weight = self.weight.contiguous()  # NNPACK reads NCHW tensors only
        outputs = [
            torch._nnpack_spatial_convolution(image, weight, self.bias, list(self.padding), [1, 1])
            for image in x.contiguous().split(1)
        ]
        out = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
        return out.contiguous(memory_format=memory_format)


def use_winograd_(model: nn.Module) -> nn.Module:
    """Swap every eligible convolution of an eval-mode ``model`` for :class:`WinogradConv2d`, in place.

    Parameters, their names and checkpoints are unchanged. Only for inference copies (it is applied
    by :func:`basnet_lib.speed.inference.prepare_for_inference`): while training the swapped
    modules are plain convolutions anyway, but nothing measured their backward.
    """
    if model.training:
        raise ValueError("use_winograd_ is for eval-mode inference copies (call model.eval() first)")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if is_winograd_eligible(child):
                setattr(parent, name, WinogradConv2d.from_conv(child))
    return model
