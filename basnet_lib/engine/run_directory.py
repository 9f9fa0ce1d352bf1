"""A run directory (docs/method.md §6.6): its files, a finished run read back, a trained model loaded
from its checkpoint, and the checks before a run writes into it.

``{results_dir}/{run_name}/``: ``config.json``, ``metrics.json``, ``history.csv``,
``checkpoint.pt``, ``training_curves.png`` (and ``run.lock`` while a process owns it,
:mod:`basnet_lib.engine.run_lock`). Checkpoints are loaded here and nowhere else.

A finished run is reused, and an unfinished one resumed, when what decides its result is the same:
the model, the data's content (:mod:`basnet_lib.engine.run_data`) and the training schedule; not
where the run directory or the dataset lie (docs/method.md §8).
"""

from __future__ import annotations

import dataclasses
import json
import sys
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
from basnet_lib.engine.config_io import config_to_dict, load_config, save_config
from basnet_lib.engine.history import write_history
from basnet_lib.engine.nonfinite import check_weights_finite
from basnet_lib.model import build_basnet

CONFIG_FILE, METRICS_FILE, HISTORY_FILE = "config.json", "metrics.json", "history.csv"
CHECKPOINT_FILE, CURVES_FILE = "checkpoint.pt", "training_curves.png"
# Fields that may differ between a run and the one resuming or reusing it: where its folders are,
# and how it is executed; never what it computes. ``data.root`` joins them where both sides have a
# data fingerprint (runs before it had none: their data is known only by its root).
IGNORED_DIFFERENCES = ("train.results_dir", "train.run_name", "data.num_workers")
DATA_FINGERPRINT = "data_fingerprint"  # key of metrics.json and of the checkpoint


class RunDirectoryError(RuntimeError):
    """The run directory holds another run, an unfinished one that was not resumed, or cannot be
    written; the message says which and what to pass."""


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory, config and ``metrics.json`` content."""

    run_dir: Path
    config: RunConfig
    metrics: dict
    reused: bool


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run directory's config and metrics (a corrupt ``metrics.json`` is named)."""
    run_dir = Path(run_dir)
    config = load_config(RunConfig, run_dir / CONFIG_FILE)
    metrics = read_json(run_dir / METRICS_FILE)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, reused=True)


def load_trained_model(
    run_dir: str | Path, *, checkpoint: str | Path | None = None
) -> tuple[RunConfig, nn.Module]:
    """A run's config and its model with the weights of ``checkpoint`` (default: the run's own).

    The checkpoint is read with ``weights_only=True``; errors name the file (docs/method.md §4.2).
    Weights of another model, or holding NaN or inf, are refused.
    """
    run_dir = Path(run_dir)
    run = load_config(RunConfig, run_dir / CONFIG_FILE)
    path = Path(checkpoint or run_dir / CHECKPOINT_FILE)
    state = load_checkpoint(path)
    weights = state["model"]
    check_weights_finite(weights, subject=f"{path}", consequence="refusing to use them")
    # The checkpoint replaces every weight: no ImageNet weights are read (or downloaded) for it.
    model = build_basnet(config=dataclasses.replace(run.model, pretrained_backbone=False))
    _check_weights_fit(model, state, path=path, run=run)
    model.load_state_dict(weights)
    return run, model


def _check_weights_fit(model: nn.Module, state: dict, *, path: Path, run: RunConfig) -> None:
    """A checkpoint of another model (variant, backbone, width) is refused in one line instead of
    torch's list of every key."""
    weights, expected = state["model"], model.state_dict()
    names_differ = set(weights) ^ set(expected)
    reshaped = [name for name in expected if name in weights and weights[name].shape != expected[name].shape]
    if not names_differ and not reshaped:
        return
    saved, wanted = state["config"].get("model", {}), config_to_dict(run.model)
    fields = [name for name in ("variant", "backbone", "num_classes", "width", "aspp_channels", "sab_probes")
              if saved.get(name) != wanted[name]]  # fmt: skip
    differs = (
        f"differs in {', '.join(fields)}"
        if fields
        else f"{len(names_differ)} weight names and {len(reshaped)} shapes differ"
    )
    raise CheckpointError(
        f"{path} holds a `{saved.get('variant')}` {saved.get('backbone')} model; this run is "
        f"`{run.model.variant}` {run.model.backbone} ({differs}): its weights do not fit"
    )


