"""The grid on a real Slurm cluster (the session's ``slurm_cluster``, tests/slurm_cluster.py): submitted
with ``basnet reproduce --executor slurm``, followed with ``basnet status``, collected by the next
``reproduce``; the same numbers as a local grid; failures named; bad input refused in one line with
nothing trained touched. Smoke runs of 2 iterations keep it to a few minutes on 2 cores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from basnet_lib.engine.run_files import METRICS_FILE
from basnet_lib.reproduction.executors import LocalExecution
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.grid_training import GridTraining, train_grid
from basnet_lib.reproduction.slurm_status import RunState, grid_status
from basnet_lib.reproduction.slurm_submission import GRID_RECORD

ROOT = Path(__file__).resolve().parents[2]
# The scores two runs of the same config and seed share to the last bit (CPU, same process count).
SCORES = ("mIoU", "per_class_iou", "boundary_F", "per_class_boundary_F", "boundary_map", "world_size")
# A grid of two runs: seed 0 trained by hand, seed 1 left to the cluster.
SMALL_GRID = ["--preset", "smoke", "--variants", "baseline", "--seeds", "0", "1", "--iterations", "2"]
JOBS_TIMEOUT_S = 300

pytestmark = pytest.mark.slurm


def basnet(*words: str, environment: dict | None = None) -> subprocess.CompletedProcess:
    """``basnet WORDS`` in a process of its own, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "basnet_lib.cli", *words],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "agg", **(environment or {})},
        timeout=900,
    )


def wait_for_jobs(results_root: Path) -> list[RunState]:
    """The grid's run states once none is queued or running."""
    deadline = time.monotonic() + JOBS_TIMEOUT_S
    while time.monotonic() < deadline:
        _, states = grid_status(results_root)
        if not [state for state in states if state.state in ("queued", "running")]:
            return states
        time.sleep(1)
    raise AssertionError(f"jobs still queued or running after {JOBS_TIMEOUT_S} s: {[s.line() for s in states]}")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def hand_trained_root(tmp_path_factory) -> Path:
    """A results root holding the smoke preset's baseline, seed 0, 2 iterations, trained by hand with
    the README's command form (one process)."""
    results_root = tmp_path_factory.mktemp("hand_trained")
    trained = basnet("train", "--preset", "smoke", "--variant", "baseline", "--seed", "0", "--train.iterations", "2",
                     "--train.results_dir", str(results_root / "runs" / "smoke"), "--quiet")  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    return results_root


def test_a_slurm_grid_trains_the_numbers_of_the_local_grid(slurm_cluster, tmp_path) -> None:
    slurm_root, local_root = tmp_path / "slurm", tmp_path / "local"
    submitted = basnet("reproduce", "--preset", "smoke", "--variants", "baseline", "full", "--seeds", "0", "1",
                       "--iterations", "2", "--results-root", str(slurm_root), "--executor", "slurm",
                       "--processes-per-run", "2", "--max-parallel-jobs", "1")  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    assert submitted.stdout.count("submit  ") == 4, submitted.stdout
    (script,) = (slurm_root / "slurm_jobs").glob("*_submission.sh")  # one job array, throttled
    assert "#SBATCH --array=0-3%1\n" in script.read_text() and "#SBATCH --ntasks-per-node=2\n" in script.read_text()
    _, states = grid_status(slurm_root)
    assert {state.state for state in states} <= {"queued", "running", "finished"} and states[-1].state == "queued"
    assert f"logs: {slurm_root / 'slurm_jobs'}" in submitted.stdout and "no report yet: 4 of 4 runs" in submitted.stdout
    assert f"results root {slurm_root} is under /tmp" in submitted.stderr  # the warning for node-local folders
    assert not (slurm_root / "REPORT.md").exists()

    # Meanwhile the same grid on this machine, each run under torchrun with 2 gloo processes.
    grid = dict(preset_name="smoke", data_root="", iterations=2, results_root=local_root)
    runs = planned_runs(variants=["baseline", "full"], seeds=[0, 1], **grid)
    local = train_grid(runs, grid=grid, training=GridTraining(LocalExecution(processes_per_run=2)))

    states = wait_for_jobs(slurm_root)
    assert [state.state for state in states] == ["finished"] * 4, [state.line() for state in states]
    for result in local:
        on_slurm = json.loads((slurm_root / "runs" / "smoke" / result.run_dir.name / METRICS_FILE).read_text())
        assert result.metrics["world_size"] == 2
        assert {key: on_slurm[key] for key in SCORES} == {key: result.metrics[key] for key in SCORES}, result.run_dir
    status = basnet("status", str(slurm_root))
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-1] == "4 finished"
    assert "finished    full-resnet18-seed1: mIoU " in status.stdout


