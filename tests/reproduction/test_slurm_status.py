"""What ``basnet status`` says about a run, from a given queue and the files a job leaves, without a
cluster: running at iteration i of n, queued with Slurm's reason, finished, failed with the last
line of its traceback or log. The same on a real cluster: tests/reproduction/test_slurm_grid.py."""

from __future__ import annotations

import json
import pickle

import pytest
from finished_runs import write_finished_run

from basnet_lib.cli import main
from basnet_lib.engine.history import write_history
from basnet_lib.engine.run_files import HISTORY_FILE, METRICS_FILE
from basnet_lib.reproduction.experiments import planned_run
from basnet_lib.reproduction.slurm_status import RunState, _run_state, state_counts
from basnet_lib.reproduction.slurm_submission import GRID_RECORD

JOB = {"run_name": "ssb-resnet18-seed0", "job_id": "7_2", "submitted": "", "earlier_job_ids": []}
ROW = {"iteration": 3, "seg": 1.0, "edge": 0.0, "probes": 0.0, "total": 1.0, "lr": 0.01, "images_per_second": 2.0,
       "elapsed_seconds": 1.0}  # fmt: skip


def _run(tmp_path):
    run = planned_run(preset_name="smoke", variant="ssb", results_root=tmp_path)
    run.run_dir.mkdir(parents=True)
    return run


def test_a_job_in_the_queue_is_queued_or_running_at_its_iteration(tmp_path) -> None:
    run = _run(tmp_path)
    pending = _run_state(run, JOB, {"7_2": ("PENDING", "JobArrayTaskLimit")}, tmp_path)
    assert pending.line() == "queued      ssb-resnet18-seed0 (job 7_2): pending, JobArrayTaskLimit"
    starting = _run_state(run, JOB, {"7_2": ("RUNNING", "None")}, tmp_path)
    assert (starting.state, starting.detail) == ("running", "starting, 6 iterations to train")
    write_history(run.run_dir / HISTORY_FILE, [ROW])
    running = _run_state(run, JOB, {"7_2": ("COMPLETING", "None")}, tmp_path)
    assert running.line() == "running     ssb-resnet18-seed0 (job 7_2): at iteration 3 of 6"


def test_finished_and_unsubmitted_runs(tmp_path) -> None:
    run = _run(tmp_path)
    assert _run_state(run, None, {}, tmp_path).line() == "unsubmitted ssb-resnet18-seed0"
    write_finished_run(run, miou=0.25, boundary_f=(0.5, 0.6, 0.7))
    finished = _run_state(run, JOB, {"7_2": ("RUNNING", "None")}, tmp_path)  # its files decide, not the queue
    assert finished.line() == "finished    ssb-resnet18-seed0: mIoU 25.00%, boundary F 50.0/60.0/70.0% (3/5/9 px)"


def test_a_finished_run_whose_metrics_are_damaged_is_told_apart(tmp_path) -> None:
    run = _run(tmp_path)
    write_finished_run(run)
    metrics = json.loads((run.run_dir / METRICS_FILE).read_text())
    (run.run_dir / METRICS_FILE).write_text(json.dumps({**metrics, "mIoU": float("nan")}))
    damaged = _run_state(run, JOB, {}, tmp_path)
    assert damaged.state == "damaged"
    assert damaged.detail.startswith(f"{run.run_dir / METRICS_FILE}: 'mIoU' is nan")
    assert "--overwrite" in damaged.detail
    assert state_counts([damaged]) == "1 damaged"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ('{"grid": {"preset_name": "smoke"', "not valid JSON"),
        ("[]", "a JSON list, expected an object"),
        ('{"grid": {}, "runs": {}, "jobs_folder": "x"}', "its grid has the keys []"),
    ],
)
def test_a_damaged_grid_record_is_an_error_naming_it(tmp_path, capsys, content, said) -> None:
    (tmp_path / GRID_RECORD).write_text(content)
    assert main(["status", str(tmp_path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"basnet: error: {tmp_path / GRID_RECORD}: ") and said in line


def test_a_job_out_of_the_queue_without_metrics_failed_with_its_last_line(tmp_path) -> None:
    run = _run(tmp_path)
    no_files = _run_state(run, JOB, {}, tmp_path)
    assert no_files.state == "failed" and f"no log at {tmp_path / '7_2_0_log.err'}" in no_files.detail
    (tmp_path / "7_2_0_log.err").write_text("srun: error: starting\nslurmstepd: error: *** JOB 7 CANCELLED ***\n\n")
    assert _run_state(run, JOB, {}, tmp_path).detail.endswith("its log ends: slurmstepd: error: *** JOB 7 CANCELLED ***")
    traceback = "Traceback (most recent call last):\n  ...\nValueError: data root /data: not found\n"
    (tmp_path / "7_2_0_result.pkl").write_bytes(pickle.dumps(("error", traceback)))
    assert _run_state(run, JOB, {}, tmp_path).line() == (
        "failed      ssb-resnet18-seed0 (job 7_2): ValueError: data root /data: not found"
    )
    (tmp_path / "7_2_0_result.pkl").write_bytes(pickle.dumps(("success", "stopped by SIGTERM")))
    assert _run_state(run, JOB, {}, tmp_path).detail == "the job ended without finishing the run (stopped by SIGTERM)"


def test_the_counts_line() -> None:
    run = planned_run(preset_name="smoke", variant="ssb")
    states = [RunState(run, "finished"), RunState(run, "failed"), RunState(run, "finished"), RunState(run, "queued")]
    assert state_counts(states) == "2 finished, 1 queued, 1 failed"


def test_a_damaged_job_result_is_named(tmp_path) -> None:
    run = _run(tmp_path)
    result = tmp_path / "7_2_0_result.pkl"
    result.write_bytes(pickle.dumps(("error", "ValueError: x"))[:-3])  # cut short, as by a full disk
    failed = _run_state(run, JOB, {}, tmp_path)
    assert failed.state == "failed" and failed.detail.startswith(f"{result}: not a readable job result (")
