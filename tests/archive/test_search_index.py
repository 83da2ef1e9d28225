"""Migration 3: save_messages indexes its new rows for search in its own transaction;
migration 4: the index stems words (porter over unicode61), rebuilt in place.

The search index (external-content FTS5) must always hold exactly the stored text: an
FTS5 'delete' of text that was never indexed corrupts it silently, so every test ends
with FTS5's own integrity check against the content table.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive.migrations as migrations
from archive.models import CapturedMessage
from archive.store import Store, iso
from archive.store import messages as messages_module
from archive.store.messages import UPSERT_MESSAGE, message_row
from tests.archive.web.conftest import PAST_START, chat, msg

WORDS = ("alpha", "bravo", "charlie", "delta", "echo")


def _hits(store: Store, word: str) -> set[str]:
    return {
        r[0]
        for r in store.conn.execute(
            "SELECT m.platform_id FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            " WHERE messages_fts MATCH ?",
            (f'"{word}"',),
        )
    }


def _check_index(store: Store) -> None:
    # rank = 1: also compare the index with the external content table.
    store.conn.execute(
        "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
    )


def _add_old_chat(store: Store, chat_id: str) -> None:
    """What the code of an older schema wrote for a chat (no column added since)."""
    start = PAST_START.isoformat()
    with store.transaction():
        store.conn.execute(
            "INSERT INTO chats (id, title, hashtag, hashtag_key, start, end, timezone,"
            " grace_seconds, targets, hosts, status, created_at)"
            " VALUES (?, 'T', '#WeDocs', '#wedocs', ?, ?, 'UTC', 0, '[]', '[]', 'published', ?)",
            (chat_id, start, start, start),
        )


def _edited(m: CapturedMessage, text: str, minutes: int) -> CapturedMessage:
    return replace(m, text=text, edited_at=m.created_at + timedelta(minutes=minutes))


def _add_old_chat(store: Store, chat_id: str) -> None:
    """A chat as the code of an older schema stored it: the columns of schema 1 only (the
    store's add_chat writes the columns later migrations added)."""
    new = chat(chat_id, PAST_START)
    with store.transaction():
        store.conn.execute(
            "INSERT INTO chats (id, title, hashtag, hashtag_key, start, end, timezone,"
            " grace_seconds, targets, hosts, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, '[]', '[]', ?, ?)",
            (
                new.id,
                new.title,
                new.hashtag,
                new.hashtag.casefold(),
                iso(new.start),
                iso(new.end),
                new.timezone,
                str(new.status),
                iso(new.start),
            ),
        )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    s.add_chat(chat("c", PAST_START))
    yield s
    s.close()


def test_a_batch_holding_a_message_and_its_edit_indexes_only_the_edit(store: Store) -> None:
    first = msg("c", "1", "ann", "alpha words", PAST_START, 1)
    store.save_messages([first, _edited(first, "bravo words", 2)])
    assert _hits(store, "alpha") == set() and _hits(store, "bravo") == {"1"}
    _check_index(store)


def test_messages_saved_after_the_newest_chat_was_deleted_are_indexed(store: Store) -> None:
    store.add_chat(chat("d", PAST_START + timedelta(days=1)))
    store.save_messages([msg("c", "1", "ann", "alpha", PAST_START, 1)])
    store.save_messages([msg("d", "2", "bob", "bravo", PAST_START, 2)])
    store.delete_chat("d")  # frees the highest id, which SQLite hands out again
    store.save_messages([msg("c", "3", "cat", "charlie", PAST_START, 3)])
    assert _hits(store, "charlie") == {"3"} and _hits(store, "bravo") == set()
    _check_index(store)


def test_a_failed_save_leaves_neither_rows_nor_index_entries(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "alpha", PAST_START, 1)])
    orphan = msg("no-such-chat", "2", "bob", "bravo", PAST_START, 2)
    with pytest.raises(sqlite3.IntegrityError):
        store.save_messages([msg("c", "3", "cat", "charlie", PAST_START, 3), orphan])
    assert _hits(store, "charlie") == set() and _hits(store, "alpha") == {"1"}
    store.save_messages([msg("c", "4", "dan", "charlie", PAST_START, 4)])
    assert _hits(store, "charlie") == {"4"}
    _check_index(store)


