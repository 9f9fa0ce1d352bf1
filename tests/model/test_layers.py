"""Fast layers (basnet_lib.speed.fast_layers): same values as the plain ops, gradients kept in channels_last."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torchvision.models.segmentation import deeplabv3

from basnet_lib.model import ASPP, ModelConfig, build_basnet
from basnet_lib.speed import prepare_for_training
from basnet_lib.speed.fast_layers import conv_of_concatenation, global_average_pool
from basnet_lib.speed.passes import keep_broadcast_maps_in_layout_, use_layout_preserving_pooling_

CHANNELS_LAST = torch.channels_last


def test_global_average_pool_equals_adaptive_pooling_with_a_channels_last_gradient() -> None:
    x = torch.randn(2, 8, 5, 7).contiguous(memory_format=CHANNELS_LAST).requires_grad_()
    reference = x.detach().clone().contiguous(memory_format=CHANNELS_LAST).requires_grad_()
    upstream = torch.randn(2, 8, 1, 1)
    pooled = global_average_pool(x)
    expected = F.adaptive_avg_pool2d(reference, 1)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=0)
    pooled.backward(upstream)
    expected.backward(upstream)
    torch.testing.assert_close(x.grad, reference.grad, rtol=0, atol=0)
    assert x.grad.is_contiguous(memory_format=CHANNELS_LAST)
    # NCHW input: NCHW gradient, and no autograd node at all when no gradient is wanted.
    plain = torch.randn(1, 3, 4, 4, requires_grad=True)
    global_average_pool(plain).sum().backward()
    assert plain.grad.is_contiguous()
    with torch.no_grad():
        assert global_average_pool(plain).grad_fn is None


def test_layout_passes_keep_the_aspp_gradient_in_channels_last() -> None:
    ours = keep_broadcast_maps_in_layout_(use_layout_preserving_pooling_(ASPP(16, [2, 4, 6], out_channels=8)))
    ours.eval()
    reference = deeplabv3.ASPP(16, [2, 4, 6], out_channels=8).eval()
    reference.load_state_dict(ours.state_dict())
    features = torch.randn(2, 16, 9, 11)
    x_ours = features.clone().requires_grad_()
    x_reference = features.clone().requires_grad_()
    out_ours, out_reference = ours(x_ours), reference(x_reference)
    torch.testing.assert_close(out_ours, out_reference, rtol=0, atol=0)
    out_ours.square().sum().backward()
    out_reference.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_reference.grad)

    ours_cl = ours.to(memory_format=CHANNELS_LAST)
    x_cl = features.contiguous(memory_format=CHANNELS_LAST).requires_grad_()
    ours_cl(x_cl).square().sum().backward()
    assert x_cl.grad.is_contiguous(memory_format=CHANNELS_LAST)
    torch.testing.assert_close(x_cl.grad, x_reference.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("bias", [False, True])
def test_conv_of_concatenation_is_the_conv_of_the_concatenation(bias: bool) -> None:
    conv = nn.Conv2d(12, 6, 3, padding=1, bias=bias)
    parts = [torch.randn(2, 5, 8, 9), torch.randn(2, 4, 8, 9), torch.randn(2, 3, 8, 9)]
    with torch.no_grad():  # inference: the single convolution itself
        torch.testing.assert_close(
            conv_of_concatenation(conv, parts), conv(torch.cat(parts, dim=1)), rtol=0, atol=0
        )
    leaves = [part.clone().requires_grad_() for part in parts[:2]] + [parts[2]]
    split = conv_of_concatenation(conv, leaves)
    assert split.grad_fn is not None
    upstream = torch.randn_like(split)
    split.backward(upstream)
    split_grads = [leaf.grad for leaf in leaves[:2]] + [conv.weight.grad.clone()]
    conv.weight.grad = None
    references = [part.clone().requires_grad_() for part in parts[:2]] + [parts[2]]
    conv(torch.cat(references, dim=1)).backward(upstream)
    expected_grads = [reference.grad for reference in references[:2]] + [conv.weight.grad]
    torch.testing.assert_close(split, conv(torch.cat(parts, dim=1)), rtol=1e-5, atol=1e-5)
    for ours, expected in zip(split_grads, expected_grads, strict=True):
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="11 channels in all, the convolution expects 12"):
        conv_of_concatenation(conv, leaves[:1] + leaves[2:] + [torch.randn(2, 3, 8, 9)])


class _MixedLayoutCounter(TorchDispatchMode):
    """Counts elementwise ops that read one NCHW and one channels_last feature map (slow on CPU)."""

    ELEMENTWISE = ("aten.add.", "aten.add_.", "aten.mul.", "aten.threshold_backward.", "aten.addcmul.")

    def __init__(self) -> None:
        super().__init__()
        self.mixed: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        layouts = set()
        for value in tree_flatten(args)[0]:
            if isinstance(value, torch.Tensor) and value.ndim == 4 and value.shape[1] > 1:
                if value.shape[-2] * value.shape[-1] > 1:
                    if value.is_contiguous(memory_format=CHANNELS_LAST) and not value.is_contiguous():
                        layouts.add("channels_last")
                    elif value.is_contiguous() and not value.is_contiguous(memory_format=CHANNELS_LAST):
                        layouts.add("nchw")
        if len(layouts) == 2 and str(func).startswith(self.ELEMENTWISE):
            self.mixed.append(str(func))
        return func(*args, **(kwargs or {}))


def test_full_model_trains_in_channels_last_without_mixed_layout_elementwise_ops(tiny_batch) -> None:
    """Plain global pooling hands NCHW gradients to channels_last features (see global_average_pool)."""
    config = ModelConfig(variant="full", backbone="resnet18", width=32, aspp_channels=32)
    model = prepare_for_training(build_basnet(config=config).train().to(memory_format=CHANNELS_LAST))
    image, gradient_map = (t.contiguous(memory_format=CHANNELS_LAST) for t in tiny_batch)
    counter = _MixedLayoutCounter()
    with counter:
        outputs = model(image, gradient_map)
        # Upstream gradients in the logits' own layout (randn_like keeps it): only the model's ops count.
        loss = sum((outputs[key] * torch.randn_like(outputs[key])).sum() for key in ("out", "boundary"))
        loss.backward()
    assert counter.mixed == []
