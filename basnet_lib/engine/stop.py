"""Stopping a run at a step boundary when its process is signalled (docs/method.md §4.2).

A cluster stops a job with a signal: Slurm sends SIGTERM on preemption, ``scontrol requeue`` and
``scancel``, and a pre-timeout signal (``--signal USR1@…``; submitit asks for USR2) shortly before the
time limit. A killed step loses what it was doing; a run that is asked instead finishes the step,
writes a checkpoint and raises :class:`RunPreempted`, so the same command continues it exactly
(``basnet train --resume auto``). The signal handlers are process-wide, so only a caller that owns
its process installs them (:meth:`StopRequest.on_signals`: the command line and cluster jobs).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist

from basnet_lib.distributed import DistributedContext

# The signals a cluster stops jobs with, in the order their codes are agreed between processes.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
# Those and a notebook's interrupt (JupyterLab's "interrupt the kernel"; papermill's client
# interrupts its kernel before shutting it down): notebook 02 stops on any of them.
NOTEBOOK_STOP_SIGNALS = (*STOP_SIGNALS, signal.SIGINT)
# A signal this soon after the first is the same request reaching the process twice (Slurm signals
# every process of a step, torchrun forwards the signal to its workers); a later one means "now".
SAME_REQUEST_SECONDS = 2.0


class RunPreempted(Exception):
    """A run stopped by a signal after writing its checkpoint; the same command resumes it."""

    def __init__(self, signal_name: str, *, iteration: int, run_dir: Path) -> None:
        self.signal_name, self.iteration, self.run_dir = signal_name, iteration, run_dir
        super().__init__(
            f"{run_dir}: stopped by {signal_name} after iteration {iteration}, checkpoint written; "
            "`basnet train ... --resume auto` (the same command) continues it"
        )


class StopRequest:
    """Set by a signal handler; the training loop reads it between steps (:func:`agreed_stop`). A
    second signal, :data:`SAME_REQUEST_SECONDS` or more after the first, ends the process at once,
    as it would have without the request."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._first_at = 0.0

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal_name is not None:
            if time.monotonic() - self._first_at < SAME_REQUEST_SECONDS:
                return  # the first request, delivered twice
            if signum == signal.SIGINT:  # asked twice: stop now, as without the request
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        self.signal_name = signal.Signals(signum).name
        self._first_at = time.monotonic()

    @classmethod
    @contextlib.contextmanager
    def on_signals(cls, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> Iterator[StopRequest]:
        """A request set by any of ``signals`` while the block runs; the previous handlers are
        restored after it."""
        request = cls()
        previous = {number: signal.signal(number, request) for number in signals}
        try:
            yield request
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def agreed_stop(request: StopRequest | None, context: DistributedContext) -> str | None:
    """The signal that stops the run after this step, the same on every process: under torchrun
    each process may be signalled at another step, so they agree once per step with one all-reduce
    of a CPU tensor over the control group (no host-device synchronisation). None without a request."""
    if request is None:
        return None
    if not context.is_distributed:
        return request.signal_name
    names = [number.name for number in NOTEBOOK_STOP_SIGNALS]
    code = torch.tensor([names.index(request.signal_name) + 1 if request.signal_name in names else 0])
    dist.all_reduce(code, op=dist.ReduceOp.MAX, group=context.control_group)
    return names[int(code) - 1] if int(code) else None
