"""A command's planned output files, checked before its first write (``basnet predict``,
``basnet evaluate --export``): when one check fails nothing is written, and the error names the
path and what is wrong with it.

The checks, for every planned file: its folder exists or can be made (the nearest existing folder
above it is a folder, not a file or a broken symbolic link, and this process may write into it);
nothing but a file or a symbolic link is in its place (a folder is never replaced); and, without
``overwrite``, nothing is there at all (a symbolic link counts, even a broken one: the writers
replace a link by a file rather than write through it to wherever it points). Which outputs two
inputs would share is the caller's to check: only it knows the inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class OutputPlanError(ValueError):
    """Planned outputs that cannot, or may not, be written; nothing was written."""


def check_output_files(outputs: Iterable[Path], *, overwrite: bool) -> None:
    """Raise :class:`OutputPlanError` for the first planned output that cannot be written, or
    (without ``overwrite``) for the existing ones, counted (see the module docstring)."""
    existing: list[Path] = []
    folders: set[Path] = set()
    for output in outputs:
        if output.parent not in folders:
            check_output_folder(output.parent)
            folders.add(output.parent)
        if output.is_symlink() or output.exists():
            if output.exists() and not output.is_file():
                kind = "a folder" if output.is_dir() else "not a regular file"
                raise OutputPlanError(f"{output} is {kind}, where an output file goes; move it away first")
            existing.append(output)
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more planned outputs)" if len(existing) > 1 else ""
        raise OutputPlanError(f"{existing[0]} exists{more}; pass --overwrite to replace")


def check_output_folder(folder: Path) -> None:
    """``folder`` exists as a folder this process may write into, or can be made."""
    nearest = folder
    while not nearest.exists():
        if nearest.is_symlink():
            raise OutputPlanError(f"cannot create {folder}: {nearest} is a broken symbolic link")
        nearest = nearest.parent
    if not nearest.is_dir():
        where = f"{folder} is a file" if nearest == folder else f"cannot create {folder}: {nearest} is a file"
        raise OutputPlanError(f"{where}, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        action = "write into" if nearest == folder else f"create {folder} in"
        raise OutputPlanError(
            f"cannot {action} {nearest}: no write permission (or a read-only file system)"
        )
