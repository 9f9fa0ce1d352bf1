"""ImageNet weights: torchvision's cache (hash-checked, also for a file placed there by hand), its
download (torch.hub's own, on local file:// URLs), the offline switch, and a user's own file.
No test reaches the network."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
from torchvision.models import ResNet18_Weights, Weights, WeightsEnum, resnet18

from basnet_lib import cli
from basnet_lib.model import ModelConfig, build_basnet
from basnet_lib.model import backbone as backbone_module
from basnet_lib.model.backbone import (
    OFFLINE_ENV,
    build_backbone,
    imagenet_cache_path,
    imagenet_state_dict,
)

# torchvision's file name of the resnet18 ImageNet weights: its SHA-256 starts with f37072fd.
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = ResNet18_Weights.IMAGENET1K_V1.url
REAL_DOWNLOAD = torch.hub.download_url_to_file


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """A temporary ``$TORCH_HOME`` whose hub never downloads; returns its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(OFFLINE_ENV, raising=False)

    def no_network(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        raise AssertionError("a test tried to download weights")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert imagenet_cache_path(ResNet18_Weights.IMAGENET1K_V1) == checkpoints / RESNET18_FILE
    return checkpoints


def saved_with_hash_prefix(state: dict, directory: Path) -> Path:
    """``state`` saved in ``directory`` under torchvision's naming, ``resnet18-<sha256[:8]>.pth``."""
    directory.mkdir(parents=True, exist_ok=True)
    unnamed = directory / "unnamed.pth"
    torch.save(state, unnamed)
    digest = hashlib.sha256(unnamed.read_bytes()).hexdigest()
    return unnamed.rename(directory / f"resnet18-{digest[:8]}.pth")


def weights_at(url: str) -> WeightsEnum:
    """A torchvision weights entry like ``ResNet18_Weights.IMAGENET1K_V1``, at ``url``."""
    return WeightsEnum(
        "LocalWeights", {"IMAGENET1K_V1": Weights(url=url, transforms=None, meta={})}
    ).IMAGENET1K_V1


def test_cached_file_matching_its_hash_prefix_is_loaded_without_download(torch_home, monkeypatch) -> None:
    state = resnet18(weights=None).state_dict()
    cached = saved_with_hash_prefix(state, torch_home)
    weights = weights_at(f"https://download.invalid/{cached.name}")
    for offline in (False, True):  # the fixture forbids downloading: both read the cache
        torch.testing.assert_close(imagenet_state_dict(weights, offline=offline), state)
    monkeypatch.setitem(backbone_module._RESNETS, "resnet18", (resnet18, weights))
    model = build_basnet(config=ModelConfig(backbone="resnet18", pretrained_backbone=True))
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


@pytest.mark.parametrize("offline", [False, True])
def test_cached_file_not_matching_its_hash_prefix_is_refused(torch_home, offline: bool) -> None:
    # A randomly initialised ResNet under the ImageNet file's name, as if placed there by hand.
    torch_home.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), torch_home / RESNET18_FILE)
    with pytest.raises(ValueError) as error:
        build_backbone(name="resnet18", pretrained=True, offline=offline)
    message = str(error.value)
    assert "\n" not in message
    assert str(torch_home / RESNET18_FILE) in message and "does not match f37072fd" in message
    assert "delete it" in message and RESNET18_URL in message
    (torch_home / RESNET18_FILE).write_bytes(b"truncated")  # a damaged download, copied over
    with pytest.raises(ValueError, match=r"resnet18-f37072fd.pth: SHA-256 .* delete it"):
        build_backbone(name="resnet18", pretrained=True, offline=offline)


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
    assert not torch_home.exists()  # nothing was created in the cache


def test_missing_file_is_downloaded_hash_checked_once(tmp_path, torch_home, monkeypatch) -> None:
    state = resnet18(weights=None).state_dict()
    served = saved_with_hash_prefix(state, tmp_path / "served")
    calls: list[tuple[str, str, str | None]] = []

    def local_download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        calls.append((url, dst, hash_prefix))
        REAL_DOWNLOAD(url, dst, hash_prefix, progress=False)  # torch.hub's own, on a file:// URL

    monkeypatch.setattr(torch.hub, "download_url_to_file", local_download)
    weights = weights_at(served.as_uri())
    torch.testing.assert_close(imagenet_state_dict(weights, offline=False), state)
    assert calls == [(served.as_uri(), str(torch_home / served.name), served.name[9:17])]
    assert sorted(path.name for path in torch_home.iterdir()) == [served.name]
    served.unlink()  # now cached: read from there, not downloaded again
    torch.testing.assert_close(imagenet_state_dict(weights, offline=False), state)
    assert len(calls) == 1


