"""The run directory of a run in training, owned by one process from the first check to the last
write: ``with RunDirectory.open(run, context, ...) as run_dir:`` (docs/method.md §8).

Opening it checks the run's data (its fingerprint: :mod:`basnet_lib.engine.run_data`), reuses a
finished run of the same config and data, takes the directory's lock
(:mod:`basnet_lib.engine.run_lock`), and chooses between starting afresh and resuming: an
unfinished run continues only when asked and when its checkpoint's config and data match. Nothing
is written or deleted until :meth:`RunDirectory.start`, which the trainer calls once the model has
been built too; it removes the temporary files of interrupted saves and, for ``--overwrite``, the
earlier run's results. A finished run is reused, and an unfinished one resumed, when what decides
its result is the same: the model, the loss, the data's content and the training schedule; not
where the run directory or the dataset lie.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from basnet_lib.distributed import DistributedContext, barrier, run_on_main
from basnet_lib.engine.checkpoint import CheckpointError, config_differences, load_checkpoint, save_checkpoint
from basnet_lib.engine.config import RunConfig, upgraded_run_dict
from basnet_lib.engine.config_io import config_to_dict, save_config
from basnet_lib.engine.file_writes import remove_stale_temporary_files, write_atomically
from basnet_lib.engine.history import TrainingLog, read_history, write_history
from basnet_lib.engine.nonfinite import check_weights_everywhere
from basnet_lib.engine.run_checks import check_checkpoint_data
from basnet_lib.engine.run_data import checked_data_fingerprint
from basnet_lib.engine.run_files import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    CURVES_FILE,
    DATA_FINGERPRINT,
    HISTORY_FILE,
    METRICS_FILE,
    RunDirectoryError,
    RunResult,
    load_reusable_run,
    write_results,
)
from basnet_lib.engine.run_lock import LOCK_FILE, RunLock
from basnet_lib.engine.tensorboard import EVENTS_DIR, TensorBoardLog, require_tensorboard
from basnet_lib.plots.curves import plot_training_curves

# Fields that may differ between a run and the one resuming or reusing it: where its folders are,
# and how it is executed; never what it computes. ``data.root`` joins them where both sides have a
# data fingerprint (runs before it had none: their data is known only by its root).
IGNORED_DIFFERENCES = ("train.results_dir", "train.run_name", "data.num_workers")


class RunDirectory:
    """One run's directory while this process trains it; made by :meth:`open`.

    ``finished`` is the reusable finished run (then nothing is to be trained or written);
    ``checkpoint`` the state an unfinished run resumes from (None: the run starts afresh).
    """

    def __init__(
        self,
        run: RunConfig,
        context: DistributedContext,
        *,
        data_fingerprint: str,
        finished: RunResult | None,
        checkpoint: dict | None = None,
        fresh: bool = False,
    ) -> None:
        self.run, self.context, self.path = run, context, run.run_dir
        self.data_fingerprint = data_fingerprint
        self.finished, self.checkpoint, self._fresh = finished, checkpoint, fresh
        self._tensorboard: TensorBoardLog | None = None

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, run: RunConfig, context: DistributedContext, *, resume: bool | str, overwrite: bool, progress: bool
    ) -> Iterator[RunDirectory]:
        """Check the data, reuse a finished run or lock the directory and choose fresh or resume
        (``resume``: True, False, or ``"auto"``: whichever applies); the lock is released when the
        block ends, however it ends."""
        if run.train.tensorboard:
            require_tensorboard()
        fingerprint = checked_data_fingerprint(run.data, context, progress=progress)
        # Reading only: a finished run is reused even from a read-only folder.
        finished = finished_run(run, data_fingerprint=fingerprint, overwrite=overwrite)
        if finished is not None:
            yield cls(run, context, data_fingerprint=fingerprint, finished=finished)
            return
        lock = RunLock(run.run_dir)
        run_on_main(context, lock.acquire)
        opened = None
        try:
            # Another process may have finished this run between the check above and the lock.
            finished = finished_run(run, data_fingerprint=fingerprint, overwrite=overwrite)
            checkpoint = None
            if finished is None:
                checkpoint = checkpoint_to_resume(
                    run, data_fingerprint=fingerprint, resume=resume, overwrite=overwrite
                )
            fresh = overwrite and checkpoint is None
            if checkpoint is not None and context.is_main:
                _note_process_count(checkpoint, context, run)
            opened = cls(
                run, context, data_fingerprint=fingerprint, finished=finished, checkpoint=checkpoint, fresh=fresh
            )
            yield opened
        except BaseException:
            if context.is_main and lock.created_directory:
                forget_unstarted_run(run.run_dir)
            raise
        finally:
            if opened is not None and opened._tensorboard is not None:
                opened._tensorboard.close()
            if context.is_main:
                lock.release()

    def start(self) -> None:
        """The run's first writes, once every check has passed: remove what interrupted saves
        left, an earlier run's results when the run starts afresh over them (``--overwrite``),
        and write ``config.json``."""
        if self.context.is_main:
            remove_stale_temporary_files(self.path, (CHECKPOINT_FILE, METRICS_FILE, HISTORY_FILE, CONFIG_FILE, CURVES_FILE))
            if self._fresh:
                for name in (METRICS_FILE, HISTORY_FILE, CHECKPOINT_FILE, CURVES_FILE):
                    (self.path / name).unlink(missing_ok=True)
                shutil.rmtree(self.path / EVENTS_DIR, ignore_errors=True)
            save_config(self.run, self.path / CONFIG_FILE)
            if self.run.train.tensorboard:
                # A resumed run's events after its checkpoint are replaced by the new ones.
                resumed_from = int(self.checkpoint["iteration"]) if self.checkpoint else 0
                self._tensorboard = TensorBoardLog(self.path, purge_step=resumed_from + 1)
        barrier()

    def resumed_history(self) -> list[dict]:
        """The history rows up to the checkpoint the run resumes from ([] when it starts afresh)."""
        if self.checkpoint is None:
            return []
        return read_history(self.path / HISTORY_FILE, up_to_iteration=int(self.checkpoint["iteration"]))

    def write_history(self, rows: list[dict]) -> None:
        """``history.csv`` as it stands, for whoever watches the run from another process."""
        if self.context.is_main:
            write_history(self.path / HISTORY_FILE, rows)
            if self._tensorboard is not None and rows:
                self._tensorboard.add_row(rows[-1])

    def write_panels(self, panels: dict, *, iteration: int) -> None:
        """Validation images with their predicted and true labels, for TensorBoard (rank 0)."""
        if self._tensorboard is not None and panels:
            self._tensorboard.add_images(panels, step=iteration)

    def log_window(self) -> dict | None:
        """The history's sums since its last row in the checkpoint resumed from (None: none)."""
        return None if self.checkpoint is None else self.checkpoint.get("log_window")

    def save_checkpoint(self, training_state: dict, *, iteration: int, log: TrainingLog) -> None:
        """``history.csv``, then ``checkpoint.pt`` after ``iteration`` steps: everything a resumed
        run needs to continue exactly (rank 0 writes, every process waits for it). Weights that a
        step made non-finite (with a finite loss) are never saved."""
        subject = f"{self.run.run_name} after iteration {iteration}"
        check_weights_everywhere(training_state["model"], self.context.device, subject=subject)
        window = log.window_state()  # every process's sums since the last history row
        if self.context.is_main:
            # History first: a checkpoint never refers to rows that were not written.
            write_history(self.path / HISTORY_FILE, log.rows)
            state = {
                "iteration": iteration,
                "config": config_to_dict(self.run),
                DATA_FINGERPRINT: self.data_fingerprint,
                "world_size": self.context.world_size,
                "log_window": window,
            }
            save_checkpoint(self.path / CHECKPOINT_FILE, {**state, **training_state})
        barrier()

    def write_results(self, metrics: dict, history: list[dict]) -> RunResult:
        """``metrics.json`` (with the data's fingerprint, which reuse compares), the final
        ``history.csv`` and ``training_curves.png`` (rank 0)."""
        metrics = {**metrics, DATA_FINGERPRINT: self.data_fingerprint}
        if self.context.is_main:
            scores = {key: metrics[key] for key in ("mIoU", "boundary_F")}
            note = f"the results were {scores}; `basnet evaluate {self.path}` scores its checkpoint again"
            write_results(self.path / METRICS_FILE, metrics, note=note)
            if history:
                write_history(self.path / HISTORY_FILE, history)
                picture = io.BytesIO()  # drawn first, then written whole like every file of the run
                plot_training_curves(pd.DataFrame(history), picture, title=self.run.run_name)
                write_atomically(self.path / CURVES_FILE, picture.getvalue())
        barrier()
        return RunResult(run_dir=self.path, config=self.run, metrics=metrics, reused=False)


