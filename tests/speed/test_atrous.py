"""atrous_conv2d: same forward as the convolution, gradients equal to autograd's, fallbacks kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from basnet_lib.model import ASPP
from basnet_lib.speed.atrous import TapGradientASPPConv, atrous_conv2d, uses_tap_gradient, valid_tap_share
from basnet_lib.speed.passes import use_tap_gradient_atrous_convs_

CHANNELS_LAST = torch.channels_last


def _conv(in_channels: int, out_channels: int, rate: int, *, bias: bool, dtype=torch.float32) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=bias).to(dtype)
    return conv.to(memory_format=CHANNELS_LAST)


def test_valid_tap_share_counts_the_taps_that_read_the_input() -> None:
    # 60×60 at rate 36: the side taps read the input on 24 of 60 rows (and columns).
    assert valid_tap_share((60, 60), (36, 36)) == pytest.approx(((24 + 60 + 24) / 180) ** 2)
    # A rate past the map leaves the centre tap only.
    assert valid_tap_share((12, 24), (36, 36)) == pytest.approx(1 / 9)
    assert valid_tap_share((120, 120), (1, 1)) == pytest.approx((358 / 360) ** 2)


@pytest.mark.parametrize(
    ("size", "rate", "bias"),
    [((9, 11), 4, False), ((12, 24), 12, True), ((7, 5), 9, False), ((16, 16), 6, True)],
)
def test_gradients_equal_autograds_of_the_convolution(size: tuple[int, int], rate: int, bias: bool) -> None:
    torch.manual_seed(0)
    conv = _conv(16, 8, rate, bias=bias)
    reference = _conv(16, 8, rate, bias=bias)
    reference.load_state_dict(conv.state_dict())
    features = torch.randn(3, 16, *size).contiguous(memory_format=CHANNELS_LAST)
    x = features.clone().requires_grad_()
    x_reference = features.clone().requires_grad_()
    assert uses_tap_gradient(conv, x)  # the per-tap path is the one under test

    out, expected = atrous_conv2d(conv, x), reference(x_reference)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)  # the forward is the convolution itself
    upstream = torch.randn_like(expected)
    out.backward(upstream)
    expected.backward(upstream)
    # Weight gradients are sums over every position: compare at float rounding of their size.
    torch.testing.assert_close(x.grad, x_reference.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(conv.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-4)
    if bias:
        torch.testing.assert_close(conv.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-4)
    assert x.grad.is_contiguous(memory_format=CHANNELS_LAST)
    assert conv.weight.grad.is_contiguous(memory_format=CHANNELS_LAST)


@pytest.mark.parametrize("isa", ["", "AVX2"])
def test_bf16_autocast_backward_runs_and_matches_autograd(isa) -> None:
    """Under bf16 autocast the forward casts x and the fp32 weight; the backward computes in bf16
    too. Before, CPUs whose kernels lack bf16 support (oneDNN capped at AVX2 here) stopped training
    with "expected scalar type BFloat16 but found Float". The ISA cap is read when oneDNN starts, so
    each ISA runs in a fresh process, with bf16 and fp32 inputs."""
    script = """
import torch
from torch import nn
from basnet_lib.speed.atrous import atrous_conv2d, uses_tap_gradient
for input_dtype in (torch.bfloat16, torch.float32):
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 8, 3, padding=12, dilation=12).to(memory_format=torch.channels_last)
    reference = nn.Conv2d(16, 8, 3, padding=12, dilation=12).to(memory_format=torch.channels_last)
    reference.load_state_dict(conv.state_dict())
    features = torch.randn(2, 16, 24, 24).to(input_dtype).contiguous(memory_format=torch.channels_last)
    x, x_reference = features.clone().requires_grad_(), features.clone().requires_grad_()
    assert uses_tap_gradient(conv, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, expected = atrous_conv2d(conv, x), reference(x_reference)
    upstream = torch.randn_like(expected)
    out.backward(upstream)
    expected.backward(upstream)
    assert x.grad.dtype == input_dtype and conv.weight.grad.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(x.grad, x_reference.grad, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(conv.weight.grad, reference.weight.grad, rtol=2e-2, atol=0.5)
print("ok")
"""
    environment = {**os.environ, "ONEDNN_MAX_CPU_ISA": isa} if isa else dict(os.environ)
    done = subprocess.run([sys.executable, "-c", script], env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-1500:]


class _Atrous(nn.Module):
    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return atrous_conv2d(self.conv, x)


def test_gradcheck_in_double_precision() -> None:
    module = _Atrous(_conv(3, 2, 3, bias=True, dtype=torch.float64))
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64).contiguous(memory_format=CHANNELS_LAST)
    x.requires_grad_()
    assert uses_tap_gradient(module.conv, x)
    weight = module.conv.weight.detach().clone().contiguous(memory_format=CHANNELS_LAST).requires_grad_()
    bias = module.conv.bias.detach().clone().requires_grad_()

    def convolve(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(module, {"conv.weight": weight, "conv.bias": bias}, (x,))

    assert type(convolve(x, weight, bias).grad_fn).__name__ == "_AtrousConvolutionBackward"
    assert torch.autograd.gradcheck(convolve, (x, weight, bias))


def test_falls_back_to_the_plain_convolution() -> None:
    conv = _conv(4, 4, 6, bias=False)
    x = torch.randn(1, 4, 10, 10).contiguous(memory_format=CHANNELS_LAST)
    with torch.no_grad():
        assert not uses_tap_gradient(conv, x)
        torch.testing.assert_close(atrous_conv2d(conv, x), conv(x), rtol=0, atol=0)
    assert not uses_tap_gradient(conv, torch.randn(1, 4, 10, 10))  # NCHW input
    assert not uses_tap_gradient(conv, x[:, :, :, :].contiguous().requires_grad_())
    assert not uses_tap_gradient(_conv(4, 4, 1, bias=False), x)  # barely any padding
    frozen = _conv(4, 4, 6, bias=False).requires_grad_(False)
    assert not uses_tap_gradient(frozen, x)
    # A plain conv's autograd node, not ours, when the fallback is taken.
    plain = atrous_conv2d(_conv(4, 4, 1, bias=False), x.requires_grad_())
    assert type(plain.grad_fn).__name__ == "ConvolutionBackward0"


def test_aspp_weight_gradients_match_torchvision_in_channels_last() -> None:
    from torchvision.models.segmentation import deeplabv3

    torch.manual_seed(0)
    ours = use_tap_gradient_atrous_convs_(ASPP(16, [4, 8, 12], out_channels=8)).to(
        memory_format=CHANNELS_LAST
    )
    reference = deeplabv3.ASPP(16, [4, 8, 12], out_channels=8)
    reference.load_state_dict(ours.state_dict())
    # Dropout off; BatchNorm in eval keeps the comparison exact.
    ours.eval()
    reference.eval()
    features = torch.randn(2, 16, 10, 12)
    x = features.contiguous(memory_format=CHANNELS_LAST)
    atrous_branches = list(ours.convs)[1:4]
    assert all(isinstance(branch, TapGradientASPPConv) for branch in atrous_branches)
    assert all(uses_tap_gradient(branch[0], x.requires_grad_()) for branch in atrous_branches)
    ours(x).square().sum().backward()
    reference(features).square().sum().backward()
    for (name, ours_parameter), reference_parameter in zip(
        ours.named_parameters(), reference.parameters(), strict=True
    ):
        torch.testing.assert_close(
            ours_parameter.grad, reference_parameter.grad, rtol=1e-4, atol=1e-5, msg=name
        )