def test_build_backbone_downloads_torchvisions_file_with_its_hash_prefix(torch_home, monkeypatch) -> None:
    state = resnet18(weights=None).state_dict()
    calls: list[tuple[str, str, str | None]] = []

    def fake_download(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        calls.append((url, dst, hash_prefix))
        torch.save(state, dst)  # what a download that passed the hash check leaves

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    model = build_basnet(config=ModelConfig(backbone="resnet18", pretrained_backbone=True))
    torch.testing.assert_close(model.backbone.conv1.weight, state["conv1.weight"])
    assert calls == [(RESNET18_URL, str(torch_home / RESNET18_FILE), "f37072fd")]


def test_download_not_matching_its_hash_prefix_is_refused_and_not_cached(
    tmp_path, torch_home, monkeypatch
) -> None:
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)
    served = tmp_path / "served" / "resnet18-00000000.pth"
    served.parent.mkdir()
    torch.save(resnet18(weights=None).state_dict(), served)
    with pytest.raises(RuntimeError) as error:
        imagenet_state_dict(weights_at(served.as_uri()), offline=False)
    message = str(error.value)
    assert "\n" not in message and "invalid hash value" in message
    assert served.as_uri() in message and str(torch_home / served.name) in message
    assert list(torch_home.iterdir()) == []


def test_failed_download_names_file_and_url(tmp_path, torch_home, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "download_url_to_file", REAL_DOWNLOAD)
    absent = tmp_path / "served" / "resnet18-f37072fd.pth"  # file:// of a missing file: URLError
    with pytest.raises(RuntimeError) as error:
        imagenet_state_dict(weights_at(absent.as_uri()), offline=False)
    message = str(error.value)
    assert "\n" not in message
    assert absent.as_uri() in message and str(torch_home / RESNET18_FILE) in message
    assert "No such file" in message


def test_bad_offline_value_is_refused(torch_home, monkeypatch) -> None:
    monkeypatch.setenv(OFFLINE_ENV, "maybe")
    with pytest.raises(ValueError, match=r"BASNET_OFFLINE='maybe'"):
        build_backbone(name="resnet18", pretrained=True)


def test_own_weights_file_is_read_and_its_errors_name_it(tmp_path, torch_home) -> None:
    state = resnet18(weights=None).state_dict()
    explicit = tmp_path / "my_resnet18.pth"  # any name: a user's file carries no hash
    torch.save(state, explicit)
    model = build_basnet(
        config=ModelConfig(backbone="resnet18", pretrained_backbone=True, backbone_weights=str(explicit))
    )
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])
    foreign = tmp_path / "foreign.pth"
    torch.save({"encoder.weight": torch.zeros(3)}, foreign)
    with pytest.raises(ValueError, match=r"foreign.pth: not weights of this ResNet; missing"):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(foreign))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(
        ValueError, match=r"corrupt.pth: not a readable ResNet state dict \(truncated or corrupt\?\): .*; check ModelConfig"
    ):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(corrupt))
    with pytest.raises(
        FileNotFoundError, match=r"absent.pth do not exist; check ModelConfig.backbone_weights"
    ):
        build_backbone(name="resnet18", pretrained=True, weights_path=str(tmp_path / "absent.pth"))


def test_cli_offline_flag_reaches_the_loader(torch_home, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(OFFLINE_ENV, "0")  # the command sets it; the test's undo restores the original
    # --debug: the command line re-raises instead of printing one line, so the error can be matched.
    argv = ["--debug", "train", "--preset", "smoke", "--quiet", "--model.pretrained_backbone", "true",
            "--train.results_dir", str(tmp_path / "runs")]  # fmt: skip
    with pytest.raises(FileNotFoundError, match=r"offline .*resnet18-f37072fd.pth do not exist"):
        cli.main([*argv, "--offline"])
    assert os.environ.get(OFFLINE_ENV) == "1"  # the command set it for its process
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing written
    # Without the flag the same command goes to the (here forbidden) download instead.
    monkeypatch.delenv(OFFLINE_ENV)
    with pytest.raises(AssertionError, match="a test tried to download weights"):
        cli.main(argv)
