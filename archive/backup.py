"""Backups of SQLite files while the bot runs (SQLite's online backup API).

The backup API copies a consistent snapshot even while another connection writes (in WAL
mode, committed transactions up to the moment the copy ends are in it); the copy is written
to a temporary file, checked with ``PRAGMA integrity_check`` and renamed into place, so a
failed backup never leaves a half-written file under the final name.
See https://www.sqlite.org/backup.html.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path


class BackupError(Exception):
    """A backup could not be made; the message names the file and the reason."""


def backup_sqlite(
    source: Path,
    destination: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    pages_per_step: int = 4096,
) -> int:
    """Copy the SQLite database ``source`` to ``destination`` (replaced atomically).

    ``progress(copied_pages, total_pages)`` is called after each step. Returns the number of
    pages copied. Raises `BackupError` when the source is missing or not a database, or the
    copy fails its integrity check.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no such database")
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    os.close(fd)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(
                    dst,
                    pages=pages_per_step,
                    progress=(lambda _s, left, total: progress(total - left, total))
                    if progress
                    else None,
                )
                # A plain file that needs no -wal beside it: readable wherever it is copied.
                dst.execute("PRAGMA journal_mode=DELETE")
                (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
                (pages,) = dst.execute("PRAGMA page_count").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
        if verdict != "ok":
            raise BackupError(f"{destination}: the copy failed its integrity check: {verdict}")
        os.replace(tmp, destination)
        return int(pages)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source}: cannot back up: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
