"""SPEC H3, F4: the interactive view redraws in place (headless), the static figures draw, and
the architecture summary matches torchvision's DeepLabV3."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.patches import FancyBboxPatch

from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.plots import (
    ValSamples,
    VariantPrediction,
    draw_block_diagram,
    figure4_probes,
    figure6_segmentation,
    figure7_boundaries,
)
from basnet_lib.reproduction.architecture import architecture_table, block_shapes, pivot_components
from basnet_lib.reproduction.predictions import segmentation_boundary
from basnet_lib.reproduction.widgets import prediction_explorer


@pytest.fixture
def samples_and_predictions() -> tuple[ValSamples, dict[str, VariantPrediction]]:
    generator = np.random.default_rng(0)
    count, height, width = 2, 16, 32
    samples = ValSamples(
        images=generator.integers(0, 256, (count, height, width, 3), dtype=np.uint8),
        labels=generator.integers(0, 19, (count, height, width), dtype=np.uint8),
        edges=generator.random((count, height, width)).round().astype(np.float32),
        names=("a", "b"),
    )
    baseline_labels = generator.integers(0, 19, (count, height, width))
    predictions = {
        "baseline": VariantPrediction(
            "baseline", "baseline-run", baseline_labels, segmentation_boundary(baseline_labels), True, None
        ),
        "full": VariantPrediction(
            "full",
            "full-run",
            generator.integers(0, 19, (count, height, width)),
            generator.random((count, height, width)),
            False,
            generator.random((3, count, height, width)),
        ),
    }
    return samples, predictions


def test_explorer_redraws_when_a_control_changes(samples_and_predictions) -> None:
    explorer = prediction_explorer(*samples_and_predictions)
    assert explorer.variant_selector.value == "full"  # the variant with SAB probes is shown first
    pictures = [bytes(explorer.picture.value)]
    assert pictures[0].startswith(b"\x89PNG")
    for control, value in (
        (explorer.stage_slider, 1),
        (explorer.image_slider, 1),
        (explorer.variant_selector, "baseline"),
    ):
        control.value = value
        assert bytes(explorer.picture.value) != pictures[-1], control.description
        pictures.append(bytes(explorer.picture.value))
    assert "baseline" in explorer.figure.axes[2].get_title()
    explorer.stage_slider.value = 2  # a variant without probes still redraws without error
    assert explorer.figure.axes[4].texts[0].get_text().startswith("no SAB probes")


def test_static_figures_have_a_panel_per_column(samples_and_predictions) -> None:
    samples, predictions = samples_and_predictions
    assert len(figure6_segmentation(samples, predictions).axes) == 2 * 4
    figure = figure7_boundaries(samples, predictions)
    assert "seg. boundary" in figure.axes[2].get_title()
    assert len(figure4_probes(samples, predictions["full"]).axes) == 2 * 5
    with pytest.raises(ValueError, match="no SAB probes"):
        figure4_probes(samples, predictions["baseline"])


def test_segmentation_boundary_marks_label_changes() -> None:
    labels = np.zeros((4, 4), dtype=np.int64)
    labels[:, 2:] = 1
    boundary = segmentation_boundary(labels)
    assert boundary[:, 1].all() and boundary.sum() == 4  # the column before the change, no image border


def test_architecture_baseline_equals_torchvision_deeplabv3() -> None:
    configs = [
        ModelConfig(variant=variant, backbone="resnet50", width=256) for variant in ("baseline", "full")
    ]
    table = architecture_table(configs, image_size=(256, 512))
    totals = pivot_components(table, value="GFLOPs")["total"].droplevel(["backbone", "width"])
    params = pivot_components(table, value="params_M")["total"].droplevel(["backbone", "width"])
    assert totals["BASNet baseline"] == pytest.approx(totals["torchvision DeepLabV3"])  # SPEC A10
    assert params["BASNet baseline"] == pytest.approx(params["torchvision DeepLabV3"])
    assert totals["BASNet full"] > totals["BASNet baseline"] > 0


def test_block_shapes_follow_the_branches() -> None:
    model = build_basnet(config=ModelConfig(variant="full", backbone="resnet18", width=16, aspp_channels=32))
    gradient_map = image_gradient_map(torch.randint(0, 256, (1, 3, 64, 128), dtype=torch.uint8))
    shapes = block_shapes(model, gradient_map[:, :3], gradient_map).set_index("block")
    assert shapes.at["semantic_branch.block1", "output"] == "1×16×8×16"  # 1/8 (SPEC A4)
    assert shapes.at["boundary_branch.block3", "output"] == "1×16×16×32"  # 1/4
    assert shapes.at["output", "output"].startswith("out: 1×19×64×128; boundary: 1×1×64×128")


_RESNET = {"input", "conv1", "layer1", "layer2", "layer3", "layer4", "output"}
_SSB = {"aspp", "semantic.block1", "semantic.block2", "semantic.block3"}
_BDB = {"boundary.block1", "boundary.block2", "boundary.block3", "gradient map G"}


@pytest.mark.parametrize(
    ("variant", "boxes"),
    [
        ("baseline", _RESNET | {"deeplab_head"}),
        ("ssb", _RESNET | _SSB | {"semantic_classifier"}),
        ("ssb_bdb", _RESNET | _SSB | _BDB | {"semantic_classifier", "boundary_classifier"}),
        ("full", _RESNET | _SSB | _BDB | {"aggregation"}),
    ],
)
def test_block_diagram_draws_one_box_per_component_of_the_variant(variant, boxes) -> None:
    model = build_basnet(config=ModelConfig(variant=variant, backbone="resnet18", width=16, aspp_channels=32))
    gradient_map = image_gradient_map(torch.randint(0, 256, (1, 3, 64, 128), dtype=torch.uint8))
    shapes = block_shapes(model, gradient_map[:, :3], gradient_map)
    (axis,) = draw_block_diagram(shapes, title=variant).axes
    labels = {text.get_text().split("\n")[0]: text.get_text() for text in axis.texts if text.get_text()}
    assert set(labels) == boxes
    assert sum(isinstance(patch, FancyBboxPatch) for patch in axis.patches) == len(boxes)
    # Each box names its block's output shape (1/8 resolution for layer4 of the dilated ResNet).
    assert labels["layer4"].endswith("1×512×8×16")
