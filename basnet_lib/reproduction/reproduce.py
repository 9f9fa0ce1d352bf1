"""The main job, ``basnet reproduce``: every notebook of the reproduction, then ``REPORT.md``.

Steps: make sure the dataset exists (SynthCity is generated if missing), execute ``01`` (architecture),
``03`` (Table 1; it trains each missing run by executing ``02``), ``04`` (Table 3) and ``05``
(Figs. 4/6/7) with papermill into ``{results_root}/notebooks/``, each in a process of its own (its
output in ``NN_name.log`` beside it), then write ``{results_root}/REPORT.md``. One reproduction at a
time writes into a results root (:class:`ResultsRootLock`); every process it starts ends with it
(:mod:`basnet_lib.reproduction.processes`). ``results_root`` is ``results/`` for the ``cpu`` preset (the
committed report) and ``results/<preset>/`` for the others, so a smoke or paper run never
overwrites it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from basnet_lib.data.build import dataset_root
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.presets import default_results_root
from basnet_lib.engine.run_lock import RunLock
from basnet_lib.model import variant_names
from basnet_lib.reproduction.cpu_clock import CpuClock, other_processes_cpu_share
from basnet_lib.reproduction.environment import environment_record
from basnet_lib.reproduction.executors import (
    SlurmExecution,
    execution_parameters,
)
from basnet_lib.reproduction.experiments import parallel_runs, planned_run, planned_runs, unfinished_runs
from basnet_lib.reproduction.grid_training import GridTraining, GridUnfinished, train_grid
from basnet_lib.reproduction.invocations import NOTEBOOKS_OUT_DIR, read_invocations, record_invocation
from basnet_lib.reproduction.local_training import local_slots
from basnet_lib.reproduction.notebooks import execute_notebook_in_process_of_its_own, resolve_results_root
from basnet_lib.reproduction.report import ReproductionSettings, write_report
from basnet_lib.reproduction.slurm_submission import check_slurm_available

# Three seeds: the fewest for which a paired difference has a confidence interval with
# spread measured on more than one degree of freedom (docs/decisions.md "Verdicts").
DEFAULT_SEEDS = (0, 1, 2)
NOTEBOOKS = (
    "01_architecture.ipynb",
    "03_table1_ablations.ipynb",
    "04_table3_fscore.ipynb",
    "05_figures.ipynb",
)


def reproduce(
    *,
    preset_name: str = "cpu",
    variants: tuple[str, ...] = (),
    backbones: tuple[str, ...] = (),
    seeds: tuple[int, ...] = DEFAULT_SEEDS,
    data_root: str = "",
    iterations: int = 0,
    results_root: str | Path = "",
    num_images: int = 3,
    command: str = "",
    training: GridTraining | None = None,
) -> Path | None:
    """Run the whole reproduction; return the path of ``REPORT.md``.

    ``variants=()`` means every variant of the table; ``backbones=()`` the preset's;
    ``iterations=0`` the preset's schedule. ``training`` says where the runs train (None: on this
    machine, side by side): with Slurm the unfinished runs are submitted and, until every run is
    finished, None is returned without a report, unless a partial report is asked for (it names
    the missing runs); docs/usage.md "The grid on a Slurm cluster".
    """
    started, cpu_at_start = time.perf_counter(), CpuClock.now()
    training = training or GridTraining()
    if isinstance(training.execution, SlurmExecution):
        check_slurm_available()  # before the dataset is generated
    results_root = resolve_results_root(results_root or default_results_root(preset_name))
    read_invocations(results_root)  # a damaged record stops the command now, not after the training
    settings = ReproductionSettings(
        preset=preset_name,
        variants=tuple(variants) or variant_names(),
        backbones=tuple(backbones),
        seeds=tuple(seeds),
        data_root=data_root,
        iterations=iterations,
        command=command or f"basnet reproduce --preset {preset_name}",
    )
    # One reproduction per results root: a second one would write the same report, notebooks and runs.
    with ResultsRootLock(results_root):
        return _reproduce(settings, results_root, training, num_images=num_images, clocks=(started, cpu_at_start))


def _reproduce(
    settings: ReproductionSettings,
    results_root: Path,
    training: GridTraining,
    *,
    num_images: int,
    clocks: tuple[float, CpuClock],
) -> Path | None:
    """:func:`reproduce` once its settings are made and its results root is locked; ``clocks``: the
    wall and CPU clocks at its start."""
    first_run = planned_run(preset_name=settings.preset, variant=settings.variants[0], backbone=_backbone(settings),
                            data_root=settings.data_root)  # fmt: skip
    print(f"dataset: {dataset_root(first_run.data, progress=False)}", flush=True)
    grid = dict(preset_name=settings.preset, data_root=settings.data_root, iterations=settings.iterations,
                results_root=results_root)  # fmt: skip
    grid_runs = planned_runs(variants=settings.variants, backbones=settings.backbones, seeds=settings.seeds, **grid)
    unfinished_at_start = len(unfinished_runs(grid_runs))
    try:
        missing = _train_grid(grid_runs, grid, training, to_train=unfinished_at_start)
        if missing is None:
            return None
        settings = dataclasses.replace(settings, missing_runs=missing)
        parameters = parameter_values_per_notebook(settings, results_root, num_images=num_images, training=training)
        notebook_seconds = _execute_notebooks(parameters, results_root)
    except KeyboardInterrupt as stopped:  # a signal to the command (CommandStopped) or Ctrl-C
        # The hours a stopped invocation trained belong to the main job's time: record them.
        how = f"stopped by {getattr(stopped, 'signal_name', 'Ctrl-C')} before its report"
        finished_now = unfinished_at_start - len(unfinished_runs(grid_runs))
        _record(results_root, clocks, trained_runs=finished_now, total_runs=len(grid_runs), stopped=how)
        raise
    # Locally every unfinished run has trained by now; on Slurm they were submitted.
    _record(results_root, clocks, trained_runs=unfinished_at_start, total_runs=len(grid_runs))
    report = write_report(results_root, settings=settings, notebook_seconds=notebook_seconds)
    print(f"wrote {report}", flush=True)
    return report


def _record(results_root: Path, clocks: tuple[float, CpuClock], *, trained_runs: int, total_runs: int,
            stopped: str = "") -> None:  # fmt: skip
    """Append this invocation, timed from ``clocks`` (its start), to ``invocations.json``."""
    started, cpu_at_start = clocks
    wall_seconds = time.perf_counter() - started
    other_cpu_share = other_processes_cpu_share(
        cpu_at_start, CpuClock.now(), wall_seconds=wall_seconds, cpus=os.cpu_count() or 1
    )
    record_invocation(results_root, wall_seconds=wall_seconds, trained_runs=trained_runs, total_runs=total_runs,
                      other_cpu_share=other_cpu_share, environment=environment_record(), stopped=stopped)  # fmt: skip


class ResultsRootLock(RunLock):
    """The lock of a results root while ``basnet reproduce`` writes into it (``reproduce.lock``):
    its report, notebooks, ``invocations.json``, grid record and runs."""

    file_name = "reproduce.lock"
    folder = "results root"
    advice = "wait for it to end or stop it, or pass another --results-root"


def _execute_notebooks(parameters: dict[str, dict[str, object]], results_root: Path) -> dict[str, float]:
    """Execute every notebook of :data:`NOTEBOOKS` into ``{results_root}/notebooks/``; their seconds."""
    notebook_seconds = {}
    for name in NOTEBOOKS:
        output_path = results_root / NOTEBOOKS_OUT_DIR / name
        print(f"executing {name} -> {output_path}", flush=True)
        notebook_seconds[name] = execute_notebook_in_process_of_its_own(name, output_path, parameters=parameters[name])
        print(f"  done in {notebook_seconds[name]:.0f} s", flush=True)
    return notebook_seconds


def parameter_values_per_notebook(
    settings: ReproductionSettings,
    results_root: Path,
    *,
    num_images: int,
    training: GridTraining | None = None,
) -> dict[str, dict[str, object]]:
    """The parameter values papermill gives each notebook of :data:`NOTEBOOKS`, ``{notebook: {name:
    value}}`` (each checked against the notebook's parameters cell when it is executed). Notebook 03
    is told the executor and its options; 03, 04 and 05 whether the report is partial."""
    training = training or GridTraining()
    grid_values = {
        "preset": settings.preset,
        "variants": list(settings.variants),
        "backbones": list(settings.backbones),
        "seeds": list(settings.seeds),
        "data_root": settings.data_root,
        "iterations": settings.iterations,
        "results_root": str(results_root),
        "partial": training.partial,
    }
    table1_values = {
        **grid_values,
        **execution_parameters(training.execution),
        "resubmit_failed": training.resubmit_failed,
    }
    return {
        "01_architecture.ipynb": {
            "preset": settings.preset,
            "backbone": _backbone(settings),
            "variants": list(settings.variants),
            "data_root": settings.data_root,
            "results_root": str(results_root),
        },
        "03_table1_ablations.ipynb": table1_values,
        "04_table3_fscore.ipynb": grid_values,
        "05_figures.ipynb": {
            **{key: value for key, value in grid_values.items() if key not in ("backbones", "seeds")},
            "backbone": _backbone(settings),
            "seed": settings.seeds[0],
            "num_images": num_images,
            "widgets": False,
        },
    }


def _train_grid(
    grid_runs: list[RunConfig], grid: dict, how: GridTraining, *, to_train: int
) -> tuple[str, ...] | None:
    """Train the grid's ``to_train`` unfinished runs first (side by side where the preset allows, one
    progress bar over the grid and a line per finished run on the terminal) or submit them to Slurm;
    notebook 03 then finds every run finished and reuses it. ``grid``: the keyword arguments of
    ``planned_runs`` that made ``grid_runs``. Returns the missing runs' names: None when runs are
    unfinished and no partial report was asked for (no report then)."""
    if isinstance(how.execution, SlurmExecution):
        print(f"{to_train} of {len(grid_runs)} runs to train, as Slurm jobs", flush=True)
    else:
        slots = (
            parallel_runs(grid_runs)
            if not how.execution.uses_torchrun
            else local_slots(
                grid_runs,
                gpus_per_run=how.execution.gpus_per_run,
                processes_per_run=how.execution.processes_per_run,
            )
        )
        print(f"training {to_train} of {len(grid_runs)} runs, {slots} at a time", flush=True)
    try:
        finished = train_grid(grid_runs, grid=grid, training=how, progress=True)
    except GridUnfinished as unfinished:
        print(f"no report yet: {unfinished}", flush=True)
        return None
    finished_dirs = {result.run_dir for result in finished}
    missing = tuple(run.run_name for run in grid_runs if run.run_dir not in finished_dirs)
    if len(missing) == len(grid_runs):
        raise GridUnfinished(f"no run of the grid is finished: no report to write ({', '.join(missing)})")
    return missing


def _backbone(settings: ReproductionSettings) -> str:
    """The one backbone of notebooks 01 and 05 ("" = the preset's)."""
    return settings.backbones[0] if settings.backbones else ""
