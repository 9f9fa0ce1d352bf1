"""A run directory's files when the disk refuses a write, and a checkpoint that asks for code
(docs/decisions.md "Nothing lost, round two"). A full disk is a file-size limit here
(``RLIMIT_FSIZE`` in a child process: the kernel fails the write as a full disk does, with another
errno), so no file system has to be mounted."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from basnet_lib.cli import main
from basnet_lib.data.png_io import write_png
from basnet_lib.engine.checkpoint import CheckpointRefused, load_checkpoint
from basnet_lib.engine.config import load_run_config
from basnet_lib.engine.run_checks import check_checkpoint_archive
from basnet_lib.model.backbone import build_backbone
from basnet_lib.model.tensor_files import RefusedFileError

ROOT = Path(__file__).resolve().parents[2]
SIZE_LIMIT = 1_000_000  # bytes: any file of the child process stops growing there
UNSAFE_ADVICE = ("weights_only", "will likely succeed", "can still be loaded", "truncated or corrupt")


def _file_size_limit() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (SIZE_LIMIT, SIZE_LIMIT))


# The child writes each file once small (under the limit), then too large for it, and prints the
# error of each failed write.
_WRITES = """
import sys
from pathlib import Path
import torch
from basnet_lib.engine.checkpoint import save_checkpoint
from basnet_lib.engine.history import HISTORY_COLUMNS, write_history
from basnet_lib.engine.run_files import write_json

run_dir = Path(sys.argv[1])
row = dict.fromkeys(HISTORY_COLUMNS, 0.123456789)
writes = {  # each with a size too large for the limit
    "checkpoint.pt": (lambda size: save_checkpoint(run_dir / "checkpoint.pt", {"iteration": size,
                                                                               "model": torch.zeros(size)}), 10**6),
    "history.csv": (lambda size: write_history(run_dir / "history.csv", [row] * size), 20_000),
    "metrics.json": (lambda size: write_json(run_dir / "metrics.json", {"iteration": size, "x": [0.5] * size}), 10**6),
}
for name, (write, too_large) in writes.items():
    write(10)
    try:
        write(too_large)
    except OSError as error:
        print(f"{type(error).__name__}: {error}")
"""


def test_a_write_the_disk_refuses_names_the_file_and_leaves_the_old_one(tmp_path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", _WRITES, str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, preexec_fn=_file_size_limit, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"FileWriteError: could not write {run_dir / name}: File too large"
        for name in ("checkpoint.pt", "history.csv", "metrics.json")
    ]
    assert sorted(path.name for path in run_dir.iterdir()) == ["checkpoint.pt", "history.csv", "metrics.json"]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["iteration"] == 10  # the previous, intact
    assert len((run_dir / "history.csv").read_text().splitlines()) == 11
    assert '"iteration": 10' in (run_dir / "metrics.json").read_text()


def test_train_on_a_full_disk_stops_in_one_line_naming_the_checkpoint(tmp_path) -> None:
    results = tmp_path / "runs"
    command = [sys.executable, "-m", "basnet_lib.cli", "train", "--preset", "smoke", "--quiet"]
    command += ["--train.results_dir", str(results), "--train.iterations", "3"]
    # The smoke model's checkpoint (~90 MB with its optimizer state) passes 20 MB; nothing else does.
    limit = 20_000_000
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )  # fmt: skip
    run_dir = results / "full-resnet18-seed0"
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"basnet: error: could not write {run_dir / 'checkpoint.pt'}: File too large"
    )
    assert sorted(path.name for path in run_dir.iterdir()) == ["config.json", "history.csv"]  # no temporary


class _RunsACommand:
    """Pickled as a call of ``os.system``: what a malicious checkpoint holds."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_a_checkpoint_that_asks_for_code_is_refused_in_one_line(saved_smoke_runs, tmp_path, capsys) -> None:
    run_dir = tmp_path / "runs" / saved_smoke_runs["full"].name  # where --resume looks for it
    shutil.copytree(saved_smoke_runs["full"], run_dir)
    marker = tmp_path / "it_ran"
    state = load_checkpoint(run_dir / "checkpoint.pt")
    torch.save({**state, "scheduler": _RunsACommand(f"touch {marker}")}, run_dir / "checkpoint.pt")
    refused = (
        f"{run_dir / 'checkpoint.pt'}: refused: it asks for posix.system, an object a checkpoint may not "
        "hold (only tensors and plain values); nothing in it was run"
    )
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--quiet", "--device", "cpu"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"basnet: error: {refused}"]
    assert not any(advice in lines[0] for advice in UNSAFE_ADVICE)
    photo = tmp_path / "photo.png"
    write_png(photo, np.zeros((8, 8, 3), dtype=np.uint8))
    assert main(["predict", str(run_dir), str(photo), "--out", str(tmp_path / "o"), "--quiet"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"basnet: error: {refused}"]
    assert not marker.exists() and not (tmp_path / "o").exists()
    onnx, elsewhere = tmp_path / "model.onnx", ["--checkpoint", str(run_dir / "checkpoint.pt")]
    assert main(["export", str(saved_smoke_runs["full"]), "--onnx", str(onnx), *elsewhere]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"basnet: error: {refused}"]
    resume = ["train", "--preset", "smoke", "--train.results_dir", str(run_dir.parent), "--resume", "--quiet"]
    assert main(resume) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"basnet: error: {refused}"]
    assert not marker.exists() and not onnx.exists()
    with pytest.raises(CheckpointRefused) as refusal:
        load_checkpoint(run_dir / "checkpoint.pt")
    assert str(refusal.value) == refused
    with pytest.raises(CheckpointRefused) as refusal:  # the quick check of a finished run that is reused
        check_checkpoint_archive(run_dir / "checkpoint.pt", load_run_config(run_dir / "config.json"))
    assert str(refusal.value) == refused

    weights = tmp_path / "resnet18.pth"
    torch.save({"conv1.weight": _RunsACommand(f"touch {marker}")}, weights)
    with pytest.raises(RefusedFileError) as refusal:
        build_backbone(name="resnet18", pretrained=True, weights_path=str(weights))
    assert str(refusal.value) == (
        f"{weights}: refused: it asks for posix.system, an object a ResNet state dict may not hold (only "
        "tensors and plain values); nothing in it was run; check ModelConfig.backbone_weights"
    )
    assert not marker.exists()
