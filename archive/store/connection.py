"""One SQLite connection with explicit transactions, the time format every row uses, and
the clock the store takes its timestamps from."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from archive.migrations import (
    BUMP_GENERATION,
    READ_GENERATION,
    apply_migrations,
    has_generation,
)
from archive.store.errors import ArchiveBusyError, ArchiveUnavailableError, is_busy

logger = logging.getLogger(__name__)

PAGE_SIZE = 16384  # bytes, of a new archive's pages (see Connection.__init__)
BUSY_TIMEOUT = 5.0  # seconds a connection waits for another one's lock before it gives up

Now = Callable[[], datetime]
"""A clock: returns the current instant, timezone-aware, in UTC (``scheduler.clock.Clock.now``
fits; ``archive`` does not import ``scheduler``, so the store names only the callable)."""


def system_now() -> datetime:
    """The system clock: the current instant, aware, in UTC."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that text order is time order.

    Raises ValueError for a naive datetime."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every instant must be timezone-aware")
    dt = dt.astimezone(UTC)
    # isoformat() leaves out a zero fraction; it is ~25% faster than timespec="microseconds"
    # and this runs for every stored message.
    text = dt.isoformat()
    return text if dt.microsecond else f"{text[:19]}.000000{text[19:]}"


def parse_iso(text: str) -> datetime:
    """An instant as stored by :func:`iso`, back as an aware UTC datetime."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:  # defensive: rows are written by iso(), always with an offset
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def opt_parse(text: str | None) -> datetime | None:
    """:func:`parse_iso`, passing None through."""
    return None if text is None else parse_iso(text)


class Connection:
    """One connection to the archive database, with explicit transactions.

    Every write transaction that changed rows moves the archive's generation by one before
    it commits (:meth:`transaction`, :meth:`generation`), except for changes made inside
    :meth:`bookkeeping` (the record of the transcripts written, which no transcript shows).
    Writes must go through :meth:`transaction`; one made outside (autocommit) is counted at
    the next transaction or at :meth:`close`.

    Not thread-safe: use an instance from one thread at a time (``AsyncStore`` gives each
    connection its own thread). The connection is made with ``check_same_thread=False`` so
    that it may be created on one thread, used on another and closed on a third.
    """

    path: Path
    conn: sqlite3.Connection
    now: Now
    _tx_depth: int
    _counted: int  # conn.total_changes when the last transaction ended (or at opening)
    _exempt: int  # changes of the open transaction made inside bookkeeping()
    _versioned: bool  # the schema has the generation (only tests build one without)

    def __init__(self, path: Path | str, *, now: Now = system_now) -> None:
        """Open (creating if needed) the database at ``path`` for reading and writing, in
        WAL mode, and apply any pending migrations. ``now`` stamps the rows the store
        writes (when a chat was created, a post intended, a message captured...).

        Raises `ArchiveBusyError` when another process holds the archive's lock for longer
        than ``BUSY_TIMEOUT`` (migrating it, or in a write transaction of its own)."""
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self.conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
            )
        except (OSError, sqlite3.OperationalError) as e:
            raise ArchiveUnavailableError(self.path, _not_a_folder(self.path) or e) from e
        try:
            self._set_up(now)
        except sqlite3.OperationalError as e:
            self.conn.close()
            if is_busy(e):
                raise ArchiveBusyError(self.path, e, BUSY_TIMEOUT) from e
            if _cannot_open(e):
                raise ArchiveUnavailableError(self.path, e) from e
            raise
        except BaseException:
            self.conn.close()
            raise

    def _set_up(self, now: Now) -> None:
        """The rest of ``__init__``, on the open connection."""
        self.conn.row_factory = sqlite3.Row
        # A new archive gets 16 KiB pages (SQLite's default is 4 KiB; an existing archive
        # keeps its own, as the page size of a database in WAL mode is fixed): a captured
        # message's row, with its raw payload, is 1-2 KiB, and an import of 100k of them
        # reads and writes a quarter of the pages, each a system call, for ~7% less CPU and
        # ~10% less time (benchmarks/README.md, issue 17).
        self.conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self._enter_wal()
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        # Kept from when sqlite_utils wrapped the connection: with it, a REPLACE that removes
        # a row fires its delete triggers too (SQLite docs, "recursive_triggers").
        self.conn.execute("PRAGMA recursive_triggers=on")
        self.now = now
        apply_migrations(self.conn)  # each migration moves the generation itself
        self._versioned = has_generation(self.conn)
        self._tx_depth = 0
        self._counted = self.conn.total_changes
        self._exempt = 0
        self._background: list[threading.Thread] = []
        self._opened()

    def _enter_wal(self) -> None:
        """Put the database in WAL mode (once, for a new archive; a no-op after), waiting
        up to ``BUSY_TIMEOUT`` for another process that opens the same new archive."""
        # Two connections that switch a new file to WAL at once both hold a shared lock and
        # both want the exclusive one: SQLite answers one of them "database is locked" at
        # once, without calling the busy handler (it would wait for ever), so the wait is
        # done here. The other connection's switch is over in microseconds.
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if not is_busy(e) or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _opened(self) -> None:
        """Called once a read-write connection is open and migrated: a table family whose
        state a stopped process may have left behind catches up here (call ``super()``)."""

    @classmethod
    def open_readonly(cls, path: Path | str, *, now: Now = system_now) -> Self:
        """A store on a read-only connection: no migrations, every write refused by SQLite
        (``sqlite3.OperationalError``). Raises ``sqlite3.OperationalError`` when the file
        cannot be opened."""
        self = cls.__new__(cls)
        self.path = Path(path)
        uri = self.path.resolve().as_uri() + "?mode=ro"
        self.conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA query_only=ON")
        self.conn.execute("PRAGMA recursive_triggers=on")
        self.now = now
        self._versioned = False  # it writes nothing
        self._tx_depth = 0
        self._counted = self.conn.total_changes
        self._exempt = 0
        self._background = []
        return self

    def close(self) -> None:
        """Close the connection (a transaction still open is rolled back by SQLite). Writes
        made outside :meth:`transaction` since the last one move the generation first.
        Waits for the work that :meth:`bulk_load` left to a thread."""
        self.wait_for_background()
        if self._versioned and not self._tx_depth and self.conn.total_changes != self._counted:
            with self.transaction():
                pass
        self.conn.close()

    def generation(self) -> int:
        """The archive's generation: a counter that every committed write transaction
        which changed rows has moved by one (see :meth:`transaction`). Two reads that
        return the same number saw the same archive, but for :meth:`bookkeeping` rows.
        Inside a write transaction, the value it started with."""
        return int(self.conn.execute(READ_GENERATION).fetchone()[0])

    def generation_at_commit(self) -> int:
        """Inside a write transaction: the generation its commit will leave the archive at,
        as it stands (one more than :meth:`generation` once it changed a row). What was
        rendered from this transaction's view is of that generation; no other writer can
        commit in between (the transaction holds the write lock from its start)."""
        if not self._tx_depth:
            raise RuntimeError("generation_at_commit() is for use inside transaction()")
        changed = self.conn.total_changes - self._counted > self._exempt
        return self.generation() + (1 if self._versioned and changed else 0)

    @contextmanager
    def bookkeeping(self) -> Iterator[None]:
        """Inside a write transaction: the rows changed within do not move the generation.
        Only for rows that no transcript or statistic is computed from (the record of which
        transcript files were written, the ledger's posts other than questions'); everything
        else must move it. (The web archive caches pages by ``chat_fingerprint``, which
        sees every row, not by the generation.)"""
        if not self._tx_depth:
            raise RuntimeError("bookkeeping() is for use inside transaction()")
        before = self.conn.total_changes
        try:
            yield
        finally:
            self._exempt += self.conn.total_changes - before

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the archive (a read transaction: in WAL mode it
        blocks no writer). Inside a write transaction, that transaction is the snapshot."""
        if self._tx_depth:
            yield
            return
        self.conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextmanager
    def bulk_load(
        self, cache_mib: int = 64, *, after: Callable[[sqlite3.Connection], object] | None = None
    ) -> Iterator[None]:
        """A page cache of ``cache_mib`` MiB for this connection while inside (then the
        previous size again), for one big write transaction such as an import; afterwards,
        on another thread, ``after`` (given a connection of its own: the search index of
        the rows loaded, say), then the WAL copied into the database file.

        With SQLite's default 2 MiB, a transaction that writes ~100 MB keeps spilling dirty
        pages to the WAL and dirtying the same index pages again: about a third more CPU
        for the import's inserts (benchmarks/README.md, issue 17). The cache grows only as
        pages are used, so memory stays bounded by ``cache_mib``.

        Inside, the automatic checkpoint is off: the commit of a ~130 MB transaction would
        copy it from the WAL into the database there and then (~0.3 s). Instead, once the
        block is left, one thread runs ``after`` while another copies the WAL into the
        database (a passive checkpoint: a checkpoint and a writer can work at once in WAL
        mode), then what ``after`` wrote; this connection goes on meanwhile (publishing the
        import, say): SQLite works without the GIL, so the threads take the other core as
        it frees (run one after the other, the two were the last ~0.3 s of an import's
        publication: benchmarks/README.md). What was committed is safe in the WAL either way;
        a failed or unfinished checkpoint loses nothing (the next one copies it); a failure
        of ``after`` is logged (it must leave nothing half-done: one transaction). Before
        reading what ``after`` writes, and at :meth:`close`, wait for it:
        :meth:`wait_for_background`. An in-memory database runs ``after`` on this
        connection, before the block is left.
        """
        before = int(self.conn.execute("PRAGMA cache_size").fetchone()[0])
        autocheckpoint = int(self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        self.conn.execute(f"PRAGMA cache_size={-int(cache_mib) * 1024}")
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA cache_size={before}")
            self.conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        if str(self.path) == ":memory:":
            if after is not None:
                after(self.conn)
                # what ``after`` wrote is not for the generation to count, as on a thread
                self._counted = self.conn.total_changes
            return
        # One at a time: a second bulk load waits for the first one's work to be over.
        self.wait_for_background()
        work = threading.Thread(
            target=_after_bulk_load,
            args=(self.path, after),
            name="tweetchat-after-bulk-load",
            daemon=True,
        )
        copy = threading.Thread(
            target=_checkpoint_after,
            args=(self.path, work),
            name="tweetchat-checkpoint",
            daemon=True,
        )
        self._background = [work, copy]
        work.start()
        copy.start()

    def wait_for_background(self) -> None:
        """Wait until the work that :meth:`bulk_load` left to threads (if any) is over."""
        for thread in self._background:
            thread.join()
        self._background = []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one. An exception rolls the
        whole transaction back and propagates.

        When the transaction changed any row (``total_changes`` moved, outside
        :meth:`bookkeeping`; writes made outside any transaction since the last one count
        too), it moves the archive's generation by one before it commits, in the same
        commit. A transaction that changed nothing writes nothing.

        Raises `ArchiveBusyError` when another process holds the write lock for longer than
        ``BUSY_TIMEOUT``.
        """
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if is_busy(e):
                raise ArchiveBusyError(self.path, e, BUSY_TIMEOUT) from e
            raise
        self._tx_depth = 1
        self._exempt = 0
        try:
            yield
            if self._versioned and self.conn.total_changes - self._counted > self._exempt:
                self.conn.execute(BUMP_GENERATION)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._tx_depth = 0
            self._exempt = 0
            self._counted = self.conn.total_changes


def _after_bulk_load(path: Path, after: Callable[[sqlite3.Connection], object] | None) -> None:
    """:meth:`Connection.bulk_load`'s thread for ``after``, on a connection of its own to
    the database at ``path``; failures are logged, never raised."""
    if after is None:
        return
    conn = _thread_connection(path)
    if conn is None:
        return
    try:
        # Its commit leaves the WAL to the checkpoint thread (at the default, a commit past
        # 1,000 pages of WAL copies all of it there and then, on this thread).
        conn.execute("PRAGMA wal_autocheckpoint=0")
        after(conn)
    except sqlite3.Error as e:
        name = getattr(after, "__qualname__", after)
        logger.warning("%s: after a bulk load, %s failed (%s)", path, name, e)
    finally:
        conn.close()


def _checkpoint_after(path: Path, work: threading.Thread) -> None:
    """:meth:`Connection.bulk_load`'s checkpoint thread: a passive checkpoint (it waits for
    no reader or writer, and copies what no reader still needs) while ``work`` runs, and
    another once it is over, for what it wrote; failures are logged, never raised."""
    conn = _thread_connection(path)
    if conn is None:
        return
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        work.join()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error as e:
        logger.warning(
            "%s: checkpoint after a bulk load failed (%s); the WAL keeps the rows", path, e
        )
    finally:
        conn.close()


def _thread_connection(path: Path) -> sqlite3.Connection | None:
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
    except sqlite3.Error as e:
        logger.warning("%s: could not open it after a bulk load (%s)", path, e)
        return None
    return conn


def _cannot_open(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite could not open (or create) the archive or the files beside it
    (SQLITE_CANTOPEN, SQLITE_READONLY: a folder it cannot write to, a path that names a
    folder), rather than failing on its contents."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)


def _not_a_folder(path: Path) -> str:
    """``"PART is a file, not a folder"`` for the first part of ``path``'s folder that is
    not one (mkdir's own words, "File exists", say nothing of which), else ''."""
    for part in reversed(path.parents):
        if part.exists() and not part.is_dir():
            return f"{part} is a file, not a folder"
    return ""
