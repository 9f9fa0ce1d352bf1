"""Per-class IoU and the thin-class summary of the report (docs/method.md §6.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.run_files import RunResult
from basnet_lib.reproduction.class_iou import (
    THIN_CLASSES,
    per_class_iou,
    thin_class_markdown,
    thin_class_summary,
)


def run_with_iou(variant: str, seed: int, **iou: float | None) -> RunResult:
    per_class = dict.fromkeys(CLASS_NAMES, 0.5) | {name.replace("_", " "): value for name, value in iou.items()}
    metrics = {"variant": variant, "backbone": "resnet18", "seed": seed, "per_class_iou": per_class}
    return RunResult(run_dir=Path(f"{variant}-{seed}"), config=None, metrics=metrics, reused=True)


RUNS = [
    run_with_iou("baseline", 0, traffic_light=0.0, pole=0.001),
    run_with_iou("baseline", 1, traffic_light=0.0, pole=0.0),
    run_with_iou("full", 0, traffic_light=0.2, pole=None),  # pole neither labelled nor predicted
    run_with_iou("full", 1, traffic_light=0.0, pole=None),
]


def test_per_class_iou_is_percent_with_nan_for_absent_classes() -> None:
    frame = per_class_iou(RUNS)
    assert list(frame.columns) == ["backbone", "variant", "seed", *CLASS_NAMES]
    assert frame.loc[0, "pole"] == 0.1 and frame.loc[0, "road"] == 50.0
    assert np.isnan(frame.loc[2, "pole"])


def test_thin_class_summary_counts_seeds_at_zero() -> None:
    summary = thin_class_summary(per_class_iou(RUNS)).set_index(["variant", "class"])
    assert list(summary.loc["baseline"].index) == list(THIN_CLASSES)
    light = summary.loc[("baseline", "traffic light")]
    assert (light["n"], light["zero_seeds"], light["mean"]) == (2, 2, 0.0)
    pole = summary.loc[("baseline", "pole")]
    assert (pole["zero_seeds"], round(pole["mean"], 3)) == (1, 0.05)
    assert summary.loc[("full", "traffic light"), "zero_seeds"] == 1
    assert summary.loc[("full", "pole"), "n"] == 0


def test_thin_class_markdown_names_classes_never_predicted() -> None:
    text = thin_class_markdown(thin_class_summary(per_class_iou(RUNS)))
    assert "| baseline  | 0.1 ± 0.1 (0 on 1 of 2)" in text
    assert "0.0 ± 0.0 (0 on 2 of 2)" in text and "10.0 ± 14.1 (0 on 1 of 2)" in text
    assert text.rstrip().endswith("IoU 0 on every seed: `baseline` traffic light.")
    predicted = [run_with_iou(variant, seed) for variant in ("baseline", "full") for seed in (0, 1)]
    assert "Every variant predicts every thin class" in thin_class_markdown(thin_class_summary(per_class_iou(predicted)))
