"""Curves over training steps: one run's losses, learning rate and val scores
(``training_curves.png`` of a run directory), and the validation learning curves of every seed of
every variant beside the long runs of the same recipe."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pandas as pd
from matplotlib.figure import Figure

from basnet_lib.model.variants import variant_colors

# Panels: val mIoU, boundary F at the strictest threshold, the boundary map's own ODS F.
PANELS = (
    ("val_mIoU", "val mIoU (%)"),
    ("val_F_3px", "val boundary F, 3 px (%)"),
    ("val_boundary_ods_f", "boundary map ODS F (%)"),
)


def learning_curves_plot(curves: pd.DataFrame, long_runs: pd.DataFrame | None = None) -> Figure:
    """One thin line per run (solid: the committed schedule; dashed: the long runs, 4× the steps)
    per panel, coloured by variant."""
    colors = variant_colors()
    figure = Figure(figsize=(15, 4.2), layout="constrained")
    axes = figure.subplots(1, len(PANELS))
    sources = [(curves, "-", "")] + ([(long_runs, "--", " (long)")] if long_runs is not None else [])
    for frame, style, suffix in sources:
        for (variant, _seed), run in frame.groupby(["variant", "seed"], sort=False):
            for axis, (column, _) in zip(axes, PANELS, strict=True):
                if run[column].notna().any():
                    axis.plot(
                        run["iteration"],
                        run[column],
                        style,
                        marker=".",
                        linewidth=1,
                        color=colors.get(variant, "black"),
                        label=f"{variant}{suffix}",  # one legend entry per variant (deduplicated below)
                    )
    for axis, (_, label) in zip(axes, PANELS, strict=True):
        axis.set(xlabel="training step", ylabel=label)
        handles, labels = axis.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        if unique:
            axis.legend(unique.values(), unique.keys(), fontsize=8)
    return figure


def plot_training_curves(history: pd.DataFrame, path: Path | BinaryIO, *, title: str) -> Path | BinaryIO:
    """Loss terms (log scale), learning rate and, when the run evaluated on val during training,
    val mIoU and boundary F (3 px; boundary-map ODS F for variants with a boundary output), as a
    PNG file at ``path`` or into a binary file."""
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
    figure.savefig(path, dpi=100, format="png")
    return path
