"""The run directory's training history (``history.csv``): its rows as a run makes them
(:class:`TrainingLog`), written and read back; its picture is
:func:`basnet_lib.plots.plot_training_curves`."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from basnet_lib.engine.file_writes import write_atomically
from basnet_lib.engine.nonfinite import NonFiniteMonitor, check_loss_everywhere
from basnet_lib.metrics.reduction import all_reduce_sum_

if TYPE_CHECKING:
    from torch import Tensor

HISTORY_COLUMNS = (
    "iteration",
    "seg",
    "edge",
    "probes",
    "total",
    "lr",
    "images_per_second",
    "elapsed_seconds",
    "val_images",
    "val_mIoU",
    "val_F_3px",
    "val_F_5px",
    "val_F_9px",
    "val_boundary_ods_f",
    "val_boundary_ap",
)
# Boundary F of GSCNN's three thresholds (3/5/9 px at 1024×2048), in that order.
VAL_F_COLUMNS = ("val_F_3px", "val_F_5px", "val_F_9px")


def write_history(path: Path, rows: list[dict[str, float]]) -> None:
    """Write all rows (atomically, like checkpoints: a failed write is a
    :class:`~basnet_lib.engine.file_writes.FileWriteError` naming ``path``, the old file intact)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=HISTORY_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, text.getvalue().encode())


def read_history(path: Path, *, up_to_iteration: int) -> list[dict[str, float]]:
    """Rows of an earlier run's history up to ``up_to_iteration`` (for a resumed run, a finished
    run's curves); a file that is not such a history is a ValueError naming it."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        try:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            unknown = [name for name in columns if name not in HISTORY_COLUMNS]
            if "iteration" not in columns or unknown:
                header = ",".join(columns)[:60]
                expected = "expected history columns (iteration, seg, total, ...)"
                raise ValueError(f"its header is {header!r}: {expected}")
            rows = [_history_row(row) for row in reader]
        except (ValueError, TypeError, KeyError, csv.Error) as error:
            raise ValueError(f"{path}: not a readable history, truncated or corrupt? ({error})") from None
    return [row for row in rows if row["iteration"] <= up_to_iteration]


def _history_row(cells: dict[str | None, str | None]) -> dict[str, float]:
    # Empty cells are rows without an evaluation (or a variant without a boundary output); a cut
    # row has None for its missing cells (and a None key for surplus ones).
    if None in cells or None in cells.values():
        raise ValueError(f"the row of iteration {cells.get('iteration')} has missing or extra cells")
    row: dict[str, float] = {key: float(value) for key, value in cells.items() if value != ""}
    bad = [key for key, value in row.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"the row of iteration {cells.get('iteration')} holds {bad[0]}={row[bad[0]]}")
    row["iteration"] = int(row["iteration"])
    return row


class TrainingLog:
    """``history.csv``'s rows as a run trains. The loss terms and image count of the steps since
    the last row are summed on the device, and every step's terms are watched for NaN and inf
    (:class:`~basnet_lib.engine.nonfinite.NonFiniteMonitor`), without a host-device
    synchronisation per step: the loss is read only when a row is made or the run is checked.
    A row's loss is the mean over the steps since the last row and over the processes.

    ``window``: the sums of a checkpoint written between two rows (:meth:`window_state`), so that
    a resumed run's rows are the uninterrupted run's. ``on_row`` is called with the rows whenever
    one is added or completed (the run directory writes ``history.csv``, for whoever watches it).
    """

    def __init__(
        self,
        rows: list[dict[str, float]],
        *,
        window: dict | None = None,
        on_row: Callable[[list[dict[str, float]]], None] | None = None,
    ) -> None:
        self.rows, self._on_row = rows, on_row
        self.started = self._window_started = time.perf_counter()
        self._monitor = NonFiniteMonitor()
        self._sums: dict[str, Tensor] = _own_sums(window) if window else {}
        self._steps, self._images = (int(window["steps"]), int(window["images"])) if window else (0, 0)

    def add(self, terms: dict[str, Tensor], *, iteration: int, images: int) -> None:
        """The loss terms of step ``iteration`` (1-based) and the images it trained on."""
        self._monitor.observe(terms, iteration=iteration)
        for name, value in terms.items():
            previous = self._sums.get(name)
            self._sums[name] = value.detach() if previous is None else previous.to(value.device) + value.detach()
        self._steps += 1
        self._images += images

    def check_finite(self) -> None:
        """Raise on every process when any process saw a non-finite loss (one synchronisation)."""
        check_loss_everywhere(self._monitor)

    def add_row(self, iteration: int, *, lr: float) -> dict[str, float]:
        """The row of the steps since the last one: mean loss terms, learning rate, images/s."""
        now = time.perf_counter()
        names = list(self._sums)
        # Summed over processes (every process makes its rows at the same steps), then the mean.
        sums = all_reduce_sum_(torch.stack([self._sums[name].float() for name in names]))
        processes = _rank_and_count()[1]
        row = {name: float(value) / processes / self._steps for name, value in zip(names, sums, strict=True)}
        row.update(
            iteration=iteration,
            lr=lr,
            images_per_second=self._images / max(now - self._window_started, 1e-9),
            elapsed_seconds=now - self.started,
        )
        self.rows.append(row)
        self._restart_window()
        self._rows_changed()
        return row

    def add_validation(self, columns: dict[str, float]) -> None:
        """Validation columns for the last row; the time it took is not training speed."""
        self.rows[-1].update(columns)
        self._restart_window()
        self._rows_changed()

    def window_state(self) -> dict:
        """The sums since the last row, every process's (each process calls this: the sums are
        gathered), for a checkpoint."""
        names = list(self._sums)
        local = torch.stack([self._sums[name].float() for name in names]) if names else torch.zeros(0)
        gathered = [local]
        if names and _rank_and_count()[1] > 1:
            gathered = [torch.empty_like(local) for _ in range(_rank_and_count()[1])]
            dist.all_gather(gathered, local)
        sums = [values.cpu() for values in gathered]
        return {"names": names, "sums_by_process": sums, "steps": self._steps, "images": self._images}

    def _rows_changed(self) -> None:
        if self._on_row is not None:
            self._on_row(self.rows)

    def _restart_window(self) -> None:
        self._window_started = time.perf_counter()
        self._sums, self._steps, self._images = {}, 0, 0


def _rank_and_count() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _own_sums(window: dict) -> dict[str, Tensor]:
    """This process's sums of a checkpoint's window. With another process count than the one that
    wrote it, the first process takes the total and the others start from nothing: the rows'
    means stay right (the run is then not bit-identical anyway)."""
    names, by_process = window.get("names", []), window.get("sums_by_process", [])
    rank, count = _rank_and_count()
    if not names:
        return {}
    if len(by_process) == count:
        sums = by_process[rank]
    else:
        sums = torch.stack(by_process).sum(0) if rank == 0 else torch.zeros_like(by_process[0])
    return dict(zip(names, sums, strict=True))
