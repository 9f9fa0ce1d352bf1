"""Boundary-map table and GSCNN's empty pairs (basnet_lib.reproduction.boundary_tables) on hand-made metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from basnet_lib.data.labels import CLASS_NAMES
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import RunResult
from basnet_lib.reproduction.boundary_tables import (
    CONSTANT_MAP_FACTOR,
    boundary_map_frame,
    boundary_map_table,
    empty_pair_share,
    empty_pair_summary,
    present_f_frame,
    present_f_table,
)

THRESHOLDS = ("0.00088", "0.001875", "0.00375")
BEATS_CANNY = "beats Canny (every seed)"
BEATS_CONSTANT = f"≥ {CONSTANT_MAP_FACTOR:g}× constant (every seed)"


def fake_run(
    run_dir: Path,
    *,
    variant: str = "full",
    seed: int = 0,
    backbone: str = "resnet18",
    fscores: tuple[float, float, float] = (0.5, 0.6, 0.7),
    present: tuple[float, float, float] = (0.3, 0.4, 0.5),
    empty: dict[str, float] | None = None,
    ods_f: float | None = 0.4,
    ap: float = 0.35,
    canny_f: float = 0.2,
    constant_f: float = 0.1,
) -> RunResult:
    """A finished run; ``ods_f=None`` gives a variant without a boundary output."""
    metrics = {
        "backbone": backbone,
        "variant": variant,
        "seed": seed,
        "boundary_F": dict(zip(THRESHOLDS, fscores, strict=True)),
        "boundary_F_present": dict(zip(THRESHOLDS, present, strict=True)),
        "boundary_empty_pairs": empty if empty is not None else dict.fromkeys(CLASS_NAMES, 0.0),
        "boundary_map": None
        if ods_f is None
        else {"ODS_F": ods_f, "AP": ap, "ODS_threshold": 0.42, "constant_map_F": constant_f},
        "canny_map": None if ods_f is None else {"F": canny_f},
    }
    config = preset("smoke", variant=variant, seed=seed)
    return RunResult(run_dir=run_dir, config=config, metrics=metrics, reused=True)


# --- boundary_map_frame / boundary_map_table -------------------------------------------------


def test_boundary_map_frame_skips_runs_without_a_map_and_converts_to_percent(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, variant="baseline", ods_f=None),
        fake_run(tmp_path, variant="full", seed=3, ods_f=0.4, ap=0.35, canny_f=0.2, constant_f=0.1),
        fake_run(tmp_path, variant="ssb", ods_f=None),
    ]
    frame = boundary_map_frame(results)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["backbone"], row["variant"], row["seed"]) == ("resnet18", "full", 3)
    assert row["ODS_F"] == pytest.approx(40.0)
    assert row["AP"] == pytest.approx(35.0)
    assert row["canny_F"] == pytest.approx(20.0)
    assert row["constant_F"] == pytest.approx(10.0)
    # The threshold is a probability, not a score: it stays in 0–1.
    assert row["ODS_threshold"] == pytest.approx(0.42)


def test_boundary_map_frame_without_any_map_is_empty_with_columns(tmp_path: Path) -> None:
    frame = boundary_map_frame([fake_run(tmp_path, variant="baseline", ods_f=None)])
    assert frame.empty
    assert list(frame.columns) == [
        "backbone",
        "variant",
        "seed",
        "ODS_F",
        "AP",
        "ODS_threshold",
        "canny_F",
        "constant_F",
    ]


def test_boundary_map_table_mean_std_and_references(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, ods_f=0.40, ap=0.30, canny_f=0.20, constant_f=0.10),
        fake_run(tmp_path, seed=1, ods_f=0.44, ap=0.34, canny_f=0.22, constant_f=0.12),
    ]
    table = boundary_map_table(boundary_map_frame(results))
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["backbone"], row["variant"], row["n"]) == ("resnet18", "full", 2)
    std = math.sqrt(((40 - 42) ** 2 + (44 - 42) ** 2) / 1)
    assert row["ODS_F"] == f"42.00 ± {std:.2f} (n=2)"
    assert row["AP"] == f"32.00 ± {std:.2f} (n=2)"
    assert row["Canny channel F"] == "21.00"
    assert row["constant map F"] == "11.00"
    assert row[BEATS_CANNY] == "yes"
    assert row[BEATS_CONSTANT] == "yes"


def test_boundary_map_table_beats_canny_needs_every_seed(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, ods_f=0.40, canny_f=0.20, constant_f=0.05),
        # Mean ODS F (35) is above mean Canny F (25), but this seed is below its own Canny F.
        fake_run(tmp_path, seed=1, ods_f=0.30, canny_f=0.31, constant_f=0.05),
    ]
    row = boundary_map_table(boundary_map_frame(results)).iloc[0]
    assert row[BEATS_CANNY] == "no"
    assert row[BEATS_CONSTANT] == "yes"


def test_boundary_map_table_constant_factor_needs_every_seed(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, ods_f=0.40, canny_f=0.10, constant_f=0.10),
        # 0.30 < 2 × 0.16 on this seed only.
        fake_run(tmp_path, seed=1, ods_f=0.30, canny_f=0.10, constant_f=0.16),
    ]
    row = boundary_map_table(boundary_map_frame(results)).iloc[0]
    assert row[BEATS_CANNY] == "yes"
    assert row[BEATS_CONSTANT] == "no"


def test_boundary_map_table_constant_factor_is_inclusive(tmp_path: Path) -> None:
    # Exactly twice the constant map's F counts (≥).
    row = boundary_map_table(
        boundary_map_frame([fake_run(tmp_path, ods_f=0.5, canny_f=0.1, constant_f=0.25)])
    ).iloc[0]
    assert row[BEATS_CONSTANT] == "yes"
    assert row["ODS_F"] == "50.00 (n=1)"  # one seed: no spread


def test_boundary_map_table_groups_per_backbone_and_variant(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, variant="ssb_bdb", seed=0, ods_f=0.40, canny_f=0.20),
        fake_run(tmp_path, variant="full", seed=0, ods_f=0.10, canny_f=0.20),
        fake_run(tmp_path, variant="full", seed=0, backbone="resnet50", ods_f=0.50, canny_f=0.20),
    ]
    table = boundary_map_table(boundary_map_frame(results))
    assert list(zip(table["backbone"], table["variant"], strict=True)) == [
        ("resnet18", "ssb_bdb"),
        ("resnet18", "full"),
        ("resnet50", "full"),
    ]
    assert list(table[BEATS_CANNY]) == ["yes", "no", "yes"]


# --- present_f_frame / present_f_table -------------------------------------------------------


def test_present_f_frame_converts_both_readings_to_percent(tmp_path: Path) -> None:
    frame = present_f_frame([fake_run(tmp_path, fscores=(0.5, 0.6, 0.7), present=(0.3, 0.4, 0.5))])
    row = frame.iloc[0]
    assert row["F_3px"] == pytest.approx(50.0)
    assert row["F_9px"] == pytest.approx(70.0)
    assert row["F_3px_present"] == pytest.approx(30.0)
    assert row["F_5px_present"] == pytest.approx(40.0)
    assert row["F_9px_present"] == pytest.approx(50.0)


def test_present_f_table_mean_std_text(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, fscores=(0.50, 0.60, 0.70), present=(0.20, 0.30, 0.40)),
        fake_run(tmp_path, seed=1, fscores=(0.54, 0.60, 0.70), present=(0.30, 0.30, 0.40)),
        fake_run(tmp_path, seed=2, fscores=(0.58, 0.60, 0.70), present=(0.40, 0.30, 0.40)),
    ]
    table = present_f_table(present_f_frame(results))
    assert len(table) == 1
    row = table.iloc[0]
    assert row["n"] == 3
    assert row["F_3px GSCNN mean"] == "54.00 ± 4.00 (n=3)"
    assert row["F_3px present pairs"] == "30.00 ± 10.00 (n=3)"
    assert row["F_5px GSCNN mean"] == "60.00 ± 0.00 (n=3)"
    assert row["F_9px present pairs"] == "40.00 ± 0.00 (n=3)"


def test_present_f_table_one_seed_has_no_spread(tmp_path: Path) -> None:
    table = present_f_table(present_f_frame([fake_run(tmp_path, fscores=(0.5, 0.6, 0.7))]))
    assert table.iloc[0]["F_3px GSCNN mean"] == "50.00 (n=1)"


# --- empty_pair_share / empty_pair_summary ---------------------------------------------------


def shares(**overrides: float) -> dict[str, float]:
    values = dict.fromkeys(CLASS_NAMES, 0.0)
    for name, value in overrides.items():
        values[name.replace("_", " ")] = value
    return values


def test_empty_pair_share_points_and_mean_over_seeds(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, empty=shares(train=0.9, bus=0.5)),
        fake_run(tmp_path, seed=1, empty=shares(train=0.7, bus=0.3)),
        fake_run(tmp_path, variant="baseline", seed=0, ods_f=None, empty=shares(train=0.2)),
    ]
    frame = empty_pair_share(results)
    assert len(frame) == 2 * len(CLASS_NAMES)
    assert set(frame["variant"]) == {"full", "baseline"}
    indexed = frame.set_index(["variant", "class"])
    train_full = indexed.loc[("full", "train")]
    assert train_full["empty_share"] == pytest.approx(80.0)
    assert train_full["points_of_mean_F"] == pytest.approx(0.8 / 19 * 100)
    assert indexed.loc[("full", "bus"), "points_of_mean_F"] == pytest.approx(0.4 / 19 * 100)
    assert indexed.loc[("baseline", "train"), "empty_share"] == pytest.approx(20.0)
    assert indexed.loc[("full", "road"), "points_of_mean_F"] == 0.0


def test_empty_pair_share_points_sum_to_mean_share(tmp_path: Path) -> None:
    values = {name: index / 40 for index, name in enumerate(CLASS_NAMES)}
    frame = empty_pair_share([fake_run(tmp_path, empty=values)])
    # Over all classes the points are the mean share (in %): what F = 1 pairs add to the mean F.
    assert frame["points_of_mean_F"].sum() == pytest.approx(100 * sum(values.values()) / len(CLASS_NAMES))


def test_empty_pair_summary_names_top_class_and_total_points(tmp_path: Path) -> None:
    results = [
        fake_run(tmp_path, seed=0, empty=shares(train=0.95, bus=0.38, truck=0.19)),
        fake_run(tmp_path, variant="baseline", seed=0, ods_f=None, empty=shares(rider=0.57)),
    ]
    frame = empty_pair_share(results)
    text = empty_pair_summary(frame, top=2)
    lines = text.splitlines()
    assert len(lines) == 2
    full_line = next(line for line in lines if line.startswith("- `full`"))
    total = 100 * (0.95 + 0.38 + 0.19) / 19
    assert f"{total:.1f} points" in full_line
    # Most first: train (5.0 pts) then bus (2.0 pts); top=2 leaves truck out.
    assert "most from train (95% of images, 5.0 pts), bus (38% of images, 2.0 pts)." in full_line
    assert "truck" not in full_line
    baseline_line = next(line for line in lines if line.startswith("- `baseline`"))
    assert "3.0 points" in baseline_line
    assert "most from rider (57% of images, 3.0 pts)" in baseline_line


def test_empty_pair_summary_of_hand_made_frame() -> None:
    frame = pd.DataFrame(
        {
            "variant": ["full", "full", "full"],
            "class": ["sky", "wall", "pole"],
            "empty_share": [10.0, 60.0, 30.0],
            "points_of_mean_F": [0.5, 3.0, 1.5],
        }
    )
    text = empty_pair_summary(frame, top=1)
    assert text.startswith("- `full`: 5.0 points")
    assert "most from wall (60% of images, 3.0 pts)." in text
    assert "sky" not in text and "pole" not in text


def test_periodic_pattern_strength_separates_a_checkerboard_from_noise() -> None:
    from basnet_lib.reproduction.boundary_tables import periodic_pattern_strength

    rows, columns = np.meshgrid(np.arange(64), np.arange(128), indexing="ij")
    checkerboard = ((rows // 4 + columns // 4) % 2).astype(float)[None]  # period 8, like the upsampler's
    assert periodic_pattern_strength(checkerboard) == pytest.approx(1.0, abs=0.01)
    noise = np.random.default_rng(0).random((4, 64, 128))
    assert periodic_pattern_strength(noise) < 0.05
    assert periodic_pattern_strength(0.8 * noise + 0.2 * checkerboard) > 0.3