def test_failed_jobs_are_named_and_runs_trained_by_hand_are_collected(slurm_cluster, hand_trained_root, tmp_path) -> None:
    results_root = tmp_path / "results"
    shutil.copytree(hand_trained_root, results_root)
    by_hand, failing = (results_root / "runs" / "smoke" / f"baseline-resnet18-seed{seed}" for seed in (0, 1))
    by_hand_files = snapshot(by_hand)
    failing.mkdir(parents=True)
    torch.save({"format": "another-program"}, failing / "checkpoint.pt")  # the job resumes from it, and fails
    grid = [*SMALL_GRID, "--results-root", str(results_root), "--executor", "slurm"]

    first = basnet("reproduce", *grid)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"reuse   {by_hand}\n" in first.stdout and f"submit  {failing}: job " in first.stdout
    record = json.loads((results_root / GRID_RECORD).read_text())
    assert list(record["runs"]) == [str(failing)]  # the run trained by hand is not submitted
    job_id = record["runs"][str(failing)]["job_id"]

    states = wait_for_jobs(results_root)
    assert [state.state for state in states] == ["finished", "failed"]
    status = basnet("status", str(results_root))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[1].startswith("finished    baseline-resnet18-seed0: mIoU ")
    assert lines[2].startswith(f"failed      baseline-resnet18-seed1 (job {job_id}): ")
    assert lines[2].endswith("not a BASNet training checkpoint (format 'another-program', expected 'basnet-checkpoint-v1')")
    assert lines[-1] == "1 finished, 1 failed"

    again = basnet("reproduce", *grid)  # collects: failed runs are not submitted again unless asked
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"failed  {failing} (job {job_id}): " in again.stdout and "--resubmit-failed submits it again" in again.stdout
    assert "submit  " not in again.stdout and not (results_root / "REPORT.md").exists()

    partial = basnet("reproduce", *grid, "--partial-report", "--num-images", "1")
    assert partial.returncode == 0, partial.stderr[-3000:]
    report = (results_root / "REPORT.md").read_text()
    assert "**Partial report: 1 runs of the grid are missing**" in report and "`baseline-resnet18-seed1`" in report

    resubmitted = basnet("reproduce", *grid, "--resubmit-failed")
    assert f"submit  {failing}: job " in resubmitted.stdout, resubmitted.stdout + resubmitted.stderr[-3000:]
    record = json.loads((results_root / GRID_RECORD).read_text())
    assert record["runs"][str(failing)]["earlier_job_ids"] == [job_id]
    states = wait_for_jobs(results_root)  # the new job resumes from the same checkpoint: it fails alike
    assert states[1].state == "failed" and states[1].job_id != job_id and "another-program" in states[1].detail
    assert snapshot(by_hand) == by_hand_files  # collected, reported, never retrained or rewritten


