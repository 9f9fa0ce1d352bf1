"""A run directory's files (docs/method.md §6.6), read back: a finished run, a trained model loaded
from its checkpoint; and the atomic JSON writes that keep them whole.

``{results_dir}/{run_name}/``: ``config.json``, ``metrics.json``, ``history.csv``,
``checkpoint.pt``, ``training_curves.png`` (and ``run.lock`` while a process owns it). A run in
training writes them through :class:`basnet_lib.engine.run_directory.RunDirectory`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from basnet_lib.engine.checkpoint import CheckpointError, load_checkpoint
from basnet_lib.engine.config import RunConfig, load_run_config
from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.file_writes import write_atomically
from basnet_lib.engine.nonfinite import check_weights_finite
from basnet_lib.engine.run_checks import (
    check_checkpoint_archive,
    check_checkpoint_data,
    check_history,
    check_metrics,
)
from basnet_lib.model import build_basnet

CONFIG_FILE, METRICS_FILE, HISTORY_FILE = "config.json", "metrics.json", "history.csv"
CHECKPOINT_FILE, CURVES_FILE = "checkpoint.pt", "training_curves.png"
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
    """A finished run directory's config and metrics, each checked where it is read: ``config.json``
    a valid config, ``metrics.json`` every score the tables need for that run, ``history.csv``
    readable up to the final evaluation (:mod:`basnet_lib.engine.run_checks`); errors name the file."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir / CONFIG_FILE)
    metrics = check_metrics(read_json(run_dir / METRICS_FILE), run_dir / METRICS_FILE, config)
    check_history(run_dir / HISTORY_FILE, config)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, reused=True)


def load_reusable_run(run_dir: str | Path) -> RunResult:
    """:func:`load_run`, and its checkpoint's archive whole (the weights are read where a model is
    built: :func:`load_trained_model`): a finished run that others build on. A damaged one is a
    :class:`RunDirectoryError` naming the file and what to do."""
    run_dir = Path(run_dir)
    try:
        result = load_run(run_dir)
        check_checkpoint_archive(run_dir / CHECKPOINT_FILE, result.config)
    except (ValueError, FileNotFoundError) as error:  # CheckpointError is a ValueError
        raise RunDirectoryError(
            f"{error}; so {run_dir} holds a damaged finished run, which is not reused: train it again "
            "with --overwrite (basnet train), or remove that folder and run the command again"
        ) from None
    return result


def load_trained_model(
    run_dir: str | Path, *, checkpoint: str | Path | None = None
) -> tuple[RunConfig, nn.Module]:
    """A run's config and its model with the weights of ``checkpoint`` (default: the run's own).

    The checkpoint is read with ``weights_only=True``; errors name the file (docs/method.md §4.2).
    A record that does not match its checksum, weights of another model, or holding NaN or inf,
    are refused.
    """
    run_dir = Path(run_dir)
    run = load_run_config(run_dir / CONFIG_FILE)
    path = Path(checkpoint or run_dir / CHECKPOINT_FILE)
    if path.is_file():  # a missing one: load_checkpoint's error
        check_checkpoint_data(path)
    state = load_checkpoint(path)
    weights = state["model"]
    check_weights_finite(weights, subject=f"{path}", consequence="refusing to use them")
    # The checkpoint replaces every weight: no ImageNet weights are read (or downloaded) for it.
    model = build_basnet(config=run.model.without_imagenet_weights())
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


def read_json(path: Path) -> dict:
    """A run directory's JSON file (``metrics.json``, ``eval_*.json``); a truncated or corrupt one
    raises an error naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON, truncated or corrupt? ({error})") from None


def write_json(path: Path, values: dict) -> None:
    """Write ``values`` atomically (temp file + rename, like checkpoints); a failed write leaves
    neither a temp file nor a partial ``path`` and raises a
    :class:`~basnet_lib.engine.file_writes.FileWriteError` naming ``path``."""
    write_atomically(Path(path), (json.dumps(values, indent=2) + "\n").encode())


def write_results(path: Path, values: dict, *, note: str) -> None:
    """:func:`write_json`; a failure is an error that says where, then ``note`` (where the numbers
    are), so that a result computed for hours is never lost to a read-only folder."""
    try:
        write_json(path, values)
    except OSError as error:
        raise RunDirectoryError(f"could not write {path} ({error.strerror or error}); {note}") from None
