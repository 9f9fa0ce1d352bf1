"""The command line: help, info, the parameter table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _basnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "basnet_lib.cli", *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def test_cli_help_and_info() -> None:
    helped = _basnet("--help")
    assert helped.returncode == 0 and "info" in helped.stdout and "params" in helped.stdout
    info = _basnet("info")
    import torch

    assert info.returncode == 0, info.stderr
    assert f"torch: {torch.__version__}" in info.stdout and "torch_threads" in info.stdout


def test_cli_params_writes_the_table(tmp_path) -> None:
    result = _basnet("params", "--backbones", "resnet18", "--width", "64", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    import pandas as pd

    table = pd.read_csv(tmp_path / "params.csv")
    assert list(table["variant"]) == ["baseline", "ssb", "ssb_bdb", "full"]
    # From ssb on, each Table 1 row adds a component (baseline has DeepLabV3's 3x3 head instead).
    assert table["total_M"].iloc[1:].is_monotonic_increasing
    assert (table.loc[table["variant"] == "baseline", ["SSB", "BDB", "AM"]] == 0).all(axis=None)
    assert (table.loc[table["variant"] == "full", ["SSB", "BDB", "AM"]] > 0).all(axis=None)
