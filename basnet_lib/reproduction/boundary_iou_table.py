"""Table 3's second measure: Boundary IoU (docs/method.md §5.4) beside GSCNN's boundary F.

The paper reports no Boundary IoU, so there is no paper column and no claim of the paper to count:
what the table adds is whether the boundary F-score's reading of full against the baseline holds
under a measure without F's empty-pair convention. Per variant, mean ± std over seeds at the
standard band and at the F-score's three tolerances; then full − baseline per seed, paired, with
the same Student-t interval and verdict rule as the claims (:func:`paired_stats`).
"""

from __future__ import annotations

import math

import pandas as pd

from basnet_lib.metrics import BOUNDARY_IOU_BANDS
from basnet_lib.metrics.boundary_iou import band_width
from basnet_lib.model.variants import BASELINE, FULL
from basnet_lib.reproduction.statistics import (
    CONFIDENCE,
    format_mean_or_mean_std,
    interval_columns,
    paired_stats,
    sample_std,
)
from basnet_lib.reproduction.tables import (
    BIOU_COLUMNS,
    F_COLUMNS,
    paired_differences,
    present_variants,
    variant_values,
)

PAIR_COLUMNS = ["backbone", "compared", "metric", "n", "mean_difference", "ci_low", "ci_high", "verdict"]


def boundary_iou_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (backbone, variant): n seeds with Boundary IoU, and per band its mean and std (%)."""
    rows = []
    for backbone in dict.fromkeys(runs["backbone"]):
        for variant in present_variants(runs, backbone):
            # Every band comes from the same evaluation: the seeds with one have them all.
            seeds = len(variant_values(runs, backbone, variant, BIOU_COLUMNS[0]))
            row: dict[str, object] = {"backbone": backbone, "variant": variant, "n": seeds}
            for column in BIOU_COLUMNS:
                values = variant_values(runs, backbone, variant, column)
                row[column] = float(values.mean()) if len(values) else math.nan
                row[f"{column}_std"] = sample_std(values)
            rows.append(row)
    return pd.DataFrame(rows)


def full_vs_baseline_pairs(runs: pd.DataFrame) -> pd.DataFrame:
    """full − baseline per seed, paired, for Boundary IoU at every band and boundary F at every
    tolerance side by side: n, mean difference (points), the interval and its verdict."""
    rows = []
    for backbone in dict.fromkeys(runs["backbone"]):
        if not {BASELINE, FULL} <= set(present_variants(runs, backbone)):
            continue
        for metric in (*BIOU_COLUMNS, *F_COLUMNS):
            stats = paired_stats(
                paired_differences(runs, backbone=backbone, variant=FULL, reference=BASELINE, metric=metric)
            )
            compared = f"{FULL} − {BASELINE}"
            rows.append(
                [backbone, compared, metric, stats.n, stats.mean, stats.ci_low, stats.ci_high, stats.verdict]
            )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def boundary_iou_markdown(
    table: pd.DataFrame, pairs: pd.DataFrame, *, eval_size: tuple[int, int] | None = None
) -> str:
    """Both tables as Markdown with a note on the bands' widths in pixels; says so plainly when no
    run holds Boundary IoU (runs evaluated before it existed)."""
    if table.empty or table["n"].max() == 0:
        return (
            "No run holds Boundary IoU: these runs were evaluated before it existed. "
            "`basnet evaluate RUN` writes it to `RUN/eval_val*.json`; a retrained run has it in `metrics.json`.\n"
        )
    shown = table[["backbone", "variant", "n"]].copy()
    for column in BIOU_COLUMNS:
        shown[column] = [
            "—" if math.isnan(mean) else format_mean_or_mean_std(mean, std)
            for mean, std in zip(table[column], table[f"{column}_std"], strict=True)
        ]
    paired = pd.DataFrame({"compared": list(pairs["compared"]), "metric": list(pairs["metric"]), **interval_columns(pairs)})
    return (
        "Boundary IoU (%), val, mean ± std over seeds. `BIoU` is the standard band (2 % of the image "
        f"diagonal{_band_pixels(eval_size)}); `BIoU_3px/5px/9px` use the F-score's tolerances. The paper "
        "reports no Boundary IoU.\n\n"
        + shown.to_markdown(index=False, disable_numparse=True)
        + f"\n\nfull − baseline per seed, paired ({CONFIDENCE:.0%} Student-t interval, the claims' verdict "
        "rule), Boundary IoU beside boundary F:\n\n"
        + (
            paired.to_markdown(index=False, disable_numparse=True)
            if not pairs.empty
            else "(no full/baseline pair)"
        )
        + "\n"
    )


def _band_pixels(eval_size: tuple[int, int] | None) -> str:
    if eval_size is None:
        return ""
    widths = "/".join(
        str(band_width(band, height=eval_size[0], width=eval_size[1])) for band in BOUNDARY_IOU_BANDS
    )
    return f"; {widths} px for BIoU/3px/5px/9px at our {eval_size[0]}×{eval_size[1]}"
