"""One process per run directory: the advisory lock file ``run.lock``, held for the run's life.

The file names its owner (pid, host, start time), so a second process's error says who holds the
directory. The lock itself is ``fcntl.flock`` on the open file, which the kernel releases however
its owner ends: a lock file left by a killed run is found unlocked, and taken over with a message
instead of blocking the directory until someone deletes it. An owner that ends normally removes
the file (docs/method.md §8).
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

from basnet_lib.engine.run_files import RunDirectoryError

try:
    import fcntl
except ImportError:  # Windows: no flock; runs go unlocked (see RunLock.acquire)
    fcntl = None

LOCK_FILE = "run.lock"
# flock unsupported by the file system (some network mounts): the run goes on unlocked, with a note.
_NO_LOCKING = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)
# A lock found taken is tried again for this long: another process may only be looking whether it
# is free (:func:`check_unlocked`), which holds it for microseconds.
_CONTENTION_SECONDS = 0.25


class RunLockedError(RunDirectoryError):
    """Another live process holds the run directory; the message names it (pid, host, since)."""


class RunLock:
    """The lock of one run directory: :meth:`acquire` (creating the directory), :meth:`release`.

    Usable as a context manager. A process that cannot get it raises :class:`RunLockedError`
    at once, without waiting: a run holds its directory for hours. ``file_name``, ``folder`` (what
    the errors call the directory) and ``advice`` (what they tell the user to do) let other owners
    of a folder use the same lock.
    """

    file_name = LOCK_FILE
    folder = "run directory"
    advice = "wait for it to end or stop it, or train into another --train.run_name"

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / self.file_name
        self._descriptor: int | None = None
        self._created_dir = False

    @property
    def created_directory(self) -> bool:
        """Whether :meth:`acquire` created the directory (it is removed at release when still empty)."""
        return self._created_dir

    def acquire(self) -> None:
        created = not self.run_dir.exists()
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirectoryError(f"cannot create the {self.folder} {self.run_dir}: {error.strerror}") from None
        self._created_dir = created
        descriptor = self._locked_descriptor()
        if descriptor is None:
            return
        previous = _read_owner(descriptor)
        if previous:
            print(
                f"{self.path}: taking over the lock of {_describe(previous)}, which ended without releasing it",
                file=sys.stderr,
            )
        _write_owner(descriptor)
        self._descriptor = descriptor

    def release(self) -> None:
        """Remove the lock file, then unlock (a directory this lock created is removed when still empty)."""
        if self._descriptor is not None:
            try:
                self.path.unlink(missing_ok=True)  # while still locked: see _locked_descriptor
            except OSError:  # a folder made read-only meanwhile: the next start takes the file over
                pass
            os.close(self._descriptor)
            self._descriptor = None
        if self._created_dir:
            try:
                self.run_dir.rmdir()
            except OSError:  # not empty: the run wrote its files
                pass
            self._created_dir = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _locked_descriptor(self) -> int | None:
        """The lock file, opened and locked; None where the system cannot lock it."""
        while True:
            try:
                descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as error:
                raise RunDirectoryError(
                    f"cannot write into the {self.folder} {self.run_dir} ({error.strerror} creating "
                    f"{self.path.name}); is the results folder writable?"
                ) from None
            if fcntl is None:
                os.close(descriptor)
                return None
            try:
                _flock_soon(descriptor)
            except BlockingIOError:
                owner = _read_owner(descriptor)
                os.close(descriptor)
                raise RunLockedError(
                    f"{self.run_dir} is in use by {_describe_holder(owner)} (lock file {self.path}); {self.advice}"
                ) from None
            except OSError as error:
                os.close(descriptor)
                if error.errno not in _NO_LOCKING:
                    raise
                print(f"{self.path}: the file system cannot lock files; the run goes on unlocked", file=sys.stderr)
                return None
            # The previous owner removes the file before unlocking it: a file locked after its
            # removal (or replacement) is not the lock any more, so the current one is locked instead.
            if _is_current(descriptor, self.path):
                return descriptor
            os.close(descriptor)


def check_unlocked(lock: RunLock) -> None:
    """Raise :class:`RunLockedError` (naming the holder) when another process holds ``lock`` now;
    creates and writes nothing. For a process about to start another that will take the lock: it
    must not write into a directory someone else owns (a log, an executed notebook) first."""
    if fcntl is None:
        return
    try:
        descriptor = os.open(lock.path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file (or none readable): nobody holds it
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released with the descriptor below
    except BlockingIOError:
        owner = _read_owner(descriptor)
        raise RunLockedError(
            f"{lock.run_dir} is in use by {_describe_holder(owner)} (lock file {lock.path}); {lock.advice}"
        ) from None
    except OSError:  # the file system cannot lock: nothing to find out
        pass
    finally:
        os.close(descriptor)


def _flock_soon(descriptor: int) -> None:
    """Lock ``descriptor`` (exclusive), trying again for :data:`_CONTENTION_SECONDS` while it is taken."""
    deadline = time.monotonic() + _CONTENTION_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _is_current(descriptor: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(descriptor), path.stat())
    except FileNotFoundError:
        return False


def _read_owner(descriptor: int) -> dict:
    """The owner recorded in the lock file ({} when empty or unreadable: a run killed while writing it)."""
    text = os.pread(descriptor, 4096, 0).decode(errors="replace")
    try:
        owner = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return owner if isinstance(owner, dict) else {}


def _write_owner(descriptor: int) -> None:
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, (json.dumps(owner) + "\n").encode(), 0)
    os.fsync(descriptor)


def _describe(owner: dict) -> str:
    if not owner:
        return "another process (its lock file names none)"
    return f"process {owner.get('pid', '?')} on {owner.get('host', '?')} since {owner.get('since', '?')}"


def _describe_holder(owner: dict) -> str:
    """:func:`_describe` of a process that holds the lock now."""
    pid = owner.get("pid")
    if owner.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
        # Its forked children (data loader workers) keep the lock until they notice and exit.
        return f"{_describe(owner)} (which no longer runs; processes it started still hold the lock)"
    return _describe(owner)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
