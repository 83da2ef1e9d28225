"""Migration 2: the FTS5 index follows the messages table through its triggers."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.migrations import MIGRATIONS, migrate_in_tx
from archive.store import Store
from tests.archive.web.conftest import PAST_START, build_archive, chat, msg


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    s.add_chat(chat("c", PAST_START))
    yield s
    s.close()


def _hits(store: Store, word: str) -> list[int]:
    return [
        r[0]
        for r in store.conn.execute(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (f'"{word}"',)
        )
    ]


def test_inserted_messages_are_indexed(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "hello partners", PAST_START, 1)])
    assert len(_hits(store, "partners")) == 1


def test_edits_replace_the_indexed_text(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "hello partners", PAST_START, 1)])
    store.edit_message("local", "1", "goodbye", PAST_START + timedelta(minutes=5))
    assert _hits(store, "partners") == [] and len(_hits(store, "goodbye")) == 1


def test_deleting_a_chat_removes_its_messages_from_the_index(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "hello partners", PAST_START, 1)])
    store.delete_chat("c")
    assert _hits(store, "partners") == []
    store.conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


def test_search_ignores_case_and_diacritics(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "Café Naïve", PAST_START, 1)])
    assert len(_hits(store, "cafe")) == 1 and len(_hits(store, "NAIVE")) == 1


def test_migration_indexes_messages_that_already_exist(tmp_path: Path) -> None:
    path = build_archive(tmp_path / "a.db")
    conn = sqlite3.connect(path, isolation_level=None)
    for name in ("messages_fts_delete", "messages_fts_update"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE messages_fts")
    migrations = {v: m for v, _, m in MIGRATIONS}
    conn.execute("BEGIN")
    migrate_in_tx(conn, migrations[2])
    migrate_in_tx(conn, migrations[3])
    conn.execute("COMMIT")
    n = conn.execute(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'patient'"
    ).fetchone()[0]
    conn.close()
    assert n == 3


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = build_archive(tmp_path / "a.db")
    ro = Store.open_readonly(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            ro.conn.execute("DELETE FROM messages")
        assert ro.schema_version() == MIGRATIONS[-1][0]
        assert ro.search_messages('"patient"', limit=10)[0][0].created_at.tzinfo is not None
    finally:
        ro.close()


def test_read_only_store_sees_later_writes(tmp_path: Path) -> None:
    path = build_archive(tmp_path / "a.db")
    ro = Store.open_readonly(path)
    rw = Store(path)
    try:
        rw.save_messages([msg("wedocs-past", "new", "dan", "latecomer", PAST_START, 30)])
        assert len(ro.search_messages('"latecomer"', limit=5)) == 1
    finally:
        rw.close()
        ro.close()


def test_timestamps_are_aware(store: Store) -> None:
    store.save_messages([msg("c", "1", "ann", "x", PAST_START, 1)])
    ((m, _),) = store.search_messages('"x"', limit=1)
    assert m.created_at == PAST_START + timedelta(minutes=1)
    assert m.created_at.tzinfo is UTC or m.created_at.utcoffset() == datetime.now(UTC).utcoffset()


# ---- search_messages: filters ------------------------------------------------------------


def _found(store: Store, match: str = "", **filters: object) -> list[str]:
    return [m.platform_id for m, _ in store.search_messages(match, limit=50, **filters)]  # type: ignore[arg-type]


@pytest.fixture
def two_series(store: Store) -> Store:
    other = replace(chat("o", PAST_START + timedelta(days=1)), hashtag="#NHSWales")
    store.add_chat(other)
    store.save_messages(
        [
            msg("c", "1", "Ann", "patients first", PAST_START, 1),
            replace(
                msg("c", "2", "bob", "patients too", PAST_START, 2), author_handle="bob@mas.to"
            ),
            msg("c", "3", "b_b", "carers", PAST_START, 3),
            msg("o", "4", "ann", "patients in Wales", PAST_START, 4),
        ]
    )
    return store


def test_search_keeps_to_an_author_case_insensitively(two_series: Store) -> None:
    assert _found(two_series, '"patients"', authors=["ANN"]) == ["4", "1"]


def test_an_author_filter_finds_a_mastodon_handle_by_its_user(two_series: Store) -> None:
    assert _found(two_series, authors=["bob"]) == ["2"]
    assert _found(two_series, authors=["bob@mas.to"]) == ["2"]


def test_an_author_filter_takes_like_wildcards_literally(two_series: Store) -> None:
    assert _found(two_series, authors=["b_b"]) == ["3"]
    assert _found(two_series, authors=["b%"]) == []


def test_search_keeps_to_a_hashtags_chats(two_series: Store) -> None:
    assert _found(two_series, '"patients"', hashtag_keys=["#nhswales"]) == ["4"]
    assert _found(two_series, hashtag_keys=["#wedocs"]) == ["3", "2", "1"]


def test_search_without_words_can_leave_some_out(two_series: Store) -> None:
    assert _found(two_series, exclude='"wales"', authors=["ann"]) == ["1"]


def test_a_search_without_words_gives_the_start_of_the_text(two_series: Store) -> None:
    long = "x" * 400
    two_series.save_messages([msg("c", "5", "dan", long, PAST_START, 5)])
    ((_, snippet),) = two_series.search_messages("", authors=["dan"], limit=5)
    assert snippet == "x" * 280 + "…"
