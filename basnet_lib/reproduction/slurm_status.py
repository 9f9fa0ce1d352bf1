"""Where each run of a grid submitted to Slurm stands: finished, running at iteration i of n,
queued, or failed with the last line of its log; ``basnet status RESULTS_ROOT``.

Slurm's queue says which jobs are waiting or running (``squeue``; ``sacct`` needs an accounting
database that many clusters, and the tests' one, lack, so submitit's ``job.state`` is not used).
A job that left the queue either finished its run (``metrics.json``) or failed: its submitit result
pickle holds the traceback, else its log says what happened.
"""

from __future__ import annotations

import argparse
import getpass
import pickle
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.history import read_history
from basnet_lib.engine.run_files import HISTORY_FILE, METRICS_FILE, load_run
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.notebooks import resolve_results_root
from basnet_lib.reproduction.progress import metrics_text
from basnet_lib.reproduction.slurm_submission import (
    GRID_RECORD,
    SlurmSubmissionError,
    check_slurm_available,
    node_run_config,
    read_grid_record,
)

# squeue's states of a job that holds its nodes; every other state in the queue is waiting.
RUNNING_STATES = ("RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SIGNALING", "RESIZING")


@dataclass(frozen=True)
class RunState:
    """One run of the grid: ``state`` is ``finished``, ``damaged`` (finished, but a file of it does
    not hold what it must), ``running``, ``queued``, ``failed`` or ``unsubmitted`` (unfinished and
    never submitted); ``detail`` says more in a few words."""

    run: RunConfig
    state: str
    detail: str = ""
    job_id: str = ""

    def line(self) -> str:
        """``basnet status``'s line: the state, the run's name, its job and the detail."""
        return f"{self.state:<11} {self.about(self.run.run_name)}"

    def about(self, name: str | Path) -> str:
        """``name (job 7_2): detail``."""
        job = f" (job {self.job_id})" if self.job_id else ""
        return f"{name}{job}{': ' + self.detail if self.detail else ''}"


def run_states(runs: list[RunConfig], record: dict | None) -> list[RunState]:
    """The state of every run of ``runs`` from Slurm's queue, then the run directories and the job
    files (in that order, so that a job leaving the queue meanwhile is seen finished, not lost)."""
    queue = slurm_queue()
    jobs = (record or {}).get("runs", {})
    folder = Path((record or {}).get("jobs_folder", "."))
    return [_run_state(run, jobs.get(str(node_run_config(run).run_dir)), queue, folder) for run in runs]


def _run_state(run: RunConfig, job: dict | None, queue: dict[str, tuple[str, str]], folder: Path) -> RunState:
    run_dir = node_run_config(run).run_dir
    if (run_dir / METRICS_FILE).is_file():
        try:
            return RunState(run, "finished", metrics_text(load_run(run_dir).metrics))
        except (ValueError, FileNotFoundError) as error:  # a file of the run that does not hold what it must
            return RunState(run, "damaged", f"{error}; retrain it with --overwrite, or remove {run_dir}")
    if job is None:
        return RunState(run, "unsubmitted")
    job_id = job["job_id"]
    if job_id in queue:
        state, reason = queue[job_id]
        if state in RUNNING_STATES:
            return RunState(run, "running", _progress_text(run, run_dir), job_id)
        waiting = state.lower() + (f", {reason}" if reason and reason != "None" else "")
        return RunState(run, "queued", waiting, job_id)
    return RunState(run, "failed", failure_line(folder, job_id), job_id)


def _progress_text(run: RunConfig, run_dir: Path) -> str:
    rows = read_history(run_dir / HISTORY_FILE, up_to_iteration=run.train.iterations)
    if not rows:
        return f"starting, {run.train.iterations} iterations to train"
    return f"at iteration {int(rows[-1]['iteration'])} of {run.train.iterations}"


def slurm_queue() -> dict[str, tuple[str, str]]:
    """This user's jobs in Slurm's queue: ``{job id: (state, reason)}``, each array task on its own
    (``7_2``, not ``7_[2-5]``)."""
    command = ["squeue", "--noheader", "--array", "--user", getpass.getuser(), "--format", "%i|%T|%r"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if finished.returncode != 0:
        said = [line for line in finished.stderr.splitlines() if line.strip()] or [f"exit status {finished.returncode}"]
        raise SlurmSubmissionError(f"Slurm's queue could not be read (squeue: {said[-1].strip()})")
    queue = {}
    for line in finished.stdout.splitlines():
        job_id, state, reason = ([*line.strip().split("|", 2), "", ""])[:3]
        if job_id:
            queue[job_id] = (state, reason)
    return queue


def failure_line(folder: Path, job_id: str) -> str:
    """Why a job that left the queue without finishing its run ended, in one line: the last line of
    its traceback (submitit's result pickle), else what the job returned (a run stopped by a signal),
    else Slurm's end state (``scontrol``, while the controller still remembers the job) and the last
    line of its log."""
    import submitit

    paths = submitit.core.utils.JobPaths(folder, job_id=job_id, task_id=0)
    if paths.result_pickle.is_file():
        try:
            with open(paths.result_pickle, "rb") as handle:
                outcome, value = pickle.load(handle)
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError) as error:  # cut short, or not a pair
            return f"{paths.result_pickle}: not a readable job result ({type(error).__name__}: {error})"
        if outcome == "error":
            return _last_line(str(value))
        return f"the job ended without finishing the run ({value})"
    state = _ended_job_state(job_id)
    log_line = _last_line(paths.stderr.read_text(errors="replace")) if paths.stderr.is_file() else ""
    said = f"; its log ends: {log_line}" if log_line else f"; no log at {paths.stderr}"
    return f"{state or 'the job left the queue without a result'}{said}"


def _ended_job_state(job_id: str) -> str:
    """Slurm's end state of a job (``TIMEOUT``, ``CANCELLED`` …; "" when forgotten or unknown)."""
    try:
        output = subprocess.run(
            ["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    match = re.search(r"\bJobState=(\S+)", output)
    return f"Slurm says {match.group(1)}" if match else ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def state_counts(states: list[RunState]) -> str:
    """``2 finished, 1 running, 1 queued, 1 failed`` (states with no run left out)."""
    order = ("finished", "damaged", "running", "queued", "failed", "unsubmitted")
    counts = [(name, sum(state.state == name for state in states)) for name in order]
    return ", ".join(f"{count} {name}" for name, count in counts if count)


def grid_status(results_root: str | Path) -> tuple[dict, list[RunState]]:
    """The record of the grid submitted from ``results_root`` and the state of each of its runs."""
    results_root = resolve_results_root(results_root)
    record = read_grid_record(results_root)
    if record is None:
        raise FileNotFoundError(
            f"{results_root}: no grid was submitted to Slurm from here (no {GRID_RECORD}); "
            f"`basnet reproduce --executor slurm --results-root {results_root}` submits one"
        )
    check_slurm_available()
    return record, run_states(planned_runs(**record["grid"]), record)


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    """``basnet status``'s argument, and its handler (:func:`status_command`)."""
    parser.add_argument("results_root", help="the --results-root the grid was submitted with")
    parser.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    """``basnet status RESULTS_ROOT``: a line per run of the recorded grid, then the counts."""
    record, states = grid_status(args.results_root)
    grid = record["grid"]
    print(f"{grid['preset_name']} grid of {len(states)} runs from {grid['results_root']}; "
          f"job files in {record['jobs_folder']}", flush=True)  # fmt: skip
    for state in states:
        print(state.line(), flush=True)
    print(state_counts(states), flush=True)
    return 0
