"""Runs of a grid trained on this machine, each in a process of its own: the training notebook
(``02_training.ipynb``, one process per run) or ``torchrun`` (DDP over N GPUs or N CPU processes
per run), as many side by side as the cores or GPUs allow.

The caller says which runs to train and how to start one; :func:`train_in_processes` keeps the
slots full, shows the grid's progress and stops everything when one run fails or the command is
stopped (:mod:`basnet_lib.reproduction.processes`: each run's process finishes its step and writes a
checkpoint, which the next start resumes). A run directory that another process holds
(``run.lock``) is refused before its log is opened: nothing is written into it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from basnet_lib.engine.config import RunConfig
from basnet_lib.engine.run_lock import RunLock, check_unlocked
from basnet_lib.reproduction.notebooks import project_directory
from basnet_lib.reproduction.processes import ProcessFailedError, failure_line, start_process, stop_processes
from basnet_lib.reproduction.progress import GridProgress

TORCHRUN_LOG = "torchrun.log"
# Every thread pool a training process may start (OpenMP, OpenBLAS, MKL).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class TrainingProcess:
    """One run in training: its process, the log its output goes to, and the slot it holds."""

    run: RunConfig
    process: subprocess.Popen
    log: Path
    slot: int


# start(run, slot) -> the run's process; slot is the index of the side-by-side place it holds.
StartRun = Callable[[RunConfig, int], TrainingProcess]


def train_in_processes(
    runs: list[RunConfig], todo: list[RunConfig], *, start: StartRun, slots: int, progress: bool
) -> None:
    """Train ``todo`` (the unfinished runs of ``runs``), ``slots`` at a time, each started by
    ``start``; one line per finished run and, with ``progress`` on a terminal, one bar over the
    grid. A failed run stops the others (:func:`~basnet_lib.reproduction.processes.stop_processes`)
    and raises with its one-line error and its log's path; so does any other end of the wait (the
    command stopped by a signal, Ctrl-C)."""
    todo, running = list(todo), []
    done = [run for run in runs if run not in todo]
    with GridProgress(runs, done=done, disable=None if progress else True) as bar:
        try:
            while todo or running:
                free = sorted(set(range(slots)) - {entry.slot for entry in running})
                while todo and free:
                    running.append(start(todo.pop(0), free.pop(0)))
                    bar.started(running[-1].run)
                time.sleep(0.5)
                bar.poll()
                for entry in [entry for entry in running if entry.process.poll() is not None]:
                    running.remove(entry)
                    _check_finished(entry)
                    bar.finished(entry.run)
        finally:
            stop_processes([entry.process for entry in running])


def _check_finished(entry: TrainingProcess) -> None:
    if entry.process.returncode != 0:
        raise ProcessFailedError(
            f"training {entry.run.run_dir} failed: {failure_line(entry.log)} (its output: {entry.log})"
        )


def claim_run_directory(run_dir: Path) -> Path:
    """``run_dir``, created if missing, once no other process holds it (else
    :class:`~basnet_lib.engine.run_lock.RunLockedError`, naming it): the caller may then write its
    training process's log there."""
    check_unlocked(RunLock(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def thread_environment(threads: int, environment: dict[str, str] | None = None) -> dict[str, str]:
    """A child's environment: with ``threads`` set, every thread pool of the training process starts
    at that size. ``TrainConfig.threads`` alone resizes torch's pool only after start-up; the other
    pools' idle workers then competed with the side-by-side runs (measured: a third of the CPU time
    in the kernel, ~11 instead of ~12.5 img/s per run)."""
    environment = dict(os.environ if environment is None else environment)
    if threads:
        environment.update({name: str(threads) for name in THREAD_VARIABLES})
    return environment


def local_slots(runs: list[RunConfig], *, gpus_per_run: int, processes_per_run: int) -> int:
    """How many runs of ``runs`` train side by side with that many GPUs or CPU processes each: the
    visible GPUs over ``gpus_per_run``, else the cores over each run's processes × threads."""
    if gpus_per_run:
        visible = len(visible_gpus())
        if visible < gpus_per_run:
            raise ValueError(
                f"--gpus-per-run {gpus_per_run}: this machine has {visible} visible GPU(s) "
                "(torch.cuda.device_count()); ask for at most that many, or --processes-per-run on CPU"
            )
        return visible // gpus_per_run
    threads = max([run.train.threads for run in runs] + [1])
    return max(1, (os.cpu_count() or 1) // (max(1, processes_per_run) * threads))


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them (ids or UUIDs)."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    listed = [name for name in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if name.strip()]
    return listed[:count] if "CUDA_VISIBLE_DEVICES" in os.environ else [str(index) for index in range(count)]


def torchrun_command(run: RunConfig, *, preset_name: str, processes: int, data_root: str, iterations: int) -> list[str]:
    """``torchrun --standalone --nproc_per_node=N -m basnet_lib.train`` for ``run``: the README's
    command form, with the run directory's parent and the schedule of the grid (``--standalone``
    picks a free port, so runs side by side do not collide)."""
    words = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
        "-m", "basnet_lib.train", "--preset", preset_name, "--variant", run.model.variant,
        "--backbone", run.model.backbone, "--seed", str(run.train.seed),
        "--train.results_dir", run.train.results_dir, "--quiet",
    ]  # fmt: skip
    if data_root:
        words += ["--data-root", data_root]
    if iterations:
        words += ["--train.iterations", str(iterations)]
    return [*words, "--resume", "auto"]  # start the run, or resume it: a killed local run, too


def start_torchrun(
    run: RunConfig, slot: int, *, grid: dict, gpus_per_run: int, processes_per_run: int
) -> TrainingProcess:
    """Start ``run`` under torchrun in ``slot``: with GPUs, slot k holds the k-th group of
    ``gpus_per_run`` visible GPUs (``CUDA_VISIBLE_DEVICES``); on CPU, ``processes_per_run`` gloo
    processes. Its output goes to ``torchrun.log`` in the run directory."""
    environment = thread_environment(run.train.threads)
    if gpus_per_run:
        devices = visible_gpus()[slot * gpus_per_run : (slot + 1) * gpus_per_run]
        environment["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    command = torchrun_command(
        run,
        preset_name=grid["preset_name"],
        processes=gpus_per_run or processes_per_run,
        data_root=grid.get("data_root", ""),
        iterations=grid.get("iterations", 0),
    )
    log = claim_run_directory(project_directory() / run.run_dir) / TORCHRUN_LOG
    process = start_process(
        command, log=log, environment=environment, cwd=project_directory(), first_line=f"$ {shlex.join(command)}"
    )
    return TrainingProcess(run=run, process=process, log=log, slot=slot)