# The message columns of schema 2 (migration 5 added ``attachments``, last in message_row).
SCHEMA_2_INSERT = (
    "INSERT INTO messages (chat_id, platform, platform_id, channel, author_id, author_name,"
    " author_handle, text, created_at, kind, question_keys, late, reply_to, permalink,"
    " edited_at, deleted_at, mentions, reactions, raw, captured_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _before_attachments(m: pytest.MonkeyPatch) -> None:
    """Saves write the rows of schema 4 (as the code before migration 5 did)."""
    upsert = messages_module.UPSERT_MESSAGE.replace(
        "captured_at, attachments\n", "captured_at\n"
    ).replace("?,?,?)", "?,?)", 1)
    assert upsert != messages_module.UPSERT_MESSAGE
    m.setattr(
        messages_module,
        "UPSERT_MESSAGE",
        upsert.replace("    attachments = excluded.attachments,\n", ""),
    )
    row = messages_module.message_row
    m.setattr(messages_module, "message_row", lambda *args: row(*args)[:20])


def test_an_archive_indexed_by_the_old_trigger_upgrades_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.db"
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        old = Store(path)
        _add_old_chat(old, "c")
        # What the code of schema 2 did: a plain upsert, indexed by the insert trigger.
        row = message_row(msg("c", "1", "ann", "alpha", PAST_START, 1), "{}", "now")[:20]
        with old.transaction():
            old.conn.execute(SCHEMA_2_INSERT, row)
        assert old.schema_version() == 2
        old.close()
    store = Store(path)
    try:
        assert store.schema_version() == migrations.MIGRATIONS[-1][0]
        store.save_messages([msg("c", "2", "bob", "bravo", PAST_START, 2)])
        store.edit_message("local", "1", "charlie", PAST_START + timedelta(minutes=9))
        assert _hits(store, "alpha") == set()
        assert _hits(store, "bravo") == {"2"} and _hits(store, "charlie") == {"1"}
        _check_index(store)
    finally:
        store.close()


def test_an_unstemmed_index_is_rebuilt_stemmed_and_stays_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.db"
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        _before_attachments(m)
        old = Store(path)
        _add_old_chat(old, "c")
        old.save_messages([msg("c", "1", "ann", "Our quickstarts", PAST_START, 1)])
        old.save_messages([msg("c", "2", "bob", "running late", PAST_START, 2)])
        old.mark_deleted("local", "2", PAST_START)
        assert _hits(old, "quickstart") == set()
        old.close()
    store = Store(path)
    try:
        assert store.schema_version() == migrations.MIGRATIONS[-1][0]  # every migration ran
        assert _hits(store, "quickstart") == {"1"} and _hits(store, "run") == {"2"}
        store.save_messages([msg("c", "3", "cat", "Quickstart day", PAST_START, 3)])
        store.edit_message("local", "1", "charlie", PAST_START + timedelta(minutes=9))
        assert _hits(store, "quickstarts") == {"3"} and _hits(store, "charlie") == {"1"}
        _check_index(store)
    finally:
        store.close()


# One step of a random workload: save a batch (ids may repeat, within the batch and
# across batches, with or without a newer edit), edit one message, or delete a chat.
_texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
_save = st.tuples(
    st.just("save"),
    st.lists(
        st.tuples(st.sampled_from("cd"), st.integers(0, 7), _texts, st.integers(0, 3)),
        min_size=1,
        max_size=6,
    ),
)
_edit = st.tuples(st.just("edit"), st.integers(0, 7), _texts, st.integers(4, 60))
_drop = st.tuples(st.just("drop"), st.sampled_from("cd"))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.one_of(_save, _edit, _drop), min_size=1, max_size=12))
def test_search_always_finds_exactly_the_stored_text(tmp_path: Path, steps: list) -> None:
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.db"
    store = Store(path)
    chats: set[str] = set()
    try:
        for step in steps:
            if step[0] == "save":
                for chat_id in {c for c, *_ in step[1]} - chats:
                    store.add_chat(chat(chat_id, PAST_START))
                    chats.add(chat_id)
                batch = []
                for chat_id, n, text, edit_minutes in step[1]:
                    m = msg(chat_id, f"{chat_id}{n}", "ann", text, PAST_START, 1)
                    batch.append(_edited(m, text, edit_minutes) if edit_minutes else m)
                store.save_messages(batch)
            elif step[0] == "edit":
                _, n, text, minutes = step
                for chat_id in "cd":
                    store.edit_message(
                        "local", f"{chat_id}{n}", text, PAST_START + timedelta(minutes=minutes)
                    )
            else:
                store.delete_chat(step[1])
                chats.discard(step[1])
        stored = store.conn.execute("SELECT platform_id, text FROM messages").fetchall()
        for word in WORDS:
            assert _hits(store, word) == {pid for pid, text in stored if word in text.split()}
        _check_index(store)
    finally:
        store.close()


