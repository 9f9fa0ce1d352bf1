"""prepare_for_inference: folded BatchNorm, channels_last, bf16 and compile options; the ASPP's layout."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.segmentation import deeplabv3

from basnet_lib.model import ASPP, ModelConfig, build_basnet, variant_names
from basnet_lib.speed.inference import InferenceModel, fold_batchnorm_, prepare_for_inference
from basnet_lib.speed.passes import INFERENCE_PASSES


def _model_with_trained_statistics(variant: str, backbone: str) -> nn.Module:
    """A small model whose BatchNorms are far from identity, so folding them is visible."""
    model = build_basnet(
        config=ModelConfig(
            variant=variant,
            backbone=backbone,
            width=32,
            aspp_channels=32,
            sab_probes=variant in ("ssb_bdb", "full"),
        )
    )
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.rand(channels, generator=generator) * 2 - 1)
            module.running_var.copy_(torch.rand(channels, generator=generator) * 1.5 + 0.5)
            module.weight.data.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(channels, generator=generator) - 0.5)
    return model.eval()


@pytest.mark.parametrize("variant", variant_names())
@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_prepared_model_has_no_batchnorm_and_the_same_outputs(variant, backbone, tiny_batch) -> None:
    model = _model_with_trained_statistics(variant, backbone)
    image, gradient_map = tiny_batch
    prepared = prepare_for_inference(model)
    assert not [name for name, m in prepared.named_modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.inference_mode():
        expected = model(image, gradient_map)
        actual = prepared(image, gradient_map)
    assert set(actual) == set(expected)
    assert actual["out"].is_contiguous(memory_format=torch.channels_last)
    for key in ("out", "boundary"):
        if key in expected:
            scale = expected[key].abs().max()
            torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=1e-4 * float(scale))
    for got, want in zip(actual.get("sab_probes", []), expected.get("sab_probes", []), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4 * float(want.abs().max()))


def test_prepare_leaves_the_model_untouched(tiny_batch) -> None:
    model = _model_with_trained_statistics("full", "resnet18").train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    prepare_for_inference(model)
    assert model.training
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[key], after[key]) for key in before)
    assert all(value.is_contiguous() for value in after.values())  # still NCHW


def test_folding_refuses_a_training_model() -> None:
    with pytest.raises(ValueError, match="eval-mode"):
        fold_batchnorm_(_model_with_trained_statistics("ssb", "resnet18").train())


def test_bf16_option_returns_float32_close_to_fp32(tiny_batch) -> None:
    model = _model_with_trained_statistics("full", "resnet18")
    image, gradient_map = tiny_batch
    fp32 = prepare_for_inference(model)
    bf16 = prepare_for_inference(model, bf16=True)
    assert isinstance(bf16, InferenceModel) and bf16.autocast_dtype == torch.bfloat16
    with torch.inference_mode():
        exact, approximate = fp32(image, gradient_map), bf16(image, gradient_map)
    assert approximate["out"].dtype == torch.float32
    assert not torch.equal(approximate["out"], exact["out"])  # bf16 really ran
    # bf16 keeps 8 mantissa bits: ~1% relative error per operation, a few % through the network.
    scale = float(exact["out"].abs().max())
    assert float((approximate["out"] - exact["out"]).abs().max()) < 0.1 * scale


def test_compiled_option_matches_the_eager_prepared_model(tiny_batch) -> None:
    # Inductor with frozen weights (needs a C++ compiler, as torch.compile on CPU does): one
    # compile of a small model, ~20 s on the 2-core machine.
    model = _model_with_trained_statistics("full", "resnet18")
    image, gradient_map = tiny_batch
    eager = prepare_for_inference(model)
    compiled = prepare_for_inference(model, compiled=True)
    assert not isinstance(compiled, InferenceModel)  # the compiled wrapper around one
    with torch.inference_mode():
        expected, actual = eager(image, gradient_map), compiled(image, gradient_map)
    assert set(actual) == set(expected)
    for key in ("out", "boundary"):
        assert actual[key].dtype == torch.float32
        scale = float(expected[key].abs().max())
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=1e-4 * scale)


def test_aspp_with_the_inference_passes_keeps_channels_last_and_matches_torchvision() -> None:
    torch.manual_seed(0)
    ours = ASPP(64, [2, 4, 6], out_channels=16).eval()
    for apply_pass in INFERENCE_PASSES:
        ours = apply_pass(ours)
    reference = deeplabv3.ASPP(64, [2, 4, 6], out_channels=16).eval()
    reference.load_state_dict(ours.state_dict())
    features = torch.randn(2, 64, 9, 13)
    with torch.inference_mode():
        torch.testing.assert_close(ours(features), reference(features), rtol=0, atol=0)
        ours_cl = ours.to(memory_format=torch.channels_last)
        channels_last = features.contiguous(memory_format=torch.channels_last)
        output = ours_cl(channels_last)
        assert output.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(output, reference(features), rtol=1e-5, atol=1e-5)
