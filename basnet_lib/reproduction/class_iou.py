"""Per-class IoU of every run, and how the thin classes fare (docs/method.md §6.1).

mIoU averages 19 classes, so a model can reach a fair mIoU while never predicting the thin ones;
the report shows them on their own: IoU mean ± std over seeds and on how many seeds it is 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.run_files import RunResult

# A few pixels wide at SynthCity's 256×512 (docs/decisions.md "Second round").
THIN_CLASSES = ("pole", "traffic light", "traffic sign", "person")


def per_class_iou(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: backbone, variant, seed, then the IoU (%) of each of the 19 classes
    (NaN for a class that occurs neither in the labels nor in the predictions)."""
    rows = []
    for result in results:
        metrics = result.metrics
        row = {"backbone": metrics["backbone"], "variant": metrics["variant"], "seed": metrics["seed"]}
        for name in CLASS_NAMES:
            value = metrics["per_class_iou"][name]
            row[name] = np.nan if value is None else 100 * value
        rows.append(row)
    return pd.DataFrame(rows)


def thin_class_summary(per_class: pd.DataFrame, classes: tuple[str, ...] = THIN_CLASSES) -> pd.DataFrame:
    """One row per (backbone, variant, class): IoU mean and std over seeds (%), the number of
    seeds that scored it, and on how many of them it is 0 (the class is never predicted where it is)."""
    rows = []
    for (backbone, variant), group in per_class.groupby(["backbone", "variant"], sort=False):
        for name in classes:
            values = group[name].dropna()
            rows.append({
                "backbone": backbone, "variant": variant, "class": name, "n": len(values),
                "mean": values.mean(), "std": values.std(ddof=1), "zero_seeds": int((values == 0).sum()),
            })  # fmt: skip
    return pd.DataFrame(rows)


def thin_class_markdown(summary: pd.DataFrame) -> str:
    """The summary as a variants × classes table of ``mean ± std (0 on k of n)``, and which
    (variant, class) pairs are 0 on every seed."""
    cells = summary.assign(cell=[_cell(row) for row in summary.itertuples(index=False)])
    table = cells.pivot_table(index=["backbone", "variant"], columns="class", values="cell", aggfunc="first", sort=False)
    table = table[list(dict.fromkeys(summary["class"]))].reset_index()
    table.columns.name = None
    never = summary[(summary["n"] > 0) & (summary["zero_seeds"] == summary["n"])]
    if never.empty:
        sentence = "Every variant predicts every thin class on at least one seed."
    else:
        pairs = never[["variant", "class"]].itertuples(index=False, name=None)
        sentence = "IoU 0 on every seed: " + ", ".join(f"`{variant}` {name}" for variant, name in pairs) + "."
    return (
        "IoU (%) of the thin classes, mean ± std over seeds and on how many seeds it is 0; all 19 "
        f"classes per run in `tables/per_class_iou.csv`.\n\n{table.to_markdown(index=False)}\n\n{sentence}\n"
    )


def _cell(row) -> str:
    if row.n == 0:
        return "—"
    spread = f" ± {row.std:.1f}" if row.n > 1 else ""
    return f"{row.mean:.1f}{spread} (0 on {row.zero_seeds} of {row.n})"
