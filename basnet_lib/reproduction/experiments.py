"""The runs of an experiment grid (preset × backbones × variants × seeds), trained side by side.

Every notebook derives its runs from the same function, :func:`planned_run`, so the training
notebook (``02``), the Table 1 notebook (``03``) that launches it, and the Table 3 and figure
notebooks (``04``, ``05``) that read the results agree on every run directory (docs/method.md §6.6):
``{results_root}/runs/{preset}/{variant}-{backbone}-seed{seed}/``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from basnet_lib.data.config import DataConfig
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.late_boundary_iou import with_boundary_iou
from basnet_lib.engine.presets import default_results_root, preset
from basnet_lib.engine.run_data import data_fingerprint
from basnet_lib.engine.run_directory import finished_run
from basnet_lib.engine.run_files import METRICS_FILE, RunResult, load_run
from basnet_lib.model import variant_names
from basnet_lib.reproduction.local_training import (
    TrainingProcess,
    claim_run_directory,
    thread_environment,
    train_in_processes,
)
from basnet_lib.reproduction.notebooks import (
    PAPERMILL_LOG,
    project_directory,
    resolve_results_root,
    training_notebook_command,
    training_notebook_parameters,
)
from basnet_lib.reproduction.parameters import parsed_list, whole_number
from basnet_lib.reproduction.processes import start_process


def planned_run(
    *,
    preset_name: str,
    variant: str,
    backbone: str = "",
    seed: int = 0,
    data_root: str = "",
    iterations: int = 0,
    results_root: str | Path = "",
) -> RunConfig:
    """The run config of one grid cell: the preset's, with its run directory under ``results_root``.

    Inside the repository the run directory is kept relative to its root, where the notebooks and
    the command line run (see :func:`enter_project_directory`).

    ``iterations=0`` keeps the preset's schedule; another value overrides it (and so changes the
    config, which a finished run with the preset's schedule refuses to be reused for).
    ``seed`` and ``iterations`` may be given as papermill's ``-p`` passes them (``1.0``, ``"1"``);
    ``1.5`` is refused.
    """
    seed, iterations = whole_number("seed", seed), whole_number("iterations", iterations)
    run = preset(preset_name, variant=variant, backbone=backbone, seed=seed, data_root=data_root)
    runs_dir = resolve_results_root(results_root or default_results_root(preset_name)) / "runs" / preset_name
    if runs_dir.is_relative_to(project_directory()):
        # Relative to the repository root, as `basnet train --preset X` writes it: the same config,
        # so each reuses the other's finished runs (configs hold results_dir).
        runs_dir = runs_dir.relative_to(project_directory())
    train = dataclasses.replace(run.train, results_dir=str(runs_dir))
    if iterations:
        train = dataclasses.replace(train, iterations=iterations)
    return dataclasses.replace(run, train=train)


def planned_runs(
    *,
    preset_name: str,
    variants: list[str] | tuple[str, ...] = (),
    backbones: list[str] | tuple[str, ...] = ("",),
    seeds: list[int] | tuple[int, ...] = (0,),
    data_root: str = "",
    iterations: int = 0,
    results_root: str | Path = "",
) -> list[RunConfig]:
    """Every run of the grid, backbone-major then variant (Table 1 order, docs/method.md §1.10) then seed.

    An empty ``variants`` means every variant of the table (:func:`basnet_lib.model.variant_names`);
    an empty ``backbones`` (or ``""`` in it) the preset's backbone. The lists may also be
    given as text, as papermill's ``-p`` passes them: a JSON list (``'[0, 1]'``) or comma-separated
    (``resnet18,resnet50``).
    """
    variants = parsed_list("variants", variants, str) or list(variant_names())
    backbones = parsed_list("backbones", backbones, str) or [""]
    seeds = parsed_list("seeds", seeds, int)
    unknown = sorted(set(variants) - set(variant_names()))
    if unknown:
        raise ValueError(f"unknown variants {unknown}; expected a subset of {variant_names()}")
    ordered_variants = [variant for variant in variant_names() if variant in variants]
    return [
        planned_run(
            preset_name=preset_name,
            variant=variant,
            backbone=backbone,
            seed=seed,
            data_root=data_root,
            iterations=iterations,
            results_root=results_root,
        )
        for backbone in backbones
        for variant in ordered_variants
        for seed in seeds
    ]


def is_finished(run: RunConfig) -> bool:
    """Whether ``run.run_dir`` holds ``run`` finished: the same model, data content and schedule
    (wherever the folders lie). A finished run of another config raises
    :class:`~basnet_lib.engine.run_directory.RunDirectoryError` naming the differences: reusing it
    would report another run's numbers."""
    return not unfinished_runs([run])


