"""Speed passes (basnet_lib.speed.passes): same function, same keys, plain blocks stay plain."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from basnet_lib.model import ModelConfig, build_basnet, variant_names
from basnet_lib.speed import prepare_for_training
from basnet_lib.speed.atrous import TapGradientASPPConv
from basnet_lib.speed.fast_layers import (
    LayoutMatchingBroadcast,
    LayoutPreservingGlobalAveragePool,
    LayoutPreservingImagePooling,
    SplitConvOfConcatenation,
)
from basnet_lib.speed.inference import prepare_for_inference
from basnet_lib.speed.passes import (
    INFERENCE_PASSES,
    TRAINING_PASSES,
    keep_broadcast_maps_in_layout_,
    split_concatenation_convs_,
    use_layout_preserving_pooling_,
    use_tap_gradient_atrous_convs_,
)

CHANNELS_LAST = torch.channels_last
MODEL_DIR = Path(__file__).resolve().parents[2] / "basnet_lib" / "model"
BLOCK_FILES = ("aspp.py", "global_attention.py", "spatial_attention.py", "aggregation.py", "branches.py")
FAST_TYPES = (
    SplitConvOfConcatenation,
    LayoutPreservingGlobalAveragePool,
    TapGradientASPPConv,
    LayoutPreservingImagePooling,
    LayoutMatchingBroadcast,
)
# What each pass swaps in, and how many of them a full model has: SAB fusions (3); global
# poolings of the GABs (3), the AM outputs (2) and the two ASPPs (2); atrous branches (2 × 3);
# image poolings (2) + AM broadcasts (2).
SWAPPED = {
    split_concatenation_convs_: ((SplitConvOfConcatenation,), 3),
    use_layout_preserving_pooling_: ((LayoutPreservingGlobalAveragePool,), 7),
    use_tap_gradient_atrous_convs_: ((TapGradientASPPConv,), 6),
    keep_broadcast_maps_in_layout_: ((LayoutPreservingImagePooling, LayoutMatchingBroadcast), 4),
}
# Memory layout, oneDNN, NNPACK, gradients; "gradient map" is the paper's image-gradient map G.
FORBIDDEN_IN_BLOCKS = re.compile(
    r"memory_format|channels_last|contiguous|layout|onednn|nnpack|autograd|backward|grad(?!ient[ _-]map)",
    re.IGNORECASE,
)


def _full_model() -> nn.Module:
    config = ModelConfig(variant="full", backbone="resnet18", width=16, aspp_channels=32, sab_probes=True)
    return build_basnet(config=config).train().to(memory_format=CHANNELS_LAST)


def _outputs_and_gradients(model: nn.Module, image: torch.Tensor, gradient_map: torch.Tensor) -> dict:
    torch.manual_seed(5)  # same dropout masks in both models
    model.zero_grad(set_to_none=True)
    outputs = model(image, gradient_map)
    generator = torch.Generator().manual_seed(6)
    tensors = {"out": outputs["out"], "boundary": outputs["boundary"]}
    tensors.update({f"probe{index}": probe for index, probe in enumerate(outputs["sab_probes"])})
    loss = sum((value * torch.randn(value.shape, generator=generator)).sum() for value in tensors.values())
    loss.backward()
    result = {key: value.detach() for key, value in tensors.items()}
    result.update({f"grad {name}": parameter.grad for name, parameter in model.named_parameters()})
    return result


def _types(model: nn.Module) -> list[tuple[str, type]]:
    return [(name, type(module)) for name, module in model.named_modules()]


@pytest.fixture
def inputs(tiny_batch) -> tuple[torch.Tensor, torch.Tensor]:
    return tuple(tensor.contiguous(memory_format=CHANNELS_LAST) for tensor in tiny_batch)


@pytest.mark.parametrize("apply_pass", list(SWAPPED), ids=lambda apply_pass: apply_pass.__name__)
def test_each_pass_computes_the_same_values_and_gradients(apply_pass, inputs) -> None:
    plain = _full_model()
    fast = apply_pass(copy.deepcopy(plain))
    fast_types, count = SWAPPED[apply_pass]
    assert sum(isinstance(module, fast_types) for module in fast.modules()) == count
    expected = _outputs_and_gradients(plain, *inputs)
    actual = _outputs_and_gradients(fast, *inputs)
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        # Float rounding only: the split convs and the per-tap weight gradients reassociate sums, the
        # layout passes change the order of reductions in the backward pass. Outputs within 1e-5 of
        # their scale; gradients within 1e-4 of their largest entry, as the train-mode BatchNorm
        # backward's mean subtraction amplifies rounding on the way to the backbone (the plain
        # model's own distance to a float64 run is of the same size).
        scale = float(value.abs().max())
        tolerance = 1e-4 if key.startswith("grad ") else 1e-5
        torch.testing.assert_close(actual[key], value, rtol=1e-5, atol=tolerance * scale, msg=key)


@pytest.mark.parametrize("apply_pass", list(SWAPPED), ids=lambda apply_pass: apply_pass.__name__)
def test_each_pass_keeps_parameters_and_is_idempotent(apply_pass) -> None:
    model = _full_model()
    parameters = dict(model.named_parameters())
    keys = list(model.state_dict())
    once = _types(apply_pass(model))
    assert once != _types(_full_model())
    assert list(model.state_dict()) == keys
    # The very same parameter tensors: optimisers and checkpoints see no difference.
    assert all(parameters[name] is parameter for name, parameter in model.named_parameters())
    assert len(dict(model.named_parameters())) == len(parameters)
    assert _types(apply_pass(model)) == once


def test_prepare_for_training_applies_every_pass_without_random_draws() -> None:
    assert {apply_pass for apply_pass, _ in TRAINING_PASSES} == set(SWAPPED)
    assert all(description for _, description in TRAINING_PASSES)
    assert set(INFERENCE_PASSES) <= set(SWAPPED)
    model = _full_model()
    keys = list(model.state_dict())
    state = torch.random.get_rng_state()
    prepare_for_training(model)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert list(model.state_dict()) == keys
    for fast_types, count in SWAPPED.values():
        assert sum(isinstance(module, fast_types) for module in model.modules()) == count


@pytest.mark.parametrize("variant", variant_names())
def test_plain_models_contain_no_fast_modules(variant: str) -> None:
    config = ModelConfig(variant=variant, backbone="resnet18", width=16, aspp_channels=32)
    model = build_basnet(config=config)
    assert not [name for name, module in model.named_modules() if isinstance(module, FAST_TYPES)]
    assert any(isinstance(module, nn.AdaptiveAvgPool2d) for module in model.modules())


def test_inference_of_a_training_prepared_model_is_unchanged(tiny_batch) -> None:
    model = _full_model().eval()
    expected = prepare_for_inference(model, winograd=False)
    actual = prepare_for_inference(prepare_for_training(copy.deepcopy(model)), winograd=False)
    with torch.no_grad():
        expected_outputs, actual_outputs = expected(*tiny_batch), actual(*tiny_batch)
    for key in ("out", "boundary"):
        assert torch.equal(actual_outputs[key], expected_outputs[key]), key


@pytest.mark.parametrize("file_name", BLOCK_FILES)
def test_block_files_read_like_the_paper(file_name: str) -> None:
    source = (MODEL_DIR / file_name).read_text()
    assert not FORBIDDEN_IN_BLOCKS.findall(source)
    forwards = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "forward"
    ]
    too_long = {node.lineno: node.end_lineno - node.lineno + 1 for node in forwards}
    assert all(lines <= 15 for lines in too_long.values()), too_long
    # aspp.py is torchvision's ASPP: no forward of its own.
    assert bool(forwards) == (file_name != "aspp.py")


def test_forbidden_words_pattern_catches_the_implementation_words() -> None:
    for text in ("x.contiguous(memory_format=m)", "oneDNN's", "weight gradient", "grad_fn", "NNPACK"):
        assert FORBIDDEN_IN_BLOCKS.search(text), text
    for text in (
        "resize_gradient_map(gradient_map, size)",
        "the image-gradient map G",
        "GRADIENT_MAP_CHANNELS",
    ):
        assert not FORBIDDEN_IN_BLOCKS.search(text), text
