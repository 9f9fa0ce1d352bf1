"""Table 1 (mIoU per module) and Table 3 (boundary F) beside the paper's numbers (docs/method.md §6.1,
§6.2, §6.5).

Our numbers come from run directories (``metrics.json``), as percentages, mean ± std over seeds
(docs/method.md §6.5). On SynthCity and a small backbone the paper's values are a reference, not a target:
what we compare is the *direction* of each gain the paper claims. A gain is judged on the per-seed
paired differences (:func:`paired_differences`) and their Student-t interval (:func:`basnet_lib.reproduction.statistics.paired_stats`),
the one computation behind Table 1's verdicts and :mod:`basnet_lib.reproduction.claims`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.run_files import RunResult
from basnet_lib.metrics import BOUNDARY_IOU_BANDS, GSCNN_THRESHOLDS, boundary_radii
from basnet_lib.model.variants import (
    BASELINE,
    MODULES,
    reference_variant,
    table1_variants,
    variant_names,
    variant_row,
)
from basnet_lib.reproduction.statistics import (
    CONFIDENCE,
    format_ci,
    format_mean_or_mean_std,
    format_mean_std,
    format_points,
    paired_stats,
    sample_std,
)

# Table 3 of the paper: Cityscapes val boundary F (%) at 3/5/9 px (thresholds of docs/method.md §5.2).
PAPER_TABLE3 = {
    "DeepLabV3+": (69.7, 74.7, 78.7),
    "GSCNN": (73.6, 77.6, 80.7),
    "BASNet": (74.8, 78.4, 81.1),
}
# Paper's names of the thresholds (pixels at 1024×2048) and our column names.
F_COLUMNS = ("F_3px", "F_5px", "F_9px")
# The per-run metrics (%) the claims and the noise floor use.
METRICS = ("mIoU", *F_COLUMNS)
# Boundary IoU (docs/method.md §5.4) at the standard band (2 % of the diagonal) and at the F-score's
# three tolerances; NaN for a run evaluated before Boundary IoU existed.
BIOU_COLUMNS = ("BIoU", "BIoU_3px", "BIoU_5px", "BIoU_9px")


def paper_table1() -> dict[str, dict[str, float]]:
    """The paper's Table 1, Cityscapes val mIoU (%) without augmentation, per backbone then variant,
    read from the variant table (:mod:`basnet_lib.model.variants`); a variant the paper lacks is
    left out."""
    paper: dict[str, dict[str, float]] = {}
    for row in table1_variants():
        for backbone, miou in row.paper_miou.items():
            paper.setdefault(backbone, {})[row.name] = miou
    return paper


def paired_differences(
    runs: pd.DataFrame, *, backbone: str, variant: str, reference: str, metric: str
) -> pd.Series:
    """``metric`` of ``variant`` minus ``reference`` per seed (index), on one backbone.

    Only seeds both variants ran are kept: pairing by seed cancels what two runs of a seed share.
    """
    ours, theirs = (variant_values(runs, backbone, name, metric) for name in (variant, reference))
    differences = ours - theirs
    return differences.dropna().sort_index().rename(metric)


def runs_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: backbone, variant, seed, mIoU, F at the three thresholds and Boundary IoU at
    its four bands, in %."""
    rows = []
    for result in results:
        metrics = result.metrics
        row = {
            "backbone": metrics["backbone"],
            "variant": metrics["variant"],
            "seed": metrics["seed"],
            "run_name": metrics.get("run_name", result.run_dir.name),
            "iterations": metrics.get("iterations"),
            "mIoU": 100 * metrics["mIoU"],
        }
        for column, threshold in zip(F_COLUMNS, GSCNN_THRESHOLDS, strict=True):
            row[column] = 100 * metrics["boundary_F"][_threshold_key(threshold)]
        boundary_iou = metrics.get("boundary_IoU") or {}
        for column, band in zip(BIOU_COLUMNS, BOUNDARY_IOU_BANDS, strict=True):
            row[column] = _percent(boundary_iou.get(str(band)))
        rows.append(row)
    return pd.DataFrame(rows)


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 1: mIoU mean ± std over seeds per (backbone, variant), each row's gain over the row it is
    compared with (its ``compared_with`` in the variant table, or the nearest one before it that ran).

    ``gain`` is the difference of the two rows' means; ``paired_*``, ``ci_low``/``ci_high`` and
    ``verdict`` come from the per-seed paired differences (:func:`paired_stats`), as in the claims.
    Beside every row: the paper's ResNet-50 and ResNet-101 values and gains (the paper's "+1.1%"
    are percentage points).
    """
    rows = []
    for backbone in dict.fromkeys(runs["backbone"]):
        present = present_variants(runs, backbone)
        for variant in present:
            rows.append(_table1_row(runs, backbone, variant, reference_variant(variant, present=present)))
    return pd.DataFrame(rows)


def _table1_row(runs: pd.DataFrame, backbone: str, variant: str, reference: str | None) -> dict:
    """One Table 1 row: our mIoU over seeds, the gain over ``reference`` and its paired statistics."""
    values = variant_values(runs, backbone, variant, "mIoU")
    ticked = variant_row(variant).modules
    row = {
        "backbone": backbone,
        "variant": variant,
        "method": f"{_backbone_title(backbone)}+ASPP",
        **{module: "✓" if module in ticked else "" for module in MODULES},
        "seeds": len(values),
        "mIoU_mean": float(values.mean()),
        "mIoU_std": sample_std(values),
        "gain": math.nan,
    }
    paired = None
    if reference is not None:
        row["gain"] = row["mIoU_mean"] - float(variant_values(runs, backbone, reference, "mIoU").mean())
        paired = paired_stats(
            paired_differences(runs, backbone=backbone, variant=variant, reference=reference, metric="mIoU")
        )
    row["paired_n"] = 0 if paired is None else paired.n
    row["paired_gain"] = math.nan if paired is None else paired.mean
    row["ci_low"] = math.nan if paired is None else paired.ci_low
    row["ci_high"] = math.nan if paired is None else paired.ci_high
    for paper_backbone, paper in paper_table1().items():
        row[f"paper_{paper_backbone}"] = paper.get(variant, math.nan)
        paper_reference = reference_variant(variant, present=list(paper))
        row[f"paper_{paper_backbone}_gain"] = (
            paper.get(variant, math.nan) - paper[paper_reference] if paper_reference else math.nan
        )
    row["verdict"] = "—" if paired is None else paired.verdict
    return row


def table3(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 3: boundary F (%) at the three thresholds for every variant (mean and std over seeds),
    followed by the paper's rows. ``gain_vs_baseline`` columns hold our gain over our baseline."""
    rows = []
    for backbone, group in runs.groupby("backbone", sort=False):
        baseline = group.loc[group["variant"] == BASELINE, list(F_COLUMNS)].mean()
        for variant in present_variants(group, backbone):
            values = group.loc[group["variant"] == variant]
            row = {"source": "ours", "method": variant, "backbone": backbone, "seeds": len(values)}
            for column in F_COLUMNS:
                row[column] = float(values[column].mean())
                row[f"{column}_std"] = sample_std(values[column])
                row[f"{column}_gain_vs_baseline"] = row[column] - float(baseline.get(column, math.nan))
            rows.append(row)
    for method, scores in PAPER_TABLE3.items():
        row = {"source": "paper", "method": method, "backbone": "resnet101", "seeds": math.nan}
        row.update(dict(zip(F_COLUMNS, scores, strict=True)))
        rows.append(row)
    return pd.DataFrame(rows)