def unfinished_runs(runs: list[RunConfig]) -> list[RunConfig]:
    """The runs of ``runs`` that are not :func:`is_finished`, in order; each distinct dataset is
    fingerprinted once for the whole grid, not once per run. A damaged finished run (a file that
    does not hold what it must: :func:`~basnet_lib.engine.run_files.load_reusable_run`) is an error
    naming the file, before anything trains or reads it."""
    fingerprints: dict[DataConfig, str] = {}

    def finished(run: RunConfig) -> bool:
        if not (run.run_dir / METRICS_FILE).is_file():
            return False
        if run.data not in fingerprints:
            fingerprints[run.data] = data_fingerprint(run.data)
        return finished_run(run, data_fingerprint=fingerprints[run.data]) is not None

    return [run for run in runs if not finished(run)]


def parallel_runs(runs: list[RunConfig]) -> int:
    """How many runs train side by side: on CPU, the cores over each run's threads (the cpu
    preset's single-thread runs, two at a time on 2 cores); one on a GPU or with threads unset."""
    threads = max(run.train.threads for run in runs) if runs else 0
    on_gpu = any(run.train.device != "cpu" for run in runs) and torch.cuda.is_available()
    if on_gpu or not threads:
        return 1
    return max(1, (os.cpu_count() or 1) // threads)


def train_unfinished_runs_in_notebooks(
    runs: list[RunConfig],
    *,
    preset_name: str,
    data_root: str = "",
    iterations: int = 0,
    results_root: str | Path = "",
    parallel: int = 0,
    progress: bool = False,
) -> list[RunResult]:
    """Train every unfinished run of ``runs`` by executing ``02_training.ipynb`` for it in a
    subprocess (:func:`~basnet_lib.reproduction.notebooks.training_notebook_command`), then load
    them all, finished ones included (a run evaluated before Boundary IoU existed gets it: its
    checkpoint evaluated again, :func:`~basnet_lib.engine.late_boundary_iou.with_boundary_iou`).

    ``parallel`` runs at a time (0: :func:`parallel_runs`), each a process of its own; one line
    per finished run. ``progress``: also one bar over the whole grid on stderr where that is a
    terminal (:class:`~basnet_lib.reproduction.progress.GridProgress`; none in a log file, which
    redrawn bars would flood). A failed run stops the others and raises with the path of its
    partly executed notebook and the end of its output.
    """
    todo = unfinished_runs(runs)
    report_reused(runs, todo)
    grid = dict(preset_name=preset_name, data_root=data_root, iterations=iterations, results_root=results_root)

    def start(run: RunConfig, slot: int) -> TrainingProcess:
        return _start_training_notebook(run, slot, grid)

    train_in_processes(runs, todo, start=start, slots=parallel or parallel_runs(todo), progress=progress)
    return [with_boundary_iou(load_run(run.run_dir)) for run in runs]


def report_reused(runs: list[RunConfig], todo: list[RunConfig]) -> None:
    """One line per run of ``runs`` that is finished already (not in ``todo``)."""
    for run in runs:
        if run not in todo:
            print(f"reuse   {run.run_dir}", flush=True)


def finished_results(runs: list[RunConfig]) -> list[RunResult]:
    """The finished runs of ``runs``, loaded, in order; the others are left out (a partial report).
    A run evaluated before Boundary IoU existed gets it (evaluation only)."""
    todo = unfinished_runs(runs)
    return [with_boundary_iou(load_run(run.run_dir)) for run in runs if run not in todo]


def missing_runs_markdown(runs: list[RunConfig], results: list[RunResult]) -> str:
    """A partial result's warning naming the runs of ``runs`` missing from ``results`` ("" if none)."""
    present = {Path(result.run_dir) for result in results}
    missing = [run.run_name for run in runs if Path(run.run_dir) not in present]
    if not missing:
        return ""
    names = ", ".join(f"`{name}`" for name in missing)
    return f"**Partial: {len(missing)} of {len(runs)} runs are missing** (not finished): {names}."


def _start_training_notebook(run: RunConfig, slot: int, grid: dict) -> TrainingProcess:
    """The process that trains ``run`` by executing the training notebook, in a session of its own;
    its output goes to the run directory's ``papermill.log`` (a failure names the partly executed
    notebook), once no other process holds the run directory."""
    command = training_notebook_command(run, training_notebook_parameters(run, **grid))
    log = claim_run_directory(project_directory() / run.run_dir) / PAPERMILL_LOG
    process = start_process(command, log=log, environment=thread_environment(run.train.threads), cwd=project_directory())
    return TrainingProcess(run=run, process=process, log=log, slot=slot)
