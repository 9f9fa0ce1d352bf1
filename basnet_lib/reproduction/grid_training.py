"""A grid's unfinished runs trained by the executor asked for: on this machine (the training notebook
per run, or torchrun with N GPUs or CPU processes per run), or submitted to Slurm and collected by a
later call (``basnet reproduce`` and notebook 03 call :func:`train_grid`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.run_files import RunResult, load_run
from basnet_lib.reproduction.executors import LocalExecution, SlurmExecution
from basnet_lib.reproduction.experiments import (
    finished_results,
    report_reused,
    train_unfinished_runs_in_notebooks,
    unfinished_runs,
)
from basnet_lib.reproduction.local_training import (
    TrainingProcess,
    local_slots,
    start_torchrun,
    train_in_processes,
)
from basnet_lib.reproduction.notebooks import resolve_results_root
from basnet_lib.reproduction.slurm_status import RunState, run_states, state_counts
from basnet_lib.reproduction.slurm_submission import (
    GRID_RECORD,
    JOBS_DIR,
    check_results_root,
    check_slurm_available,
    read_grid_record,
    record_submission,
    submit_runs,
)


@dataclass(frozen=True)
class GridTraining:
    """How a grid is trained: where (``execution``), whether failed Slurm jobs are submitted again,
    and whether a report may use the finished runs only (``partial``)."""

    execution: LocalExecution | SlurmExecution = field(default_factory=LocalExecution)
    resubmit_failed: bool = False
    partial: bool = False


class GridUnfinished(RuntimeError):
    """Some runs of a grid submitted to Slurm are not finished yet (the message says which)."""


def train_grid(
    runs: list[RunConfig], *, grid: dict, training: GridTraining | None = None, progress: bool = False
) -> list[RunResult]:
    """The finished runs of ``runs`` once ``training.execution`` has trained (or submitted) the
    unfinished ones.

    ``grid``: the keyword arguments of :func:`~basnet_lib.reproduction.experiments.planned_runs` that
    made ``runs`` (preset, data root, iterations, results root), which the training commands repeat.
    Locally every run is trained before this returns. With Slurm the unfinished runs are submitted
    (:func:`submit_or_collect`) and only the finished ones returned when ``training.partial``;
    otherwise an unfinished run raises :class:`GridUnfinished`, naming the runs. ``partial`` with
    the local executor trains nothing: the finished runs are returned as they are.
    """
    training = training or GridTraining()
    execution = training.execution
    if isinstance(execution, SlurmExecution):
        states = submit_or_collect(runs, grid=grid, execution=execution, resubmit_failed=training.resubmit_failed)
        unfinished = [state for state in states if state.state != "finished"]
        if unfinished and not training.partial:
            raise GridUnfinished(unfinished_message(states, grid))
        return [load_run(state.run.run_dir) for state in states if state.state == "finished"]
    if training.partial:
        return finished_results(runs)
    if not execution.uses_torchrun:
        return train_unfinished_runs_in_notebooks(runs, **grid, progress=progress)
    todo = unfinished_runs(runs)
    report_reused(runs, todo)
    slots = local_slots(todo, gpus_per_run=execution.gpus_per_run, processes_per_run=execution.processes_per_run)

    def start(run: RunConfig, slot: int) -> TrainingProcess:
        return start_torchrun(run, slot, grid=grid, gpus_per_run=execution.gpus_per_run,
                              processes_per_run=execution.processes_per_run)  # fmt: skip

    train_in_processes(runs, todo, start=start, slots=slots, progress=progress)
    return [load_run(run.run_dir) for run in runs]


def submit_or_collect(
    runs: list[RunConfig], *, grid: dict, execution: SlurmExecution, resubmit_failed: bool
) -> list[RunState]:
    """Submit every run of ``runs`` that is neither finished nor in Slurm's queue, and (with
    ``resubmit_failed``) every failed one, as one job array; one line per run. Returns each run's
    state after the submission."""
    check_slurm_available()
    results_root = resolve_results_root(grid["results_root"])
    check_results_root(results_root)
    record = read_grid_record(results_root)
    unfinished_runs(runs)  # a finished run of another config or data is an error naming it, before any submission
    states = run_states(runs, record)
    to_submit = []
    for state in states:
        if state.state == "finished":
            print(f"reuse   {state.run.run_dir}", flush=True)
        elif state.state == "unsubmitted" or (state.state == "failed" and resubmit_failed):
            to_submit.append(state.run)
        elif state.state == "failed":
            print(f"failed  {state.about(state.run.run_dir)}; --resubmit-failed submits it again", flush=True)
        else:
            print(f"wait    {state.about(state.run.run_dir)}", flush=True)
    if to_submit:
        job_name = f"basnet-{grid['preset_name']}"
        job_ids = submit_runs(to_submit, execution, results_root=results_root, job_name=job_name)
        record_submission(results_root, grid=recorded_grid(grid, runs), runs=to_submit, job_ids=job_ids, record=record)
        for run, job_id in zip(to_submit, job_ids, strict=True):
            print(f"submit  {run.run_dir}: job {job_id}", flush=True)
        print(f"submitted {len(to_submit)} runs as Slurm job {job_ids[0].split('_')[0]}; logs: "
              f"{results_root / JOBS_DIR}/<job id>_<task>_log.out|err; recorded in {results_root / GRID_RECORD}",
              flush=True)  # fmt: skip
        states = run_states(runs, read_grid_record(results_root))
    return states


def unfinished_message(states: list[RunState], grid: dict) -> str:
    """What a caller is told while runs of the grid are unfinished: how many, which, and how to go on."""
    unfinished = [state.run.run_name for state in states if state.state != "finished"]
    root = resolve_results_root(grid["results_root"])
    return (
        f"{len(unfinished)} of {len(states)} runs not finished ({state_counts(states)}): "
        f"{', '.join(unfinished)}; `basnet status {root}` follows them, the same command again collects "
        "them, --partial-report reports the finished ones now"
    )


def recorded_grid(grid: dict, runs: list[RunConfig]) -> dict:
    """The grid's settings as the record keeps them: ``basnet status`` plans the same runs from them
    with :func:`~basnet_lib.reproduction.experiments.planned_runs`."""
    return {
        "preset_name": grid["preset_name"],
        "variants": list(dict.fromkeys(run.model.variant for run in runs)),
        "backbones": list(dict.fromkeys(run.model.backbone for run in runs)),
        "seeds": list(dict.fromkeys(run.train.seed for run in runs)),
        "data_root": grid.get("data_root", ""),
        "iterations": grid.get("iterations", 0),
        "results_root": str(resolve_results_root(grid["results_root"])),
    }
