"""The run config's sections (model, data, train, loss) as options and files, the shared field
checks, and run directories written before the loss had a section of its own."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from basnet_lib.config_checks import check_int, check_number, parse_bool
from basnet_lib.engine.checkpoint import load_checkpoint, save_checkpoint
from basnet_lib.engine.commands import add_train_arguments, run_config_from_args
from basnet_lib.engine.config import FIELDS_MOVED_TO_LOSS, load_run_config, upgraded_run_dict
from basnet_lib.engine.config_io import config_to_dict
from basnet_lib.engine.presets import preset
from basnet_lib.engine.run_files import RunDirectoryError
from basnet_lib.engine.trainer import train
from basnet_lib.loss import LossConfig
from basnet_lib.reproduction.parameters import parsed_scalar


def _legacy(values: dict) -> dict:
    """A run config as written before the ``loss`` section: its loss settings under ``train``."""
    legacy = {key: value for key, value in values.items() if key != "loss"}
    legacy["train"] = {**values["train"], **{name: values["loss"][name] for name in FIELDS_MOVED_TO_LOSS}}
    return legacy


def test_the_loss_section_is_options_and_part_of_the_saved_config(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--preset", "cpu", "--loss.edge_weight", "0.05", "--loss.mask_ignored_edges", "off"])
    run = run_config_from_args(args)
    assert run.loss == dataclasses.replace(preset("cpu").loss, edge_weight=0.05, mask_ignored_edges=False)
    assert list(config_to_dict(run)) == ["model", "data", "train", "loss"]
    with pytest.raises(SystemExit):  # the loss's settings are not train's any more
        parser.parse_args(["--train.edge_weight", "1"])


def test_a_legacy_config_is_read_with_its_loss_settings_moved() -> None:
    values = config_to_dict(preset("cpu"))
    legacy = _legacy(values)
    assert "edge_weight" in legacy["train"] and "loss" not in legacy
    assert upgraded_run_dict(legacy) == values
    assert upgraded_run_dict(values) == values  # today's form is left as it is


def test_finished_and_unfinished_legacy_runs_are_reused_and_resumed(tmp_path) -> None:
    run = preset("smoke", variant="ssb")
    run = dataclasses.replace(run, train=dataclasses.replace(run.train, results_dir=str(tmp_path), iterations=4,
                                                             checkpoint_every=2))  # fmt: skip
    first = train(run, progress=False)
    config_path, checkpoint_path = first.run_dir / "config.json", first.run_dir / "checkpoint.pt"
    config_path.write_text(json.dumps(_legacy(json.loads(config_path.read_text())), indent=2))
    checkpoint = load_checkpoint(checkpoint_path)
    checkpoint["config"] = _legacy(checkpoint["config"])
    save_checkpoint(checkpoint_path, {key: value for key, value in checkpoint.items() if key != "format"})
    assert load_run_config(config_path) == run

    again = train(run, progress=False)
    assert again.reused and again.metrics["mIoU"] == first.metrics["mIoU"]
    (first.run_dir / "metrics.json").unlink()  # an unfinished run whose checkpoint is legacy
    resumed = train(run, resume=True, progress=False)
    assert resumed.metrics["resumed_from"] == 4 and resumed.metrics["mIoU"] == first.metrics["mIoU"]
    other = dataclasses.replace(run, loss=dataclasses.replace(run.loss, edge_weight=1.0))
    with pytest.raises(RunDirectoryError, match=r"loss.edge_weight: checkpoint has 0.05, this run asks for 1.0"):
        train(other, progress=False)


@dataclasses.dataclass
class _Fields:
    count: object = 1
    share: object = 0.5


def test_field_checks_name_the_class_the_field_and_the_bound() -> None:
    check_int(_Fields(), "count", minimum=1)
    for bad in (0, True, 1.0, "1"):
        with pytest.raises(ValueError, match=r"^_Fields\.count=.* must be an integer >= 1$"):
            check_int(_Fields(count=bad), "count", minimum=1)
    with pytest.raises(ValueError, match=r"_Fields\.count=-1 \(--count\) must be an integer >= 0"):
        check_int(_Fields(count=-1), "count", minimum=0, option="--count")
    check_number(_Fields(), "share", minimum=0, maximum=1, open_minimum=True)
    for bad in (0, 1.5, float("nan"), float("inf"), False, "0.5"):
        with pytest.raises(ValueError, match=r"^_Fields\.share=.* must be a finite number > 0 and <= 1$"):
            check_number(_Fields(share=bad), "share", minimum=0, maximum=1, open_minimum=True)
    with pytest.raises(ValueError, match=r"must be a finite number >= 0$"):
        LossConfig(class_balance=-0.5)


def test_one_reading_of_booleans_for_options_and_notebook_parameters() -> None:
    for true, false in (("true", "false"), ("1", "0"), ("Yes", "No"), (" on ", "OFF")):
        assert parse_bool(true) is True and parse_bool(false) is False
        assert parsed_scalar("overwrite", true, bool) is True and parsed_scalar("overwrite", false, bool) is False
    with pytest.raises(ValueError, match="expected true or false, got 'maybe'"):
        parse_bool("maybe")
    with pytest.raises(ValueError, match="parameter overwrite: expected True or False"):
        parsed_scalar("overwrite", 1, bool)


def test_committed_study_configs_written_before_the_loss_section_still_load() -> None:
    root = Path(__file__).resolve().parents[2] / "results" / "studies"
    configs = sorted(root.rglob("config.json"))
    assert configs, "the committed cpu recipe study holds config.json files"
    for path in configs:
        run = load_run_config(path)
        assert isinstance(run.loss, LossConfig), path
