"""Validation learning curves: every seed of every variant, and the long runs of the same recipe."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from basnet_lib.plots.charts import VARIANT_COLORS

# Panels: val mIoU, boundary F at the strictest threshold, the boundary map's own ODS F.
PANELS = (
    ("val_mIoU", "val mIoU (%)"),
    ("val_F_3px", "val boundary F, 3 px (%)"),
    ("val_boundary_ods_f", "boundary map ODS F (%)"),
)


def learning_curves_plot(curves: pd.DataFrame, long_runs: pd.DataFrame | None = None) -> Figure:
    """One thin line per run (solid: the committed schedule; dashed: the long runs, 4× the steps)
    per panel, coloured by variant."""
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
                        color=VARIANT_COLORS.get(variant, "black"),
                        label=f"{variant}{suffix}",  # one legend entry per variant (deduplicated below)
                    )
    for axis, (_, label) in zip(axes, PANELS, strict=True):
        axis.set(xlabel="training step", ylabel=label)
        handles, labels = axis.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        if unique:
            axis.legend(unique.values(), unique.keys(), fontsize=8)
    return figure


__all__ = ["learning_curves_plot"]
