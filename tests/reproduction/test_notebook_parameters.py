"""Notebook parameters given as papermill's ``-p`` passes them (lists as text, numbers as ints or
floats) are parsed as the type of their default in the parameters cell, or refused with one clear
error naming the parameter; the README's batch example runs through papermill's command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from basnet_lib.reproduction.experiments import planned_run, planned_runs
from basnet_lib.reproduction.notebooks import (
    NOTEBOOKS_DIR,
    checked_parameter_values,
    checked_parameters,
    injected_parameter_names,
    notebook_defaults,
    start_notebook,
)

ROOT = Path(__file__).resolve().parents[2]
TABLE1 = "03_table1_ablations.ipynb"


def test_text_lists_and_numbers_are_parsed_by_the_cells_declared_types() -> None:
    assert notebook_defaults(TABLE1)["seeds"] == [0, 1, 2]
    given = {"seeds": "[0, 1]", "variants": '["baseline", "full"]', "backbones": "resnet18", "iterations": 1.0}
    assert checked_parameters(TABLE1, given) == {
        "seeds": [0, 1], "variants": ["baseline", "full"], "backbones": ["resnet18"], "iterations": 1,
    }  # fmt: skip
    assert checked_parameters(TABLE1, {"seeds": "0, 1", "variants": "['ssb']", "backbones": ""}) == {
        "seeds": [0, 1], "variants": ["ssb"], "backbones": [],
    }  # fmt: skip
    assert checked_parameters(TABLE1, {"seeds": 3})["seeds"] == [3]  # papermill's -p seeds 3
    assert checked_parameters("02_training.ipynb", {"seed": "2", "progress": "false"}) == {"seed": 2, "progress": False}
    namespace = {**notebook_defaults(TABLE1), "seeds": "[4]", "results_root": Path("/r"), "unrelated": object()}
    values = checked_parameter_values(TABLE1, namespace)
    assert values["seeds"] == [4] and values["results_root"] == "/r" and "unrelated" not in values


@pytest.mark.parametrize(
    ("notebook", "parameters", "message"),
    [
        ("02_training.ipynb", {"seed": 1.5}, r"parameter seed: expected a whole number, got 1\.5"),
        ("02_training.ipynb", {"seed": True}, "parameter seed: expected a whole number, got True"),
        ("02_training.ipynb", {"overwrite": "maybe"}, "parameter overwrite: expected True or False, got 'maybe'"),
        ("02_training.ipynb", {"preset": 1}, "parameter preset: expected str, got 1 .int.; papermill's -r"),
        (TABLE1, {"seeds": "[0, x]"}, r"parameter seeds: expected a JSON list such as '\[0, 1\]' or comma"),
        (TABLE1, {"seeds": "0,1.5"}, r"parameter seeds\[1\]: expected a whole number, got '1.5'"),
        (TABLE1, {"backbones": "[18]"}, r"parameter backbones\[0\]: expected str, got 18"),
        (TABLE1, {"seed": 0}, r"has no parameters \['seed'\]"),
    ],
)
def test_unreadable_parameters_raise_one_error_naming_them(notebook, parameters, message) -> None:
    with pytest.raises(ValueError, match=message):
        checked_parameters(notebook, parameters)


def test_the_functions_every_notebook_calls_parse_papermill_text_too() -> None:
    # The notebooks pass their parameters straight to these (no change to the notebooks needed).
    runs = planned_runs(preset_name="smoke", variants="baseline", backbones="resnet18", seeds="[0, 1]")
    assert [run.run_name for run in runs] == ["baseline-resnet18-seed0", "baseline-resnet18-seed1"]
    with pytest.raises(ValueError, match=r"unknown variants \['nope'\]"):
        planned_runs(preset_name="smoke", variants='["nope"]')
    with pytest.raises(ValueError, match=r"parameter seed: expected a whole number, got 1\.5"):
        planned_run(preset_name="smoke", variant="full", seed=1.5)
    assert planned_run(preset_name="smoke", variant="full", seed=1.0).run_name == "full-resnet18-seed1"


def _papermill(tmp_path: Path, *parameters: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "papermill", str(NOTEBOOKS_DIR / TABLE1), str(tmp_path / "out.ipynb")]
    command += ["-p", "preset", "smoke", "-p", "results_root", str(tmp_path / "results"), *parameters]
    command += ["--no-progress-bar"]
    environment = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, check=False)


def test_the_readme_batch_example_runs_through_papermills_command_line(tmp_path) -> None:
    # README: papermill notebooks/03_table1_ablations.ipynb out.ipynb -p preset smoke -p seeds "[0, 1]";
    # one variant and one step keep it cheap.
    result = _papermill(tmp_path, "-p", "seeds", "[0, 1]", "-p", "variants", "baseline", "-p", "iterations", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = tmp_path / "results" / "runs" / "smoke"
    assert sorted(path.name for path in runs.iterdir()) == ["baseline-resnet18-seed0", "baseline-resnet18-seed1"]
    assert all((path / "metrics.json").is_file() for path in runs.iterdir())



@pytest.mark.parametrize("notebook", sorted(path.name for path in NOTEBOOKS_DIR.glob("0*.ipynb")))
def test_every_notebook_refuses_a_parameter_its_parameters_cell_lacks(notebook, monkeypatch) -> None:
    """``-p seedz 5`` trained seed 0 and exited 0, with only papermill's warning (case 11)."""
    monkeypatch.chdir(ROOT)
    defaults = notebook_defaults(notebook)
    # A kernel's namespace at the set-up cell: the parameters cell's names, papermill's injected
    # cell (its source in IPython's In), IPython's own names and what the set-up cell imported.
    injected = '# Parameters\npreset = "smoke"\nseedz = 5\n'
    ipython = {"In": ["", "preset = 'cpu'", injected, "import x"], "Out": {}, "_": "", "_i2": injected}
    namespace = {**defaults, "preset": "smoke", "seedz": 5, **ipython, "display": print}
    said = f"{notebook} has no parameter 'seedz' (papermill -p); its parameters are preset, "
    with pytest.raises(ValueError, match=f"^{re.escape(said)}"):
        start_notebook(notebook, namespace)
    # Names a later cell assigned (JupyterLab's "Run All" again) are not papermill's: no error.
    injected = '# Parameters\npreset = "smoke"\n'
    namespace = {**defaults, "preset": "smoke", "In": ["", "grid = dict(a=1)", injected], "grid": {}}
    assert start_notebook(notebook, namespace)["preset"] == "smoke"


def test_injected_parameter_names_reads_papermills_cell_only() -> None:
    assert injected_parameter_names({}) == []  # not a kernel
    assert injected_parameter_names({"In": ["x = 1", "# Parameters\na = 1\nb = [1, 2]\n"]}) == ["a", "b"]


def test_a_typo_in_a_parameter_stops_papermills_command_line(tmp_path) -> None:
    notebook, output = NOTEBOOKS_DIR / "02_training.ipynb", tmp_path / "o.ipynb"
    command = [sys.executable, "-m", "papermill", str(notebook), str(output), "-p", "preset", "smoke"]
    command += ["-p", "seedz", "5", "--no-progress-bar"]
    environment = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert result.returncode != 0
    said = "ValueError: 02_training.ipynb has no parameter 'seedz' (papermill -p); its parameters are preset,"
    assert said in result.stderr, result.stderr[-3000:]