def test_rows_written_in_sql_are_searchable_once_indexed(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "alpha", PAST_START, 1)])
    row = message_row(msg("c", "2", "bob", "bravo", PAST_START, 2), "{}", "now")
    with store.transaction():  # a bulk load that bypasses save_messages
        store.conn.execute(UPSERT_MESSAGE, row)
    assert _hits(store, "bravo") == set()
    assert store.index_new_messages() == 1
    assert store.index_new_messages() == 0
    assert _hits(store, "bravo") == {"2"} and _hits(store, "alpha") == {"1"}
    _check_index(store)


def test_a_bulk_load_indexed_once_at_the_end_matches_the_stored_text(store: Store) -> None:
    # What an import does: batches saved unindexed (one of them editing an earlier row, and
    # after the newest chat was deleted so SQLite reuses its ids), one index at the end.
    store.add_chat(chat("d", PAST_START + timedelta(days=1)))
    store.save_messages([msg("c", "1", "ann", "alpha", PAST_START, 1)])
    store.save_messages([msg("d", "2", "bob", "delta", PAST_START, 2)])
    store.delete_chat("d")
    first = msg("c", "3", "cat", "bravo", PAST_START, 3)
    with store.bulk_load(), store.transaction():
        store.save_encoded_messages([first], ['{"id": "3"}'], index=False)
        store.save_encoded_messages(
            [_edited(first, "charlie", 1), msg("c", "4", "dan", "echo", PAST_START, 4)],
            ['{"id": "3", "edited": true}', "{}"],
            index=False,
        )
        assert _hits(store, "charlie") == set()  # not searchable until indexed
        assert store.index_new_messages() == 2
    assert _hits(store, "charlie") == {"3"} and _hits(store, "echo") == {"4"}
    assert _hits(store, "bravo") == set() and _hits(store, "delta") == set()
    assert (
        store.conn.execute("SELECT raw FROM messages WHERE platform_id = '3'").fetchone()[0]
        == '{"id": "3", "edited": true}'
    )
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -2000  # put back
    _check_index(store)


def test_a_bulk_load_commits_without_checkpointing_and_a_thread_checkpoints_after(
    store: Store, tmp_path: Path
) -> None:
    db_file = tmp_path / "a.db"
    size_before = db_file.stat().st_size
    rows = [msg("c", str(i), f"p{i % 7}", "word " * 200, PAST_START, i) for i in range(3000)]
    with store.bulk_load():
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        with store.transaction():
            store.save_messages(rows)
        # committed, and all of it still in the WAL: nothing copied at the commit
        assert db_file.stat().st_size == size_before
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # put back
    store.wait_for_background()
    # the thread copied the WAL into the file while this connection stayed open
    assert db_file.stat().st_size > size_before + 3000 * 1000
    assert store.count_messages("c") == 3000


