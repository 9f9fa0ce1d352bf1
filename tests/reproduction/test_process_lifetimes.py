"""Every process ``basnet reproduce`` starts ends with it, and it writes nothing into what another
process owns (issue "Nothing lost, nothing silently wrong, round two", cases 4 and 7;
basnet_lib.reproduction.processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from basnet_lib.engine.checkpoint import load_checkpoint
from basnet_lib.engine.run_lock import RunLock, RunLockedError
from basnet_lib.reproduction.experiments import planned_run, train_unfinished_runs_in_notebooks
from basnet_lib.reproduction.invocations import read_invocations
from basnet_lib.reproduction.local_training import TrainingProcess, start_torchrun, train_in_processes
from basnet_lib.reproduction.notebooks import (
    notebook_command,
    project_directory,
    training_notebook_command,
    training_notebook_parameters,
)
from basnet_lib.reproduction.processes import (
    CommandStopped,
    start_process,
    stop_processes,
    stopped_by_signals,
    wait_for,
)
from basnet_lib.reproduction.reproduce import ResultsRootLock

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="follows processes through /proc (Linux)")

# A child that, asked to stop, finishes its work first (as a run writes its checkpoint), and one that
# ignores SIGTERM and has a child of its own doing the same.
POLITE = """
import pathlib, signal, sys, time
def stop(signum, frame):
    time.sleep(0.3)
    pathlib.Path(sys.argv[1]).write_text("checkpoint")
    sys.exit(75)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(600)
"""
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
print("ready", child.pid, flush=True)
time.sleep(600)
"""


