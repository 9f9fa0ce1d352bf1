"""Table 3's Boundary IoU: mean ± std per variant and full − baseline paired intervals, on hand-made
runs frames (expected intervals by hand: mean ± t_{0.975, 2}·sd/√3), and runs without it."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from basnet_lib.engine.run_files import RunResult
from basnet_lib.reproduction.boundary_iou_table import (
    boundary_iou_markdown,
    boundary_iou_table,
    full_vs_baseline_pairs,
)
from basnet_lib.reproduction.tables import BIOU_COLUMNS, F_COLUMNS, runs_frame

T_975_2 = 4.302652729911275
HALF = T_975_2 / math.sqrt(3)  # half-width for 3 seeds with sample std 1


def runs(full_minus_baseline: tuple[float, float, float], *, with_biou: bool = True) -> pd.DataFrame:
    rows = []
    for variant, shift in (
        ("baseline", (0.0, 0.0, 0.0)),
        ("ssb", (1.0, 1.0, 1.0)),
        ("full", full_minus_baseline),
    ):
        for seed in range(3):
            row = {"backbone": "resnet18", "variant": variant, "seed": seed, "mIoU": 40.0 + seed}
            for offset, column in enumerate((*BIOU_COLUMNS, *F_COLUMNS)):
                value = 10.0 * offset + seed + shift[seed]
                row[column] = value if with_biou or column in F_COLUMNS else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def test_pairs_give_the_hand_computed_interval_and_verdict() -> None:
    pairs = full_vs_baseline_pairs(runs((1.0, 2.0, 3.0))).set_index("metric")
    assert list(pairs.index) == [*BIOU_COLUMNS, *F_COLUMNS]
    row = pairs.loc["BIoU"]
    assert row["n"] == 3 and row["mean_difference"] == pytest.approx(2.0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((2.0 - HALF, 2.0 + HALF))
    assert row["verdict"] == "inconclusive"  # 2 − 2.48 < 0
    assert (
        full_vs_baseline_pairs(runs((5.0, 6.0, 7.0))).set_index("metric").loc["BIoU_3px", "verdict"]
        == "supported"
    )
    assert full_vs_baseline_pairs(runs((-5.0, -6.0, -7.0)))["verdict"].eq("contradicted").all()


def test_table_holds_mean_and_std_per_variant_and_band() -> None:
    table = boundary_iou_table(runs((1.0, 2.0, 3.0))).set_index("variant")
    assert list(table.index) == ["baseline", "ssb", "full"]
    assert table.loc["baseline", "BIoU"] == pytest.approx(1.0)  # seeds 0, 1, 2
    assert table.loc["full", "BIoU_9px"] == pytest.approx(30.0 + 1.0 + 2.0)
    assert table.loc["full", "BIoU_std"] == pytest.approx(2.0)  # values 1, 3, 5
    markdown = boundary_iou_markdown(table.reset_index(), full_vs_baseline_pairs(runs((1.0, 2.0, 3.0))))
    assert "1.00 ± 1.00" in markdown and "[-0.48, +4.48]" in markdown and "full − baseline" in markdown


def test_runs_evaluated_before_boundary_iou_are_said_plainly() -> None:
    frame = runs((1.0, 2.0, 3.0), with_biou=False)
    table = boundary_iou_table(frame)
    assert table["n"].max() == 0
    assert "No run holds Boundary IoU" in boundary_iou_markdown(table, full_vs_baseline_pairs(frame))


def test_runs_frame_reads_boundary_iou_per_band_and_nan_for_old_runs(tmp_path) -> None:
    base = {
        "backbone": "resnet18", "variant": "full", "seed": 0, "mIoU": 0.4,
        "boundary_F": {"0.00088": 0.3, "0.001875": 0.4, "0.00375": 0.5},
    }  # fmt: skip
    bands = {"0.02": 0.61, "0.00088": 0.21, "0.001875": 0.31, "0.00375": 0.41}
    new = RunResult(
        run_dir=tmp_path / "new", config=None, metrics={**base, "boundary_IoU": bands}, reused=True
    )
    old = RunResult(run_dir=tmp_path / "old", config=None, metrics=dict(base), reused=True)
    frame = runs_frame([new, old])
    assert frame.loc[0, list(BIOU_COLUMNS)].tolist() == pytest.approx([61.0, 21.0, 31.0, 41.0])
    assert frame.loc[1, list(BIOU_COLUMNS)].isna().all()
