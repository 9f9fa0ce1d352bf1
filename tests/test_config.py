"""ModelConfig validation and JSON round trip; optional ImageNet weights never downloaded."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.models import resnet18

from basnet_lib.config_io import load_config, save_config
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.model.backbone import build_backbone


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backbone": "resnet152"}, r"backbone='resnet152' is not one of"),
        ({"variant": "ssb_am"}, r"variant='ssb_am' is not one of"),
        ({"width": 100}, r"width=100 must be divisible by 8"),
        ({"width": 0}, r"width=0 must be an integer >= 8"),
        ({"num_classes": 0}, r"num_classes=0 must be an integer >= 1"),
        ({"aspp_channels": 12.5}, r"aspp_channels=12.5 must be an integer"),
        ({"variant": "ssb", "sab_probes": True}, r"sab_probes=True needs a boundary detection branch"),
        ({"backbone_weights": "w.pth"}, r"backbone_weights is set but pretrained_backbone=False"),
    ],
)
def test_bad_configs_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(**fields)


def test_config_is_frozen() -> None:
    config = ModelConfig()
    with pytest.raises(AttributeError):
        config.width = 64  # type: ignore[misc]


def test_json_round_trip_and_unknown_fields(tmp_path) -> None:
    config = ModelConfig(variant="ssb_bdb", backbone="resnet18", width=64, sab_probes=True)
    path = save_config(config, tmp_path / "model.json")
    assert load_config(ModelConfig, path) == config
    path.write_text(json.dumps({"variant": "full", "depth": 3}))
    with pytest.raises(ValueError, match=r"model.json: unknown ModelConfig field\(s\) \['depth'\]"):
        load_config(ModelConfig, path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"model\.json: not valid JSON"):
        load_config(ModelConfig, path)


def test_missing_imagenet_weights_name_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError) as error:
        build_basnet(config=ModelConfig(backbone="resnet18", pretrained_backbone=True))
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert "Nothing is downloaded" in message and "backbone_weights" in message


def test_weights_from_cache_and_from_path_are_loaded(tmp_path, monkeypatch) -> None:
    source = resnet18(weights=None)
    state = source.state_dict()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "resnet18-f37072fd.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    from_cache = build_backbone(name="resnet18", pretrained=True)
    torch.testing.assert_close(from_cache.conv1.weight, state["conv1.weight"])
    explicit = tmp_path / "my_resnet18.pth"
    torch.save(state, explicit)
    model = build_basnet(
        config=ModelConfig(backbone="resnet18", pretrained_backbone=True, backbone_weights=str(explicit))
    )
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_foreign_or_corrupt_weights_give_clear_errors(tmp_path) -> None:
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match=r"foreign.pth: not weights of this ResNet; missing"):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(foreign))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(ValueError, match=r"corrupt.pth: not a loadable ResNet state dict"):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(corrupt))