def test_a_checkpoint_or_after_step_that_fails_is_logged_and_raises_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from archive.store.connection import _after_bulk_load, _checkpoint_after

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    done = threading.Thread(target=lambda: None)
    done.start()
    for run in (lambda p: _after_bulk_load(p, broken), lambda p: _checkpoint_after(p, done)):
        run(tmp_path)  # a folder: SQLite cannot open it
        assert "could not open it after a bulk load" in caplog.text
        assert str(tmp_path) in caplog.text
        caplog.clear()

    Store(tmp_path / "a.db").close()
    _after_bulk_load(tmp_path / "a.db", broken)
    assert "after a bulk load" in caplog.text and "disk I/O error" in caplog.text
    caplog.clear()
    _checkpoint_after(tmp_path / "a.db", done)
    assert caplog.text == ""


def test_after_a_bulk_load_the_database_file_alone_holds_the_rows_and_their_index(
    store: Store, tmp_path: Path
) -> None:
    # The checkpoint thread copies the bulk load's pages while the after step (slowed here)
    # writes the index, then copies what it wrote: once both are over, the database file
    # holds everything without its WAL. (That the two overlap is a matter of time, measured
    # in benchmarks/README.md, not asserted.)
    started = threading.Event()

    def slow_index(conn: sqlite3.Connection) -> int:
        started.set()
        time.sleep(0.3)
        return messages_module.index_search(conn)

    with store.bulk_load(after=slow_index), store.transaction():
        store.save_encoded_messages(_bulk_rows(2000), ["{}"] * 2000, index=False)
    assert started.wait(5)
    store.wait_for_background()
    # The database file alone (without its WAL) holds the rows and their index.
    alone = tmp_path / "alone.db"
    shutil.copyfile(store.path, alone)
    copy = sqlite3.connect(alone)
    try:
        assert copy.execute("SELECT COUNT(*) FROM messages").fetchone() == (2000,)
        hits = copy.execute("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'alpha'")
        assert hits.fetchone() == (400,)
    finally:
        copy.close()
    _check_index(store)


def _bulk_rows(n: int, start: int = 0) -> list[CapturedMessage]:
    return [
        msg("c", str(i), f"p{i % 5}", f"{WORDS[i % 5]} word{i}", PAST_START, i)
        for i in range(start, start + n)
    ]


def test_a_bulk_loads_rows_are_indexed_on_a_thread_without_moving_the_generation(
    store: Store,
) -> None:
    def slow_index(conn: sqlite3.Connection) -> int:
        time.sleep(0.5)  # still indexing when the search below comes
        return messages_module.index_search(conn)

    with store.bulk_load(after=slow_index), store.transaction():
        store.save_encoded_messages(_bulk_rows(400), ["{}"] * 400, index=False)
    committed = store.generation()
    assert _hits(store, "word399") == set()  # not yet: the thread is sleeping
    # a search on this connection waits for the thread; it sees every row
    found = store.search_messages("word399", limit=10)
    assert [m.platform_id for m, _snippet in found] == ["399"]
    store.wait_for_background()
    assert _hits(store, "word0") == {"0"} and len(_hits(store, "alpha")) == 80
    assert store.generation() == committed  # the published transcripts stay current
    _check_index(store)


def test_rows_a_stopped_import_left_unindexed_are_indexed_at_the_next_opening(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "a.db")
    store.add_chat(chat("c", PAST_START))
    with store.transaction():  # committed, then the process stopped before the thread ran
        store.save_encoded_messages(_bulk_rows(50), ["{}"] * 50, index=False)
    generation = store.generation()
    store.close()
    reopened = Store(tmp_path / "a.db")
    assert _hits(reopened, "word49") == {"49"}
    assert reopened.generation() == generation
    with reopened.transaction():  # a transaction that changes nothing moves nothing
        pass
    reopened.close()
    again = Store(tmp_path / "a.db")
    assert again.generation() == generation  # nor did closing: the transcripts stay current
    _check_index(again)
    again.close()


