"""The run directory's files written whole or not at all, and a failed write reported as one line
naming the file (``could not write RUN/checkpoint.pt: No space left on device``).

Each file goes to a temporary file beside it (``.<name>.tmp-<pid>``, which
:func:`remove_stale_temporary_files` deletes after a killed run), is flushed to disk
and renamed into place; a write that fails removes its temporary file and leaves the previous file
as it was. ``torch.save`` turns the error of a failed write into its own ``RuntimeError``
(``unexpected pos …``): the file it writes to records the system's error, which is reported
instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class FileWriteError(OSError):
    """A file that could not be written; ``str``: ``could not write PATH: REASON`` (the system's
    reason, e.g. ``No space left on device``), ``errno`` and ``filename`` as the system's error."""

    def __init__(self, path: Path, cause: OSError) -> None:
        reason = cause.strerror or str(cause) or type(cause).__name__
        super().__init__(cause.errno, reason, str(path))
        self.message = f"could not write {path}: {reason}"

    def __str__(self) -> str:
        return self.message


def temporary_path(path: Path) -> Path:
    """Where :func:`write_atomically` writes ``path`` first."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_atomically(path: Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (bytes, or a function that writes into a binary file) to ``path``: temp
    file, flush, fsync, rename; parents created. Raises :class:`FileWriteError` naming ``path``
    when any of it fails (no space left, a file-size limit, a read-only folder), with the
    temporary file removed and ``path`` as it was."""
    path = Path(path)
    temporary = temporary_path(path)
    recorder = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            recorder = _RecordingFile(handle)
            if isinstance(content, bytes):
                recorder.write(content)
            else:
                content(recorder)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise FileWriteError(path, error) from error
    except RuntimeError as error:  # torch.save's report of a write that failed under it
        if recorder is None or recorder.error is None:
            raise
        raise FileWriteError(path, recorder.error) from error
    finally:
        with contextlib.suppress(OSError):  # gone already when renamed; never masks the error
            temporary.unlink(missing_ok=True)
    return path


class _RecordingFile:
    """A binary file that remembers the system error of a failed write, for writers (torch.save)
    that replace it with their own."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self._handle.write(data)
        except OSError as error:
            self.error = error
            raise

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as error:
            self.error = error
            raise


def remove_stale_temporary_files(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Delete the temporary files of saves of ``names`` that a killed process left in ``folder``
    (``.checkpoint.pt.tmp-PID`` …). Only the folder's owner calls this, so no other process is
    writing them."""
    stale = sorted(path for name in names for path in folder.glob(f".{name}.tmp*"))
    for path in stale:
        size = path.stat().st_size
        path.unlink()
        print(f"removed {path} ({size / 1e6:.1f} MB), left by an interrupted save", file=sys.stderr)
    return stale
