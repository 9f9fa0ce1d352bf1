"""One run-directory convention for every entry point (docs/method.md §6.6): a run trained with the
README's `basnet train` or torchrun command lands where `basnet reproduce` and the notebooks look."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from basnet_lib.engine.commands import add_train_arguments, run_config_from_args
from basnet_lib.engine.presets import PRESETS, default_results_root, preset
from basnet_lib.reproduction.experiments import planned_run, planned_runs
from basnet_lib.reproduction.notebooks import project_directory

ROOT = Path(__file__).resolve().parents[1]
# `basnet train ...` and `torchrun ... -m basnet_lib.train ...` lines of the README and usage docs.
TRAIN_COMMAND = re.compile(r"^(?:basnet train|torchrun .*-m basnet_lib\.train)\s+(.*?)(?:\s+#.*)?$")


def _documented_train_arguments() -> list[list[str]]:
    lines = []
    for document in (ROOT / "README.md", ROOT / "docs" / "usage.md"):
        text = document.read_text().replace("\\\n", " ")  # continued shell lines
        lines += [match.group(1) for line in text.splitlines() if (match := TRAIN_COMMAND.search(line))]
    return [shlex.split(line) for line in lines]


def _run_dir_of(arguments: list[str]) -> Path:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return run_config_from_args(parser.parse_args(arguments)).run_dir


def test_documented_train_commands_write_where_reproduce_looks() -> None:
    documented = [arguments for arguments in _documented_train_arguments() if "--preset" in arguments]
    torchrun = [arguments for arguments in documented if arguments[arguments.index("--preset") + 1] == "paper"]
    assert torchrun, "the README's torchrun command for the paper preset"
    for arguments in documented:
        if any(word.startswith(("--train.results_dir", "--train.run_name", "--train.iterations",
                                "--model.", "--loss.", "--config")) for word in arguments):  # fmt: skip
            continue  # a run of its own, on purpose
        values = argparse.ArgumentParser(add_help=False)
        for name in ("--preset", "--variant", "--backbone", "--data-root"):
            values.add_argument(name, default="")
        values.add_argument("--seed", type=int, default=0)
        known, _ = values.parse_known_args(arguments)
        planned = planned_run(preset_name=known.preset, variant=known.variant or "full", backbone=known.backbone,
                              seed=known.seed, data_root=known.data_root)  # fmt: skip
        assert _run_dir_of(arguments) == planned.run_dir, shlex.join(arguments)


@pytest.mark.parametrize("name", PRESETS)
def test_every_entry_point_shares_the_presets_run_directories(name: str) -> None:
    data_root = "/data/cityscapes" if name.startswith("paper") else ""
    trained = preset(name, variant="ssb", seed=2, data_root=data_root)
    assert trained.run_name.startswith(f"ssb-{trained.model.backbone}-seed2")
    assert trained.run_dir == Path(default_results_root(name)) / "runs" / name / trained.run_name
    (grid_run,) = planned_runs(preset_name=name, variants=["ssb"], seeds=[2], data_root=data_root)
    assert grid_run.run_dir == trained.run_dir  # relative to the repository root, as `basnet train` writes it
    assert (project_directory() / grid_run.run_dir).is_relative_to(project_directory() / default_results_root(name))
