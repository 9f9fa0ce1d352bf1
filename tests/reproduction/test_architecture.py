"""The architecture summary: parameter/FLOP tables against torchvision's DeepLabV3, block shapes, the
block diagram (notebook 01)."""

from __future__ import annotations

import pytest
import torch
from matplotlib.patches import FancyBboxPatch

from basnet_lib.gradient_map import image_gradient_map
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.plots import draw_block_diagram
from basnet_lib.reproduction.architecture import architecture_table, block_shapes, pivot_components


def test_architecture_baseline_equals_torchvision_deeplabv3() -> None:
    configs = [
        ModelConfig(variant=variant, backbone="resnet50", width=256) for variant in ("baseline", "full")
    ]
    table = architecture_table(configs, image_size=(256, 512))
    totals = pivot_components(table, value="GFLOPs")["total"].droplevel(["backbone", "width"])
    params = pivot_components(table, value="params_M")["total"].droplevel(["backbone", "width"])
    # The baseline is torchvision's DeepLabV3 (docs/method.md §1.10).
    assert totals["BASNet baseline"] == pytest.approx(totals["torchvision DeepLabV3"])
    assert params["BASNet baseline"] == pytest.approx(params["torchvision DeepLabV3"])
    assert totals["BASNet full"] > totals["BASNet baseline"] > 0


def test_block_shapes_follow_the_branches() -> None:
    model = build_basnet(config=ModelConfig(variant="full", backbone="resnet18", width=16, aspp_channels=32))
    gradient_map = image_gradient_map(torch.randint(0, 256, (1, 3, 64, 128), dtype=torch.uint8))
    shapes = block_shapes(model, gradient_map[:, :3], gradient_map).set_index("block")
    assert shapes.at["semantic_branch.block1", "output"] == "1×16×8×16"  # 1/8 (docs/method.md §1.4)
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
