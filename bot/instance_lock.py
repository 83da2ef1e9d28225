"""One running bot per archive: two runners on the same database would race to post.

The lock is an advisory `flock` on ``<database>.lock`` beside the database, held for as long
as the bot runs; the kernel drops it when the process dies (even on ``kill -9``), so a crash
never leaves a stale lock. The file records the holder's pid for the message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another process holds the archive's lock; the message names the database and pid."""


class InstanceLock:
    """``lock = InstanceLock(db).acquire()`` ... ``lock.release()``.

    Raises `AlreadyRunning` when another live process holds it, `OSError` when the lock file
    cannot be created (the message names the path).
    """

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            database = str(self.path)[: -len(".lock")]
            raise AlreadyRunning(
                f"another tweetchat is already running on {database} (pid {holder}); "
                "stop it first, or give this one its own database"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go (safe to call twice); the file stays, empty of meaning once unlocked."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
