"""Runs that survive preemption: a signalled run checkpoints after its step and the same command
(``--resume auto``) continues it exactly; processes agree on the step; the per-process batch and
TF32 are settled before the run starts (docs/method.md §4.2, docs/decisions.md "Cluster grid")."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from torchvision.models import resnet18

from basnet_lib.data.cityscapes import sample_seed
from basnet_lib.data.transforms import build_transform
from basnet_lib.distributed import DistributedContext
from basnet_lib.engine.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from basnet_lib.engine.commands import PREEMPTED
from basnet_lib.engine.presets import preset
from basnet_lib.engine.runtime import cuda_tf32
from basnet_lib.engine.sampling import epoch_batches, per_process_batch_size, training_set
from basnet_lib.engine.trainer import train

ROOT = Path(__file__).resolve().parents[2]
NOT_TIMING = ["iteration", "seg", "edge", "probes", "total", "lr", "val_mIoU", "val_F_3px"]


def _command(results_dir: Path, *extra: str, launcher: tuple[str, ...] = ()) -> list[str]:
    return [
        sys.executable, *launcher, "-m", "basnet_lib.train", "--preset", "smoke", "--quiet",
        "--train.iterations", "12", "--train.checkpoint_every", "6", "--train.log_every", "4",
        "--train.results_dir", str(results_dir), *extra,
    ]  # fmt: skip


def _wait_for_rows(history: Path, process: subprocess.Popen, rows: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if history.is_file() and len(history.read_text().splitlines()) > rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"{history} did not reach {rows} rows (exit status {process.poll()})")


def _same_run(resumed: Path, straight: Path) -> None:
    """Weights, metrics and the history's non-timing columns of two run directories are equal."""
    resumed_weights = load_checkpoint(resumed / "checkpoint.pt")["model"]
    for name, tensor in load_checkpoint(straight / "checkpoint.pt")["model"].items():
        assert torch.equal(tensor, resumed_weights[name]), name
    columns = [column for column in NOT_TIMING if column in pd.read_csv(straight / "history.csv")]
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed / "history.csv")[columns], pd.read_csv(straight / "history.csv")[columns]
    )


def test_sigterm_checkpoints_after_the_step_and_resume_auto_continues_exactly(tmp_path) -> None:
    stopped_dir = tmp_path / "stopped" / "full-resnet18-seed0"
    command = _command(tmp_path / "stopped", "--resume", "auto")  # the first start: nothing to resume
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_rows(stopped_dir / "history.csv", process, rows=1)  # past iteration 4, before 12
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == PREEMPTED, err
    stopped_at = load_checkpoint(stopped_dir / "checkpoint.pt")["iteration"]
    assert 4 <= stopped_at < 12 and f"stopped by SIGTERM after iteration {stopped_at}" in err
    assert not (stopped_dir / "metrics.json").exists()

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    straight = subprocess.run(_command(tmp_path / "straight"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    _same_run(stopped_dir, tmp_path / "straight" / "full-resnet18-seed0")


def _worker_pids(parent: int) -> dict[int, int]:
    """``{rank: pid}`` of torchrun's workers (the processes below it whose environment has RANK)."""
    workers = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"PPid:\t{parent}\n" not in status.read_text():
                continue
            environment = (status.parent / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environment:
            if entry.startswith(b"RANK="):
                workers[int(entry[5:])] = int(status.parent.name)
    return workers


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds torchrun's workers through /proc (Linux)")
def test_torchrun_processes_agree_on_the_step_when_one_is_signalled(tmp_path) -> None:
    launcher = ("-m", "torch.distributed.run", "--nproc_per_node=2")
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = _command(tmp_path / "ddp", "--resume", "auto", launcher=launcher)
    run_dir = tmp_path / "ddp" / "full-resnet18-seed0"
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=environment)  # fmt: skip
    _wait_for_rows(run_dir / "history.csv", process, rows=1)
    workers = _worker_pids(process.pid)
    assert sorted(workers) == [0, 1], workers
    os.kill(workers[1], signal.SIGTERM)  # only rank 1 is asked; rank 0 must stop at the same step
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "stopped by SIGTERM after iteration" in err, err[-3000:]
    assert 4 <= load_checkpoint(run_dir / "checkpoint.pt")["iteration"] < 12

    resumed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    straight = subprocess.run(_command(tmp_path / "straight", launcher=launcher), cwd=ROOT, capture_output=True,
                              text=True, timeout=300, env=environment)  # fmt: skip
    assert straight.returncode == 0, straight.stderr[-3000:]
    _same_run(run_dir, tmp_path / "straight" / "full-resnet18-seed0")


def test_resume_with_another_process_count_continues_with_a_note(tmp_path, capfd) -> None:
    run = preset("smoke", variant="ssb")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(tmp_path), iterations=4,
                                                             checkpoint_every=2))  # fmt: skip
    first = train(run, progress=False)
    (first.run_dir / "metrics.json").unlink()
    checkpoint = load_checkpoint(first.run_dir / "checkpoint.pt")
    assert checkpoint["world_size"] == 1
    checkpoint["world_size"] = 2  # as if two processes had written it
    save_checkpoint(first.run_dir / "checkpoint.pt", {k: v for k, v in checkpoint.items() if k != "format"})
    capfd.readouterr()
    resumed = train(run, resume="auto", progress=False)
    assert resumed.metrics["resumed_from"] == 4
    assert "resuming a run of 2 process(es) with 1" in capfd.readouterr().err


