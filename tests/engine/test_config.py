"""ModelConfig validation and JSON round trip; ImageNet weights from cache, path or torch.hub (faked)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from torchvision.models import ResNet18_Weights, resnet18

from basnet_lib import cli
from basnet_lib.engine import commands
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.config_io import load_config, save_config
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.model.backbone import (
    OFFLINE_ENV,
    build_backbone,
    download_imagenet_state_dict,
    imagenet_cache_path,
)


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


# torchvision's file name of the resnet18 ImageNet weights (ResNet18_Weights.IMAGENET1K_V1.url).
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = ResNet18_Weights.IMAGENET1K_V1.url


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """A temporary ``$TORCH_HOME`` whose hub never reaches the network; returns its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(OFFLINE_ENV, raising=False)

    def no_network(url: str, **options: object) -> None:
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert imagenet_cache_path(RESNET18_URL) == checkpoints / RESNET18_FILE
    return checkpoints


def test_cached_weights_and_explicit_path_are_loaded_without_download(tmp_path, torch_home) -> None:
    state = resnet18(weights=None).state_dict()
    torch_home.mkdir(parents=True)
    torch.save(state, torch_home / RESNET18_FILE)
    from_cache = build_backbone(name="resnet18", pretrained=True)  # the fixture forbids downloading
    torch.testing.assert_close(from_cache.conv1.weight, state["conv1.weight"])
    explicit = tmp_path / "my_resnet18.pth"
    torch.save(state, explicit)
    model = build_basnet(
        config=ModelConfig(backbone="resnet18", pretrained_backbone=True, backbone_weights=str(explicit))
    )
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


@pytest.mark.parametrize("how", ["environment", "keyword"])
def test_offline_without_file_names_path_and_url(torch_home, monkeypatch, how: str) -> None:
    if how == "environment":
        monkeypatch.setenv(OFFLINE_ENV, "1")
        offline = None
    else:
        offline = True
    with pytest.raises(FileNotFoundError) as error:
        build_backbone(name="resnet18", pretrained=True, offline=offline)
    message = str(error.value)
    assert "\n" not in message
    assert str(torch_home / RESNET18_FILE) in message and RESNET18_URL in message
    assert "backbone_weights" in message


def test_missing_file_is_downloaded_by_torch_hub_once(torch_home, monkeypatch) -> None:
    state = resnet18(weights=None).state_dict()
    calls: list[dict[str, object]] = []

    def fake_download(
        url: str,
        model_dir: str | None = None,
        map_location: object = None,
        progress: bool = True,
        check_hash: bool = False,
        file_name: str | None = None,
        weights_only: bool = False,
    ) -> dict[str, torch.Tensor]:
        # What torch.hub does: write the file into the cache, then load it.
        calls.append(
            {
                "url": url,
                "model_dir": model_dir,
                "progress": progress,
                "check_hash": check_hash,
                "weights_only": weights_only,
            }
        )
        Path(model_dir).mkdir(parents=True, exist_ok=True)
        torch.save(state, Path(model_dir) / Path(url).name)
        return torch.load(Path(model_dir) / Path(url).name, map_location=map_location, weights_only=True)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_download)
    model = build_basnet(config=ModelConfig(backbone="resnet18", pretrained_backbone=True))
    torch.testing.assert_close(model.backbone.conv1.weight, state["conv1.weight"])
    assert calls == [
        {
            "url": RESNET18_URL,
            "model_dir": str(torch_home),
            "progress": True,
            "check_hash": True,
            "weights_only": True,
        }
    ]
    assert (torch_home / RESNET18_FILE).is_file()
    build_backbone(name="resnet18", pretrained=True)  # now cached: no second download
    assert len(calls) == 1


def test_failed_download_names_file_and_url(torch_home, monkeypatch) -> None:
    def unreachable(url: str, **options: object) -> None:
        raise URLError("no route to host")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", unreachable)
    with pytest.raises(RuntimeError) as error:
        build_backbone(name="resnet18", pretrained=True)
    message = str(error.value)
    assert str(torch_home / RESNET18_FILE) in message and RESNET18_URL in message
    assert "no route to host" in message


def test_real_torch_hub_download_checks_the_hash(tmp_path) -> None:
    # torch.hub's real download on a file:// URL (no network): the file name carries the SHA-256
    # prefix, as torchvision's URLs do, so a file that does not match is refused and not cached.
    state = resnet18(weights=None).state_dict()
    source = tmp_path / "source.pth"
    torch.save(state, source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    served = tmp_path / "served"
    served.mkdir()
    good = served / f"resnet18-{digest[:8]}.pth"
    source.rename(good)
    cache = tmp_path / "cache"
    loaded = download_imagenet_state_dict(good.as_uri(), cache / good.name)
    torch.testing.assert_close(loaded["fc.weight"], state["fc.weight"])
    assert (cache / good.name).is_file()
    bad = served / "resnet18-00000000.pth"
    bad.write_bytes(good.read_bytes())
    with pytest.raises(RuntimeError, match=r"resnet18-00000000.pth failed \(invalid hash value"):
        download_imagenet_state_dict(bad.as_uri(), cache / bad.name)
    assert not (cache / bad.name).exists()


def test_bad_offline_value_is_refused(torch_home, monkeypatch) -> None:
    monkeypatch.setenv(OFFLINE_ENV, "maybe")
    with pytest.raises(ValueError, match=r"BASNET_OFFLINE='maybe'"):
        build_backbone(name="resnet18", pretrained=True)


def test_foreign_or_corrupt_weights_give_clear_errors(tmp_path, torch_home) -> None:
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match=r"foreign.pth: not weights of this ResNet; missing"):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(foreign))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(ValueError, match=r"corrupt.pth: not a loadable ResNet state dict"):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(corrupt))
    with pytest.raises(
        FileNotFoundError, match=r"absent.pth do not exist; check ModelConfig.backbone_weights"
    ):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(tmp_path / "absent.pth"))
    # A corrupt file in torchvision's cache is named, with the way out; it is not downloaded over.
    torch_home.mkdir(parents=True)
    (torch_home / RESNET18_FILE).write_bytes(b"truncated")
    with pytest.raises(ValueError, match=r"resnet18-f37072fd.pth: not a loadable .* delete it to download"):
        build_backbone(name="resnet18", pretrained=True)


def test_cli_offline_flag_reaches_the_loader(torch_home, monkeypatch) -> None:
    seen: list[str | None] = []

    def fake_train(run: RunConfig, *, resume: bool, overwrite: bool, progress: bool) -> None:
        seen.append(os.environ.get(OFFLINE_ENV))
        build_basnet(config=run.model)  # what train() does first

    monkeypatch.setattr(commands, "train", fake_train)
    # --debug: the command line re-raises instead of printing one line, so the error can be matched.
    argv = ["--debug", "train", "--preset", "smoke", "--quiet", "--model.pretrained_backbone", "true"]
    with pytest.raises(FileNotFoundError, match=r"offline .*resnet18-f37072fd.pth do not exist"):
        cli.main([*argv, "--offline"])
    assert seen == ["1"]
    # Without the flag the same command goes to the (here forbidden) download instead.
    monkeypatch.delenv(OFFLINE_ENV)
    with pytest.raises(AssertionError, match="a test tried to download weights"):
        cli.main(argv)
    assert seen == ["1", None]
