"""A run's TensorBoard event files, beside ``history.csv`` (``TrainConfig.tensorboard``).

``{run_dir}/tensorboard/``: the loss terms, learning rate and images/s of every history row, the
validation scores of every validation, and a few validation images with their predicted and true
labels. ``tensorboard --logdir results/`` finds every run directory below it, so a whole grid shows
as one board. TensorBoard is an optional dependency (the ``cluster`` extra); asking for it without
the package installed is an error before the run starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EVENTS_DIR = "tensorboard"
# history.csv columns that are bookkeeping, not curves.
_NOT_SCALARS = ("iteration", "elapsed_seconds", "val_images")


def require_tensorboard() -> None:
    """One line naming the package and the extra when TensorBoard is asked for but missing."""
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise ImportError(
            "TrainConfig.tensorboard (--train.tensorboard) needs the tensorboard package: "
            "pip install 'basnet-lib[cluster]' (or pip install tensorboard)"
        ) from None


class TensorBoardLog:
    """Writes the scalars of history rows and validation images; each (tag, step) once, since a
    row is handed over again when its validation columns arrive."""

    def __init__(self, run_dir: Path, *, purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = Path(run_dir) / EVENTS_DIR
        self._writer = SummaryWriter(log_dir=str(self.path), purge_step=purge_step)
        self._written: set[tuple[str, int]] = set()

    def add_row(self, row: dict[str, float]) -> None:
        step = int(row["iteration"])
        for column, value in row.items():
            tag = f"val/{column.removeprefix('val_')}" if column.startswith("val_") else f"train/{column}"
            if column in _NOT_SCALARS or (tag, step) in self._written:
                continue
            self._writer.add_scalar(tag, float(value), step)
            self._written.add((tag, step))
        self._writer.flush()

    def add_images(self, images: dict[str, np.ndarray], *, step: int) -> None:
        """RGB uint8 (H, W, 3) panels by name."""
        for name, panel in images.items():
            self._writer.add_image(f"val_predictions/{name}", panel, step, dataformats="HWC")
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