def test_an_opening_while_another_process_writes_leaves_the_indexing_to_the_next_save(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "a.db")
    store.add_chat(chat("c", PAST_START))
    with store.transaction():
        store.save_encoded_messages(_bulk_rows(10), ["{}"] * 10, index=False)
    store.close()
    monkeypatch.setattr(messages_module, "index_search", _busy)
    opened = Store(tmp_path / "a.db")  # opens all the same
    assert "left to index for search" in caplog.text and "database is locked" in caplog.text
    monkeypatch.undo()
    assert _hits(opened, "word9") == set()
    opened.save_messages(_bulk_rows(1, start=10))  # the next save indexes what is pending
    assert _hits(opened, "word9") == {"9"} and _hits(opened, "word10") == {"10"}
    _check_index(opened)
    opened.close()


def _busy(conn: sqlite3.Connection) -> int:
    # what index_search meets when another process writes for longer than busy_timeout
    raise sqlite3.OperationalError("database is locked")


def test_save_encoded_messages_wants_one_raw_text_per_message(store: Store) -> None:
    with pytest.raises(ValueError, match="one raw text per message"):
        store.save_encoded_messages([msg("c", "1", "ann", "alpha", PAST_START, 1)], [])


# A stored message (pid), then entries of a batch: (pid, edit minute or None).
_ENTRY = st.tuples(st.sampled_from("123456"), st.one_of(st.none(), st.integers(1, 3)))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.lists(_ENTRY, max_size=4),
    batches=st.lists(st.lists(_ENTRY, min_size=1, max_size=6), min_size=1, max_size=3),
)
def test_rows_saved_as_all_new_end_as_the_upsert_leaves_them(
    tmp_path_factory: pytest.TempPathFactory,
    stored: list[tuple[str, int | None]],
    batches: list[list[tuple[str, int | None]]],
) -> None:
    # An import into a new chat inserts its rows, and upserts a batch from its start at
    # the first row already stored (before it, or earlier in the same batch).
    def row(pid: str, edit: int | None) -> list[object]:
        m = msg("c", pid, f"p{pid}", f"{WORDS[int(pid) % 5]} v{edit}", PAST_START, int(pid))
        if edit is not None:
            m = _edited(m, f"{WORDS[int(pid) % 5]} v{edit}", edit)
        return list(message_row(m, f'{{"v": {edit or 0}}}', "now"))

    states = []
    for all_new in (False, True):
        store = Store(tmp_path_factory.mktemp("s") / "a.db")
        try:
            store.add_chat(chat("c", PAST_START))
            store.save_message_rows([row(pid, edit) for pid, edit in stored])
            with store.transaction():
                for batch in batches:
                    rows = [row(pid, edit) for pid, edit in batch]
                    store.save_message_rows(rows, index=False, all_new=all_new)
            store.index_new_messages()
            _check_index(store)
            states.append(
                [tuple(r) for r in store.conn.execute("SELECT * FROM messages ORDER BY id")]
            )
        finally:
            store.close()
    assert states[0] == states[1]


def test_an_in_memory_bulk_load_indexes_its_rows_before_the_block_is_left() -> None:
    store = Store(":memory:")
    try:
        store.add_chat(chat("c", PAST_START))
        with store.bulk_load(after=messages_module.index_search), store.transaction():
            store.save_encoded_messages(_bulk_rows(20), ["{}"] * 20, index=False)
        assert _hits(store, "word19") == {"19"}  # no thread: done when the block is left
        generation = store.generation()
        with store.transaction():  # the indexing is not counted as a change
            pass
        assert store.generation() == generation
        _check_index(store)
    finally:
        store.close()
