"""The install files agree with each other and with CI."""

from __future__ import annotations

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


def _locked_versions() -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    pins = [line.split()[0].split("==") for line in lines if "==" in line and not line.startswith(" ")]
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_satisfies_every_range_of_pyproject() -> None:
    """Every requirement of the project and its extras is locked, at a version its range admits."""
    locked = _locked_versions()
    for name, requirement in _pyproject_requirements().items():
        assert name in locked, f"{name} is not in requirements-lock.txt: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (name, locked[name])


def test_make_and_conda_install_from_the_lock() -> None:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert pip_section == ["--require-hashes", "-r requirements-lock.txt"]
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "LOCK := requirements-lock.txt" in makefile
    lock_python = next(
        line.split(":=")[1].strip() for line in makefile.splitlines() if line.startswith("LOCK_PYTHON")
    )
    assert f"python={lock_python}" in environment["dependencies"]


def test_torch_pins_admit_the_installable_pair() -> None:
    """torch 2.14.1 + torchvision 0.29.1 is the pair that installs and imports here."""
    pyproject, locked = _pyproject_requirements(), _locked_versions()
    for name, version in [("torch", "2.14.1"), ("torchvision", "0.29.1")]:
        assert pyproject[name].specifier.contains(version), name
        assert locked[name] == version, name
    assert not pyproject["numpy"].specifier.contains("2.4.0"), "cityscapesscripts needs np.in1d (numpy < 2.4)"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    # Before it, CI only installs Debian's chromium and Slurm when they are not there, and makes the
    # browser and Slurm tests required (they would skip without them on a user's machine).
    assert ci_commands[-1] == "make test"
    assert "export BASNET_REQUIRE_BROWSER=1" in ci_commands
    assert "export BASNET_REQUIRE_SLURM=1" in ci_commands
    assert "packages+=(slurm-wlm munge)" in ci_commands
    assert not [line for line in ci_commands[:-1] if "pytest" in line or "make " in line]
    assert "make test" in readme and "make reproduce" in readme
