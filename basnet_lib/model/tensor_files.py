"""Reading a PyTorch file that a user hands over (a run's checkpoint, ImageNet weights) without
running any code from it: ``torch.load(..., weights_only=True)``, whose failures become one line
naming the file.

A file whose pickle asks for anything beyond tensors and plain values (a function such as
``os.system``, an object of some class) is refused by torch before it is built, so nothing in it
runs; the error says so and names what the file asked for. It never repeats torch's advice to load
the file again without ``weights_only``: a checkpoint written by this library never needs that.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

# What torch's weights-only unpickler names when a pickle asks for an object it does not build.
_REFUSED_OBJECT = re.compile(
    r"GLOBAL (\S+) (?:was not an allowed global|whose module)"
    r"|Can only (?:create new object|build)[^\n]*?but got ([^\n]+)"
)
_UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*([^\n]+)")


class RefusedFileError(ValueError):
    """A PyTorch file whose pickle asks for objects beyond tensors and plain values; it was refused
    before any of it was built, so nothing in it ran."""


def load_tensor_file(path: str | Path, *, kind: str, mmap: bool = False) -> object:
    """The content of the PyTorch file ``path`` (on the CPU), read with ``weights_only=True``.

    ``kind`` names what the file should be in the errors (``"checkpoint"``, ``"ResNet state
    dict"``); ``mmap``: map the tensors instead of reading them (a quick check of the archive and
    its pickle). Raises :class:`RefusedFileError` for a pickle that asks for other objects, and a
    ``ValueError`` naming the file (truncated or corrupt?) for anything else it cannot read.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        refused = _REFUSED_OBJECT.search(str(error))
        if refused:
            asked = (refused.group(1) or refused.group(2)).strip().rstrip(".")
            raise RefusedFileError(
                f"{path}: refused: it asks for {asked}, an object a {kind} may not hold (only tensors "
                "and plain values); nothing in it was run"
            ) from None
        reason = _UNPICKLER_REASON.search(str(error))
        detail = reason.group(1).strip() if reason else "its pickle holds data a PyTorch file does not"
        raise ValueError(f"{path}: not a readable {kind} (truncated or corrupt?): {detail}") from None
    except OSError as error:  # the file system's: permissions, an I/O error
        raise ValueError(f"{path}: cannot read the {kind} ({error.strerror or error})") from None
    except Exception as error:  # a cut zip archive, ...
        raise ValueError(
            f"{path}: not a readable {kind} (truncated or corrupt?): {type(error).__name__}: {first_line(error)}"
        ) from None


def first_line(error: BaseException) -> str:
    """An exception's message up to its first line break or sentence end (torch's errors explain
    at length, and advise, on the same line)."""
    return str(error).strip().split("\n", 1)[0].split(". ", 1)[0]
