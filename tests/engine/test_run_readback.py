"""A finished run is checked where it is read back ("Nothing lost, nothing silently wrong, round two",
case 5 and its class): a damaged one is never reused, by ``basnet train`` or the grid, and the error
names the file and says what to do; ``--overwrite`` trains it again."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from finished_runs import finished_metrics, write_finished_run

from basnet_lib.cli import main
from basnet_lib.engine.config import load_run_config
from basnet_lib.engine.run_checks import check_checkpoint_archive
from basnet_lib.engine.run_files import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    RunDirectoryError,
    load_run,
)
from basnet_lib.reproduction.experiments import planned_run, unfinished_runs

TRAIN = ["train", "--preset", "smoke", "--variant", "baseline", "--train.iterations", "2", "--quiet"]


def _one_line_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("basnet: error: "), lines
    return lines[0].removeprefix("basnet: error: ")


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The results folder of one finished smoke run (baseline, 2 iterations), trained by ``basnet train``."""
    results = tmp_path_factory.mktemp("trained")
    assert main([*TRAIN, "--train.results_dir", str(results)]) == 0
    return results


def test_a_truncated_checkpoint_is_not_reused_and_overwrite_trains_the_run_again(
    trained, tmp_path, capsys
) -> None:
    results = tmp_path / "runs"
    shutil.copytree(trained, results)
    run_dir = results / "baseline-resnet18-seed0"
    checkpoint = run_dir / CHECKPOINT_FILE
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    before = _files(run_dir)
    capsys.readouterr()

    assert main([*TRAIN, "--train.results_dir", str(results)]) == 1  # was: "reused", exit 0
    message = _one_line_error(capsys)
    assert message.startswith(f"{checkpoint}: not a readable checkpoint (truncated or corrupt?)")
    assert f"{run_dir} holds a damaged finished run" in message and "--overwrite" in message
    assert "If you are seeing this error" not in message  # torch's advice, after its first sentence
    assert _files(run_dir) == before  # nothing written or deleted

    assert main([*TRAIN, "--train.results_dir", str(results), "--overwrite"]) == 0
    assert capsys.readouterr().out.startswith(f"finished {run_dir}")
    check_checkpoint_archive(checkpoint, load_run(run_dir).config)  # whole again


def test_the_grid_refuses_a_damaged_run_before_it_trains_or_reports(trained, tmp_path) -> None:
    """``basnet reproduce`` and notebooks 03-05 ask :func:`unfinished_runs` first (it reused the
    run, and notebook 05 failed with a 56-line traceback when it loaded the weights)."""
    run = planned_run(preset_name="smoke", variant="baseline", iterations=2, results_root=tmp_path)
    shutil.copytree(trained / run.run_name, run.run_dir)
    assert unfinished_runs([run]) == []
    (run.run_dir / CHECKPOINT_FILE).unlink()
    with pytest.raises(RunDirectoryError, match=f"^{run.run_dir / CHECKPOINT_FILE}: no such checkpoint"):
        unfinished_runs([run])


def _edit_json(path: Path, **values) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


