"""Issue 17 fault injection through the command line: two concurrent ``basnet train`` into one run
directory, a SIGKILL during a checkpoint save, and a read-only results folder. Each ends with
nothing lost and a clear message."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from basnet_lib.engine.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1  # <linux/prctl.h>, <linux/capability.h>


def basnet(*args: str) -> list[str]:
    return [sys.executable, "-m", "basnet_lib.cli", *args]


def train_command(results: Path, *fields: str) -> list[str]:
    return basnet("train", "--preset", "smoke", "--quiet", "--train.results_dir", str(results), *fields)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs)


def wait_for(condition, process: subprocess.Popen, *, seconds: float = 600) -> None:
    """Poll ``condition`` until it holds; a process that ends first, or a timeout, fails the test
    (and the process is killed: no training left running behind a failed test)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"waited in vain (exit code {process.wait()}): {process.communicate()[1]}")
        time.sleep(0.001)


def test_two_concurrent_trains_into_one_directory(tmp_path) -> None:
    command = train_command(tmp_path / "runs", "--train.iterations", "60", "--train.checkpoint_every", "20")
    run_dir = tmp_path / "runs" / "full-resnet18-seed0"
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (run_dir / "run.lock").is_file() and (run_dir / "run.lock").stat().st_size, first)
        second = run(command)
        still_training = first.poll() is None
        out, err = first.communicate(timeout=600)
    finally:
        first.kill()  # a no-op once it ended
    assert first.returncode == 0, err
    assert still_training, "the first run ended before the second checked the lock: raise its iterations"
    assert second.returncode == 1
    assert f"is in use by process {first.pid} on {socket.gethostname()} since " in second.stderr
    # Every file is the first run's: its metrics, a complete history and its final checkpoint.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert json.loads(out.split(": ", 1)[1])["mIoU"] == metrics["mIoU"]
    assert load_checkpoint(run_dir / "checkpoint.pt")["iteration"] == 60
    rows = (run_dir / "history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(1, 61))
    assert not (run_dir / "run.lock").exists()
    again = run(command)
    assert again.returncode == 0 and again.stdout.startswith("reused")
    assert json.loads(again.stdout.split(": ", 1)[1])["mIoU"] == metrics["mIoU"]


def test_sigkill_during_a_checkpoint_save(tmp_path) -> None:
    command = train_command(tmp_path / "runs", "--train.iterations", "8", "--train.checkpoint_every", "1")
    run_dir = tmp_path / "runs" / "full-resnet18-seed0"
    for _attempt in range(5):  # the kill must land between the temp file's creation and its rename
        process = subprocess.Popen(
            command + (["--resume"] if (run_dir / "checkpoint.pt").exists() else []),
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        temporary = run_dir / f".checkpoint.pt.tmp-{process.pid}"
        wait_for(lambda: temporary.exists() and (run_dir / "checkpoint.pt").exists(), process)  # noqa: B023
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if temporary.exists():
            break
    else:
        pytest.fail("no SIGKILL landed inside a checkpoint save in 5 attempts")
    killed_at = load_checkpoint(run_dir / "checkpoint.pt")["iteration"]  # the previous save is intact
    assert 1 <= killed_at < 8 and not (run_dir / "metrics.json").exists()

    refused = run(command)
    assert refused.returncode == 1 and "pass --resume to continue it or --overwrite" in refused.stderr
    assert f"taking over the lock of process {process.pid}" in refused.stderr
    assert temporary.exists()  # removed only by a start that goes on to train
    resumed = run([*command, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"removed {temporary} (" in resumed.stderr and "left by an interrupted save" in resumed.stderr
    assert sorted(path.name for path in run_dir.iterdir() if path.name.startswith(".")) == []
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["resumed_from"] == killed_at and load_checkpoint(run_dir / "checkpoint.pt")["iteration"] == 8


def _without_root_override() -> None:
    """In the child: root loses the power to write into folders without write permission."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def test_read_only_results_folder(tmp_path) -> None:
    if sys.platform != "linux":
        pytest.skip("read-only folders for root are made with Linux capabilities")  # documented platform skip
    results = tmp_path / "runs"
    finished = run(train_command(results, "--train.iterations", "2"))
    assert finished.returncode == 0, finished.stderr
    run_dir = results / "full-resnet18-seed0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    for folder in (results, run_dir):
        folder.chmod(0o555)
    try:
        evaluated = run(basnet("evaluate", str(run_dir), "--quiet"), preexec_fn=_without_root_override)
        assert evaluated.returncode == 1
        scores = json.loads(evaluated.stdout.splitlines()[0])
        assert scores == {key: metrics[key] for key in ("mIoU", "boundary_F", "boundary_IoU")}
        assert f"could not write {run_dir / 'eval_val.json'} (Permission denied)" in evaluated.stderr

        new_run = run(train_command(results, "--seed", "1"), preexec_fn=_without_root_override)
        assert new_run.returncode == 1
        assert f"cannot create the run directory {results / 'full-resnet18-seed1'}" in new_run.stderr
        assert "Permission denied" in new_run.stderr

        reused = run(train_command(results, "--train.iterations", "2"), preexec_fn=_without_root_override)
        assert reused.returncode == 0 and reused.stdout.startswith("reused"), reused.stderr
    finally:
        for folder in (results, run_dir):
            folder.chmod(0o755)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
    assert sorted(path.name for path in results.iterdir()) == ["full-resnet18-seed0"]
