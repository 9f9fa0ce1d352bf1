"""The command line: help, info, the parameter table."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

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


def _one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("basnet: error: "), lines
    return lines[0].removeprefix("basnet: error: ")


def test_bad_option_values_are_one_line_usage_errors_with_the_traceback_behind_debug(capsys) -> None:
    from basnet_lib.cli import main

    assert main(["train", "--preset", "smoke", "--seed", "-1"]) == 2
    assert _one_line_error(capsys) == "TrainConfig.seed=-1 (--seed) must be an integer >= 0"
    assert main(["train", "--preset", "smoke", "--train.batch_size", "1"]) == 2
    assert "--train.batch_size) must be at least 2" in _one_line_error(capsys)
    for arguments in (["--debug", "train", "--seed", "-1"], ["train", "--seed", "-1", "--debug"]):
        with pytest.raises(ValueError, match="seed"):
            main(arguments)
    result = _basnet("train", "--preset", "smoke", "--seed", "-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "basnet: error: TrainConfig.seed=-1 (--seed) must be an integer >= 0"


def test_a_checkpoint_of_another_variant_is_refused_in_one_line(saved_smoke_runs, capsys) -> None:
    from basnet_lib.cli import main

    checkpoint = saved_smoke_runs["full"] / "checkpoint.pt"
    assert main(["evaluate", str(saved_smoke_runs["baseline"]), "--checkpoint", str(checkpoint), "--quiet"]) == 1
    message = _one_line_error(capsys)
    assert message.startswith(
        f"{checkpoint} holds a `full` resnet18 model; this run is `baseline` resnet18 (differs in variant"
    )
    assert message.endswith("): its weights do not fit")


def test_truncated_metrics_and_history_are_errors_naming_the_file(tmp_path, capsys) -> None:
    from basnet_lib.cli import main
    from basnet_lib.engine.config_io import save_config
    from basnet_lib.engine.history import read_history, write_history
    from basnet_lib.engine.presets import preset

    run = preset("smoke", variant="baseline")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(tmp_path)))
    save_config(run, run.run_dir / "config.json")
    (run.run_dir / "metrics.json").write_text('{"mIoU": 0.41, "boundary_F": {"0.0')
    arguments = ["train", "--preset", "smoke", "--variant", "baseline", "--train.results_dir", str(tmp_path), "--quiet"]
    assert main(arguments) == 1
    assert _one_line_error(capsys).startswith(f"{run.run_dir / 'metrics.json'}: not valid JSON, truncated or corrupt?")
    history = run.run_dir / "history.csv"
    write_history(history, [{"iteration": 10, "seg": 1.5, "total": 1.5}, {"iteration": 20, "seg": 1.25, "total": 1.25}])
    history.write_text(history.read_text()[:-12])  # the last row cut short, as by a full disk
    with pytest.raises(ValueError, match=f"{history}: not a readable history, truncated or corrupt"):
        read_history(history, up_to_iteration=20)