def finished_run(run: RunConfig, *, data_fingerprint: str, overwrite: bool = False) -> RunResult | None:
    """The finished run in ``run.run_dir`` when it is ``run`` trained on the same data (None: none,
    or ``overwrite``); a finished run of another config or data is an error naming the differences."""
    if overwrite or not (run.run_dir / METRICS_FILE).is_file():
        return None
    finished = load_run(run.run_dir)
    differences = run_differences(
        config_to_dict(finished.config), run, finished.metrics.get(DATA_FINGERPRINT), data_fingerprint
    )
    if differences:
        raise RunDirectoryError(
            f"{run.run_dir} holds a finished run with another config; train into another "
            "--train.run_name, or pass --overwrite to replace it:\n  " + "\n  ".join(differences)
        )
    return finished


def checkpoint_to_resume(
    run: RunConfig, *, data_fingerprint: str, resume: bool, overwrite: bool
) -> dict | None:
    """The unfinished run's checkpoint to continue from (None: start afresh); refuses to start over
    an unfinished run unless ``resume`` or ``overwrite``, ``resume`` without a checkpoint, and a
    checkpoint of another config or data."""
    path = run.run_dir / CHECKPOINT_FILE
    if not path.exists():
        if resume:
            raise RunDirectoryError(
                f"--resume: {run.run_dir} holds no run to resume ({path.name} does not exist); "
                "leave out --resume to start the run"
            )
        return None
    if not resume:
        if overwrite:
            return None
        raise RunDirectoryError(
            f"{run.run_dir} holds an unfinished run ({path}); pass --resume to continue it or "
            "--overwrite to start it again"
        )
    checkpoint = load_checkpoint(path)
    differences = run_differences(checkpoint["config"], run, checkpoint.get(DATA_FINGERPRINT), data_fingerprint)
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with another config:\n  " + "\n  ".join(differences)
            + "\n(pass --overwrite instead of --resume to start the run again)"
        )
    return checkpoint


def run_differences(
    saved_config: dict, run: RunConfig, saved_fingerprint: str | None, data_fingerprint: str
) -> list[str]:
    """What differs between a saved run and ``run`` in what decides the result, one line each."""
    ignored = IGNORED_DIFFERENCES + (("data.root",) if saved_fingerprint else ())
    differences = [
        line
        for line in config_differences(saved_config, config_to_dict(run))
        if line.split(":")[0] not in ignored
    ]
    if saved_fingerprint and saved_fingerprint != data_fingerprint:
        differences.append(
            f"data (names and sizes of the train and val files): checkpoint has {saved_fingerprint!r}, "
            f"this run's data has {data_fingerprint!r}"
        )
    return differences


def prepare_run_directory(run: RunConfig, *, fresh: bool) -> None:
    """Before the run's first write, with every check passed: remove what interrupted saves left,
    an earlier run's results when the run starts afresh over them (``--overwrite``), and write
    ``config.json``."""
    remove_stale_temporary_files(run.run_dir)
    if fresh:
        for name in (METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE, CURVES_FILE):
            (run.run_dir / name).unlink(missing_ok=True)
    save_config(run, run.run_dir / CONFIG_FILE)


def remove_stale_temporary_files(run_dir: Path) -> list[Path]:
    """Delete the temporary files of saves that a killed run left (``.checkpoint.pt.tmp-PID`` …).

    Only the run directory's owner (:class:`basnet_lib.engine.run_lock.RunLock`) calls this, so
    no other process is writing them.
    """
    stale = sorted(
        path
        for name in (CHECKPOINT_FILE, METRICS_FILE, HISTORY_FILE)
        for path in run_dir.glob(f".{name}.tmp*")
    )
    for path in stale:
        size = path.stat().st_size
        path.unlink()
        print(f"removed {path} ({size / 1e6:.1f} MB), left by an interrupted save", file=sys.stderr)
    return stale


def save_training_state(
    run: RunConfig,
    *,
    iteration: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    history: list[dict],
    data_fingerprint: str,
) -> None:
    """``history.csv`` and ``checkpoint.pt``: everything a resumed run needs to continue exactly."""
    # History first: a checkpoint never refers to rows that were not written.
    write_history(run.run_dir / HISTORY_FILE, history)
    save_checkpoint(
        run.run_dir / CHECKPOINT_FILE,
        {
            "iteration": iteration,
            "config": config_to_dict(run),
            DATA_FINGERPRINT: data_fingerprint,
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
    """Write ``values`` atomically (temp file + rename, like checkpoints); a failed write leaves
    neither a temp file nor a partial ``path``."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(json.dumps(values, indent=2) + "\n")
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def write_results(path: Path, values: dict, *, note: str) -> None:
    """:func:`write_json`; a failure is an error that says where, then ``note`` (where the numbers
    are), so that a result computed for hours is never lost to a read-only folder."""
    try:
        write_json(path, values)
    except OSError as error:
        raise RunDirectoryError(f"could not write {path} ({error.strerror or error}); {note}") from None
