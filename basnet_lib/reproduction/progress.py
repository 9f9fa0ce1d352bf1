"""The terminal's view of a grid of runs being trained: one ``tqdm.auto`` bar over the whole grid.

The runs train in processes of their own (each executes ``02_training.ipynb``, docs/method.md §8),
so the bar reads what they write: every run rewrites its ``history.csv`` at each history row, and
its step, loss and images/s are the last row's. The bar counts the steps of the whole grid (a run
reused from disk counts as done), so its ETA is over every step still to take.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.history import read_history
from basnet_lib.engine.run_files import HISTORY_FILE, load_run


@dataclass
class _RunInTraining:
    run: RunConfig
    number: int  # i of "run i of N": the order in which the grid's runs were reused or started
    started: float  # time.time(): a history.csv older than this is an earlier attempt's
    started_counter: float  # time.perf_counter(), for the run's duration
    row: dict[str, float] | None = None  # its history's last row so far


class GridProgress:
    """One progress bar over ``runs`` and a line per finished run; use as a context manager.

    The caller says when a run starts (:meth:`started`) and ends (:meth:`finished`), and calls
    :meth:`poll` while runs train to read their histories. ``done``: the runs finished before
    (reused from disk), counted as done.

    ``file``: where the bar and the lines go (None: the bar on stderr, the lines on stdout).
    ``disable``: as tqdm's; None hides the bar where its stream is not a terminal (a log file,
    where redrawn bars would flood it), the lines are written either way.
    """

    def __init__(
        self,
        runs: list[RunConfig],
        *,
        done: Iterable[RunConfig] = (),
        file: TextIO | None = None,
        disable: bool | None = None,
    ):
        self.runs = list(runs)
        self.done = list(done)
        self.lines_file = file
        self.training: dict[Path, _RunInTraining] = {}
        self.labels = _labels(self.runs)
        self.bar = tqdm(
            total=sum(run.train.iterations for run in self.runs),
            initial=sum(run.train.iterations for run in self.done),
            unit="step",
            smoothing=0,  # the grid's average speed: each run's start-up is part of the time left
            dynamic_ncols=True,
            file=file if file is not None else sys.stderr,
            disable=disable,
        )
        self._redraw()

    def __enter__(self) -> GridProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.bar.close()

    def started(self, run: RunConfig) -> None:
        number = len(self.done) + len(self.training) + 1
        self.training[run.run_dir] = _RunInTraining(run, number, time.time(), time.perf_counter())
        self._redraw()

    def poll(self) -> None:
        """Read the history of every run in training and move the bar to the grid's steps."""
        for entry in self.training.values():
            entry.row = _last_row(entry.run, newer_than=entry.started) or entry.row
        self._redraw()

    def finished(self, run: RunConfig) -> None:
        """``run`` ended well: count all its steps and write its line (mIoU and boundary F)."""
        entry = self.training.pop(run.run_dir)
        self.done.append(run)
        metrics = load_run(run.run_dir).metrics
        tqdm.write(
            f"[{entry.number}/{len(self.runs)}] trained {run.run_dir} in "
            f"{time.perf_counter() - entry.started_counter:.0f} s: {metrics_text(metrics)}",
            file=self.lines_file,
        )
        self._redraw()

    def _redraw(self) -> None:
        steps = sum(run.train.iterations for run in self.done)
        steps += sum(int(entry.row["iteration"]) for entry in self.training.values() if entry.row)
        self.bar.n = steps  # the rate (smoothing=0) is the steps since the start over the time since
        self.bar.set_description_str(self._description(), refresh=False)
        self.bar.set_postfix_str(self._postfix(), refresh=False)
        self.bar.refresh()

    def _description(self) -> str:
        if not self.training:
            return f"{len(self.done)} of {len(self.runs)} runs done"
        return f"run {', '.join(str(entry.number) for entry in self.training.values())} of {len(self.runs)}"

    def _postfix(self) -> str:
        """Each run in training: its label, step and loss; then the grid's images/s."""
        parts, images_per_second = [], 0.0
        for entry in self.training.values():
            label = self.labels[entry.run.run_dir]
            if entry.row is None:
                parts.append(f"{label} starting")
                continue
            parts.append(f"{label} step {int(entry.row['iteration'])} loss {entry.row['total']:.3f}")
            images_per_second += entry.row["images_per_second"]
        if images_per_second:
            parts.append(f"{images_per_second:.1f} img/s")
        return ", ".join(parts)


def metrics_text(metrics: dict) -> str:
    """A finished run's scores in a line: mIoU and boundary F at the three tolerances."""
    boundary_f = "/".join(f"{100 * value:.1f}" for value in metrics["boundary_F"].values())
    return f"mIoU {100 * metrics['mIoU']:.2f}%, boundary F {boundary_f}% (3/5/9 px)"


def _last_row(run: RunConfig, *, newer_than: float) -> dict[str, float] | None:
    """The last row of ``run``'s history, if it was written after ``newer_than`` (the file is
    replaced whole at each write, so it is never read half written)."""
    path = run.run_dir / HISTORY_FILE
    try:
        if path.stat().st_mtime < newer_than:
            return None
        rows = read_history(path, up_to_iteration=run.train.iterations)
    except FileNotFoundError:
        return None
    return rows[-1] if rows else None


def _labels(runs: list[RunConfig]) -> dict[Path, str]:
    """``variant seedN`` per run, ``variant-backbone seedN`` where the grid has several backbones."""
    several_backbones = len({run.model.backbone for run in runs}) > 1
    labels = {}
    for run in runs:
        name = f"{run.model.variant}-{run.model.backbone}" if several_backbones else run.model.variant
        labels[run.run_dir] = f"{name} seed{run.train.seed}"
    return labels
