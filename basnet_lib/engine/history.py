"""The run directory's training history (``history.csv``) and its curve (``training_curves.png``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

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
        # Empty cells are rows without an evaluation (or a variant without a boundary output).
        rows = [
            {key: float(value) for key, value in row.items() if value != ""} for row in csv.DictReader(handle)
        ]
    for row in rows:
        row["iteration"] = int(row["iteration"])
    return [row for row in rows if row["iteration"] <= up_to_iteration]


def plot_training_curves(history: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Loss terms (log scale), learning rate and, when the run evaluated on val during training,
    val mIoU and boundary F (3 px; boundary-map ODS F for variants with a boundary output)."""
    evaluated = history[history["val_mIoU"].notna()] if "val_mIoU" in history else history.iloc[:0]
    panels = 3 if len(evaluated) else 2
    # A bare Figure (no pyplot): works under any backend, notebooks' inline one included.
    figure = Figure(figsize=(5 * panels, 3.5), layout="constrained")
    losses, rates, *validation = figure.subplots(1, panels)
    for term in ("total", "seg", "edge", "probes"):
        values = history[term]
        if (values > 0).any():
            losses.plot(history["iteration"], values, label=term)
    losses.set(xlabel="iteration", ylabel="loss", yscale="log", title=title)
    losses.legend()
    rates.plot(history["iteration"], history["lr"], color="tab:gray")
    rates.set(xlabel="iteration", ylabel="learning rate", title="learning-rate schedule")
    if validation:
        curves = {"val_mIoU": "mIoU", "val_F_3px": "boundary F 3 px", "val_boundary_ods_f": "boundary map ODS F"}
        for column, label in curves.items():
            if column in evaluated and evaluated[column].notna().any():
                validation[0].plot(evaluated["iteration"], 100 * evaluated[column], marker="o", label=label)
        validation[0].set(xlabel="iteration", ylabel="%", title="val during training")
        validation[0].legend()
    figure.savefig(path, dpi=100)
    return path