DAMAGES = {
    "metrics NaN": (
        METRICS_FILE,
        lambda path: _edit_json(path, mIoU=float("nan")),
        "'mIoU' is nan, expected a number",
    ),
    "metrics of another run": (
        METRICS_FILE,
        lambda path: _edit_json(path, seed=3),
        "'seed' is 3, but config.json says 0",
    ),
    "metrics without a table": (
        METRICS_FILE,
        lambda path: _edit_json(path, boundary_F={"0.00088": 0.5}),
        "lacks 'boundary_F'['0.001875']",
    ),
    "metrics not an object": (METRICS_FILE, lambda path: path.write_text("[1, 2]"), "expected a JSON object"),
    "metrics binary garbage": (
        METRICS_FILE,
        lambda path: path.write_bytes(b"\xff\xfe\x00"),
        "not valid JSON",
    ),
    "config edited by hand": (
        CONFIG_FILE,
        lambda path: _edit_json(path, model={**json.loads(path.read_text())["model"], "width": 17}),
        "[model]: ModelConfig.width=17 must be divisible by 8",
    ),
    "history garbage": (HISTORY_FILE, lambda path: path.write_text("garbage\n"), "not a readable history"),
    "history cut before the end": (
        HISTORY_FILE,
        lambda path: path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n"),
        "it ends at iteration 5, expected a last row at iteration 6",
    ),
    "checkpoint of another iteration": (
        CHECKPOINT_FILE,
        lambda path: torch.save({**torch.load(path, weights_only=True), "iteration": 4}, path),
        "holds iteration 4, not the finished run's last",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_each_file_of_a_finished_run_is_checked_where_it_is_read(tmp_path, damage) -> None:
    run = planned_run(preset_name="smoke", variant="full", results_root=tmp_path)
    write_finished_run(run, checkpoint=True)
    assert unfinished_runs([run]) == []
    name, spoil, said = DAMAGES[damage]
    spoil(run.run_dir / name)
    with pytest.raises(
        RunDirectoryError, match=f"^{re.escape(str(run.run_dir / name))}.*{re.escape(said)}.*--overwrite"
    ):
        unfinished_runs([run])


def test_what_a_finished_run_may_lack(tmp_path) -> None:
    """A variant without a boundary output has no boundary-map scores; one with it must have them."""
    run = planned_run(preset_name="smoke", variant="baseline", results_root=tmp_path)
    write_finished_run(run)
    assert load_run(run.run_dir).metrics == finished_metrics(run)
    full = dataclasses.replace(run, model=dataclasses.replace(run.model, variant="full", sab_probes=True))
    write_finished_run(full)
    _edit_json(full.run_dir / METRICS_FILE, boundary_map=None)
    with pytest.raises(ValueError, match="'boundary_map' is null, but a full model has a boundary output"):
        load_run(full.run_dir)


def test_a_config_json_edited_by_hand_is_named(tmp_path) -> None:
    path = tmp_path / CONFIG_FILE
    path.write_text(json.dumps({"model": {"variant": "fulll"}, "data": {}, "train": {}}))
    with pytest.raises(ValueError, match=f"^{path} \\[model\\]: ModelConfig.variant='fulll'"):
        load_run_config(path)
    path.write_text(json.dumps({"model": {}, "data": {}, "train": {"iterations": "6"}}))
    with pytest.raises(ValueError, match=f"^{path} \\[train\\]: TrainConfig.iterations='6'"):
        load_run_config(path)


def test_the_figures_never_drop_a_run_of_the_same_variant(saved_smoke_runs, tmp_path) -> None:
    from basnet_lib.reproduction.predictions import predict_runs

    run_dirs = []
    for root in ("a", "b"):  # two finished baseline runs (another backbone, say)
        run = planned_run(preset_name="smoke", variant="baseline", results_root=tmp_path / root)
        write_finished_run(run)
        shutil.copy(saved_smoke_runs["baseline"] / CHECKPOINT_FILE, run.run_dir / CHECKPOINT_FILE)
        run_dirs.append(run.run_dir)
    with pytest.raises(ValueError, match="a second `baseline` run; the figures show one run per variant"):
        predict_runs(run_dirs, count=1)


def _flip_a_weight_byte(checkpoint: Path) -> None:
    """One flipped bit in the middle of the largest tensor record: torch.load reads it silently."""
    with zipfile.ZipFile(checkpoint) as archive:
        record = max(archive.infolist(), key=lambda info: info.file_size)
    data = bytearray(checkpoint.read_bytes())
    # The record's bytes follow its 30-byte local header, its name and its extra field.
    name_length, extra_length = struct.unpack(
        "<HH", data[record.header_offset + 26 : record.header_offset + 30]
    )
    data[record.header_offset + 30 + name_length + extra_length + record.file_size // 2] ^= 0x01
    checkpoint.write_bytes(bytes(data))


def test_weights_are_checked_against_their_checksums_where_a_model_is_built_or_resumed(
    trained, tmp_path, capsys
) -> None:
    run_dir = tmp_path / "runs" / "baseline-resnet18-seed0"
    shutil.copytree(trained, tmp_path / "runs")
    checkpoint = run_dir / CHECKPOINT_FILE
    _flip_a_weight_byte(checkpoint)
    torch.load(checkpoint, weights_only=True)  # no error: torch does not check the checksums
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--quiet"]) == 1
    message = _one_line_error(capsys)
    assert message.startswith(f"{checkpoint}: its record ") and message.endswith(
        "does not match its checksum: the file is damaged"
    )
    (run_dir / METRICS_FILE).unlink()  # an unfinished run: --resume reads the same checkpoint
    assert main([*TRAIN, "--train.results_dir", str(tmp_path / "runs"), "--resume"]) == 1
    assert _one_line_error(capsys) == message
