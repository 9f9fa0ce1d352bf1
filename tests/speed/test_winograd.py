"""WinogradConv2d / use_winograd_: NNPACK's 3×3 convolution for large maps in inference copies."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.speed import winograd as winograd_module
from basnet_lib.speed.inference import prepare_for_inference
from basnet_lib.speed.winograd import (
    MIN_PIXELS,
    WinogradConv2d,
    is_winograd_eligible,
    use_winograd_,
    winograd_available,
)

LARGE = (64, 128)  # MIN_PIXELS: the smallest map NNPACK is used on
assert LARGE[0] * LARGE[1] == MIN_PIXELS

# Tests of NNPACK's path run where this PyTorch build has NNPACK for this CPU (x86-64 Linux wheels
# do); the fallback without it is tested everywhere.
requires_nnpack = pytest.mark.skipif(
    not winograd_available(),
    reason="no NNPACK in this PyTorch build or for this CPU: convolutions stay plain",
)


@pytest.fixture
def nnpack_calls(monkeypatch) -> list[tuple[int, ...]]:
    """Input shapes of every NNPACK convolution made while the test runs."""
    calls: list[tuple[int, ...]] = []
    original = getattr(torch, "_nnpack_spatial_convolution", None)

    def counting(x, *args):
        calls.append(tuple(x.shape))
        return original(x, *args)

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counting, raising=False)
    return calls


def _conv(in_channels: int = 256, out_channels: int = 256, *, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias).eval()


def test_plain_convolution_without_nnpack(monkeypatch, nnpack_calls) -> None:
    monkeypatch.setattr(winograd_module, "winograd_available", lambda: False)  # a build without NNPACK
    conv = _conv()
    winograd = WinogradConv2d.from_conv(conv)
    x = torch.randn(2, 256, *LARGE).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        assert torch.equal(winograd(x), conv(x))
    assert nnpack_calls == []


@requires_nnpack
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_same_convolution_and_layout(batch, channels_last, bias, nnpack_calls) -> None:
    conv = _conv(bias=bias)
    winograd = WinogradConv2d.from_conv(conv)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, 256, *LARGE).contiguous(memory_format=memory_format)
    with torch.inference_mode():
        expected = conv(x)
        actual = winograd(x)
    # One NNPACK call per image (its batched algorithm is the slow training one).
    assert nnpack_calls == [(1, 256, *LARGE)] * batch
    assert actual.is_contiguous(memory_format=memory_format)
    scale = float(expected.abs().max())
    # Winograd F(6×6, 3×3) rounds differently: ~1e-5 of the output scale.
    torch.testing.assert_close(actual, expected, rtol=0, atol=5e-5 * scale)


@requires_nnpack
def test_runs_are_identical(nnpack_calls) -> None:
    winograd = WinogradConv2d.from_conv(_conv(516, 256))
    x = torch.randn(2, 516, *LARGE).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        first, second = winograd(x), winograd(x)
    assert nnpack_calls
    assert torch.equal(first, second)


def test_shares_the_parameters_and_keys() -> None:
    conv = _conv()
    winograd = WinogradConv2d.from_conv(conv)
    assert winograd.weight is conv.weight and winograd.bias is conv.bias
    assert winograd.state_dict().keys() == conv.state_dict().keys()


def test_plain_convolution_where_nnpack_is_not_used(nnpack_calls) -> None:
    conv = _conv()
    winograd = WinogradConv2d.from_conv(conv)
    small = torch.randn(1, 256, 32, 64)  # a quarter of MIN_PIXELS
    large = torch.randn(1, 256, *LARGE, requires_grad=True)
    with torch.inference_mode():
        assert torch.equal(winograd(small), conv(small))
    # Recording gradients: the differentiable convolution, same values and gradients.
    out = winograd(large)
    assert torch.equal(out, conv(large))
    out.sum().backward()
    assert large.grad is not None and winograd.weight.grad is not None
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert winograd(large.detach()).dtype == torch.bfloat16
    assert nnpack_calls == []


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(256, 256, 3, padding=1, stride=2),
        nn.Conv2d(256, 256, 3, padding=2, dilation=2),
        nn.Conv2d(256, 256, 1),
        nn.Conv2d(256, 256, 3, padding=0),
        nn.Conv2d(128, 128, 3, padding=1),  # too few channels to beat oneDNN
        nn.Conv2d(256, 256, 3, padding=1, groups=2),
        nn.ConvTranspose2d(256, 256, 3, padding=1),
    ],
)
def test_only_eligible_convolutions(conv) -> None:
    assert not is_winograd_eligible(conv)
    with pytest.raises(ValueError, match="3×3"):
        WinogradConv2d.from_conv(conv)


def test_swaps_the_fusion_and_head_convolutions() -> None:
    # In the dilated ResNet-50 only layer3's first 3×3 conv is undilated with 256 channels.
    full = build_basnet(config=ModelConfig(variant="full", backbone="resnet50")).eval()
    swapped = [name for name, m in use_winograd_(full).named_modules() if isinstance(m, WinogradConv2d)]
    fusion = [f"boundary_branch.block{i}.fuse.0" for i in (1, 2, 3)]
    assert swapped == ["backbone.layer3.0.conv2", *fusion]
    baseline = build_basnet(config=ModelConfig(variant="baseline", backbone="resnet50")).eval()
    swapped = [name for name, m in use_winograd_(baseline).named_modules() if isinstance(m, WinogradConv2d)]
    assert swapped == ["backbone.layer3.0.conv2", "deeplab_head.1"]
    with pytest.raises(ValueError, match="eval"):
        use_winograd_(full.train())


@requires_nnpack
def test_prepared_full_model_agrees_with_and_without(nnpack_calls) -> None:
    model = build_basnet(config=ModelConfig(variant="full", backbone="resnet18", width=256, aspp_channels=64))
    model.eval()
    image = torch.randn(2, 3, 4 * LARGE[0], 4 * LARGE[1])
    gradient_map = torch.rand(2, 4, *image.shape[-2:])
    with torch.inference_mode():
        plain = prepare_for_inference(model, winograd=False)(image, gradient_map)
        assert nnpack_calls == []
        winograd = prepare_for_inference(model)(image, gradient_map)
    # Only the 1/4-resolution SAB reaches MIN_PIXELS at this size: once per image.
    assert nnpack_calls == [(1, 2 * 256 + 4, *LARGE)] * 2
    for key in ("out", "boundary"):
        scale = float(plain[key].abs().max())
        torch.testing.assert_close(winograd[key], plain[key], rtol=0, atol=1e-4 * scale)
    assert (winograd["out"].argmax(1) == plain["out"].argmax(1)).float().mean() > 0.999
