"""``python -m basnet_lib.train`` = ``basnet train``; the module torchrun starts on every process.

torchrun --nproc_per_node=4 -m basnet_lib.train --preset paper --data-root /data/cityscapes
"""

from __future__ import annotations

import argparse
import sys

from basnet_lib.engine.commands import add_train_arguments, train_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m basnet_lib.train", description=__doc__)
    add_train_arguments(parser)
    return train_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
