"""The main job, ``basnet reproduce``: every notebook of the reproduction, then ``REPORT.md``.

Steps: make sure the dataset exists (SynthCity is generated if missing), execute ``01`` (architecture),
``03`` (Table 1; it trains each missing run by executing ``02``), ``04`` (Table 3) and ``05``
(Figs. 4/6/7) with papermill into ``{results_root}/notebooks/``, then write
``{results_root}/REPORT.md``. ``results_root`` is ``results/`` for the ``cpu`` preset (the
committed report) and ``results/<preset>/`` for the others, so a smoke or paper run never
overwrites it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from pathlib import Path

from basnet_lib.data.build import dataset_root
from basnet_lib.engine.presets import PRESETS, default_results_root
from basnet_lib.engine.runtime import reuse_freed_memory
from basnet_lib.model import BACKBONES, variant_names
from basnet_lib.reproduction.cpu_clock import CpuClock, other_processes_cpu_share
from basnet_lib.reproduction.experiments import (
    parallel_runs,
    planned_run,
    planned_runs,
    train_unfinished_runs_in_notebooks,
    unfinished_runs,
)
from basnet_lib.reproduction.notebooks import execute_notebook, resolve_results_root
from basnet_lib.reproduction.report import (
    NOTEBOOKS_OUT_DIR,
    ReproductionSettings,
    record_invocation,
    write_report,
)

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
) -> Path:
    """Run the whole reproduction; return the path of ``REPORT.md``.

    ``variants=()`` means every variant of the table; ``backbones=()`` the preset's;
    ``iterations=0`` the preset's schedule.
    """
    started, cpu_at_start = time.perf_counter(), CpuClock.now()
    results_root = resolve_results_root(results_root or default_results_root(preset_name))
    settings = ReproductionSettings(
        preset=preset_name,
        variants=tuple(variants) or variant_names(),
        backbones=tuple(backbones),
        seeds=tuple(seeds),
        data_root=data_root,
        iterations=iterations,
        command=command or _reconstructed_command(preset_name),
    )
    first_run = planned_run(
        preset_name=preset_name,
        variant=settings.variants[0],
        backbone=_backbone(settings),
        data_root=data_root,
    )
    print(f"dataset: {dataset_root(first_run.data, progress=False)}", flush=True)
    trained_runs, total_runs = _train_grid(settings, results_root)
    parameters = parameter_values_per_notebook(settings, results_root, num_images=num_images)
    notebook_seconds = {}
    for name in NOTEBOOKS:
        output_path = results_root / NOTEBOOKS_OUT_DIR / name
        print(f"executing {name} -> {output_path}", flush=True)
        notebook_seconds[name] = execute_notebook(name, output_path, parameters=parameters[name])
        print(f"  done in {notebook_seconds[name]:.0f} s", flush=True)
    wall_seconds = time.perf_counter() - started
    other_cpu_share = other_processes_cpu_share(
        cpu_at_start, CpuClock.now(), wall_seconds=wall_seconds, cpus=os.cpu_count() or 1
    )
    record_invocation(
        results_root,
        wall_seconds=wall_seconds,
        trained_runs=trained_runs,
        total_runs=total_runs,
        other_cpu_share=other_cpu_share,
    )
    report = write_report(results_root, settings=settings, notebook_seconds=notebook_seconds)
    print(f"wrote {report}", flush=True)
    return report


def parameter_values_per_notebook(
    settings: ReproductionSettings, results_root: Path, *, num_images: int
) -> dict[str, dict[str, object]]:
    """The parameter values papermill gives each notebook of :data:`NOTEBOOKS`, ``{notebook: {name:
    value}}`` (each checked against the notebook's parameters cell when it is executed)."""
    grid = {
        "preset": settings.preset,
        "variants": list(settings.variants),
        "backbones": list(settings.backbones),
        "seeds": list(settings.seeds),
        "data_root": settings.data_root,
        "iterations": settings.iterations,
        "results_root": str(results_root),
    }
    return {
        "01_architecture.ipynb": {
            "preset": settings.preset,
            "backbone": _backbone(settings),
            "variants": list(settings.variants),
            "data_root": settings.data_root,
            "results_root": str(results_root),
        },
        "03_table1_ablations.ipynb": grid,
        "04_table3_fscore.ipynb": grid,
        "05_figures.ipynb": {
            **{key: value for key, value in grid.items() if key not in ("backbones", "seeds")},
            "backbone": _backbone(settings),
            "seed": settings.seeds[0],
            "num_images": num_images,
            "widgets": False,
        },
    }


def _train_grid(settings: ReproductionSettings, results_root: Path) -> tuple[int, int]:
    """Train the grid first, side by side where the preset allows, with one progress bar over the
    grid and a line per finished run on the terminal; notebook 03 then finds every run finished
    and reuses it. Returns (trained, total)."""
    grid = dict(
        preset_name=settings.preset,
        data_root=settings.data_root,
        iterations=settings.iterations,
        results_root=results_root,
    )
    grid_runs = planned_runs(variants=settings.variants, backbones=settings.backbones, seeds=settings.seeds, **grid)
    to_train = len(unfinished_runs(grid_runs))
    print(f"training {to_train} of {len(grid_runs)} runs, {parallel_runs(grid_runs)} at a time", flush=True)
    train_unfinished_runs_in_notebooks(grid_runs, **grid, progress=True)
    return to_train, len(grid_runs)


def _backbone(settings: ReproductionSettings) -> str:
    """The one backbone of notebooks 01 and 05 ("" = the preset's)."""
    return settings.backbones[0] if settings.backbones else ""


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", choices=PRESETS, default="cpu", help="docs/method.md §7; cpu is the main job"
    )
    parser.add_argument("--data-root", default="", help="Cityscapes-layout folder (default: SynthCity)")
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=variant_names(),
        default=list(variant_names()),
        help="Table 1 rows (docs/method.md §1.10)",
    )
    parser.add_argument(
        "--backbones", nargs="+", choices=BACKBONES, default=[], help="default: the preset's backbone"
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=list(DEFAULT_SEEDS),
        help="one run per seed (docs/method.md §6.5)",
    )
    parser.add_argument("--iterations", type=int, default=0, help="override the preset's (0 = preset's)")
    parser.add_argument(
        "--results-root", default="", help="default: results/ for cpu, results/<preset>/ otherwise"
    )
    parser.add_argument("--num-images", type=int, default=3, help="val images in Figs. 4/6/7")