@pytest.mark.parametrize(
    ("options", "environment", "message"),
    [
        (["--partition", "nope"], {}, "sbatch refused the jobs: sbatch: error: invalid partition specified: nope"),
        (["--gpus-per-run", "1"], {}, "sbatch refused the jobs: sbatch: error: Invalid generic resource (gres) specification"),
        ([], {"PATH": "{empty}"}, "--executor slurm needs Slurm's sbatch, squeue, scontrol on PATH, not found"),
    ],
    ids=["unknown-partition", "gpus-the-node-lacks", "no-sbatch"],
)
def test_bad_input_is_one_line_and_touches_nothing_trained(
    slurm_cluster, hand_trained_root, tmp_path, options: list[str], environment: dict, message: str
) -> None:
    results_root = tmp_path / "results"
    shutil.copytree(hand_trained_root, results_root)
    before = snapshot(results_root)
    (tmp_path / "empty").mkdir()
    environment = {name: value.format(empty=tmp_path / "empty") for name, value in environment.items()}
    refused = basnet("reproduce", *SMALL_GRID, "--results-root", str(results_root), "--executor", "slurm", *options,
                     environment=environment)  # fmt: skip
    assert refused.returncode == 1
    errors = [line for line in refused.stderr.splitlines() if line.startswith("basnet: error: ")]
    assert errors == [refused.stderr.splitlines()[-1]] and "Traceback" not in refused.stderr, refused.stderr
    assert message in errors[0]
    assert snapshot(results_root) == before  # no run started or rewritten, no record, no job files
    assert not (results_root / "slurm_jobs").exists()
    assert slurm_cluster.command("squeue", "--noheader").strip() == ""


def test_status_of_a_root_with_nothing_submitted_is_one_line(slurm_cluster, hand_trained_root) -> None:
    status = basnet("status", str(hand_trained_root))
    assert status.returncode == 1
    assert status.stderr.splitlines() == [
        f"basnet: error: {hand_trained_root}: no grid was submitted to Slurm from here (no {GRID_RECORD}); "
        f"`basnet reproduce --executor slurm --results-root {hand_trained_root}` submits one"
    ]


def test_a_requeued_job_resumes_and_ends_as_an_uninterrupted_run(slurm_cluster, tmp_path) -> None:
    slurm_root, local_root = tmp_path / "slurm", tmp_path / "local"
    grid = ["--preset", "smoke", "--variants", "full", "--seeds", "0", "--iterations", "12"]
    submitted = basnet("reproduce", *grid, "--results-root", str(slurm_root), "--executor", "slurm",
                       "--processes-per-run", "2")  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    ((run_dir, entry),) = json.loads((slurm_root / GRID_RECORD).read_text())["runs"].items()
    history = Path(run_dir) / "history.csv"
    deadline = time.monotonic() + JOBS_TIMEOUT_S
    while not (history.is_file() and len(history.read_text().splitlines()) >= 4):  # iteration 3 logged
        assert time.monotonic() < deadline, slurm_cluster.log_tails()
        time.sleep(0.1)
    slurm_cluster.command("scontrol", "requeue", str(entry["job_id"]))  # SIGTERM to both tasks, then again
    # Slurm holds a requeued job back for a while before it may start again; the test need not wait.
    deadline = time.monotonic() + 60
    while "PENDING" not in slurm_cluster.command("scontrol", "show", "job", str(entry["job_id"])):
        assert time.monotonic() < deadline, slurm_cluster.log_tails()
        time.sleep(0.2)
    slurm_cluster.command("scontrol", "update", f"JobId={entry['job_id']}", "StartTime=now")

    states = wait_for_jobs(slurm_root)
    assert [state.state for state in states] == ["finished"], [state.line() for state in states]
    on_slurm = json.loads((Path(run_dir) / METRICS_FILE).read_text())
    assert 3 <= on_slurm["resumed_from"] < 12, on_slurm["resumed_from"]  # it did stop, and resumed
    grid_config = dict(preset_name="smoke", data_root="", iterations=12, results_root=local_root)
    (straight,) = train_grid(planned_runs(variants=["full"], seeds=[0], **grid_config), grid=grid_config,
                             training=GridTraining(LocalExecution(processes_per_run=2)))  # fmt: skip
    assert {key: on_slurm[key] for key in SCORES} == {key: straight.metrics[key] for key in SCORES}
    requeued_weights = torch.load(Path(run_dir) / "checkpoint.pt", weights_only=True)["model"]
    for name, tensor in torch.load(straight.run_dir / "checkpoint.pt", weights_only=True)["model"].items():
        assert torch.equal(tensor, requeued_weights[name]), name
