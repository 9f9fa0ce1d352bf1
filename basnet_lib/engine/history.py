"""The run directory's training history (``history.csv``); its picture is
:func:`basnet_lib.plots.plot_training_curves`."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor

HISTORY_COLUMNS = (
    "iteration",
    "seg",
    "edge",
    "probes",
    "total",
    "lr",
    "images_per_second",
    "elapsed_seconds",
    "val_images",
    "val_mIoU",
    "val_F_3px",
    "val_F_5px",
    "val_F_9px",
    "val_boundary_ods_f",
    "val_boundary_ap",
)
# Boundary F of GSCNN's three thresholds (3/5/9 px at 1024×2048), in that order.
VAL_F_COLUMNS = ("val_F_3px", "val_F_5px", "val_F_9px")


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Write all rows (atomically: temp file + rename, like checkpoints)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)


def read_history(path: Path, *, up_to_iteration: int) -> list[dict[str, float]]:
    """Rows of an earlier run's history up to ``up_to_iteration`` (for a resumed run)."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        try:
            rows = [_history_row(row) for row in csv.DictReader(handle)]
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{path}: not a readable history, truncated or corrupt? ({error})") from None
    return [row for row in rows if row["iteration"] <= up_to_iteration]


def _history_row(cells: dict[str | None, str | None]) -> dict[str, float]:
    # Empty cells are rows without an evaluation (or a variant without a boundary output); a cut
    # row has None for its missing cells (and a None key for surplus ones).
    if None in cells or None in cells.values():
        raise ValueError(f"the row of iteration {cells.get('iteration')} has missing or extra cells")
    row: dict[str, float] = {key: float(value) for key, value in cells.items() if value != ""}
    row["iteration"] = int(row["iteration"])
    return row


class StepWindow:
    """Loss sums and image counts since the last history row (detached: no device sync)."""

    def __init__(self, *, started: float) -> None:
        self.started = started
        self.sums: dict[str, Tensor] = {}
        self.steps = 0
        self.images = 0

    def add(self, terms: dict[str, Tensor], *, images: int) -> None:
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0) + value.detach()
        self.steps += 1
        self.images += images

    def row(self, iteration: int, *, lr: float, elapsed: float) -> dict[str, float]:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        row = {name: float(value) / self.steps for name, value in self.sums.items()}
        row.update(
            iteration=iteration, lr=lr, images_per_second=self.images / seconds, elapsed_seconds=elapsed
        )
        return row