def _start(script: str, log: Path, *args: str) -> subprocess.Popen:
    process = start_process([sys.executable, "-c", script, *args], log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "ready" not in log.read_text():
        time.sleep(0.05)
    return process


HOLDER = """
import pathlib, sys, time
from basnet_lib.engine.run_lock import RunLock
from basnet_lib.reproduction.reproduce import ResultsRootLock
with {"RunLock": RunLock, "ResultsRootLock": ResultsRootLock}[sys.argv[1]](sys.argv[2]):
    print("ready", flush=True)
    time.sleep(600)
"""


def _hold(log: Path, lock: type, folder: Path) -> subprocess.Popen:
    """Another process holding ``lock`` on ``folder`` until it is stopped."""
    return _start(HOLDER, log, lock.__name__, str(folder))


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its text, lock files aside."""
    return {str(path): path.read_text() for path in folder.rglob("*") if path.is_file() and not path.name.endswith(".lock")}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, theirs, ...), whatever session they are in."""
    parents = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        parents[int(status.parent.name)] = int(ppid.split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_stopped_children_finish_their_work_and_the_stubborn_are_killed_with_their_group(tmp_path, capfd) -> None:
    polite = _start(POLITE, tmp_path / "polite.log", str(tmp_path / "marker"))
    stubborn = _start(STUBBORN, tmp_path / "stubborn.log")
    grandchild = int((tmp_path / "stubborn.log").read_text().split()[1])
    assert os.getsid(polite.pid) == polite.pid  # a session of its own: a terminal's Ctrl-C reaches the command alone
    stop_processes([polite, stubborn], grace=2)
    assert polite.returncode == 75 and (tmp_path / "marker").read_text() == "checkpoint"
    assert stubborn.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)  # killed with its parent's process group
    assert "1 process(es) did not end within 2 s of SIGTERM and were killed" in capfd.readouterr().err


def test_a_grid_stopped_while_its_runs_train_lets_them_finish_their_step(tmp_path) -> None:
    runs = [planned_run(preset_name="smoke", variant=variant, results_root=tmp_path) for variant in ("baseline", "ssb")]

    def start(run, slot: int) -> TrainingProcess:
        if slot == 1:  # the command is stopped (a signal's CommandStopped) while the first run trains
            raise CommandStopped(signal.SIGTERM)
        log = tmp_path / "first.log"
        return TrainingProcess(run=run, process=_start(POLITE, log, str(tmp_path / "marker")), log=log, slot=slot)

    with pytest.raises(CommandStopped):
        train_in_processes(runs, runs, start=start, slots=2, progress=False)
    assert (tmp_path / "marker").read_text() == "checkpoint"  # asked to stop, not killed


def test_a_signal_to_the_command_stops_the_child_it_waits_for(tmp_path) -> None:
    child = _start(POLITE, tmp_path / "child.log", str(tmp_path / "marker"))
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    with stopped_by_signals(), pytest.raises(CommandStopped) as stopped:
        timer.start()
        wait_for(child)
    assert stopped.value.exit_status == 128 + signal.SIGTERM and "stopped by SIGTERM" in str(stopped.value)
    assert child.returncode == 75 and (tmp_path / "marker").read_text() == "checkpoint"
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers are the command's only while it runs


def test_a_run_directory_held_by_another_process_is_refused_before_anything_is_written_into_it(tmp_path) -> None:
    run = planned_run(preset_name="smoke", variant="baseline", results_root=tmp_path, iterations=2)
    run_dir = project_directory() / run.run_dir
    run_dir.mkdir(parents=True)
    for name in ("papermill.log", "torchrun.log", "02_training.ipynb"):
        (run_dir / name).write_text(f"the owner's {name}\n")
    grid = dict(preset_name="smoke", iterations=2, results_root=tmp_path)
    holder = _hold(tmp_path / "holder.log", RunLock, run_dir)  # another process trains the run
    before = _files(tmp_path)
    try:
        in_use = rf"{run_dir} is in use by process {holder.pid} .*; wait for it to end"
        with pytest.raises(RunLockedError, match=in_use):
            train_unfinished_runs_in_notebooks([run], **grid)
        with pytest.raises(RunLockedError, match=in_use):
            start_torchrun(run, 0, grid=grid, gpus_per_run=0, processes_per_run=2)
        assert _files(tmp_path) == before
    finally:
        stop_processes([holder], grace=5)


def test_a_second_reproduce_on_the_same_results_root_stops_in_one_line_before_writing(tmp_path) -> None:
    results = tmp_path / "results"
    run = planned_run(preset_name="smoke", variant="baseline", results_root=results, iterations=2)
    run_dir = project_directory() / run.run_dir
    run_dir.mkdir(parents=True)
    (run_dir / "papermill.log").write_text("the first reproduction's training log\n")
    before = _files(results)
    holder = _hold(tmp_path / "holder.log", ResultsRootLock, results)  # the first reproduction, still running
    try:
        command = [sys.executable, "-m", "basnet_lib.cli", "reproduce", "--preset", "smoke", "--variants", "baseline",
                   "--seeds", "0", "--iterations", "2", "--results-root", str(results)]  # fmt: skip
        second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert _files(results) == before  # nothing written, the first one's log included
    finally:
        stop_processes([holder], grace=5)
    assert second.returncode == 1, second.stderr[-3000:]
    assert second.stderr.count("\n") == 1, second.stderr[-3000:]
    assert second.stderr.startswith(f"basnet: error: {results} is in use by process {holder.pid} on ")
    assert "another --results-root" in second.stderr


def test_a_failed_notebook_is_one_line_naming_its_cell_and_its_executed_copy(tmp_path) -> None:
    output = tmp_path / "02_training.ipynb"
    parameters = {"preset": "smoke", "data_root": str(tmp_path / "nowhere"), "results_root": str(tmp_path)}
    finished = subprocess.run(notebook_command("02_training.ipynb", output, parameters), cwd=ROOT,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr, finished.stderr[-3000:]
    line = finished.stderr.strip().splitlines()[-1]
    assert line.startswith("python -m basnet_lib.reproduction.notebooks: error: 02_training.ipynb failed in cell [")
    assert f"{tmp_path / 'nowhere'}" in line and line.endswith(f"(the executed notebook: {output})")


def test_sigterm_to_reproduce_ends_every_process_it_started_and_the_run_resumes(tmp_path) -> None:
    results = tmp_path / "results"
    iterations = 30
    command = [sys.executable, "-m", "basnet_lib.cli", "reproduce", "--preset", "smoke", "--variants", "baseline",
               "--seeds", "0", "--iterations", str(iterations), "--num-images", "1", "--results-root", str(results)]  # fmt: skip
    run = planned_run(preset_name="smoke", variant="baseline", results_root=results, iterations=iterations)
    run_dir = project_directory() / run.run_dir
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoint.pt").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    started = _descendants(process.pid)  # the training notebook's process and its kernel
    assert len(started) >= 2, (started, process.poll())
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=150)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("basnet: stopped by SIGTERM; every process it started has ended")
    assert "Traceback" not in err
    assert not [pid for pid in started if _alive(pid)]
    # The run finished its step and wrote a checkpoint there (not only every 3 steps), then released
    # its lock: it ended, not killed.
    stopped_at = load_checkpoint(run_dir / "checkpoint.pt")["iteration"]
    assert 0 < stopped_at < iterations and not (run_dir / "metrics.json").exists()
    assert int(pd.read_csv(run_dir / "history.csv")["iteration"].iloc[-1]) == stopped_at
    assert not (results / "reproduce.lock").exists() and not (run_dir / "run.lock").exists()
    # Its time is recorded, marked as stopped: no run finished, the one in training had not.
    [record] = read_invocations(results)
    assert record["finished"].endswith(" UTC (stopped by SIGTERM before its report)"), record["finished"]
    assert (record["trained_runs"], record["total_runs"]) == (0, 1) and record["wall_minutes"] >= 0

    # What the same command runs next for this run: the training notebook, which resumes it.
    parameters = training_notebook_parameters(run, preset_name="smoke", iterations=iterations, results_root=results)
    resumed = subprocess.run(training_notebook_command(run, parameters), cwd=ROOT, capture_output=True, text=True,
                             timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["resumed_from"] == stopped_at