def reproduce_command(args: argparse.Namespace) -> int:
    reuse_freed_memory()  # asked for by the command, as by `basnet train` (basnet_lib.engine.runtime)
    reproduce(
        preset_name=args.preset,
        variants=tuple(args.variants),
        backbones=tuple(args.backbones),
        seeds=tuple(args.seeds),
        data_root=args.data_root,
        iterations=args.iterations,
        results_root=args.results_root,
        num_images=args.num_images,
        command=_command_line(args),
    )
    return 0


def _command_line(args: argparse.Namespace) -> str:
    """The ``basnet reproduce`` command that asks for ``args`` (for the report)."""
    words = ["basnet", "reproduce", "--preset", args.preset]
    if args.data_root:
        words += ["--data-root", args.data_root]
    if tuple(args.variants) != variant_names():
        words += ["--variants", *args.variants]
    if args.backbones:
        words += ["--backbones", *args.backbones]
    if tuple(args.seeds) != DEFAULT_SEEDS:
        words += ["--seeds", *map(str, args.seeds)]
    if args.iterations:
        words += ["--iterations", str(args.iterations)]
    if args.results_root:
        words += ["--results-root", args.results_root]
    if args.num_images != 3:
        words += ["--num-images", str(args.num_images)]
    return shlex.join(words)


def _reconstructed_command(preset_name: str) -> str:
    return f"basnet reproduce --preset {preset_name}"
