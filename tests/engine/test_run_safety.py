"""Issue 17: a run directory is never lost or silently wrong (one owner, checks before deletes,
finite numbers only, results kept on a failed write, moved runs reused, stale temp files removed)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from basnet_lib.data.build import dataset_root
from basnet_lib.data.errors import DatasetError
from basnet_lib.engine.checkpoint import load_checkpoint, save_checkpoint
from basnet_lib.engine.commands import (
    add_evaluate_arguments,
    add_train_arguments,
    evaluate_command,
    run_config_from_args,
)
from basnet_lib.engine.config import RunConfig, TrainConfig
from basnet_lib.engine.nonfinite import NonFiniteWeightsError
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import RunDirectoryError, load_trained_model
from basnet_lib.engine.run_lock import LOCK_FILE, RunLockedError
from basnet_lib.engine.trainer import train
from basnet_lib.loss import LossConfig
from basnet_lib.reproduction.experiments import is_finished

ROOT = Path(__file__).resolve().parents[2]


def smoke(results: Path, *, data_root: str = "", **train_fields) -> RunConfig:
    run = preset("smoke", variant="full", data_root=data_root)
    return dataclasses.replace(
        run, train=dataclasses.replace(run.train, results_dir=str(results), **train_fields)
    )


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(run_dir.iterdir())}


def copied_dataset(tmp_path: Path) -> Path:
    """A copy of the smoke preset's SynthCity set, free to be moved and damaged."""
    source = dataset_root(preset("smoke").data, progress=False)
    return Path(shutil.copytree(source, tmp_path / "dataset"))


class _Interrupted(Exception):
    pass


def interrupted_run(run: RunConfig, monkeypatch, fault) -> None:
    """Train ``run`` until its first checkpoint, then stop it as a kill would (no results): loading
    the samples of the next step raises."""

    def stop(sample: dict) -> None:
        raise _Interrupted

    with monkeypatch.context() as patch:
        fault(patch, after=run.train.checkpoint_every * run.train.batch_size, action=stop)
        with pytest.raises(_Interrupted):
            train(run, progress=False)


