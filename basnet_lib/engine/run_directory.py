"""A run directory (docs/method.md §6.6): its files, a finished run read back, a trained model loaded
from its checkpoint, and the checks before a run writes into it.

``{results_dir}/{run_name}/``: ``config.json``, ``metrics.json``, ``history.csv``,
``checkpoint.pt``, ``training_curves.png``. Checkpoints are loaded here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from basnet_lib.distributed import unwrap_model
from basnet_lib.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    config_differences,
    load_checkpoint,
    save_checkpoint,
)
from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.config_io import config_to_dict, load_config
from basnet_lib.engine.history import write_history
from basnet_lib.model import build_basnet

CONFIG_FILE, METRICS_FILE, HISTORY_FILE = "config.json", "metrics.json", "history.csv"
CHECKPOINT_FILE, CURVES_FILE = "checkpoint.pt", "training_curves.png"
# Fields that may differ between a checkpoint and the run resuming it: they change how the run
# is executed, never what it computes.
RESUMABLE_DIFFERENCES = ("data.num_workers",)


class RunDirectoryError(RuntimeError):
    """The run directory holds another run, or an unfinished one that was not resumed."""


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory, config and ``metrics.json`` content."""

    run_dir: Path
    config: RunConfig
    metrics: dict
    reused: bool


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run directory's config and metrics."""
    run_dir = Path(run_dir)
    config = load_config(RunConfig, run_dir / CONFIG_FILE)
    metrics = read_json(run_dir / METRICS_FILE)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, reused=True)


def load_trained_model(
    run_dir: str | Path, *, checkpoint: str | Path | None = None
) -> tuple[RunConfig, nn.Module]:
    """A run's config and its model with the weights of ``checkpoint`` (default: the run's own).

    The checkpoint is read with ``weights_only=True``; errors name the file (docs/method.md §4.2).
    """
    run_dir = Path(run_dir)
    run = load_config(RunConfig, run_dir / CONFIG_FILE)
    # The checkpoint replaces every weight: no ImageNet weights are read (or downloaded) for it.
    model = build_basnet(config=dataclasses.replace(run.model, pretrained_backbone=False))
    _load_model_weights(model, Path(checkpoint or run_dir / CHECKPOINT_FILE), run)
    return run, model


def _load_model_weights(model: nn.Module, path: Path, run: RunConfig) -> None:
    """The checkpoint's weights into ``run``'s model; a checkpoint of another model (variant,
    backbone, width) is refused in one line instead of torch's list of every key."""
    state = load_checkpoint(path)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        saved, wanted = state["config"].get("model", {}), config_to_dict(run.model)
        fields = [name for name in ("variant", "backbone", "num_classes", "width", "aspp_channels", "sab_probes")
                  if saved.get(name) != wanted[name]]  # fmt: skip
        keys = set(state["model"]) ^ set(model.state_dict())
        differs = f"differs in {', '.join(fields)}" if fields else f"{len(keys)} weight names differ"
        raise CheckpointError(
            f"{path} holds a `{saved.get('variant')}` {saved.get('backbone')} model; this run is "
            f"`{run.model.variant}` {run.model.backbone} ({differs}): its weights do not fit"
        ) from None


def finished_run(run: RunConfig, *, overwrite: bool) -> RunResult | None:
    """The finished run in ``run.run_dir`` when its config is ``run``'s (None: none, or ``overwrite``)."""
    if overwrite or not (run.run_dir / METRICS_FILE).is_file():
        return None
    saved = load_config(RunConfig, run.run_dir / CONFIG_FILE)
    differences = config_differences(config_to_dict(saved), config_to_dict(run))
    if differences:
        raise RunDirectoryError(
            f"{run.run_dir} holds a finished run with another config; use another run_name (--train.run_name) or overwrite=True (--overwrite):\n  "
            + "\n  ".join(differences)
        )
    return load_run(run.run_dir)


def checkpoint_to_resume(run: RunConfig, *, resume: bool, overwrite: bool) -> dict | None:
    """The unfinished run's checkpoint to continue from (None: start afresh); refuses to start over
    an unfinished run unless ``resume`` or ``overwrite``, and a checkpoint of another config."""
    path = run.run_dir / CHECKPOINT_FILE
    if not path.exists():
        return None
    if not resume:
        if overwrite:
            return None
        raise RunDirectoryError(
            f"{run.run_dir} holds an unfinished run ({path}); pass resume=True (--resume) or overwrite=True (--overwrite)"
        )
    checkpoint = load_checkpoint(path)
    differences = [
        line
        for line in config_differences(checkpoint["config"], config_to_dict(run))
        if line.split(":")[0] not in RESUMABLE_DIFFERENCES
    ]
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with another config:\n  " + "\n  ".join(differences)
        )
    return checkpoint


def remove_results(run_dir: Path) -> None:
    """Delete an earlier run's results before it is trained again from scratch (``overwrite``)."""
    for name in (METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE, CURVES_FILE):
        (run_dir / name).unlink(missing_ok=True)


def save_training_state(
    run: RunConfig,
    *,
    iteration: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    history: list[dict],
) -> None:
    """``history.csv`` and ``checkpoint.pt``: everything a resumed run needs to continue exactly."""
    # History first: a checkpoint never refers to rows that were not written.
    write_history(run.run_dir / HISTORY_FILE, history)
    save_checkpoint(
        run.run_dir / CHECKPOINT_FILE,
        {
            "iteration": iteration,
            "config": config_to_dict(run),
            "model": unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "rng": capture_rng_state(),
        },
    )


def read_json(path: Path) -> dict:
    """A run directory's JSON file (``metrics.json``, ``eval_*.json``); a truncated or corrupt one
    raises an error naming it."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON, truncated or corrupt? ({error})") from None


def write_json(path: Path, values: dict) -> None:
    """Write ``values`` atomically (temp file + rename, like checkpoints)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(values, indent=2) + "\n")
    temporary.replace(path)


__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "CURVES_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "RunDirectoryError",
    "RunResult",
    "checkpoint_to_resume",
    "finished_run",
    "load_run",
    "load_trained_model",
    "read_json",
    "remove_results",
    "save_training_state",
    "write_json",
]
