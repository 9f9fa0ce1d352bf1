"""A failed training command reaches the user as one line naming the option, from one process, and
leaves no run directory behind when the run never started (issue "Nothing lost, nothing silently
wrong, round two", cases 8 and 10)."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from basnet_lib.cli import main as basnet
from basnet_lib.distributed import MainProcessError
from basnet_lib.engine.config import TrainConfig
from basnet_lib.engine.failures import UsageError, report_failure
from basnet_lib.engine.presets import preset
from basnet_lib.engine.stop import SAME_REQUEST_SECONDS, StopRequest
from basnet_lib.engine.trainer import train
from basnet_lib.loss import LossConfig, balanced_class_weights
from basnet_lib.train import main as train_module

ROOT = Path(__file__).resolve().parents[2]
FLOAT32 = r"<= 3\.40282e\+38"


def test_hyper_parameters_that_float32_or_the_optimizer_cannot_take_are_refused_naming_the_field() -> None:
    for field, value in (("learning_rate", 1e300), ("weight_decay", 1e39)):
        with pytest.raises(ValueError, match=rf"TrainConfig\.{field}=1e\+\d+ must be .* {FLOAT32} \(the optimizer's float32"):
            TrainConfig(**{field: value})
    for momentum in (1.0, 1.5):
        with pytest.raises(ValueError, match=r"TrainConfig\.momentum=1\.\d must be a finite number >= 0 and < 1 \(SGD"):
            TrainConfig(momentum=momentum)
    # AdamW's first step divides the learning rate by 1 - beta1 (its bias correction).
    with pytest.raises(ValueError, match=r"'adamw': learning_rate / \(1 - momentum\) = 1e\+39"):
        TrainConfig(optimizer="adamw", learning_rate=1e38, momentum=0.9)
    TrainConfig(optimizer="sgd", learning_rate=1e38, momentum=0.9)  # SGD's step takes it as it is
    with pytest.raises(ValueError, match=rf"LossConfig\.edge_weight=1e\+300 must be .* {FLOAT32}"):
        LossConfig(edge_weight=1e300)
    with pytest.raises(ValueError, match=r"LossConfig\.class_balance=100 gives class weights from .* beyond float32"):
        balanced_class_weights([1.0, 10.0, 1e6], 100)


def test_a_huge_learning_rate_is_one_usage_line_and_writes_nothing(tmp_path, capsys) -> None:
    for command, prog in ((lambda argv: basnet(["train", *argv]), "basnet"), (train_module, "python -m basnet_lib.train")):
        status = command(["--preset", "smoke", "--train.learning_rate", "1e300", "--train.results_dir", str(tmp_path / "runs")])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1, err
        assert err.startswith(f"{prog}: error: TrainConfig.learning_rate=1e+300 must be a finite number > 0 and <= ")
    assert not (tmp_path / "runs").exists()


def test_another_rank_reports_only_an_error_of_its_own(capsys) -> None:
    prog = "python -m basnet_lib.train"
    assert report_failure(prog, UsageError("--train.batch_size 2 over 2 processes"), rank=1) == 2
    assert report_failure(prog, MainProcessError("the run's first process (rank 0) failed"), rank=1) == 1
    assert capsys.readouterr().err == ""  # the same error as rank 0's, or rank 0's relayed
    report_failure(prog, OSError("/data/x.png: no such file"), rank=1)
    report_failure(prog, UsageError("--train.batch_size 2 over 2 processes"), rank=0)
    assert capsys.readouterr().err.splitlines() == [
        f"{prog}: error: rank 1: /data/x.png: no such file",
        f"{prog}: error: --train.batch_size 2 over 2 processes",
    ]


def test_torchrun_with_one_image_per_process_fails_in_one_line_and_leaves_no_run_directory(tmp_path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
               "basnet_lib.train", "--preset", "smoke", "--train.batch_size", "2", "--train.results_dir",
               str(tmp_path / "runs")]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=environment)
    assert finished.returncode != 0
    ours = [line for line in finished.stderr.splitlines() if "basnet_lib.train: error" in line]
    assert ours == [
        "python -m basnet_lib.train: error: --train.batch_size 2 over 2 processes (torchrun --nproc_per_node, or "
        "the job's tasks) must give each process a whole number of at least 2 images; use a multiple of 2 of at "
        "least 4"
    ], finished.stderr[-3000:]
    assert not re.search(r'File ".*basnet_lib', finished.stderr)  # no traceback of ours (torchrun adds its own summary)
    assert not (tmp_path / "runs").exists()


def test_a_run_that_fails_before_its_first_row_leaves_no_directory(tmp_path, monkeypatch, training_data_fault) -> None:
    run = preset("smoke", variant="ssb")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(tmp_path), iterations=4))

    def unreadable(sample: dict) -> None:
        raise OSError("the disk went away")

    with monkeypatch.context() as patch:
        training_data_fault(patch, after=0, action=unreadable)  # the first step's first sample
        with pytest.raises(OSError, match="the disk went away"):
            train(run, progress=False)
    assert not run.run_dir.exists()  # config.json alone was written: removed with the folder

    with monkeypatch.context() as patch:  # failing after two history rows, the run keeps them
        training_data_fault(patch, after=2 * run.train.batch_size, action=unreadable)
        with pytest.raises(OSError, match="the disk went away"):
            train(run, progress=False)
    assert sorted(path.name for path in run.run_dir.iterdir()) == ["config.json", "history.csv"]


def test_the_same_stop_request_delivered_twice_is_one_request() -> None:
    request = StopRequest()
    request(15, None)  # SIGTERM, from Slurm
    request(15, None)  # and again, forwarded by torchrun: not "now"
    assert request.signal_name == "SIGTERM"
    request._first_at -= SAME_REQUEST_SECONDS  # a later interrupt asks for now (SIGINT: KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        request(2, None)
