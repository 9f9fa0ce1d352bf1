"""Charts of the tables: Table 1 bars with error bars, F against tolerance, per-class F heatmap.

Library figures are bare :class:`matplotlib.figure.Figure` objects (no pyplot state), so they
work in notebooks, under papermill and headless alike; :func:`save_figure` writes small PNGs.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from basnet_lib.model.variants import variant_colors


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Save ``figure`` as PNG at ``dpi`` (about 100 keeps committed files small)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def figure_png(figure: Figure, *, dpi: int = 100) -> bytes:
    """``figure`` as PNG bytes, for ``IPython.display.Image(data=...)``: a notebook shows it without a
    file and whatever the matplotlib backend."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def table1_bar_chart(table1_frame: pd.DataFrame, *, paper: dict[str, dict[str, float]]) -> Figure:
    """Our mIoU per variant (mean, error bar = std over seeds) per backbone, beside the paper's bars
    (``paper``: mIoU per variant per backbone, for ``resnet50`` and ``resnet101``). Each variant has
    its colour of the variant table (:func:`basnet_lib.model.variants.variant_colors`)."""
    colors = variant_colors()
    backbones = list(dict.fromkeys(table1_frame["backbone"]))
    figure = Figure(figsize=(4.5 * (len(backbones) + 1), 3.6), layout="constrained")
    axes = figure.subplots(1, len(backbones) + 1, squeeze=False)[0]
    for axis, backbone in zip(axes, backbones, strict=False):
        rows = table1_frame[table1_frame["backbone"] == backbone]
        positions = np.arange(len(rows))
        errors = rows["mIoU_std"].fillna(0).to_numpy()
        axis.bar(
            positions,
            rows["mIoU_mean"],
            yerr=errors,
            capsize=4,
            color=[colors[variant] for variant in rows["variant"]],
        )
        for position, (mean, gain) in enumerate(zip(rows["mIoU_mean"], rows["gain"], strict=True)):
            label = f"{mean:.1f}" if np.isnan(gain) else f"{mean:.1f}\n({gain:+.1f})"
            axis.annotate(
                label,
                (position, mean),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 3),
                textcoords="offset points",
            )
        seeds = int(rows["seeds"].max())
        axis.set(
            xticks=positions,
            ylabel="val mIoU (%)",
            title=f"ours: {backbone} ({seeds} seed{'s' * (seeds > 1)})",
        )
        axis.set_xticklabels(rows["variant"], rotation=20)
        axis.set_ylim(0, max(1.0, float((rows["mIoU_mean"] + errors).max()) * 1.25))
    paper_axis = axes[-1]
    width = 0.38
    variants = list(dict.fromkeys(name for values in paper.values() for name in values))
    for offset, (name, values) in zip((-width / 2, width / 2), paper.items(), strict=True):
        paper_axis.bar(
            np.arange(len(variants)) + offset,
            [values.get(v, np.nan) for v in variants],
            width,
            label=name,
            color=[colors[v] for v in variants],
            alpha=0.55 if name == "resnet50" else 0.95,
        )
    paper_axis.set(
        xticks=np.arange(len(variants)),
        ylim=(70, 80),
        ylabel="Cityscapes val mIoU (%)",
        title="paper, Table 1 (light: R50, dark: R101)",
    )
    paper_axis.set_xticklabels(variants, rotation=20)
    return figure


def fscore_tolerance_plot(table3_frame: pd.DataFrame, *, f_columns: tuple[str, str, str]) -> Figure:
    """Boundary F against the tolerance (3/5/9 px thresholds): ours per variant and the paper's rows.

    ``f_columns`` names the frame's F columns of the three thresholds, strictest first.
    """
    colors = variant_colors()
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    ours_axis, paper_axis = figure.subplots(1, 2)
    tolerances = [3, 5, 9]
    ours = table3_frame[table3_frame["source"] == "ours"]
    for _, row in ours.iterrows():
        means = row[list(f_columns)].to_numpy(dtype=float)
        errors = np.nan_to_num(row[[f"{c}_std" for c in f_columns]].to_numpy(dtype=float))
        label = row["method"] if ours["backbone"].nunique() == 1 else f"{row['backbone']}/{row['method']}"
        ours_axis.errorbar(
            tolerances,
            means,
            yerr=errors,
            marker="o",
            capsize=3,
            label=label,
            color=colors.get(row["method"]),
        )
    ours_axis.set(
        xlabel="threshold (px at 1024×2048)", ylabel="boundary F (%)", title="ours (val)", xticks=tolerances
    )
    ours_axis.legend(fontsize=8)
    for _, row in table3_frame[table3_frame["source"] == "paper"].iterrows():
        paper_axis.plot(
            tolerances, row[list(f_columns)].to_numpy(dtype=float), marker="s", label=row["method"]
        )
    paper_axis.set(
        xlabel="threshold (px at 1024×2048)",
        ylabel="boundary F (%)",
        title="paper, Table 3 (Cityscapes val)",
        xticks=tolerances,
    )
    paper_axis.legend(fontsize=8)
    return figure


def per_class_fscore_heatmap(per_class: pd.DataFrame, *, threshold_label: str = "3px") -> Figure:
    """Seaborn heatmap of per-class boundary F (%): rows variants, columns classes."""
    # Imported here: seaborn adds ~750 modules (~60 MB) to every training process that draws curves.
    import seaborn as sns

    figure = Figure(figsize=(12, 1.2 + 0.45 * len(per_class)), layout="constrained")
    axis = figure.subplots()
    sns.heatmap(
        per_class,
        ax=axis,
        annot=True,
        fmt=".0f",
        vmin=0,
        vmax=100,
        cmap="viridis",
        cbar_kws={"label": "F (%)"},
        annot_kws={"fontsize": 7},
    )
    axis.set(title=f"per-class boundary F at the {threshold_label} threshold (val)", xlabel="", ylabel="")
    axis.tick_params(axis="x", labelrotation=60)
    return figure
