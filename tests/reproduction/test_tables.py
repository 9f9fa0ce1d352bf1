"""Table 1 / Table 3 logic on hand-made metrics (docs/method.md §6.1, §6.2, §6.5); the claims:
test_claims.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.run_files import RunResult
from basnet_lib.reproduction.statistics import (
    INCONCLUSIVE,
    SUPPORTED,
)
from basnet_lib.reproduction.tables import (
    per_class_fscore,
    run_scores,
    runs_frame,
    table1,
    table1_markdown,
    table3,
    table3_markdown,
    write_table,
)

THRESHOLDS = ("0.00088", "0.001875", "0.00375")


def fake_run(variant: str, seed: int, miou: float, fscores: tuple[float, float, float], backbone="resnet18"):
    per_class_f = {
        key: dict.fromkeys(CLASS_NAMES, value) for key, value in zip(THRESHOLDS, fscores, strict=True)
    }
    per_class_f[THRESHOLDS[0]]["train"] = None  # a class that never occurs
    metrics = {
        "variant": variant,
        "backbone": backbone,
        "seed": seed,
        "run_name": f"{variant}-{backbone}-seed{seed}",
        "iterations": 10,
        "mIoU": miou,
        "per_class_iou": dict.fromkeys(CLASS_NAMES, miou),
        "boundary_F": dict(zip(THRESHOLDS, fscores, strict=True)),
        "per_class_boundary_F": per_class_f,
    }
    return RunResult(run_dir=Path(metrics["run_name"]), config=None, metrics=metrics, reused=True)


# Three seeds per variant; per seed, ssb − baseline = (5, 6, 4), ssb_bdb − ssb = (1, −1, 3),
# full − ssb_bdb = (4, 5, 3) mIoU points; full beats baseline in boundary F by 12 at 3px, 6 at 9px.
RUNS = [
    fake_run("baseline", 0, 0.40, (0.30, 0.40, 0.50)),
    fake_run("baseline", 1, 0.42, (0.32, 0.42, 0.52)),
    fake_run("baseline", 2, 0.41, (0.31, 0.41, 0.51)),
    fake_run("ssb", 0, 0.45, (0.33, 0.43, 0.53)),
    fake_run("ssb", 1, 0.48, (0.35, 0.45, 0.55)),
    fake_run("ssb", 2, 0.45, (0.34, 0.44, 0.54)),
    fake_run("ssb_bdb", 0, 0.46, (0.38, 0.46, 0.54)),
    fake_run("ssb_bdb", 1, 0.47, (0.40, 0.48, 0.56)),
    fake_run("ssb_bdb", 2, 0.48, (0.39, 0.47, 0.55)),
    fake_run("full", 0, 0.50, (0.42, 0.49, 0.56)),
    fake_run("full", 1, 0.52, (0.44, 0.51, 0.58)),
    fake_run("full", 2, 0.51, (0.43, 0.50, 0.57)),
]
# Half-width of the 95% interval for 3 seeds with sample std 1: t_{0.975, 2} / sqrt(3).
HALF_WIDTH = 4.302652729911275 / math.sqrt(3)


def _markdown_row(markdown: str, first_cell: str) -> list[str]:
    """The cells of the first Markdown table row whose first cell is ``first_cell``."""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{markdown}")


def test_table1_mean_std_gains_and_paired_intervals() -> None:
    table = table1(runs_frame(RUNS))
    assert list(table["variant"]) == ["baseline", "ssb", "ssb_bdb", "full"]
    np.testing.assert_allclose(table["mIoU_mean"], [41, 46, 47, 51])
    np.testing.assert_allclose(table["mIoU_std"], [1, math.sqrt(3), 1, 1])  # sample std over 3 seeds
    assert list(table["seeds"]) == [3, 3, 3, 3]
    assert math.isnan(table["gain"].iloc[0])
    np.testing.assert_allclose(table["gain"].iloc[1:], [5, 1, 4])
    np.testing.assert_allclose(table["paper_resnet101_gain"].iloc[1:], [1.93, 0.79, 1.47], atol=1e-9)
    np.testing.assert_allclose(table["paper_resnet50_gain"].iloc[1:], [1.11, 0.39, 1.43], atol=1e-9)
    assert list(table["paired_n"]) == [0, 3, 3, 3]
    np.testing.assert_allclose(table["paired_gain"].iloc[1:], [5, 1, 4])
    # Paired differences (5, 6, 4) and (4, 5, 3) have sd 1; (1, −1, 3) has sd 2.
    np.testing.assert_allclose(table["ci_low"].iloc[1:], [5 - HALF_WIDTH, 1 - 2 * HALF_WIDTH, 4 - HALF_WIDTH])
    np.testing.assert_allclose(
        table["ci_high"].iloc[1:], [5 + HALF_WIDTH, 1 + 2 * HALF_WIDTH, 4 + HALF_WIDTH]
    )
    assert list(table["verdict"]) == ["—", SUPPORTED, INCONCLUSIVE, SUPPORTED]
    markdown = table1_markdown(table)
    assert _markdown_row(markdown, "ResNet18+ASPP")[4:7] == ["41.00 ± 1.00 (n=3)", "—", "—"]
    assert "46.00 ± 1.73 (n=3) | +5.00 | [+2.52, +7.48]" in " ".join(markdown.split())
    assert "[-3.97, +5.97]" in markdown and "76.94 (+1.93)" in markdown and "reproduced" not in markdown


def test_table1_with_one_seed_has_no_interval() -> None:
    table = table1(runs_frame([run for run in RUNS if run.metrics["seed"] == 0]))
    assert table["mIoU_std"].isna().all() and table["ci_low"].isna().all()
    assert list(table["verdict"]) == ["—"] + [f"{INCONCLUSIVE} (1 seed)"] * 3
    assert "46.00 (n=1)" in table1_markdown(table)


def test_table3_gains_and_paper_rows() -> None:
    table = table3(runs_frame(RUNS))
    assert list(table["method"]) == ["baseline", "ssb", "ssb_bdb", "full", "DeepLabV3+", "GSCNN", "BASNet"]
    full = table[table["method"] == "full"].iloc[0]
    np.testing.assert_allclose([full["F_3px"], full["F_5px"], full["F_9px"]], [43, 50, 57])
    np.testing.assert_allclose(full["F_3px_gain_vs_baseline"], 12)
    np.testing.assert_allclose(full["F_9px_gain_vs_baseline"], 6)
    markdown = table3_markdown(table, eval_size=(256, 512))
    assert _markdown_row(markdown, "ours")[:4] == ["ours", "baseline", "resnet18", "3"]
    assert "43.00 ± 1.00" in markdown and "1/2/3 px at our 256×512" in markdown
    # The paper's rows have no seeds: empty n.
    assert _markdown_row(markdown, "paper")[3] == ""


def test_per_class_tables_and_writing(tmp_path) -> None:
    per_class = per_class_fscore(RUNS)
    assert per_class.shape == (4, 19) and list(per_class.columns) == list(CLASS_NAMES)
    assert per_class["train"].isna().all()
    np.testing.assert_allclose(per_class.loc["resnet18/full", "road"], 43)  # mean of 42, 44, 43
    scores = run_scores(RUNS[0].metrics)
    assert list(scores.columns) == ["IoU", "F_3px", "F_5px", "F_9px"] and len(scores) == 19
    csv_path, markdown_path = write_table(table1(runs_frame(RUNS)), "| x |", tmp_path / "tables", "table1")
    assert csv_path.read_text().startswith("backbone,variant") and markdown_path.read_text() == "| x |\n"


def test_unknown_variant_in_grid_is_refused() -> None:
    from basnet_lib.reproduction.experiments import planned_runs

    with pytest.raises(ValueError, match="unknown variants"):
        planned_runs(preset_name="smoke", variants=["ssb", "gscnn"])
    runs = planned_runs(
        preset_name="smoke", variants=["full", "baseline"], seeds=[0, 1], results_root="/tmp/r"
    )
    assert [run.run_name for run in runs] == [
        "baseline-resnet18-seed0",
        "baseline-resnet18-seed1",
        "full-resnet18-seed0",
        "full-resnet18-seed1",
    ]
    assert runs[0].run_dir == Path("/tmp/r/runs/smoke/baseline-resnet18-seed0")
