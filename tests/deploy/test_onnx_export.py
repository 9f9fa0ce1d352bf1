"""ONNX export: round trip through onnxruntime, dynamic sizes, refusal to overwrite, the CLI, the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from basnet_lib.deploy.onnx_export import (
    ONNX_INPUT_NAMES,
    check_onnx,
    export_onnx,
    onnx_inputs,
    onnxruntime_session,
    synthcity_images,
)
from basnet_lib.engine.checkpoint import save_checkpoint
from basnet_lib.engine.config_io import config_to_dict, save_config
from basnet_lib.engine.presets import preset
from basnet_lib.model import ModelConfig, build_basnet

ROOT = Path(__file__).resolve().parents[2]
# Float rounding of folded BatchNorm and other kernels only; logits of these models are O(1).
MAX_ABS_DIFFERENCE = 1e-4


def _smoke_model(variant: str) -> nn.Module:
    model = build_basnet(config=ModelConfig(variant=variant, backbone="resnet18", width=16, aspp_channels=32))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # BatchNorm statistics away from (0, 1), so that folding them matters
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.bias.uniform_(-0.1, 0.1, generator=generator)
    return model.eval()


@pytest.fixture(scope="module")
def full_export(tmp_path_factory) -> tuple[nn.Module, Path]:
    model = _smoke_model("full")
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "full.onnx")


def test_full_model_round_trip_at_two_sizes_with_one_file(full_export) -> None:
    model, path = full_export
    session = onnxruntime_session(path, threads=1)
    assert [item.name for item in session.get_inputs()] == list(ONNX_INPUT_NAMES)
    assert [item.name for item in session.get_outputs()] == ["out", "boundary"]
    for height, width in [(64, 128), (96, 200)]:
        check = check_onnx(model, path, synthcity_images(2, height=height, width=width), threads=1)
        assert check.pixels == 2 * height * width
        assert set(check.max_abs_difference) == {"out", "boundary"}
        assert max(check.max_abs_difference.values()) < MAX_ABS_DIFFERENCE, (height, width, check)
        assert check.argmax_agreement >= 0.999, (height, width, check)


def test_batch_size_is_dynamic(full_export) -> None:
    _, path = full_export
    inputs = onnx_inputs(synthcity_images(3, height=64, width=128))
    out, boundary = onnxruntime_session(path, threads=1).run(None, inputs)
    assert out.shape == (3, 19, 64, 128) and boundary.shape == (3, 1, 64, 128)


def test_export_refuses_to_overwrite_unless_asked(tmp_path) -> None:
    path = tmp_path / "baseline.onnx"
    path.write_bytes(b"not a model")
    model = _smoke_model("baseline")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_onnx(model, path)
    assert path.read_bytes() == b"not a model"
    export_onnx(model, path, overwrite=True)
    assert [item.name for item in onnxruntime_session(path).get_outputs()] == ["out"]
    check = check_onnx(model, path, synthcity_images(1, height=64, width=128), threads=1)
    assert check.max_abs_difference["out"] < MAX_ABS_DIFFERENCE and check.argmax_agreement >= 0.999
    assert [entry.name for entry in tmp_path.iterdir()] == ["baseline.onnx"]  # no temp file left


def test_export_checks_its_file_before_exporting(tmp_path) -> None:
    model = _smoke_model("baseline")
    link, target = tmp_path / "link.onnx", tmp_path / "elsewhere" / "model.onnx"
    link.symlink_to(target)  # broken: it exists as a link all the same
    with pytest.raises(FileExistsError, match=r"link.onnx exists; pass overwrite=True"):
        export_onnx(model, link)
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ValueError, match=r"folder.onnx is a folder, where an output file goes"):
        export_onnx(model, tmp_path / "folder.onnx", overwrite=True)
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ValueError, match=r"cannot create .*notes.txt/sub: .*notes.txt is a file, not a folder"):
        export_onnx(model, tmp_path / "notes.txt" / "sub" / "model.onnx")
    assert link.is_symlink() and not target.exists()


def test_onnx_inputs_need_sizes_multiple_of_8() -> None:
    with pytest.raises(ValueError, match="multiples of 8"):
        onnx_inputs(np.zeros((60, 128, 3), dtype=np.uint8))


def test_readme_snippet_computes_the_library_inputs_and_runs(full_export, tmp_path, monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text()
    snippet = next(
        block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "onnxruntime" in block
    )
    assert len(snippet.splitlines()) <= 12
    model, path = full_export
    rgb = synthcity_images(1, height=64, width=128)[0]
    cv2.imwrite(str(tmp_path / "street.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    os.symlink(path, tmp_path / "model.onnx")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(snippet, namespace)
    expected = onnx_inputs(rgb)
    np.testing.assert_array_equal(namespace["image"], expected["image"])
    gradient_map = np.concatenate([namespace["image"], namespace["canny"]], 1)
    np.testing.assert_array_equal(gradient_map, expected["gradient_map"])
    assert expected["gradient_map"][:, 3].any()  # the scene has Canny edges to compare
    with torch.inference_mode():
        torch_out = model(torch.from_numpy(expected["image"]), torch.from_numpy(expected["gradient_map"]))[
            "out"
        ]
    assert np.abs(namespace["out"] - torch_out.numpy()).max() < MAX_ABS_DIFFERENCE
    assert namespace["labels"].shape == (64, 128) and len(namespace["boundary"]) == 1


def _run_directory(tmp_path: Path) -> Path:
    run = preset("smoke", variant="baseline")
    run_dir = tmp_path / "run"
    save_config(run, run_dir / "config.json")
    model = build_basnet(config=run.model)
    state = {"iteration": 0, "model": model.state_dict(), "optimizer": {}, "scheduler": {}, "rng": {}}
    save_checkpoint(run_dir / "checkpoint.pt", {**state, "config": config_to_dict(run)})
    return run_dir


def test_cli_export_checks_the_file_and_refuses_to_overwrite(tmp_path) -> None:
    run_dir = _run_directory(tmp_path)
    onnx_path = tmp_path / "model.onnx"
    command = [sys.executable, "-m", "basnet_lib.cli", "export", str(run_dir), "--onnx", str(onnx_path)]
    exported = subprocess.run([*command, "--check-size", "64x128"], capture_output=True, text=True, cwd=ROOT)
    assert exported.returncode == 0, exported.stderr
    difference = re.search(r"max abs logit difference out ([0-9.e+-]+)", exported.stdout)
    assert difference is not None and float(difference.group(1)) < MAX_ABS_DIFFERENCE, exported.stdout
    assert "argmax agreement" in exported.stdout
    assert onnxruntime.InferenceSession(str(onnx_path)).get_outputs()[0].name == "out"
    refused = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