def test_item1_a_run_directory_has_one_owner_and_a_dead_owners_lock_is_taken_over(tmp_path, capfd) -> None:
    run = smoke(tmp_path / "runs", iterations=2)
    holder = subprocess.Popen(
        [
            sys.executable, "-c",
            "import sys, time; from basnet_lib.engine.run_lock import RunLock; "
            "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(300)",
            str(run.run_dir),
        ],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError) as refused:
            train(run, progress=False)
        message = str(refused.value)
        assert f"is in use by process {holder.pid} on {socket.gethostname()} since " in message
        assert "\n" not in message and "--train.run_name" in message
        assert sorted(path.name for path in run.run_dir.iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    capfd.readouterr()
    result = train(run, progress=False)  # the killed owner's lock file is still there
    assert not result.reused and (run.run_dir / "metrics.json").is_file()
    assert f"taking over the lock of process {holder.pid}" in capfd.readouterr().err
    assert not (run.run_dir / LOCK_FILE).exists()  # released at the end


def test_item2_every_check_passes_before_overwrite_deletes_anything(tmp_path) -> None:
    run = smoke(tmp_path / "runs", iterations=2)
    train(run, progress=False)
    before = snapshot(run.run_dir)

    typo = dataclasses.replace(run, data=dataclasses.replace(run.data, root=str(tmp_path / "datset")))
    with pytest.raises(DatasetError, match="datset: dataset root does not exist"):
        train(typo, overwrite=True, progress=False)
    assert snapshot(run.run_dir) == before

    missing_weights = dataclasses.replace(
        run,
        model=dataclasses.replace(
            run.model, pretrained_backbone=True, backbone_weights=str(tmp_path / "resnet18.pth")
        ),
    )
    with pytest.raises(FileNotFoundError, match=r"resnet18\.pth do not exist"):
        train(missing_weights, overwrite=True, progress=False)
    assert snapshot(run.run_dir) == before

    # A val label with ids outside the Cityscapes table: found before training, not after it.
    root = copied_dataset(tmp_path)
    bad_label = sorted((root / "gtFine" / "val").glob("*/*_labelIds.png"))[-1]
    cv2.imwrite(str(bad_label), np.full((64, 128), 250, dtype=np.uint8))
    bad_val = dataclasses.replace(run, data=dataclasses.replace(run.data, root=str(root)))
    with pytest.raises(DatasetError, match=rf"{bad_label}: label ids \[250\]"):
        train(bad_val, overwrite=True, progress=False)
    assert snapshot(run.run_dir) == before
    fresh = smoke(tmp_path / "fresh", data_root=str(root))
    with pytest.raises(DatasetError, match="label ids"):
        train(fresh, progress=False)
    assert not fresh.run_dir.exists()


def test_item3_non_finite_numbers_are_never_a_result(tmp_path) -> None:
    for field in ("learning_rate", "momentum", "weight_decay", "poly_power"):
        for value in (math.inf, -math.inf, math.nan):
            with pytest.raises(ValueError, match=rf"TrainConfig.{field}=.* must be a finite number"):
                TrainConfig(**{field: value})
    for field in ("edge_weight", "class_balance", "probe_weight"):
        for value in (math.inf, -math.inf, math.nan):
            with pytest.raises(ValueError, match=rf"LossConfig.{field}=.* must be a finite number"):
                LossConfig(**{field: value})
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    with pytest.raises(ValueError, match="learning_rate=inf must be a finite number > 0"):
        run_config_from_args(parser.parse_args(["--preset", "smoke", "--train.learning_rate", "inf"]))

    # A finite loss, then weights that the step made infinite (as an infinite learning rate did on
    # main; here torch's global optimizer hook spoils one weight after the step): not saved, not
    # evaluated.
    def overflow(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        with torch.no_grad():
            optimizer.param_groups[0]["params"][0].fill_(math.inf)

    run = smoke(tmp_path / "runs", iterations=1)
    hook = register_optimizer_step_post_hook(overflow)
    try:
        with pytest.raises(
            NonFiniteWeightsError, match=r"after iteration 1: 1 of \d+ weight tensors hold NaN or inf \(first: backbone"
        ):
            train(run, progress=False)
    finally:
        hook.remove()
    assert not (run.run_dir / "checkpoint.pt").exists() and not (run.run_dir / "metrics.json").exists()

    # A checkpoint with an infinite weight (as main wrote them) is refused by evaluate/predict/export.
    good = train(smoke(tmp_path / "good", iterations=2), progress=False)
    checkpoint = load_checkpoint(good.run_dir / "checkpoint.pt")
    name = next(name for name, tensor in checkpoint["model"].items() if tensor.is_floating_point())
    checkpoint["model"][name][0] = math.inf
    save_checkpoint(good.run_dir / "checkpoint.pt", {k: v for k, v in checkpoint.items() if k != "format"})
    with pytest.raises(NonFiniteWeightsError, match=rf"checkpoint.pt: 1 of \d+ weight tensors .* \(first: {name}\)"):
        load_trained_model(good.run_dir)


def test_item7_evaluate_prints_its_scores_before_writing_and_keeps_them_when_the_write_fails(
    tmp_path, capsys
) -> None:
    result = train(smoke(tmp_path / "runs", iterations=2), progress=False)
    (result.run_dir / "eval_val.json").mkdir()  # the write fails as in a read-only folder
    (result.run_dir / "eval_val.json" / "keep").write_text("")
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    capsys.readouterr()
    with pytest.raises(RunDirectoryError, match=r"could not write .*eval_val.json \(.*\); every metric is printed above"):
        evaluate_command(parser.parse_args([str(result.run_dir), "--quiet"]))
    printed = capsys.readouterr().out
    scores = json.loads(printed.splitlines()[0])
    assert scores == {key: result.metrics[key] for key in ("mIoU", "boundary_F", "boundary_IoU")}
    every_metric = json.loads(printed[printed.index("\n") + 1 :])
    assert json.dumps(every_metric["per_class_iou"]) == json.dumps(result.metrics["per_class_iou"])
    assert not list(result.run_dir.glob(".eval_val.json.tmp*"))


def test_item8_moved_runs_and_data_are_reused_and_resumed_changed_data_is_not(
    tmp_path, monkeypatch, training_data_fault
) -> None:
    root = copied_dataset(tmp_path)
    finished = train(smoke(tmp_path / "a", data_root=str(root), iterations=2), progress=False)
    moved_root = Path(shutil.move(root, tmp_path / "moved_dataset"))
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = smoke(tmp_path / "b", data_root=str(moved_root), iterations=2)
    assert is_finished(moved)
    reused = train(moved, progress=False)
    assert reused.reused and reused.metrics["mIoU"] == finished.metrics["mIoU"]
    other = dataclasses.replace(moved, train=dataclasses.replace(moved.train, learning_rate=0.02))
    with pytest.raises(RunDirectoryError, match=r"train\.learning_rate"):
        is_finished(other)  # main reused it as if it were this run

    image = sorted((moved_root / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))[0]  # one sample less
    for path in [image, *(moved_root / "gtFine" / "train").glob(f"*/{image.name.split('_leftImg8bit')[0]}_gtFine_*")]:
        path.unlink()
    with pytest.raises(RunDirectoryError, match=r"data \(names and sizes of the train and val files\)"):
        train(moved, progress=False)

    # An unfinished run, moved, resumes where it stopped and ends as one never moved.
    fields = dict(iterations=4, checkpoint_every=2)
    interrupted_run(smoke(tmp_path / "c", **fields), monkeypatch, training_data_fault)
    shutil.move(tmp_path / "c", tmp_path / "d")
    resumed = train(smoke(tmp_path / "d", **fields), resume=True, progress=False)
    straight = train(smoke(tmp_path / "e", **fields), progress=False)
    assert resumed.metrics["resumed_from"] == 2
    assert resumed.metrics["mIoU"] == straight.metrics["mIoU"]

    nothing = smoke(tmp_path / "f")
    with pytest.raises(RunDirectoryError, match=r"--resume: .* holds no run to resume .*leave out --resume"):
        train(nothing, resume=True, progress=False)
    assert not nothing.run_dir.exists()


def test_item9_temp_files_of_interrupted_saves_are_removed_on_the_next_start(
    tmp_path, monkeypatch, capfd, training_data_fault
) -> None:
    run = smoke(tmp_path / "runs", iterations=4, checkpoint_every=2)
    interrupted_run(run, monkeypatch, training_data_fault)
    with pytest.raises(RunDirectoryError, match=r"unfinished run .*pass --resume to continue it or --overwrite"):
        train(run, progress=False)
    stale = [run.run_dir / ".checkpoint.pt.tmp-4242", run.run_dir / ".history.csv.tmp"]
    for path in stale:
        path.write_bytes(os.urandom(2_000_000))
    capfd.readouterr()
    result = train(run, resume=True, progress=False)
    assert result.metrics["resumed_from"] == 2
    assert not any(path.exists() for path in stale)
    err = capfd.readouterr().err
    assert f"removed {stale[0]} (2.0 MB), left by an interrupted save" in err
    assert torch.load(run.run_dir / "checkpoint.pt", weights_only=True)["iteration"] == 4
