"""``basnet reproduce``: the command-line face of :func:`~basnet_lib.reproduction.reproduce.reproduce`,
and its ``--dry-run``, which prints the grid's plan and estimated cost instead of running it."""

from __future__ import annotations

import argparse
import shlex

import torch

from basnet_lib.engine.presets import PRESETS
from basnet_lib.engine.runtime import reuse_freed_memory
from basnet_lib.model import BACKBONES, variant_names
from basnet_lib.reproduction.estimate import assumed_throughput, grid_estimate_text
from basnet_lib.reproduction.executors import (
    LocalExecution,
    SlurmExecution,
    add_executor_arguments,
    execution_from_args,
    execution_words,
)
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.grid_training import GridTraining
from basnet_lib.reproduction.processes import stopped_by_signals
from basnet_lib.reproduction.reproduce import DEFAULT_SEEDS, reproduce

# Planning needs no dataset: a paper-preset grid is planned (and costed) before Cityscapes is there.
PLANNING_DATA_ROOT = "<--data-root>"


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
    add_executor_arguments(parser)
    parser.add_argument(
        "--resubmit-failed", action="store_true", help="slurm: submit the runs whose jobs failed again"
    )
    parser.add_argument(
        "--partial-report",
        action="store_true",
        help="slurm: write the report from the finished runs now, naming the missing ones",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid (jobs, GPUs per job, iterations) with its estimated GPU-hours and memory "
        "per GPU, and run nothing",
    )


def reproduce_command(args: argparse.Namespace) -> int:
    execution = execution_from_args(args)  # a bad option value stops here, before anything runs
    if args.dry_run:
        print(dry_run_text(args, execution))
        return 0
    if isinstance(execution, LocalExecution) and (args.resubmit_failed or args.partial_report):
        raise ValueError("--resubmit-failed and --partial-report are for --executor slurm")
    reuse_freed_memory()  # asked for by the command, as by `basnet train` (basnet_lib.engine.runtime)
    # The command owns its process: SIGINT, SIGTERM and SIGHUP stop every process it started (a run
    # in training after its checkpoint), then the command (basnet_lib.reproduction.processes).
    with stopped_by_signals():
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
            training=GridTraining(execution, resubmit_failed=args.resubmit_failed, partial=args.partial_report),
        )
    return 0


def dry_run_text(args: argparse.Namespace, execution: LocalExecution | SlurmExecution) -> str:
    """The grid ``args`` asks for and its estimated cost (:mod:`basnet_lib.reproduction.estimate`):
    from a few measured steps where a GPU is present, else from the counted FLOPs at an assumed
    throughput. Nothing is trained, read or written."""
    runs = planned_runs(
        preset_name=args.preset,
        variants=args.variants,
        backbones=args.backbones,
        seeds=args.seeds,
        data_root=args.data_root or PLANNING_DATA_ROOT,
        iterations=args.iterations,
        results_root=args.results_root,
    )
    gpus = execution.gpus_per_run or 1
    executor = "slurm" if isinstance(execution, SlurmExecution) else "local"
    header = f"basnet reproduce --preset {args.preset}: {len(runs)} runs, one {executor} job each, {gpus} GPU(s) per job"
    timing = "cuda" if torch.cuda.is_available() else ""
    estimate = grid_estimate_text(runs, gpus_per_run=gpus, throughput=assumed_throughput(runs), timing_device=timing)
    return f"{header}\n{estimate}"


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
    words += execution_words(execution_from_args(args))
    words += [flag for flag, given in (("--resubmit-failed", args.resubmit_failed),
                                       ("--partial-report", args.partial_report)) if given]  # fmt: skip
    return shlex.join(words)
