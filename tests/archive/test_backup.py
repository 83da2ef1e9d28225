"""Backups of a live archive: consistent, complete up to the copy, and atomic."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from archive.backup import BackupError, backup_sqlite


def make_db(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    conn.executemany("INSERT INTO m (text) VALUES (?)", [("x" * 200,)] * rows)
    conn.commit()
    conn.close()


def test_a_backup_taken_while_another_connection_writes_is_consistent(tmp_path: Path) -> None:
    source = tmp_path / "db.sqlite"
    make_db(source, 20_000)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        conn = sqlite3.connect(source, timeout=30)
        while not stop.is_set():
            with conn:
                conn.execute("INSERT INTO m (text) VALUES ('during')")
            written[0] += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        steps: list[tuple[int, int]] = []
        backup_sqlite(
            source,
            tmp_path / "copy" / "db.sqlite",
            pages_per_step=64,
            progress=lambda done, total: steps.append((done, total)),
        )
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(tmp_path / "copy" / "db.sqlite")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (count,) = copy.execute("SELECT COUNT(*) FROM m").fetchone()
    assert 20_000 <= count <= 20_000 + written[0]
    # Every row of the copy is whole, and ids have no gap: one consistent state.
    assert copy.execute("SELECT MAX(id) FROM m").fetchone() == (count,)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert len(steps) > 1 and steps[-1][0] == steps[-1][1]
    assert not (tmp_path / "copy" / "db.sqlite-wal").exists()


def test_a_missing_or_broken_source_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no such database"):
        backup_sqlite(tmp_path / "nope.sqlite", tmp_path / "out" / "copy.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match=r"junk\.sqlite: cannot back up"):
        backup_sqlite(junk, tmp_path / "out" / "copy.sqlite")
    assert list((tmp_path / "out").iterdir()) == []