def test_each_process_takes_at_least_two_images_and_says_how_to_fix_it() -> None:
    two = DistributedContext(device=torch.device("cpu"), rank=0, world_size=2)
    assert per_process_batch_size(4, two) == 2
    for batch in (2, 3):
        with pytest.raises(ValueError, match=rf"--train.batch_size {batch} over 2 processes \(torchrun "
                                             r"--nproc_per_node.*at least 4"):  # fmt: skip
            per_process_batch_size(batch, two)


def test_processes_train_on_different_samples_with_different_augmentations() -> None:
    run = preset("smoke")
    dataset = training_set(run)
    ranks = [DistributedContext(device=torch.device("cpu"), rank=rank, world_size=2) for rank in (0, 1)]
    first, second = (epoch_batches(dataset, epoch=0, batch_size=4, seed=0, context=context)[0] for context in ranks)
    assert not set(first) & set(second)  # each process its own samples of the step
    # A sample's augmentation is seeded by (seed, epoch, index), not by the process: distinct
    # seeds for every sample of the step, and distinct seeds crop the same image differently.
    seeds = [sample_seed(run.train.seed, 0, index) for index in first + second]
    assert len(set(seeds)) == len(seeds)
    image = torch.randint(0, 256, (3, 64, 128), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    transform = build_transform(run.data, train=True)
    crops = [transform(image, None, generator=torch.Generator().manual_seed(seed))[0] for seed in seeds[:2]]
    assert not torch.equal(crops[0], crops[1])


def test_tf32_is_set_for_the_block_and_restored_however_it_ends() -> None:
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    for allowed in (True, False):
        with pytest.raises(RuntimeError, match="inside"), cuda_tf32(allowed):
            assert torch.backends.cuda.matmul.allow_tf32 is allowed
            assert torch.backends.cudnn.allow_tf32 is allowed
            raise RuntimeError("inside")
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    assert preset("paper", data_root="/x").train.tf32 is False


def test_rng_state_is_this_process_alone_and_restores_exactly() -> None:
    state = capture_rng_state()
    expected = torch.rand(3)
    restore_rng_state(state)
    assert torch.equal(torch.rand(3), expected)
    if not torch.cuda.is_available():
        assert set(state) == {"torch"}
        restore_rng_state({**state, "cuda": []})  # an old checkpoint's list of device states, no GPU here


def test_a_resumed_run_needs_no_imagenet_file(tmp_path, monkeypatch, training_data_fault) -> None:
    weights = tmp_path / "resnet18.pth"
    torch.save(resnet18().state_dict(), weights)
    run = preset("smoke", variant="ssb")
    model = dataclasses.replace(run.model, pretrained_backbone=True, backbone_weights=str(weights))
    train_fields = dict(results_dir=str(tmp_path / "runs"), iterations=4, checkpoint_every=2)
    run = dataclasses.replace(run, model=model, train=dataclasses.replace(run.train, **train_fields))

    def stop(sample: dict) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        training_data_fault(patch, after=2 * run.train.batch_size, action=stop)
        with pytest.raises(KeyboardInterrupt):
            train(run, progress=False)
    weights.unlink()  # the node that resumes has no copy of the ImageNet file
    assert train(run, resume="auto", progress=False).metrics["resumed_from"] == 2
