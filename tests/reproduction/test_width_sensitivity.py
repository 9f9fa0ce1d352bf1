"""The claims at a wider decoder sit beside the main verdicts in the report, pairing variants of the
same width and seed; claims the width study cannot pair say so."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import torch
from measured_runs import COMMITTED_HOST_RUNS

from basnet_lib import ModelConfig, build_basnet
from basnet_lib.reproduction.claims import claims
from basnet_lib.reproduction.learning_curves import WIDTH_RUNS_CSV
from basnet_lib.reproduction.report import ReproductionSettings, write_report
from basnet_lib.reproduction.width_sensitivity import sensitivity_markdown, width_claims

FULL_MIOU = "full BASNet beats the baseline in mIoU (resnet18)"


def wide_study(runs: pd.DataFrame, full_gain: float) -> pd.DataFrame:
    """A runs table as if trained at C = 128, the full model ``full_gain`` points better."""
    wide = runs.assign(width=128)
    wide.loc[wide["variant"] == "full", "mIoU"] += full_gain
    return wide


def test_claims_pair_within_one_width() -> None:
    runs = pd.read_csv(COMMITTED_HOST_RUNS)
    wide = width_claims(wide_study(runs, full_gain=8.0)).set_index("claim")
    main = claims(runs).set_index("claim")
    assert wide.loc[FULL_MIOU, "mean_difference"] == pytest.approx(main.loc[FULL_MIOU, "mean_difference"] + 8.0)
    assert main.loc[FULL_MIOU, "verdict"] == "contradicted" and wide.loc[FULL_MIOU, "verdict"] == "inconclusive"


def test_a_study_without_the_baseline_pairs_with_the_main_grids() -> None:
    """The full model alone at C = 128: its claims against the baseline use the main grid's baseline
    runs; the claims that need `ssb` or `ssb_bdb` at that width are not run."""
    runs = pd.read_csv(COMMITTED_HOST_RUNS)
    main = claims(runs)
    alone = sensitivity_markdown(
        main, wide_study(runs, 8.0).query("variant == 'full'"), main_runs=runs, preset_width=64
    )
    rows = {line.split("|")[1].strip(): line for line in alone.splitlines() if line.startswith("| ")}
    cells = [cell.strip() for cell in rows[FULL_MIOU].split("|")[2:4]]
    assert cells == ["contradicted: -4.62 [-8.37, -0.87] (n=3)", "inconclusive: +3.38 [-0.37, +7.13] (n=3)"]
    assert rows["SSB raises mIoU over baseline (resnet18)"].rstrip(" |").endswith("not run")
    assert alone.count("| not run") == 3  # SSB, BDB, AM
    assert "ran `full` (seeds 0, 1, 2), paired with the main grid's `baseline` runs" in alone


def test_the_baseline_does_not_depend_on_the_decoder_width() -> None:
    """Why the main grid's baseline pairs with any width: the same seed builds the same network."""
    networks = []
    for width in (16, 128):
        torch.manual_seed(0)
        networks.append(build_basnet(config=ModelConfig(variant="baseline", backbone="resnet18", width=width)))
    narrow, wide = (network.state_dict() for network in networks)
    assert narrow.keys() == wide.keys() and all(torch.equal(narrow[key], wide[key]) for key in narrow)


def test_the_report_shows_them_beside_the_main_verdicts(tmp_path) -> None:
    runs = pd.read_csv(COMMITTED_HOST_RUNS)
    (tmp_path / "tables").mkdir()
    runs.to_csv(tmp_path / "tables" / "runs.csv", index=False)
    (tmp_path / WIDTH_RUNS_CSV).parent.mkdir(parents=True)
    wide_study(runs, full_gain=8.0).to_csv(tmp_path / WIDTH_RUNS_CSV, index=False)
    settings = ReproductionSettings(
        preset="cpu", variants=("baseline", "ssb", "ssb_bdb", "full"), backbones=("resnet18",),
        seeds=(0, 1, 2), data_root="", iterations=0, command="basnet reproduce --preset cpu",
    )  # fmt: skip
    report = write_report(tmp_path, settings=settings, notebook_seconds={}).read_text()
    claims_at = report.index("## Which claims our measurements support")
    sensitivity = report.index("### The same claims at a wider decoder")
    assert claims_at < sensitivity < report.index("## How stable the verdicts are across hosts")
    row = next(line for line in report[sensitivity:].splitlines() if line.startswith(f"| {FULL_MIOU}"))
    assert "contradicted: -4.62 [-8.37, -0.87] (n=3)" in row and "inconclusive: +3.38 [-0.37, +7.13] (n=3)" in row
    assert "Fragile at 3 seeds" in report and "slowest measured host" in report
    assert re.search(r"\| AMD EPYC \(Zen 4\), 2 cores +\| 3 +\| 66.7 +\| 22.2 ", report)
