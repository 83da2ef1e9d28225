"""The store beside other processes: a busy archive, and a new archive opened by several
processes at once, on real database files."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.migrations import MIGRATIONS
from archive.store import ArchiveBusyError, Store, StoreError
from archive.store import connection as store_connection
from tests.archive.test_store import make_chat
from tests.bot.helpers import config_file, tweetchat


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store waits 0.2 s for a lock, not 5 s: the tests below hold it on purpose."""
    monkeypatch.setattr(store_connection, "BUSY_TIMEOUT", 0.2)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection of another "process" holding the write lock of an existing archive."""
    Store(tmp_path / "archive.sqlite").close()
    conn = sqlite3.connect(tmp_path / "archive.sqlite", isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


@pytest.mark.usefixtures("short_wait")
def test_a_write_to_a_busy_archive_says_it_is_busy_and_writes_nothing(
    tmp_path: Path, holder: sqlite3.Connection
) -> None:
    path = tmp_path / "archive.sqlite"
    store = Store(path)  # reading needs no lock in WAL mode
    try:
        with pytest.raises(ArchiveBusyError) as caught:
            store.add_chat(make_chat())
        assert str(caught.value) == (
            f"the archive {path} is busy: another process holds it (database is locked, "
            "after waiting 0.2 s); try again when it is done"
        )
        # a StoreError for the command line, still an OperationalError for retry loops
        assert isinstance(caught.value, StoreError)
        assert isinstance(caught.value, sqlite3.OperationalError)
        holder.execute("ROLLBACK")
        holder.execute("BEGIN")  # for the fixture's ROLLBACK
        assert store.list_chats() == []
        store.add_chat(make_chat())  # the connection is usable once the lock is free
        assert [c.id for c in store.list_chats()] == ["wedocs-2026-12-01"]
    finally:
        store.close()


@pytest.mark.usefixtures("short_wait")
def test_opening_a_new_archive_that_another_process_holds_says_it_is_busy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "archive.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # a new file, locked before it is in WAL mode
    try:
        with pytest.raises(ArchiveBusyError, match=f"the archive {path} is busy"):
            Store(path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store = Store(path)
    store.close()


def _open_at_once(path: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        Store(path).close()
        results.put("ok")
    except BaseException as e:  # reported to the test, which shows it
        results.put(f"{type(e).__name__}: {e}")


def test_processes_opening_a_new_archive_at_once_all_find_it_migrated(tmp_path: Path) -> None:
    """Two imports started at once into an archive that does not exist yet: each migration
    takes the write lock and looks again, so every process finds it applied once. Before,
    about half the rounds failed ('UNIQUE constraint failed: _migrations.version', 'table
    chats already exists', or 'database is locked' when both switched the file to WAL)."""
    reference = Store(tmp_path / "alone.sqlite")
    alone = reference.generation()
    reference.close()
    context = multiprocessing.get_context("fork")
    processes = 3
    for round_ in range(8):
        path = tmp_path / f"archive-{round_}.sqlite"
        barrier = context.Barrier(processes)
        results = context.Queue()
        workers = [
            context.Process(target=_open_at_once, args=(path, barrier, results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert outcomes == ["ok"] * processes, (round_, outcomes)
        conn = sqlite3.connect(path)
        try:
            versions = [row[0] for row in conn.execute("SELECT version FROM _migrations")]
            generation = conn.execute("SELECT value FROM meta").fetchone()[0]
        finally:
            conn.close()
        assert versions == [version for version, _name, _fn in MIGRATIONS]
        # each migration moved the generation once, not once a process
        assert generation == alone


# ---- an archive that cannot be opened -------------------------------------------------------


def _immutable(folder: Path) -> bool:
    """Make ``folder`` immutable (``chattr +i``: even root cannot create files in it);
    False where the file system or the user cannot."""
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0


@pytest.mark.parametrize("case", ["a file on the way", "a folder", "an immutable folder"])
def test_an_archive_that_cannot_be_opened_says_why_in_one_line(tmp_path: Path, case: str) -> None:
    """Found by a tester: any command on such an archive ended in a traceback
    (``sqlite3.OperationalError: unable to open database file``, ``FileExistsError``)."""
    if case == "a file on the way":
        (tmp_path / "data").write_text("notes", encoding="utf-8")
        database, why = (
            tmp_path / "data" / "db.sqlite",
            f"{tmp_path / 'data'} is a file, not a folder",
        )
    elif case == "a folder":
        (tmp_path / "db.sqlite").mkdir()
        database, why = tmp_path / "db.sqlite", "unable to open database file"
    else:
        (tmp_path / "locked").mkdir()
        Store(tmp_path / "locked" / "db.sqlite").close()  # its -wal and -shm are gone
        if not _immutable(tmp_path / "locked"):
            pytest.skip("chattr +i is not available here")
        database, why = tmp_path / "locked" / "db.sqlite", "unable to open database file"
    try:
        with pytest.raises(StoreError) as caught:
            Store(database)
        assert isinstance(caught.value, sqlite3.OperationalError)  # what retries look for
        assert str(caught.value).startswith(f"the archive {database} cannot be opened ({why}):")
        config = config_file(tmp_path)
        config.write_text(f'database = "{database}"\n', encoding="utf-8")
        done = tweetchat(["chats"], config)
        assert done.returncode == 2
        assert done.stderr == f"tweetchat: {caught.value}\n"
    finally:
        if case == "an immutable folder":
            subprocess.run(["chattr", "-i", str(tmp_path / "locked")], check=True)
