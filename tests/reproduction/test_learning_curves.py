"""Validation learning curves and the plateau gap (basnet_lib.reproduction.learning_curves) on hand-made histories."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from basnet_lib.engine.history import HISTORY_COLUMNS
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import HISTORY_FILE, RunResult
from basnet_lib.reproduction.learning_curves import (
    CURVE_COLUMNS,
    LONG_RUNS_CSV,
    final_points,
    plateau_gap,
    read_long_runs,
    validation_curves,
)


def history_row(iteration: int, evaluation: dict[str, float] | None = None) -> dict[str, float | str]:
    """A history.csv row; without ``evaluation`` the val_* cells are empty (no evaluation)."""
    row: dict[str, float | str] = dict.fromkeys(HISTORY_COLUMNS, "")
    row.update(
        iteration=iteration,
        seg=1.0,
        edge=0.5,
        probes=0.2,
        total=1.7,
        lr=0.01,
        images_per_second=8.0,
        elapsed_seconds=float(iteration),
    )
    if evaluation is not None:
        row.update(evaluation)
    return row


def evaluation(miou: float, f3: float, *, images: int = 4, ods: float | None = None) -> dict[str, float]:
    values = {
        "val_images": images,
        "val_mIoU": miou,
        "val_F_3px": f3,
        "val_F_5px": f3 + 0.1,
        "val_F_9px": f3 + 0.2,
    }
    if ods is not None:
        values["val_boundary_ods_f"] = ods
        values["val_boundary_ap"] = ods - 0.05
    return values


def fake_run(
    run_dir: Path,
    rows: list[dict],
    *,
    variant: str = "full",
    seed: int = 0,
    iterations: int | None = None,
    backbone: str = "",
) -> RunResult:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / HISTORY_FILE, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    run = preset("smoke", variant=variant, seed=seed, backbone=backbone)
    last = rows[-1]["iteration"] if iterations is None else iterations
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, iterations=last))
    return RunResult(run_dir=run_dir, config=run, metrics={}, reused=True)


def three_point_run(
    run_dir: Path, *, variant="full", seed=0, miou=(0.1, 0.2, 0.3), f3=(0.05, 0.1, 0.15), backbone=""
):
    """Evaluations at 20, 40 and 60 of a 60-step run; rows at 10, 30, 50 without one."""
    rows = [
        history_row(10),
        history_row(20, evaluation(miou[0], f3[0], images=2)),
        history_row(30),
        history_row(40, evaluation(miou[1], f3[1], images=2)),
        history_row(50),
        history_row(60, evaluation(miou[2], f3[2], images=4, ods=0.25)),
    ]
    return fake_run(run_dir, rows, variant=variant, seed=seed, backbone=backbone)


# --- validation_curves -----------------------------------------------------------------------


def test_validation_curves_keeps_evaluated_rows_in_percent(tmp_path: Path) -> None:
    curves = validation_curves([three_point_run(tmp_path / "a", seed=2)])
    assert list(curves["iteration"]) == [20, 40, 60]
    assert list(curves["val_images"]) == [2, 2, 4]
    assert list(curves["val_mIoU"]) == pytest.approx([10.0, 20.0, 30.0])
    assert list(curves["val_F_3px"]) == pytest.approx([5.0, 10.0, 15.0])
    assert list(curves["val_F_5px"]) == pytest.approx([15.0, 20.0, 25.0])
    assert list(curves["val_F_9px"]) == pytest.approx([25.0, 30.0, 35.0])
    # Empty cells stay missing; filled ones are converted too.
    assert curves["val_boundary_ods_f"].isna().tolist() == [True, True, False]
    assert curves["val_boundary_ods_f"].iloc[-1] == pytest.approx(25.0)


def test_validation_curves_carries_run_identity(tmp_path: Path) -> None:
    results = [
        three_point_run(tmp_path / "a", variant="ssb", seed=1),
        three_point_run(tmp_path / "b", variant="full", seed=4, backbone="resnet50"),
    ]
    curves = validation_curves(results)
    assert list(curves.columns) == [
        "backbone",
        "variant",
        "seed",
        "run_iterations",
        "iteration",
        "val_images",
        *CURVE_COLUMNS,
    ]
    assert len(curves) == 6
    assert list(curves["backbone"]) == ["resnet18"] * 3 + ["resnet50"] * 3
    assert list(curves["variant"]) == ["ssb"] * 3 + ["full"] * 3
    assert list(curves["seed"]) == [1] * 3 + [4] * 3
    assert set(curves["run_iterations"]) == {60}


def test_a_missing_unreadable_or_unevaluated_history_is_an_error_not_a_gap(tmp_path: Path) -> None:
    """Case 6 of "Nothing lost, round two": a run left out of learning_curves.png without a word."""
    good = three_point_run(tmp_path / "a")
    missing = RunResult(run_dir=tmp_path / "none", config=preset("smoke"), metrics={}, reused=True)
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'none' / HISTORY_FILE}: no such file"):
        validation_curves([good, missing])

    garbage = three_point_run(tmp_path / "garbage")
    (garbage.run_dir / HISTORY_FILE).write_bytes(b"\x00\x81 not a history\nat all\n")
    with pytest.raises(ValueError, match=f"^{garbage.run_dir / HISTORY_FILE}: not a readable history"):
        validation_curves([good, garbage])

    no_val_columns = tmp_path / "old"
    no_val_columns.mkdir()
    history = pd.DataFrame({"iteration": [5, 6], "total": [1.0, 0.9]})
    history.to_csv(no_val_columns / HISTORY_FILE, index=False)
    old = RunResult(run_dir=no_val_columns, config=preset("smoke"), metrics={}, reused=True)
    with pytest.raises(ValueError, match=r"not a finished run's history: .* with the final evaluation"):
        validation_curves([good, old])


def test_a_damaged_study_csv_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / LONG_RUNS_CSV
    path.parent.mkdir(parents=True)
    path.write_text("backbone,variant\nresnet18,full\n")
    with pytest.raises(ValueError, match=f"^{path}: lacks the columns \\['seed'"):
        read_long_runs(tmp_path)
    curves = validation_curves([three_point_run(tmp_path / "run")])
    curves.loc[1, "val_mIoU"] = float("nan")
    curves.to_csv(path, index=False)
    with pytest.raises(ValueError, match=f"^{path}: column 'val_mIoU' holds a value that is not a finite"):
        read_long_runs(tmp_path)


def test_validation_curves_without_boundary_map_columns(tmp_path: Path) -> None:
    """A history without the boundary-map columns (older run) gives NaN there, not an error."""
    run_dir = tmp_path / "old-format"
    run_dir.mkdir()
    pd.DataFrame(
        {
            "iteration": [5, 10],
            "val_images": [float("nan"), 3],
            "val_mIoU": [float("nan"), 0.4],
            "val_F_3px": [float("nan"), 0.2],
            "val_F_5px": [float("nan"), 0.3],
            "val_F_9px": [float("nan"), 0.35],
        }
    ).to_csv(run_dir / HISTORY_FILE, index=False)
    run = preset("smoke", variant="baseline")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, iterations=10))
    curves = validation_curves([RunResult(run_dir=run_dir, config=run, metrics={}, reused=True)])
    assert len(curves) == 1
    assert curves["val_mIoU"].iloc[0] == pytest.approx(40.0)
    assert math.isnan(curves["val_boundary_ods_f"].iloc[0])


# --- final_points ----------------------------------------------------------------------------


def test_final_points_picks_the_last_evaluation_of_every_run(tmp_path: Path) -> None:
    results = [
        three_point_run(tmp_path / "a", seed=0, miou=(0.1, 0.2, 0.3)),
        three_point_run(tmp_path / "b", seed=1, miou=(0.1, 0.25, 0.35)),
    ]
    final = final_points(validation_curves(results))
    assert list(final.index) == [0, 1]
    assert list(final["seed"]) == [0, 1]
    assert list(final["iteration"]) == [60, 60]
    assert list(final["val_mIoU"]) == pytest.approx([30.0, 35.0])
    assert list(final["val_images"]) == [4, 4]


# --- plateau_gap -----------------------------------------------------------------------------


def test_plateau_gap_is_long_minus_committed_means_per_variant(tmp_path: Path) -> None:
    committed = validation_curves(
        [
            three_point_run(
                tmp_path / "c-full-0", variant="full", seed=0, miou=(0.1, 0.2, 0.30), f3=(0.0, 0.0, 0.10)
            ),
            three_point_run(
                tmp_path / "c-full-1", variant="full", seed=1, miou=(0.1, 0.2, 0.34), f3=(0.0, 0.0, 0.14)
            ),
            three_point_run(tmp_path / "c-base-0", variant="baseline", seed=0, miou=(0.1, 0.2, 0.25)),
            # No long run of ssb: left out of the gap table.
            three_point_run(tmp_path / "c-ssb-0", variant="ssb", seed=0),
        ]
    )
    long_rows = [history_row(80, evaluation(0.3, 0.1)), history_row(240, evaluation(0.50, 0.20))]
    long_base = [history_row(240, evaluation(0.41, 0.2))]
    long_runs = validation_curves(
        [
            fake_run(tmp_path / "l-full-0", long_rows, variant="full", seed=0),
            fake_run(tmp_path / "l-base-0", long_base, variant="baseline", seed=0),
        ]
    )
    gap = plateau_gap(committed, long_runs)
    assert list(gap["variant"]) == ["full", "baseline"]
    full = gap.set_index("variant").loc["full"]
    assert full["steps"] == 60
    assert full["seeds"] == 2
    assert full["long steps"] == 240
    assert full["long seeds"] == 1
    assert full["mIoU"] == pytest.approx(32.0)
    assert full["mIoU long"] == pytest.approx(50.0)
    assert full["mIoU gap"] == pytest.approx(18.0)
    assert full["F_3px"] == pytest.approx(12.0)
    assert full["F_3px long"] == pytest.approx(20.0)
    assert full["F_3px gap"] == pytest.approx(8.0)
    baseline = gap.set_index("variant").loc["baseline"]
    assert baseline["mIoU gap"] == pytest.approx(41.0 - 25.0)


def test_plateau_gap_matches_backbone_too(tmp_path: Path) -> None:
    committed = validation_curves([three_point_run(tmp_path / "c", variant="full", backbone="resnet50")])
    long_runs = validation_curves(
        [fake_run(tmp_path / "l", [history_row(240, evaluation(0.5, 0.2))], variant="full")]  # resnet18
    )
    assert plateau_gap(committed, long_runs).empty


# --- read_long_runs --------------------------------------------------------------------------


def test_read_long_runs_none_without_the_file(tmp_path: Path) -> None:
    assert read_long_runs(tmp_path) is None
    assert read_long_runs(str(tmp_path)) is None


def test_read_long_runs_reads_the_study_csv(tmp_path: Path) -> None:
    curves = validation_curves([three_point_run(tmp_path / "run", variant="ssb_bdb", seed=3)])
    path = tmp_path / "results" / LONG_RUNS_CSV
    path.parent.mkdir(parents=True)
    curves.to_csv(path, index=False)
    frame = read_long_runs(tmp_path / "results")
    assert frame is not None
    assert list(frame.columns) == list(curves.columns)
    assert len(frame) == 3
    assert list(frame["variant"]) == ["ssb_bdb"] * 3
    assert list(frame["val_mIoU"]) == pytest.approx([10.0, 20.0, 30.0])
    # Read back, it feeds plateau_gap like a fresh frame.
    assert len(final_points(frame)) == 1


def test_width_comparison_and_summary_follow_the_numbers() -> None:
    from basnet_lib.reproduction.learning_curves import width_comparison, width_summary

    runs = pd.DataFrame(
        {
            "backbone": ["resnet18"] * 2,
            "variant": ["baseline", "full"],
            "seed": [0, 0],
            "mIoU": [40.0, 30.0],
            "F_3px": [30.0, 35.0],
        }
    )
    closing = pd.DataFrame(
        {"backbone": ["resnet18"], "variant": ["full"], "seed": [0], "width": [128], "mIoU": [38.0], "F_3px": [33.0]}
    )
    wide_ssb = closing.assign(variant="ssb", mIoU=45.0)  # the study's other variants are not the full model
    comparison = width_comparison(runs, pd.concat([wide_ssb, closing], ignore_index=True))
    assert len(comparison) == 1
    assert comparison.loc[0, "full − baseline mIoU"] == -10.0
    assert comparison.loc[0, "full wide − baseline mIoU"] == -2.0
    text = width_summary(comparison)
    assert "removes 80% of the deficit: the narrow width explains most of it" in text
    assert "indication, not a verdict" in text  # one seed gives no interval
    widening_fails = closing.assign(mIoU=[31.0])
    assert "does not explain it" in width_summary(width_comparison(runs, widening_fails))
    passing = width_summary(width_comparison(runs, closing.assign(mIoU=[41.0])))  # above the baseline
    assert "no longer below the baseline" in passing and "removes" not in passing
    assert "does not isolate the AM" in passing  # the whole decoder widened, not the AM alone
    assert width_comparison(runs, closing.assign(seed=[5])).empty  # no shared seed, no comparison