def per_class_fscore(results: list[RunResult], *, threshold: float = GSCNN_THRESHOLDS[0]) -> pd.DataFrame:
    """Per-class boundary F (%) at ``threshold``: rows ``backbone/variant`` (mean over seeds), columns
    the 19 classes (NaN where a class never occurs)."""
    records = []
    for result in results:
        per_class = result.metrics["per_class_boundary_F"][_threshold_key(threshold)]
        record = {"row": f"{result.metrics['backbone']}/{result.metrics['variant']}"}
        record.update(
            {name: np.nan if per_class[name] is None else 100 * per_class[name] for name in CLASS_NAMES}
        )
        records.append(record)
    frame = pd.DataFrame(records).groupby("row", sort=False).mean()
    frame.index.name = None
    return frame


def run_scores(metrics: dict) -> pd.DataFrame:
    """One run's per-class IoU and boundary F at the three thresholds (%), classes as rows."""
    frame = pd.DataFrame(index=pd.Index(CLASS_NAMES, name="class"))
    frame["IoU"] = [_percent(metrics["per_class_iou"][name]) for name in CLASS_NAMES]
    for column, threshold in zip(F_COLUMNS, GSCNN_THRESHOLDS, strict=True):
        per_class = metrics["per_class_boundary_F"][_threshold_key(threshold)]
        frame[column] = [_percent(per_class[name]) for name in CLASS_NAMES]
    return frame


