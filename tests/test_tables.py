"""Table 1 / Table 3 logic and the claims on hand-made metrics (SPEC F1, F2, F5)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from basnet_lib.claims import claims, claims_markdown
from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.trainer import RunResult
from basnet_lib.tables import (
    NOT_REPRODUCED,
    REPRODUCED,
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


# Two seeds per variant; mIoU rises with each module, boundary F of full beats baseline most at 3px.
RUNS = [
    fake_run("baseline", 0, 0.40, (0.30, 0.40, 0.50)),
    fake_run("baseline", 1, 0.42, (0.32, 0.42, 0.52)),
    fake_run("ssb", 0, 0.45, (0.33, 0.43, 0.53)),
    fake_run("ssb", 1, 0.47, (0.35, 0.45, 0.55)),
    fake_run("ssb_bdb", 0, 0.46, (0.38, 0.46, 0.54)),
    fake_run("ssb_bdb", 1, 0.48, (0.40, 0.48, 0.56)),
    fake_run("full", 0, 0.50, (0.42, 0.49, 0.56)),
    fake_run("full", 1, 0.52, (0.44, 0.51, 0.58)),
]


def test_table1_mean_std_and_gains() -> None:
    table = table1(runs_frame(RUNS))
    assert list(table["variant"]) == ["baseline", "ssb", "ssb_bdb", "full"]
    np.testing.assert_allclose(table["mIoU_mean"], [41, 46, 47, 51])
    np.testing.assert_allclose(table["mIoU_std"], [math.sqrt(2)] * 4)  # sample std of (x, x+2)
    assert math.isnan(table["gain"].iloc[0])
    np.testing.assert_allclose(table["gain"].iloc[1:], [5, 1, 4])
    np.testing.assert_allclose(table["paper_resnet101_gain"].iloc[1:], [1.93, 0.79, 1.47], atol=1e-9)
    np.testing.assert_allclose(table["paper_resnet50_gain"].iloc[1:], [1.11, 0.39, 1.43], atol=1e-9)
    # +1 with two seeds whose combined std is 2: same direction, but within seed noise.
    assert list(table["verdict"]) == ["—", REPRODUCED, f"{REPRODUCED} (within seed noise)", REPRODUCED]
    markdown = table1_markdown(table)
    assert "46.00 ± 1.41 (+5.00)" in markdown and "76.94 (+1.93)" in markdown


def test_table3_gains_and_paper_rows() -> None:
    table = table3(runs_frame(RUNS))
    assert list(table["method"]) == ["baseline", "ssb", "ssb_bdb", "full", "DeepLabV3+", "GSCNN", "BASNet"]
    full = table[table["method"] == "full"].iloc[0]
    np.testing.assert_allclose([full["F_3px"], full["F_5px"], full["F_9px"]], [43, 50, 57])
    np.testing.assert_allclose(full["F_3px_gain_vs_baseline"], 12)
    np.testing.assert_allclose(full["F_9px_gain_vs_baseline"], 6)
    markdown = table3_markdown(table, eval_size=(256, 512))
    assert "43.00 ± 1.41" in markdown and "1/2/3 px at our 256×512" in markdown


def test_claims_follow_the_numbers() -> None:
    frame = runs_frame(RUNS)
    verdicts = claims(table1(frame), table3(frame))
    assert len(verdicts) == 8
    assert all(verdict.startswith(REPRODUCED) for verdict in verdicts["verdict"])
    assert "support 8 of the 8 claims" in claims_markdown(verdicts)

    # Flip the numbers: the full model loses to the baseline in mIoU and boundary F.
    flipped_runs = [
        fake_run(
            run.metrics["variant"],
            run.metrics["seed"],
            0.9 - run.metrics["mIoU"],
            tuple(1 - value for value in run.metrics["boundary_F"].values()),
        )
        for run in RUNS
    ]
    frame = runs_frame(flipped_runs)
    verdicts = claims(table1(frame), table3(frame))
    assert all(verdict.startswith(NOT_REPRODUCED) for verdict in verdicts["verdict"])
    summary = claims_markdown(verdicts)
    assert (
        "support 0 of the 8 claims" in summary
        and "not supported: full BASNet beats the baseline in mIoU" in summary
    )


def test_per_class_tables_and_writing(tmp_path) -> None:
    per_class = per_class_fscore(RUNS)
    assert per_class.shape == (4, 19) and list(per_class.columns) == list(CLASS_NAMES)
    assert per_class["train"].isna().all()
    np.testing.assert_allclose(per_class.loc["resnet18/full", "road"], 43)
    scores = run_scores(RUNS[0].metrics)
    assert list(scores.columns) == ["IoU", "F_3px", "F_5px", "F_9px"] and len(scores) == 19
    csv_path, markdown_path = write_table(table1(runs_frame(RUNS)), "| x |", tmp_path / "tables", "table1")
    assert csv_path.read_text().startswith("backbone,variant") and markdown_path.read_text() == "| x |\n"


def test_unknown_variant_in_grid_is_refused() -> None:
    from basnet_lib.experiments import planned_runs

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
