"""The install files agree with each other and the command line works."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in lines}


def _environment_requirements() -> dict[str, Requirement]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    lines = [line for line in pip_section if not line.startswith("-e")]
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in lines}


def test_environment_yml_and_pyproject_list_the_same_packages() -> None:
    assert set(_environment_requirements()) == set(_pyproject_requirements())


def test_torch_pins_admit_the_installable_pair() -> None:
    """torch 2.14.1 + torchvision 0.29.1 is the pair that installs and imports here."""
    pyproject, environment = _pyproject_requirements(), _environment_requirements()
    for name, version in [("torch", "2.14.1"), ("torchvision", "0.29.1")]:
        assert pyproject[name].specifier.contains(version), name
        assert environment[name].specifier.contains(version), name
    assert not pyproject["numpy"].specifier.contains("2.4.0"), "cityscapesscripts needs np.in1d (numpy < 2.4)"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci_commands == ["make test"]
    assert "make test" in readme and "make reproduce" in readme


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
