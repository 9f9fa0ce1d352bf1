"""Training checkpoints: complete, atomic, and safe to load (docs/method.md §4.2).

A checkpoint holds the unwrapped model, optimizer, LR scheduler, AMP scaler, the iteration, the
run's config and the RNG states, so that a resumed run continues exactly as an uninterrupted one.
It is written to a temporary file and renamed (a run killed mid-write, or a write that fails for
want of space, leaves the previous checkpoint intact and no temporary file; the error names the
file and the system's reason: :mod:`basnet_lib.engine.file_writes`) and read with
``torch.load(..., weights_only=True)``: a file that asks for code or objects is refused, nothing
in it runs (:mod:`basnet_lib.model.tensor_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from basnet_lib.engine.file_writes import write_atomically
from basnet_lib.model.tensor_files import RefusedFileError, load_tensor_file

CHECKPOINT_FORMAT = "basnet-checkpoint-v1"
_REQUIRED_KEYS = ("format", "iteration", "config", "model", "optimizer", "scheduler", "rng")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: unreadable, foreign, or from a different run."""


class CheckpointRefused(CheckpointError, RefusedFileError):
    """A checkpoint whose pickle asks for code or objects; refused before any of it ran."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (see :func:`training_state`) atomically: temp file, fsync, rename; a failed
    write raises :class:`~basnet_lib.engine.file_writes.FileWriteError` (``could not write
    PATH: No space left on device``) with the previous checkpoint intact."""
    payload = {"format": CHECKPOINT_FORMAT, **state}
    return write_atomically(Path(path), lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; clear errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = load_tensor_file(path, kind="checkpoint")
    except RefusedFileError as error:  # a pickle that asks for code: refused, nothing ran
        raise CheckpointRefused(str(error)) from None
    except ValueError as error:  # truncated or corrupt
        raise CheckpointError(str(error)) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(
            f"{path}: not a BASNet training checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r})"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    return state


def config_differences(saved: dict[str, Any], requested: dict[str, Any], *, prefix: str = "") -> list[str]:
    """``"section.field: saved != requested"`` for every differing leaf of two nested config dicts."""
    differences = []
    for key in sorted(set(saved) | set(requested)):
        name = f"{prefix}{key}"
        old, new = saved.get(key, "<absent>"), requested.get(key, "<absent>")
        if isinstance(old, dict) and isinstance(new, dict):
            differences += config_differences(old, new, prefix=f"{name}.")
        elif old != new:
            differences.append(f"{name}: checkpoint has {old!r}, this run asks for {new!r}")
    return differences


def capture_rng_state() -> dict[str, Any]:
    """Global torch RNG states (dropout draws from them); data randomness is seeded per sample.

    On a GPU, the state of this process's device only: a run resumed with another number of
    visible GPUs restores it to its own device (the states of every visible device were saved
    before, and a resume with fewer GPUs failed to restore them)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_device"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda_device" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda_device"])
    elif state.get("cuda") and torch.cuda.is_available():  # written before: one state per device
        torch.cuda.set_rng_state(state["cuda"][min(torch.cuda.current_device(), len(state["cuda"]) - 1)])
