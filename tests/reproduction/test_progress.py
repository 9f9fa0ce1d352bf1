"""The progress bar over a grid of runs (basnet_lib.reproduction.progress) on hand-made run directories."""

from __future__ import annotations

import io
import os
import time

import pytest
from finished_runs import finished_metrics, write_finished_run

from basnet_lib.engine.history import write_history
from basnet_lib.engine.run_files import HISTORY_FILE
from basnet_lib.reproduction.experiments import planned_runs
from basnet_lib.reproduction.progress import GridProgress, metrics_text


@pytest.fixture
def grid(tmp_path):
    """Four smoke runs of 6 steps each (baseline and ssb, seeds 0 and 1); the first is finished
    (reused from disk)."""
    runs = planned_runs(preset_name="smoke", variants=["baseline", "ssb"], seeds=[0, 1], results_root=tmp_path)
    finish(runs[0])
    return runs


def finish(run) -> None:
    write_finished_run(run, miou=0.41234, boundary_f=(0.401, 0.502, 0.603))


def write_rows(run, steps: int, *, loss: float, images_per_second: float) -> None:
    rows = [
        {"iteration": step, "total": loss, "images_per_second": images_per_second} for step in range(1, steps + 1)
    ]
    run.run_dir.mkdir(parents=True, exist_ok=True)
    write_history(run.run_dir / HISTORY_FILE, rows)


def test_the_bar_counts_the_grids_steps_and_shows_the_runs_in_training(grid) -> None:
    out = io.StringIO()
    with GridProgress(grid, done=grid[:1], file=out, disable=False) as progress:
        assert (progress.bar.n, progress.bar.total) == (6, 24)  # the reused run counts as done
        assert progress.bar.desc.startswith("1 of 4 runs done")
        progress.started(grid[1])
        progress.started(grid[2])
        assert progress.bar.postfix == "baseline seed1 starting, ssb seed0 starting"
        write_rows(grid[1], 4, loss=1.5, images_per_second=10.0)
        write_rows(grid[2], 2, loss=2.25, images_per_second=12.5)
        progress.poll()
        assert progress.bar.n == 6 + 4 + 2
        assert progress.bar.desc.startswith("run 2, 3 of 4")
        assert progress.bar.postfix == (
            "baseline seed1 step 4 loss 1.500, ssb seed0 step 2 loss 2.250, 22.5 img/s"
        )
        finish(grid[1])
        progress.finished(grid[1])
        assert progress.bar.n == 6 + 6 + 2  # a finished run counts all its steps
        assert progress.bar.postfix == "ssb seed0 step 2 loss 2.250, 12.5 img/s"
        progress.started(grid[3])
        assert progress.bar.desc.startswith("run 3, 4 of 4")
    text = out.getvalue()
    line = f"[2/4] trained {grid[1].run_dir} in 0 s: mIoU 41.23%, boundary F 40.1/50.2/60.3% (3/5/9 px)\n"
    assert line in text
    assert "12/24" in text and "22.5 img/s" in text  # drawn, not only set


def test_a_history_older_than_the_runs_start_is_an_earlier_attempts(grid) -> None:
    write_rows(grid[1], 5, loss=1.0, images_per_second=9.0)
    past = time.time() - 60
    os.utime(grid[1].run_dir / HISTORY_FILE, (past, past))
    with GridProgress(grid, done=grid[:1], file=io.StringIO(), disable=False) as progress:
        progress.started(grid[1])
        progress.poll()
        assert (progress.bar.n, progress.bar.postfix) == (6, "baseline seed1 starting")
        write_rows(grid[1], 1, loss=3.0, images_per_second=9.0)
        progress.poll()
        assert (progress.bar.n, progress.bar.postfix) == (7, "baseline seed1 step 1 loss 3.000, 9.0 img/s")


def test_off_a_terminal_only_the_lines_are_written(grid) -> None:
    out = io.StringIO()  # not a terminal: tqdm's disable=None switches the bar off
    with GridProgress(grid, done=grid[:1], file=out) as progress:
        progress.started(grid[1])
        write_rows(grid[1], 6, loss=1.0, images_per_second=9.0)
        progress.poll()
        finish(grid[1])
        progress.finished(grid[1])
    scores = metrics_text(finished_metrics(grid[1]))
    assert out.getvalue().splitlines() == [f"[2/4] trained {grid[1].run_dir} in 0 s: {scores}"]


def test_runs_on_several_backbones_are_told_apart(tmp_path) -> None:
    runs = planned_runs(
        preset_name="smoke", variants=["full"], backbones=["resnet18", "resnet50"], results_root=tmp_path
    )
    with GridProgress(runs, file=io.StringIO(), disable=False) as progress:
        progress.started(runs[1])
        assert progress.bar.postfix == "full-resnet50 seed0 starting"
