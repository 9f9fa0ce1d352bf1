"""``python -m basnet_lib.train`` = ``basnet train``; the module torchrun starts on every process.

torchrun --nproc_per_node=4 -m basnet_lib.train --preset paper --data-root /data/cityscapes

A failure is one line, ``python -m basnet_lib.train: error: ...`` (the traceback with ``--debug``),
from rank 0 only, unless another rank's error is its own; a bad option stops every process before
anything is read or written.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from basnet_lib.engine.commands import add_train_arguments, checked_run_config, train_command
from basnet_lib.engine.failures import process_rank, report_failure, report_interrupt

PROG = "python -m basnet_lib.train"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    rank = process_rank()
    # A bad command line: argparse's usage and error once, from rank 0, not from every process.
    with contextlib.redirect_stderr(io.StringIO()) if rank else contextlib.nullcontext():
        args = parser.parse_args(argv)
    try:
        checked_run_config(args)
        return train_command(args)
    except KeyboardInterrupt as interrupt:
        if args.debug:
            raise
        return report_interrupt(PROG, interrupt, rank=rank)
    except Exception as error:
        if args.debug:
            raise
        return report_failure(PROG, error, rank=rank)


if __name__ == "__main__":
    sys.exit(main())
