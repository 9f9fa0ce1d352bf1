"""How a command's failure reaches the user: one line, ``PROG: error: <message>``, naming the file or
option, and the exit status; the traceback only with ``--debug`` (``basnet`` and
``python -m basnet_lib.train``, also under torchrun).

Under torchrun every process runs the command: rank 0 reports a failure, another rank only an error
of its own. A usage error is computed alike on every rank, rank 0's failure reaches the others as
:class:`~basnet_lib.distributed.MainProcessError`, and a process whose peer ended sees its
connection break (torch's ``DistBackendError``): those stay silent off rank 0.
"""

from __future__ import annotations

import os
import sys

import torch.distributed as dist

from basnet_lib.distributed import MainProcessError

# Exit statuses: argparse's own for a bad command line, one for a command that failed, and the
# shell's for Ctrl-C.
USAGE_ERROR, FAILURE, INTERRUPTED = 2, 1, 130
# Errors that another process caused: reported by that process.
_RELAYED = (MainProcessError, *((dist.DistBackendError,) if hasattr(dist, "DistBackendError") else ()))


class UsageError(ValueError):
    """An option value the command cannot run with (found after parsing, e.g. by a config check)."""


def error_message(error: BaseException) -> str:
    """The text of ``error`` for the one-line report: the library's own errors name the file or
    option; anything else also says what kind of error it is."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, (ValueError, OSError)) or type(error).__module__.startswith("basnet_lib"):
        return text
    return f"{type(error).__name__}: {text} (--debug shows where)"


def process_rank() -> int:
    """This process's rank under torchrun (0 outside it)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def report_failure(prog: str, error: Exception, *, rank: int | None = None) -> int:
    """Print ``PROG: error: <message>`` on stderr, on rank 0 or where the error is this rank's own
    (then prefixed ``rank N:``); return the exit status (:data:`USAGE_ERROR` for a
    :class:`UsageError`, else :data:`FAILURE`)."""
    rank = process_rank() if rank is None else rank
    if rank == 0:
        print(f"{prog}: error: {error_message(error)}", file=sys.stderr)
    elif not isinstance(error, (UsageError, *_RELAYED)):
        print(f"{prog}: error: rank {rank}: {error_message(error)}", file=sys.stderr)
    return USAGE_ERROR if isinstance(error, UsageError) else FAILURE


def report_interrupt(prog: str, interrupt: KeyboardInterrupt, *, rank: int | None = None) -> int:
    """One line for a command stopped by Ctrl-C or a signal (on rank 0); its exit status: the
    interrupt's own ``exit_status`` where it has one (128 + the signal), else 130."""
    rank = process_rank() if rank is None else rank
    if rank == 0:
        try:
            print(f"{prog}: {str(interrupt).strip() or 'interrupted'}", file=sys.stderr)
        except OSError:  # SIGHUP: the terminal that would show it is gone
            pass
    return getattr(interrupt, "exit_status", INTERRUPTED)
