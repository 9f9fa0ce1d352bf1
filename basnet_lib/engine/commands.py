"""``basnet train`` and ``basnet evaluate``: the command-line faces of :func:`train` and :func:`evaluate`.

Every field of the run config's sections is an option (``--model.width 64``, ``--train.iterations 40``, ``--loss.edge_weight 3``),
applied on top of a preset or a saved ``config.json``; the same module serves ``torchrun -m
basnet_lib.train``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing
from pathlib import Path

import torch

from basnet_lib.config_checks import parse_bool
from basnet_lib.data.build import build_dataset
from basnet_lib.data.config import DataConfig
from basnet_lib.distributed import DistributedContext, cleanup_distributed, setup_distributed
from basnet_lib.engine.config import RunConfig, TrainConfig, load_run_config
from basnet_lib.engine.evaluate import evaluate
from basnet_lib.engine.export import export_predictions
from basnet_lib.engine.failures import UsageError
from basnet_lib.engine.presets import PRESETS, preset
from basnet_lib.engine.run_files import RunDirectoryError, load_trained_model, write_results
from basnet_lib.engine.runtime import reuse_freed_memory
from basnet_lib.engine.sampling import per_process_batch_size
from basnet_lib.engine.stop import RunPreempted, StopRequest
from basnet_lib.engine.trainer import train
from basnet_lib.loss import LossConfig
from basnet_lib.model import variant_names
from basnet_lib.model.backbone import OFFLINE_ENV
from basnet_lib.model.config import ModelConfig

# Exit status of a run stopped by a signal after writing its checkpoint: BSD's EX_TEMPFAIL
# ("try again later"), for wrappers that requeue.
PREEMPTED = 75
# The sections of a run's config, each a frozen dataclass whose fields become options.
SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "loss": LossConfig}


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=PRESETS, default="cpu", help="starting point (docs/method.md §7)")
    parser.add_argument(
        "--variant", choices=variant_names(), default="full", help="Table 1 row (docs/method.md §1.10)"
    )
    parser.add_argument("--backbone", default="", help="override the preset's backbone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default="", help="Cityscapes-layout folder (default: SynthCity)")
    parser.add_argument("--config", type=Path, help="a run's config.json to start from instead of a preset")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        type=_resume_choice,
        metavar="auto",
        help="continue an unfinished run from its checkpoint; `--resume auto` starts the run or "
        "resumes it, whichever applies (what a requeued cluster job runs)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a finished or unfinished run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (batch runs)")
    parser.add_argument(
        "--offline",
        action="store_true",
        help=f"never download ImageNet weights (sets {OFFLINE_ENV}=1); a missing file is an error naming it",
    )
    for section, config_type in SECTIONS.items():
        group = parser.add_argument_group(f"{section} fields ({config_type.__name__}), override the preset")
        types = typing.get_type_hints(config_type)
        for field in dataclasses.fields(config_type):
            group.add_argument(
                f"--{section}.{field.name}",
                dest=f"{section}__{field.name}",
                type=_parser_for(types[field.name]),
                metavar=types[field.name].__name__.upper(),
            )


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    if args.config is not None:
        run = load_run_config(args.config)
    else:
        run = preset(
            args.preset,
            variant=args.variant,
            backbone=args.backbone,
            seed=args.seed,
            data_root=args.data_root,
        )
    sections = {}
    for section in SECTIONS:
        overrides = {
            name.split("__", 1)[1]: value
            for name, value in vars(args).items()
            if name.startswith(f"{section}__") and value is not None
        }
        sections[section] = dataclasses.replace(getattr(run, section), **overrides)
    return RunConfig(**sections)


def checked_run_config(args: argparse.Namespace) -> RunConfig:
    """The run config ``args`` ask for, every value checked before anything is read or written (the
    config checks: ``--seed -1``, ``--train.batch_size 1`` ...; under torchrun, the batch of each
    process); a bad one is a :class:`~basnet_lib.engine.failures.UsageError`, alike on every process."""
    try:
        run = run_config_from_args(args)
        processes = DistributedContext(device=torch.device("cpu"), world_size=int(os.environ.get("WORLD_SIZE", "1")))
        per_process_batch_size(run.train.batch_size, processes)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from error
    return run


def train_command(args: argparse.Namespace) -> int:
    """``basnet train``: SIGTERM, SIGUSR1 and SIGUSR2 (a cluster's preemption and pre-timeout
    signals) stop the run after its current step with a checkpoint; the exit status is then
    :data:`PREEMPTED` and the same command with ``--resume auto`` continues it."""
    reuse_freed_memory()  # this process only trains: no page faults on every step's feature maps
    if args.offline:
        # The command owns its process, so the environment is the simple channel down to the
        # backbone loader (build_backbone reads it) without threading a flag through train().
        os.environ[OFFLINE_ENV] = "1"
    run = run_config_from_args(args)
    main_process = int(os.environ.get("RANK", "0")) == 0  # one line per run, not per process
    try:
        with StopRequest.on_signals() as stop:
            result = train(run, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet, stop=stop)
    except RunPreempted as preempted:
        if main_process:
            print(str(preempted), file=sys.stderr)
        return PREEMPTED
    finally:
        cleanup_distributed()
    if main_process:
        summary = {key: result.metrics.get(key) for key in ("mIoU", "boundary_F", "images_per_second")}
        print(f"{'reused' if result.reused else 'finished'} {result.run_dir}: {json.dumps(summary)}")
    return 0


def _resume_choice(text: str) -> bool | str:
    if text != "auto":
        raise argparse.ArgumentTypeError(f"--resume takes no value or 'auto', got {text!r}")
    return "auto"


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (config.json + checkpoint.pt)")
    parser.add_argument("--checkpoint", type=Path, help="default: RUN_DIR/checkpoint.pt")
    parser.add_argument("--split", choices=("train", "val", "test"), default="val")
    parser.add_argument(
        "--multiscale", action="store_true", help="scales 0.5..1.75 and flip (docs/method.md §2.5)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: the run's train.amp, as in its metrics.json)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the model with frozen weights (one compile per image size; pays off "
        "on long evaluations at one size, README 'Performance')",
    )
    parser.add_argument(
        "--export", type=Path, help="write labelId PNGs here (test split: docs/method.md §6.3)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --export PNGs that exist (otherwise refused)"
    )
    parser.add_argument("--quiet", action="store_true")


def evaluate_command(args: argparse.Namespace) -> int:
    reuse_freed_memory()  # this process only evaluates: no page faults on every image's feature maps
    run, model = load_trained_model(args.run_dir, checkpoint=args.checkpoint)
    context = setup_distributed(args.device)
    try:
        model = model.to(context.device)
        dataset = build_dataset(run.data, split=args.split, train=False)
        if args.export is not None:
            paths = export_predictions(
                model,
                dataset,
                args.export,
                context=context,
                multiscale=args.multiscale,
                overwrite=args.overwrite,
                progress=not args.quiet,
            )
            print(f"wrote {len(paths)} labelId PNGs to {args.export}")
        if dataset.has_labels:
            amp = run.train.amp if args.amp is None else args.amp
            metrics = evaluate(
                model,
                dataset,
                context=context,
                multiscale=args.multiscale,
                amp=amp,
                compiled=args.compile,
                progress=not args.quiet,
            )
            suffix = ("_multiscale" if args.multiscale else "") + ("_bf16" if amp else "")
            name = f"eval_{args.split}{suffix}.json"
            if context.is_main:
                _report_evaluation(metrics, args.run_dir / name)
    finally:
        cleanup_distributed()
    return 0


def _report_evaluation(metrics: dict, path: Path) -> None:
    """Print the scores, then write every metric to ``path``; when that fails (a read-only run
    directory) every metric is printed instead and the error says where, so nothing computed is lost."""
    print(json.dumps({key: metrics[key] for key in ("mIoU", "boundary_F", "boundary_IoU")}), flush=True)
    try:
        write_results(path, metrics, note="every metric is printed above")
    except RunDirectoryError:
        print(json.dumps(metrics, indent=2), flush=True)
        raise
    print(f"wrote {path}")


def _parser_for(kind: type):
    return _parse_bool if kind is bool else kind


def _parse_bool(text: str) -> bool:
    try:
        return parse_bool(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