def finished_run(run: RunConfig, *, data_fingerprint: str, overwrite: bool = False) -> RunResult | None:
    """The finished run in ``run.run_dir`` when it is ``run`` trained on the same data (None: none,
    or ``overwrite``); a finished run of another config or data is an error naming the differences,
    a damaged one (:func:`~basnet_lib.engine.run_files.load_reusable_run`) an error naming the file."""
    if overwrite or not (run.run_dir / METRICS_FILE).is_file():
        return None
    finished = load_reusable_run(run.run_dir)
    differences = run_differences(
        config_to_dict(finished.config), run, finished.metrics.get(DATA_FINGERPRINT), data_fingerprint
    )
    if differences:
        raise RunDirectoryError(
            f"{run.run_dir} holds a finished run with another config; train into another "
            "--train.run_name, or pass --overwrite to replace it:\n  " + "\n  ".join(differences)
        )
    return finished


def checkpoint_to_resume(
    run: RunConfig, *, data_fingerprint: str, resume: bool | str, overwrite: bool
) -> dict | None:
    """The unfinished run's checkpoint to continue from (None: start afresh); refuses to start over
    an unfinished run unless ``resume`` or ``overwrite``, ``resume=True`` without a checkpoint, and
    a checkpoint of another config or data. ``resume="auto"`` resumes when there is a checkpoint
    and starts afresh when there is none: one command for a job that may have been requeued."""
    path = run.run_dir / CHECKPOINT_FILE
    if not path.exists():
        if resume is True:
            raise RunDirectoryError(
                f"--resume: {run.run_dir} holds no run to resume ({path.name} does not exist); "
                "leave out --resume to start the run"
            )
        return None
    if not resume:
        if overwrite:
            return None
        raise RunDirectoryError(
            f"{run.run_dir} holds an unfinished run ({path}); pass --resume to continue it or "
            "--overwrite to start it again"
        )
    check_checkpoint_data(path)  # torch.load reads the weights without their checksums
    checkpoint = load_checkpoint(path)
    differences = run_differences(
        checkpoint["config"], run, checkpoint.get(DATA_FINGERPRINT), data_fingerprint
    )
    if differences:
        raise CheckpointError(
            f"{path} was written by a run with another config:\n  "
            + "\n  ".join(differences)
            + "\n(pass --overwrite instead of --resume to start the run again)"
        )
    return checkpoint