def table1_markdown(frame: pd.DataFrame) -> str:
    """Table 1 as Markdown: ours as ``mean ± std (n=…)``, the gain over the row above with the paired
    95% interval and its verdict, beside the paper's ``value (gain)``."""
    shown = pd.DataFrame(
        {
            "method": frame["method"],
            "SSB": frame["SSB"],
            "BDB": frame["BDB"],
            "AM": frame["AM"],
            "ours mIoU (%)": [
                format_mean_std(mean, std, int(n))
                for mean, std, n in zip(frame["mIoU_mean"], frame["mIoU_std"], frame["seeds"], strict=True)
            ],
            "gain (pts)": [format_points(gain) for gain in frame["gain"]],
            f"paired {CONFIDENCE:.0%} CI (pts)": [
                format_ci(low, high) for low, high in zip(frame["ci_low"], frame["ci_high"], strict=True)
            ],
        }
    )
    for name in paper_table1():
        shown[f"paper {_backbone_title(name)}"] = [
            _mean_std_gain(value, math.nan, gain)
            for value, gain in zip(frame[f"paper_{name}"], frame[f"paper_{name}_gain"], strict=True)
        ]
    shown["verdict"] = frame["verdict"]
    return shown.to_markdown(index=False, disable_numparse=True)


def table3_markdown(frame: pd.DataFrame, *, eval_size: tuple[int, int] | None = None) -> str:
    """Table 3 as Markdown (ours as ``mean ± std`` over ``n`` seeds), with a note on the thresholds'
    radius at our evaluation size."""
    shown = pd.DataFrame(
        {
            "source": frame["source"],
            "method": frame["method"],
            "backbone": frame["backbone"],
            "n": ["" if math.isnan(n) else str(int(n)) for n in frame["seeds"].astype(float)],
        }
    )
    for column in F_COLUMNS:
        std = frame.get(f"{column}_std", pd.Series(math.nan, index=frame.index))
        shown[column] = [
            _mean_std_gain(mean, deviation, math.nan)
            for mean, deviation in zip(frame[column], std, strict=True)
        ]
    note = "Thresholds are fractions of the image diagonal (docs/method.md §5.2): 3/5/9 px at 1024×2048"
    if eval_size is not None:
        radii = boundary_radii(GSCNN_THRESHOLDS, height=eval_size[0], width=eval_size[1])
        note += f", {'/'.join(str(radius) for radius in radii)} px at our {eval_size[0]}×{eval_size[1]}"
    return shown.to_markdown(index=False) + f"\n\n{note}. The paper's rows are ResNet-101 on Cityscapes.\n"


def write_table(frame: pd.DataFrame, markdown: str, out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """``{name}.csv`` (all numbers) and ``{name}.md`` (the formatted table) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, markdown_path = out_dir / f"{name}.csv", out_dir / f"{name}.md"
    frame.to_csv(csv_path, index=frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex))
    markdown_path.write_text(markdown.rstrip() + "\n")
    return csv_path, markdown_path


def _threshold_key(threshold: float) -> str:
    return f"{threshold:g}"


def _percent(value: float | None) -> float:
    return math.nan if value is None else 100 * value


def present_variants(runs: pd.DataFrame, backbone: str) -> list[str]:
    """The Table 1 variants ``runs`` holds for ``backbone``, in Table 1 order."""
    ran = set(runs.loc[runs["backbone"] == backbone, "variant"])
    return [variant for variant in variant_names() if variant in ran]


def variant_values(runs: pd.DataFrame, backbone: str, variant: str, metric: str) -> pd.Series:
    """``metric`` of every run of ``backbone``/``variant``, indexed by seed (NaN dropped)."""
    rows = runs[(runs["backbone"] == backbone) & (runs["variant"] == variant)]
    if rows["seed"].duplicated().any():
        raise ValueError(f"several {backbone}/{variant} runs share a seed: {sorted(rows['seed'])}")
    return rows.set_index("seed")[metric].astype(float).dropna()


def _backbone_title(backbone: str) -> str:
    return backbone.replace("resnet", "ResNet")


def _mean_std_gain(mean: float, std: float, gain: float) -> str:
    if math.isnan(mean):
        return "—"  # a variant the paper lacks
    text = format_mean_or_mean_std(mean, std)
    return text if math.isnan(gain) else f"{text} ({gain:+.2f})"
