"""Every Table 1 variant × backbone builds, runs and trains on a tiny CPU input (docs/method.md §1)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101

from basnet_lib.gradient_map import resize_gradient_map
from basnet_lib.model import ModelConfig, SpatialAttentionBlock, build_basnet, variant_names
from basnet_lib.reproduction.architecture import count_parameters

EXPECTED_KEYS = {
    "baseline": {"out"},
    "ssb": {"out"},
    "ssb_bdb": {"out", "boundary"},
    "full": {"out", "boundary"},
}


def _forward_backward(config: ModelConfig, image: torch.Tensor, gradient_map: torch.Tensor) -> dict:
    model = build_basnet(config=config).train()
    outputs = model(image, gradient_map)
    loss = outputs["out"].logsumexp(dim=1).mean()
    if "boundary" in outputs:
        loss = loss + outputs["boundary"].sigmoid().mean()
    loss.backward()
    trunk_grad = model.backbone.conv1.weight.grad
    assert trunk_grad is not None and trunk_grad.abs().sum() > 0, "no gradient reached the backbone"
    return outputs


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
@pytest.mark.parametrize("variant", variant_names())
def test_variant_forward_backward(variant: str, backbone: str, tiny_batch) -> None:
    image, gradient_map = tiny_batch
    outputs = _forward_backward(
        ModelConfig(variant=variant, backbone=backbone, width=32, aspp_channels=64, num_classes=19),
        image,
        gradient_map,
    )
    assert set(outputs) == EXPECTED_KEYS[variant]
    assert outputs["out"].shape == (2, 19, 70, 90)
    if "boundary" in outputs:
        assert outputs["boundary"].shape == (2, 1, 70, 90)
    assert all(torch.isfinite(value).all() for value in outputs.values())


def test_resnet101_full_with_probes(tiny_batch) -> None:
    image, gradient_map = tiny_batch
    outputs = _forward_backward(
        ModelConfig(variant="full", backbone="resnet101", width=32, aspp_channels=64, sab_probes=True),
        image,
        gradient_map,
    )
    assert set(outputs) == {"out", "boundary", "sab_probes"}
    assert [tuple(probe.shape) for probe in outputs["sab_probes"]] == [(2, 1, 70, 90)] * 3


@pytest.mark.parametrize("backbone", ["resnet18", "resnet34", "resnet50"])
@pytest.mark.parametrize("size", [(64, 128), (70, 90)])
def test_tap_and_branch_shapes(backbone: str, size: tuple[int, int]) -> None:
    """stage1 1/4, stage2..top 1/8 (output stride 8, docs/method.md §1.1); branches C at 1/4 (§1.4)."""
    width = 24  # any multiple of 8
    model = build_basnet(config=ModelConfig(variant="full", backbone=backbone, width=width, aspp_channels=48))
    model.eval()
    image = torch.randn(1, 3, *size)
    gradient_map = torch.cat([image, torch.zeros(1, 1, *size)], dim=1)
    quarter = [-(-s // 4) for s in size]  # conv1 and maxpool each halve with ceil
    eighth = [-(-s // 8) for s in size]
    with torch.no_grad():
        features = model.backbone(image)
        expansion = 4 if backbone == "resnet50" else 1
        assert features["stage1"].shape == (1, 64 * expansion, *quarter)
        assert features["stage2"].shape == (1, 128 * expansion, *eighth)
        assert features["stage3"].shape == (1, 256 * expansion, *eighth)
        assert features["stage4"].shape == (1, 512 * expansion, *eighth)
        top = model.aspp(features["stage4"])
        assert top.shape == (1, 48, *eighth)
        inputs = model.laterals(features, top)
        assert all(tensor.shape[1] == width for tensor in inputs)
        semantic = model.semantic_branch(inputs)
        sab_outputs = model.boundary_branch(inputs, gradient_map)
    assert semantic.shape == (1, width, *quarter)
    # block1 and block2 stay at 1/8; only block3's high-level upsampler upsamples (docs/method.md §1.4).
    assert [tuple(t.shape[-2:]) for t in sab_outputs] == [tuple(eighth), tuple(eighth), tuple(quarter)]


def test_dilated_basic_blocks_keep_resolution_and_dilate() -> None:
    model = build_basnet(config=ModelConfig(variant="baseline", backbone="resnet18"))
    layer3, layer4 = model.backbone.layer3, model.backbone.layer4
    assert layer3[0].conv1.stride == (1, 1) and layer3[0].downsample[0].stride == (1, 1)
    assert [block.conv2.dilation for block in layer3] == [(1, 1), (2, 2)]
    assert [block.conv2.dilation for block in layer4] == [(2, 2), (4, 4)]


@pytest.mark.parametrize(
    ("backbone", "torchvision_builder"),
    [("resnet50", deeplabv3_resnet50), ("resnet101", deeplabv3_resnet101)],
)
def test_baseline_is_torchvision_deeplabv3(backbone: str, torchvision_builder) -> None:
    """Same parameter count, and torchvision's weights load 1:1 and give the same logits
    (docs/method.md §1.10)."""
    ours = build_basnet(config=ModelConfig(variant="baseline", backbone=backbone, num_classes=19)).eval()
    reference = torchvision_builder(
        weights=None, weights_backbone=None, num_classes=19, aux_loss=False
    ).eval()
    assert count_parameters(ours) == count_parameters(reference)
    renamed = {
        key.replace("classifier.", "deeplab_head.", 1): value for key, value in reference.state_dict().items()
    }
    ours.load_state_dict(renamed, strict=True)
    if backbone == "resnet50":  # one numerical check is enough; resnet101 differs only in depth
        image = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(ours(image)["out"], reference(image)["out"], rtol=0, atol=0)


def test_probes_learn_without_touching_the_model(tiny_batch) -> None:
    """docs/method.md §1.11: the probe loss reaches only the probe weights."""
    image, gradient_map = tiny_batch
    model = build_basnet(
        config=ModelConfig(variant="ssb_bdb", backbone="resnet18", width=16, sab_probes=True)
    )
    outputs = model(image, gradient_map)
    target = (torch.rand(2, 1, 70, 90) > 0.9).float()
    probe_loss = sum(F.binary_cross_entropy_with_logits(probe, target) for probe in outputs["sab_probes"])
    probe_loss.backward()
    probe_parameters = {id(p) for p in model.sab_probes.parameters()}
    for name, parameter in model.named_parameters():
        if id(parameter) in probe_parameters:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None or parameter.grad.abs().sum() == 0, f"{name} got probe gradient"


def test_boundary_variants_need_the_gradient_map(tiny_batch) -> None:
    image, gradient_map = tiny_batch
    model = build_basnet(config=ModelConfig(variant="full", backbone="resnet18", width=16))
    with pytest.raises(ValueError, match="gradient map G"):
        model(image)
    with pytest.raises(
        ValueError, match=r"gradient_map has shape \(2, 3, 70, 90\), expected \(2, 4, 70, 90\)"
    ):
        model(image, gradient_map[:, :3])
    # Variants without a boundary branch ignore G.
    ssb = build_basnet(config=ModelConfig(variant="ssb", backbone="resnet18", width=16)).eval()
    with torch.no_grad():
        assert ssb(image)["out"].shape == (2, 19, 70, 90)


def test_gradient_map_changes_boundary_output(tiny_batch) -> None:
    """The BDB really reads G: changing only the Canny channel changes the boundary logits."""
    image, gradient_map = tiny_batch
    model = build_basnet(config=ModelConfig(variant="ssb_bdb", backbone="resnet18", width=16)).eval()
    other = gradient_map.clone()
    other[:, 3] = 0  # random noise has Canny edges nearly everywhere; remove them all
    with torch.no_grad():
        first, second = model(image, gradient_map), model(image, other)
    assert not torch.equal(first["boundary"], second["boundary"])
    torch.testing.assert_close(first["out"], second["out"], rtol=0, atol=0)  # ssb_bdb: seg ignores BDB


def test_each_sab_resizes_the_gradient_map_to_its_low_level_feature() -> None:
    """A SAB reads ``G`` at the image's size and resizes it to ``F_l``'s (``G↓``, docs/method.md §1.6)."""
    block = SpatialAttentionBlock(8, upsample=True).eval()
    low, high = torch.randn(1, 8, 18, 23), torch.randn(1, 8, 9, 12)
    gradient_map = torch.cat([torch.randn(1, 3, 70, 90), (torch.rand(1, 1, 70, 90) > 0.9).float()], dim=1)
    with torch.no_grad():
        from_image_size = block(low, high, gradient_map)
        from_resized = block(low, high, resize_gradient_map(gradient_map, (18, 23)))
    assert from_image_size.shape == (1, 8, 18, 23)
    assert torch.equal(from_image_size, from_resized)
