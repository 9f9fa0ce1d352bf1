"""The boundary branch measured on its own, and GSCNN's boundary F read with its empty pairs apart.

Table 3's F scores the *segmentation's* boundaries. Here, for variants with a boundary output,
the boundary probability map itself is scored against the edge target it was trained on (ODS F
and average precision, :mod:`basnet_lib.metrics.boundary_map`), beside two references that need
no training: the Canny channel of G (the image edges the branch is given) and a constant map.
GSCNN's protocol gives F = 1 to every (image, class) pair where the class is absent from both
maps; :func:`empty_pair_share` says how much of the protocol's mean those pairs make up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.run_files import RunResult
from basnet_lib.metrics import GSCNN_THRESHOLDS
from basnet_lib.reproduction.statistics import format_mean_std, sample_std
from basnet_lib.reproduction.tables import F_COLUMNS

# Period (pixels) of the high-level upsampler's transposed-convolution pattern after the ×4 upsampling.
CHECKERBOARD_PERIOD = 8
# The boundary map must beat the Canny channel and be at least this many times a constant map's F.
CONSTANT_MAP_FACTOR = 2.0


def boundary_map_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run with a boundary output: ODS F, AP, the Canny channel's F and a constant
    map's F against the edge target (%, val)."""
    rows = []
    for result in results:
        metrics = result.metrics
        if metrics.get("boundary_map") is None:
            continue
        rows.append(
            {
                "backbone": metrics["backbone"],
                "variant": metrics["variant"],
                "seed": metrics["seed"],
                "ODS_F": 100 * metrics["boundary_map"]["ODS_F"],
                "AP": 100 * metrics["boundary_map"]["AP"],
                "ODS_threshold": metrics["boundary_map"]["ODS_threshold"],
                "canny_F": 100 * metrics["canny_map"]["F"],
                "constant_F": 100 * metrics["boundary_map"]["constant_map_F"],
            }
        )
    return pd.DataFrame(rows, columns=["backbone", "variant", "seed", "ODS_F", "AP", "ODS_threshold", "canny_F", "constant_F"])


def boundary_map_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (backbone, variant): ODS F and AP mean ± std over seeds, the references, and whether
    every seed's map beats the Canny channel and reaches twice a constant map's F."""
    rows = []
    for (backbone, variant), group in frame.groupby(["backbone", "variant"], sort=False):
        rows.append(
            {
                "backbone": backbone,
                "variant": variant,
                "n": len(group),
                "ODS_F": format_mean_std(group["ODS_F"].mean(), sample_std(group["ODS_F"]), len(group)),
                "AP": format_mean_std(group["AP"].mean(), sample_std(group["AP"]), len(group)),
                "Canny channel F": f"{group['canny_F'].mean():.2f}",
                "constant map F": f"{group['constant_F'].mean():.2f}",
                "beats Canny (every seed)": _yes_no((group["ODS_F"] > group["canny_F"]).all()),
                f"≥ {CONSTANT_MAP_FACTOR:g}× constant (every seed)": _yes_no(
                    (group["ODS_F"] >= CONSTANT_MAP_FACTOR * group["constant_F"]).all()
                ),
            }
        )
    return pd.DataFrame(rows)


def present_f_frame(results: list[RunResult]) -> pd.DataFrame:
    """Per run: GSCNN's mean F (all pairs) and the mean over pairs where the class is in the
    ground truth or the prediction, at the three thresholds (%)."""
    rows = []
    for result in results:
        metrics = result.metrics
        row = {"backbone": metrics["backbone"], "variant": metrics["variant"], "seed": metrics["seed"]}
        for column, threshold in zip(F_COLUMNS, GSCNN_THRESHOLDS, strict=True):
            row[column] = 100 * metrics["boundary_F"][f"{threshold:g}"]
            row[f"{column}_present"] = 100 * metrics["boundary_F_present"][f"{threshold:g}"]
        rows.append(row)
    return pd.DataFrame(rows)


def present_f_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (backbone, variant), mean ± std over seeds of both readings at each threshold."""
    rows = []
    for (backbone, variant), group in frame.groupby(["backbone", "variant"], sort=False):
        row = {"backbone": backbone, "variant": variant, "n": len(group)}
        for column in F_COLUMNS:
            for suffix, label in (("", "GSCNN mean"), ("_present", "present pairs")):
                values = group[f"{column}{suffix}"]
                row[f"{column} {label}"] = format_mean_std(values.mean(), sample_std(values), len(group))
        rows.append(row)
    return pd.DataFrame(rows)


def empty_pair_share(results: list[RunResult]) -> pd.DataFrame:
    """Per class and variant (mean over seeds): the share of val images where the class is absent
    from both maps (F = 1 by convention), and the points of the protocol's mean F those entries
    contribute (share / number of classes · 100)."""
    records = []
    for result in results:
        shares = result.metrics["boundary_empty_pairs"]
        for name in CLASS_NAMES:
            share = shares[name]
            records.append(
                {
                    "variant": result.metrics["variant"],
                    "class": name,
                    "empty_share": 100 * share,
                    "points_of_mean_F": 100 * share / len(CLASS_NAMES),
                }
            )
    frame = pd.DataFrame(records)
    return frame.groupby(["variant", "class"], sort=False).mean().reset_index()


def empty_pair_summary(shares: pd.DataFrame, *, top: int = 5) -> str:
    """Plain sentences: per variant, the points of the mean F that are F = 1 by convention, and
    the classes that contribute most of them."""
    lines = []
    for variant, group in shares.groupby("variant", sort=False):
        ranked = group.sort_values("points_of_mean_F", ascending=False).head(top)
        leaders = ", ".join(
            f"{row['class']} ({row['empty_share']:.0f}% of images, {row['points_of_mean_F']:.1f} pts)"
            for _, row in ranked.iterrows()
        )
        lines.append(
            f"- `{variant}`: {group['points_of_mean_F'].sum():.1f} points of GSCNN's mean F (every "
            f"threshold) are F = 1 entries of classes absent from both maps; most from {leaders}."
        )
    return "\n".join(lines)


def periodic_pattern_strength(maps: np.ndarray, *, period: int = CHECKERBOARD_PERIOD) -> float:
    """The share of a map's (N, H, W) fine detail that follows the pixel's phase modulo ``period``:
    the map minus its local ``period × period`` mean (the content's slow variation would swamp the
    pattern), then the std of its ``period × period`` phase means over its std (1: a pure periodic
    pattern; ~0: none). A stride-2 transposed convolution at 1/4 resolution (the high-level upsampler
    of the third SAB) leaves a period-2 pattern there, period 8 after the ×4 upsampling."""
    detail = maps - uniform_filter(maps.astype(np.float64), size=(1, period, period), mode="reflect")
    phase_means = np.array(
        [[detail[:, row::period, column::period].mean() for column in range(period)] for row in range(period)]
    )
    return float(phase_means.std() / max(float(detail.std()), 1e-12))


def _yes_no(value: bool) -> str:
    return "yes" if bool(value) else "no"
