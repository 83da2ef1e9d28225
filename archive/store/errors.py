"""The store's exceptions: small, named for what went wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """Base class for store failures that a user can act on."""


class NotFoundError(StoreError):
    """No chat (or other row) with that id."""


class DuplicateChatError(StoreError):
    """A chat with that id already exists."""


class ArchiveBusyError(StoreError, sqlite3.OperationalError):
    """Another process held the archive's write lock for longer than the store waits.

    Also a ``sqlite3.OperationalError``, which SQLite raised for it (``database is
    locked``), so that code which retries on SQLite errors (the runner's loop, a bulk
    load's threads) goes on treating it as one."""

    def __init__(self, path: Path | str, cause: sqlite3.Error, waited: float) -> None:
        self.path = Path(path)
        super().__init__(
            f"the archive {path} is busy: another process holds it ({cause}, after "
            f"waiting {waited:g} s); try again when it is done"
        )


class ArchiveUnavailableError(StoreError, sqlite3.OperationalError):
    """The archive's file cannot be opened or made: its folder cannot be written (SQLite
    creates ``NAME-wal`` and ``NAME-shm`` beside the archive), the path names a folder, or a
    part of the path is a file. Also a ``sqlite3.OperationalError`` when SQLite raised it."""

    def __init__(self, path: Path | str, cause: BaseException | str) -> None:
        self.path = Path(path)
        reason = cause if isinstance(cause, str) else getattr(cause, "strerror", None) or str(cause)
        super().__init__(
            f"the archive {path} cannot be opened ({reason}): the `database` setting must name"
            " a file in a folder this user can write to (SQLite keeps two files beside it,"
            f" {self.path.name}-wal and {self.path.name}-shm)"
        )


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (or "table is locked"): another
    connection holds the lock this one waited for."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.OperationalError) or code is None:
        return False
    # Extended codes (SQLITE_BUSY_SNAPSHOT...) keep the primary code in their low byte.
    return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
