"""Table 1 (mIoU per module) and Table 3 (boundary F) beside the paper's numbers (SPEC F1, F2, F5).

Our numbers come from run directories (``metrics.json``), as percentages, mean ± std over seeds
(SPEC F5). On SynthCity and a small backbone the paper's values are a reference, not a target:
what we compare is the *direction* of each gain the paper claims, and each table says per row
whether that direction is reproduced.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.trainer import RunResult
from basnet_lib.metrics import GSCNN_THRESHOLDS, boundary_radii
from basnet_lib.model import VARIANTS

# Table 1 of the paper: Cityscapes val mIoU (%) without augmentation.
PAPER_TABLE1 = {
    "resnet50": {"baseline": 74.21, "ssb": 75.32, "ssb_bdb": 75.71, "full": 77.14},
    "resnet101": {"baseline": 75.01, "ssb": 76.94, "ssb_bdb": 77.73, "full": 79.20},
}
# Table 3 of the paper: Cityscapes val boundary F (%) at 3/5/9 px (thresholds of SPEC E2).
PAPER_TABLE3 = {
    "DeepLabV3+": (69.7, 74.7, 78.7),
    "GSCNN": (73.6, 77.6, 80.7),
    "BASNet": (74.8, 78.4, 81.1),
}
# Paper's names of the thresholds (pixels at 1024×2048) and our column names.
F_COLUMNS = ("F_3px", "F_5px", "F_9px")
# Table 1 rows as modules switched on (SSB, BDB, AM).
MODULES = {
    "baseline": ("", "", ""),
    "ssb": ("✓", "", ""),
    "ssb_bdb": ("✓", "✓", ""),
    "full": ("✓", "✓", "✓"),
}
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"


def runs_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: backbone, variant, seed, mIoU and F at the three thresholds, in %."""
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
        rows.append(row)
    return pd.DataFrame(rows)


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 1: mIoU mean ± std over seeds per (backbone, variant), each row's gain over the row above.

    Beside every row: the paper's ResNet-50 and ResNet-101 values and gains (the paper's "+1.1%"
    are percentage points), and whether our gain has the paper's direction (all its gains are
    positive). With several seeds, a gain smaller than the seeds' combined std is flagged.
    """
    rows = []
    for backbone, group in runs.groupby("backbone", sort=False):
        previous = None
        for variant in [variant for variant in VARIANTS if variant in set(group["variant"])]:
            values = group.loc[group["variant"] == variant, "mIoU"]
            mean, std = float(values.mean()), _std(values)
            ssb, bdb, am = MODULES[variant]
            row = {
                "backbone": backbone,
                "variant": variant,
                "method": f"{_backbone_title(backbone)}+ASPP",
                "SSB": ssb,
                "BDB": bdb,
                "AM": am,
                "seeds": len(values),
                "mIoU_mean": mean,
                "mIoU_std": std,
                "gain": math.nan if previous is None else mean - previous[0],
            }
            for paper_backbone, paper in PAPER_TABLE1.items():
                row[f"paper_{paper_backbone}"] = paper[variant]
                above = variant_above(variant, present=list(paper))
                row[f"paper_{paper_backbone}_gain"] = paper[variant] - paper[above] if above else math.nan
            row["verdict"] = _gain_verdict(row["gain"], std, None if previous is None else previous[1])
            rows.append(row)
            previous = (mean, std)
    return pd.DataFrame(rows)


def table3(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 3: boundary F (%) at the three thresholds for every variant (mean and std over seeds),
    followed by the paper's rows. ``gain_vs_baseline`` columns hold our gain over our baseline."""
    rows = []
    for backbone, group in runs.groupby("backbone", sort=False):
        baseline = group.loc[group["variant"] == "baseline", list(F_COLUMNS)].mean()
        for variant in [variant for variant in VARIANTS if variant in set(group["variant"])]:
            values = group.loc[group["variant"] == variant]
            row = {"source": "ours", "method": variant, "backbone": backbone, "seeds": len(values)}
            for column in F_COLUMNS:
                row[column] = float(values[column].mean())
                row[f"{column}_std"] = _std(values[column])
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
    """Table 1 as Markdown: ours as ``mean ± std (gain)`` beside the paper's ``value (gain)``."""
    shown = pd.DataFrame(
        {
            "method": frame["method"],
            "SSB": frame["SSB"],
            "BDB": frame["BDB"],
            "AM": frame["AM"],
            "seeds": frame["seeds"],
            "ours mIoU (%)": [
                _mean_std_gain(mean, std, gain)
                for mean, std, gain in zip(frame["mIoU_mean"], frame["mIoU_std"], frame["gain"], strict=True)
            ],
        }
    )
    for name in PAPER_TABLE1:
        shown[f"paper {_backbone_title(name)}"] = [
            _mean_std_gain(value, math.nan, gain)
            for value, gain in zip(frame[f"paper_{name}"], frame[f"paper_{name}_gain"], strict=True)
        ]
    shown["gain direction"] = frame["verdict"]
    return shown.to_markdown(index=False)


def table3_markdown(frame: pd.DataFrame, *, eval_size: tuple[int, int] | None = None) -> str:
    """Table 3 as Markdown, with a note on the thresholds' radius at our evaluation size."""
    shown = pd.DataFrame(
        {"source": frame["source"], "method": frame["method"], "backbone": frame["backbone"]}
    )
    for column in F_COLUMNS:
        std = frame.get(f"{column}_std", pd.Series(math.nan, index=frame.index))
        shown[column] = [
            _mean_std_gain(mean, deviation, math.nan)
            for mean, deviation in zip(frame[column], std, strict=True)
        ]
    note = "Thresholds are fractions of the image diagonal (SPEC E2): 3/5/9 px at 1024×2048"
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


def _std(values: pd.Series) -> float:
    """Sample std over seeds (NaN for one seed: no spread is measured)."""
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _gain_verdict(gain: float, std: float, previous_std: float | None) -> str:
    if math.isnan(gain):
        return "—"
    verdict = REPRODUCED if gain > 0 else NOT_REPRODUCED
    noise = math.hypot(std, previous_std) if previous_std is not None else math.nan
    if not math.isnan(noise) and abs(gain) < noise:
        verdict += " (within seed noise)"
    return verdict


def variant_above(variant: str, *, present: list[str]) -> str | None:
    """The Table 1 row above ``variant`` among the rows present."""
    earlier = [candidate for candidate in VARIANTS[: VARIANTS.index(variant)] if candidate in present]
    return earlier[-1] if earlier else None


def _backbone_title(backbone: str) -> str:
    return backbone.replace("resnet", "ResNet")


def _mean_std_gain(mean: float, std: float, gain: float) -> str:
    text = f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"
    return text if math.isnan(gain) else f"{text} ({gain:+.2f})"


__all__ = [
    "F_COLUMNS",
    "NOT_REPRODUCED",
    "PAPER_TABLE1",
    "PAPER_TABLE3",
    "REPRODUCED",
    "per_class_fscore",
    "run_scores",
    "runs_frame",
    "table1",
    "table1_markdown",
    "table3",
    "table3_markdown",
    "variant_above",
    "write_table",
]
