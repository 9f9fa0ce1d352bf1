"""A trained model made fast for inference: eval mode, folded BatchNorm, channels_last, the
layout-preserving pooling passes, Winograd 3×3 convolutions on large maps, optional bf16.

What each step buys is measured in ``results/benchmarks/model.json`` (docs/performance.md).
None of them changes what the model is; folding BatchNorm into the preceding convolution, the
channels_last kernels and NNPACK's Winograd convolutions change float rounding only (logits within
~1e-5 relative of the plain eval model; tests/speed/test_inference.py and tests/speed/test_winograd.py bound
it). bf16 autocast is an opt-in whose accuracy effect is measured by ``benchmarks/bench_eval.py``.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.resnet import BasicBlock, Bottleneck

from basnet_lib.model.layers import HighLevelUpsampler
from basnet_lib.speed.passes import INFERENCE_PASSES
from basnet_lib.speed.winograd import use_winograd_


class InferenceModel(nn.Module):
    """Wraps a prepared model: puts inputs in its memory format and runs it under optional autocast.

    ``forward(image, gradient_map=None)`` returns the wrapped model's dict with float32 tensors, so
    callers (softmax, metrics) see the same dtypes whether or not autocast is on.
    """

    def __init__(self, model: nn.Module, *, channels_last: bool, autocast_dtype: torch.dtype | None) -> None:
        super().__init__()
        self.model = model
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.autocast_dtype = autocast_dtype

    def forward(self, image: Tensor, gradient_map: Tensor | None = None) -> dict[str, Tensor | list[Tensor]]:
        image = image.contiguous(memory_format=self.memory_format)
        if gradient_map is not None:
            gradient_map = gradient_map.contiguous(memory_format=self.memory_format)
        enabled = self.autocast_dtype is not None
        with torch.autocast(image.device.type, dtype=self.autocast_dtype, enabled=enabled):
            # Models without a boundary branch (and torchvision's DeepLabV3) take the image alone.
            outputs = self.model(image) if gradient_map is None else self.model(image, gradient_map)
        return float32_outputs(outputs)


def prepare_for_inference(
    model: nn.Module,
    *,
    channels_last: bool = True,
    fold_batchnorm: bool = True,
    winograd: bool = True,
    bf16: bool = False,
    compiled: bool = False,
) -> nn.Module:
    """An eval-mode copy of ``model`` ready for fast inference; ``model`` itself is not changed.

    Args:
        channels_last: NHWC weights and inputs, the layout whose convolutions oneDNN (CPU) and
            cuDNN run fastest; the :data:`~basnet_lib.speed.passes.INFERENCE_PASSES` keep
            the broadcast pooled maps in it (always applied: they change no value).
        fold_batchnorm: fold each eval-mode BatchNorm into the convolution before it
            (:func:`fold_batchnorm`); one pass over every feature map less.
        winograd: run the large stride-1 3×3 convolutions (the SABs' fusion convs, DeepLabV3's
            head conv) through NNPACK's Winograd algorithm on CPU when their maps are large
            (:mod:`basnet_lib.speed.winograd`); on smaller maps, on GPUs and under autocast they
            stay ordinary convolutions. Not combined with ``compiled`` (torch.compile cannot trace
            NNPACK's operator), which keeps inductor's own convolutions.
        bf16: bfloat16 autocast (CPU with AVX-512 BF16/AMX, or CUDA). Changes results: opt-in.
        compiled: ``torch.compile`` (inductor) with frozen weights: the weights become constants,
            so on CPU the convolutions run oneDNN kernels with pre-packed weights and the ReLUs
            and residual additions fused into them. Opt-in: it compiles once per input size
            (seconds to minutes, and a C++ compiler on CPU), which pays off on long evaluations at
            one size, not on the small synthetic sets. Call the result under
            ``torch.inference_mode()``/``no_grad()``, which freezing requires.

    Returns the :class:`InferenceModel`, or its compiled wrapper with ``compiled``.
    """
    prepared = copy.deepcopy(model).eval()
    if fold_batchnorm:
        prepared = fold_batchnorm_(prepared)
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)
    for apply_pass in INFERENCE_PASSES:
        prepared = apply_pass(prepared)
    if winograd and not compiled:  # NNPACK's operator cannot be traced by torch.compile
        prepared = use_winograd_(prepared)
    inference_model = InferenceModel(
        prepared, channels_last=channels_last, autocast_dtype=torch.bfloat16 if bf16 else None
    )
    if compiled:
        return torch.compile(inference_model, options={"freezing": True})
    return inference_model


def fold_batchnorm_(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a (transposed) convolution into it, in place.

    The pairs are found by how the modules run, block family by block family: adjacent children of
    sequential containers (``nn.Sequential``, torchvision's ``IntermediateLayerGetter``), the
    ``convN``/``bnN`` pairs of torchvision's ResNet blocks, and the high-level upsampler's
    deconv/norm. The folded BatchNorm becomes ``nn.Identity``. Only for eval mode: the model must not
    be trained afterwards (running statistics are gone).
    """
    if model.training:
        raise ValueError("fold_batchnorm_ needs an eval-mode model (call model.eval() first)")
    for module in list(model.modules()):
        if isinstance(module, (nn.Sequential, IntermediateLayerGetter)):
            names = list(module._modules)
            for conv_name, norm_name in itertools.pairwise(names):
                _fold_pair(module, conv_name, norm_name)
        elif isinstance(module, (BasicBlock, Bottleneck)):
            for index in (1, 2, 3):
                if hasattr(module, f"conv{index}"):
                    _fold_pair(module, f"conv{index}", f"bn{index}")
        elif isinstance(module, HighLevelUpsampler) and module.upsample:
            _fold_pair(module, "deconv", "norm")
    return model


def _fold_pair(parent: nn.Module, conv_name: str, norm_name: str) -> None:
    conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
    if not isinstance(norm, nn.BatchNorm2d) or not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
        return
    fused = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
    setattr(parent, conv_name, fused)
    setattr(parent, norm_name, nn.Identity())


def float32_outputs(outputs: dict[str, Tensor | list[Tensor]]) -> dict[str, Tensor | list[Tensor]]:
    """The model's output dict with every tensor (and every tensor of a list) in float32.

    Autocast leaves outputs in bf16/fp16; losses, softmax and metrics read them in float32.
    """
    return {
        key: [item.float() for item in value] if isinstance(value, list) else value.float()
        for key, value in outputs.items()
    }