def run_differences(
    saved_config: dict, run: RunConfig, saved_fingerprint: str | None, data_fingerprint: str
) -> list[str]:
    """What differs between a saved run and ``run`` in what decides the result, one line each."""
    ignored = IGNORED_DIFFERENCES + (("data.root",) if saved_fingerprint else ())
    differences = [
        line
        for line in config_differences(upgraded_run_dict(saved_config), config_to_dict(run))
        if line.split(":")[0] not in ignored
    ]
    if saved_fingerprint and saved_fingerprint != data_fingerprint:
        differences.append(
            f"data (names and sizes of the train and val files): checkpoint has {saved_fingerprint!r}, "
            f"this run's data has {data_fingerprint!r}"
        )
    return differences


def _note_process_count(checkpoint: dict, context: DistributedContext, run: RunConfig) -> None:
    """A run resumed with another number of processes continues, but each step's samples are then
    split differently from the uninterrupted run's (same global batch, another order)."""
    saved = checkpoint.get("world_size")
    if saved is not None and saved != context.world_size:
        print(
            f"{run.run_dir}: resuming a run of {saved} process(es) with {context.world_size}; it continues "
            "with the same global batch, but is not bit-identical to an uninterrupted run",
            file=sys.stderr,
        )


def forget_unstarted_run(run_dir: Path) -> None:
    """Remove the ``config.json`` of a run that failed before its first history row or checkpoint
    when it is all the directory holds besides the lock, which then removes the folder it created."""
    try:
        if {path.name for path in run_dir.iterdir()} <= {CONFIG_FILE, LOCK_FILE}:
            (run_dir / CONFIG_FILE).unlink(missing_ok=True)
    except OSError:  # the run's own error is the one to report
        pass
