"""ModelConfig validation and JSON round trip (ImageNet weights: tests/model/test_imagenet_weights.py)."""

from __future__ import annotations

import json

import pytest

from basnet_lib.engine.config_io import load_config, save_config
from basnet_lib.model import ModelConfig


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
