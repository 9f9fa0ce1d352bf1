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
)


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
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
    for row in rows:
        row["iteration"] = int(row["iteration"])
    return [row for row in rows if row["iteration"] <= up_to_iteration]


def plot_training_curves(history: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Loss terms (log scale) and learning rate against iteration."""
    # A bare Figure (no pyplot): works under any backend, notebooks' inline one included.
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    losses, rates = figure.subplots(1, 2)
    for term in ("total", "seg", "edge", "probes"):
        values = history[term]
        if (values > 0).any():
            losses.plot(history["iteration"], values, label=term)
    losses.set(xlabel="iteration", ylabel="loss", yscale="log", title=title)
    losses.legend()
    rates.plot(history["iteration"], history["lr"], color="tab:gray")
    rates.set(xlabel="iteration", ylabel="learning rate", title="poly schedule (SPEC D1)")
    figure.savefig(path, dpi=100)
    return path
