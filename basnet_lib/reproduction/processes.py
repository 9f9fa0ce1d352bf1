"""The processes a command starts end with it (``basnet reproduce``: a notebook's execution, a run's
training notebook, torchrun).

Each child starts in a session of its own, so that a Ctrl-C on the terminal, or a signal to the
command's process group, reaches the command alone. The command (:func:`stopped_by_signals`, asked
for by the command that owns its process) turns SIGINT, SIGTERM and SIGHUP into
:class:`CommandStopped`; whatever was waiting for children then stops them
(:func:`stop_processes`): SIGTERM to each, which passes it on (torchrun to its workers, papermill's
client to its kernel, where a run in training finishes its step and writes a checkpoint), a bounded
wait, then SIGKILL to what is left, the child's whole process group. The command exits with 128 +
the signal after one line on stderr; the same command continues where the runs stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# How long stopped children may take to finish their step and write a checkpoint before they are
# killed: above the kernel's own shutdown time (notebooks.KERNEL_SHUTDOWN_SECONDS) and torchrun's
# 30 s for its workers.
STOP_GRACE_SECONDS = 90.0
COMMAND_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# A child's one-line report of its failure (``python -m basnet_lib.train: error: ...``).
_ERROR_LINE = re.compile(r": error: (.+)$")


class ProcessFailedError(RuntimeError):
    """A child process failed; the message is its one-line error and where its output is."""


class CommandStopped(KeyboardInterrupt):
    """The command was asked to stop by a signal; raised in its main thread by the handlers of
    :func:`stopped_by_signals`. ``exit_status`` is the shell's 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {self.signal_name}; every process it started has ended, a run in training after "
            "writing its checkpoint: the same command continues"
        )

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def stopped_by_signals(signals: tuple[signal.Signals, ...] = COMMAND_STOP_SIGNALS) -> Iterator[None]:
    """While the block runs, each of ``signals`` raises :class:`CommandStopped` in the main thread
    (process-wide: for a command that owns its process); the previous handlers are restored after.
    A signal the process was started ignoring (``nohup``'s SIGHUP, a background job's SIGINT) stays
    ignored."""

    def stop(signum: int, frame: object) -> None:
        raise CommandStopped(signum)

    ignored = {number for number in signals if signal.getsignal(number) is signal.SIG_IGN}
    previous = {number: signal.signal(number, stop) for number in signals if number not in ignored}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def start_process(
    command: list[str], *, log: Path, environment: dict[str, str] | None = None, cwd: Path | None = None,
    first_line: str = "",
) -> subprocess.Popen:
    """``command`` in a session of its own (its process group: see :func:`stop_processes`), its
    stdout and stderr written to ``log`` afresh, after ``first_line`` when given."""
    with open(log, "w") as handle:  # the child keeps its own handle
        if first_line:
            handle.write(first_line + "\n")
            handle.flush()
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=environment, cwd=cwd, start_new_session=True
        )


def stop_processes(processes: list[subprocess.Popen], *, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop every process of ``processes`` still running: SIGTERM to each, up to ``grace`` seconds
    for all to end, then SIGKILL to the process groups of those left (also when a second signal
    interrupts the wait); one line on stderr when any had to be killed."""
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        while any(process.poll() is None for process in alive) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        late = [process for process in alive if process.poll() is None]
        for process in late:  # not reaped yet: its pid, the group's id, cannot have been reused
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if late:
            print(
                f"{len(late)} process(es) did not end within {grace:.0f} s of SIGTERM and were killed "
                "(their runs resume from their last checkpoint)",
                file=sys.stderr,
            )


def wait_for(process: subprocess.Popen) -> int:
    """Wait for ``process``; stop it (:func:`stop_processes`) when the wait ends otherwise (a
    signal's :class:`CommandStopped`, Ctrl-C). Returns its exit status."""
    try:
        return process.wait()
    finally:
        stop_processes([process])


def failure_line(log: Path) -> str:
    """What a failed child said about its failure: the last ``...: error: <message>`` line of its
    log (the one line the library's commands print), else its last line."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError as error:
        return f"its log {log} cannot be read ({error.strerror})"
    for line in reversed(lines):
        match = _ERROR_LINE.search(line)
        if match:
            return match.group(1)
    return lines[-1] if lines else "it printed nothing"
