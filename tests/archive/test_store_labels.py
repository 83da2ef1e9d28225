"""A chat's label convention is stored with it (migration 7), on real database files."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

import archive.migrations as migrations
from archive.labels import Labels
from archive.store import Store
from tests.archive.test_store import make_chat


def test_a_chats_labels_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    try:
        welsh = replace(make_chat(), labels=Labels("C", "A"))
        store.add_chat(welsh)
        store.add_chat(replace(make_chat("topics"), labels=Labels("T", "T")))
        got = store.get_chat(welsh.id)
        assert got.labels == Labels("C", "A")
        assert got.label(got.questions[1]) == "C2a"
        assert store.get_chat("topics").labels.topics
        assert {c.id: c.labels for c in store.list_chats()} == {
            welsh.id: Labels("C", "A"),
            "topics": Labels("T", "T"),
        }
        # Replacing a chat (schedule --replace) replaces its convention too.
        store.add_chat(replace(welsh, labels=Labels("Q", "R")), replace_existing=True)
        assert store.get_chat(welsh.id).labels == Labels("Q", "R")
    finally:
        store.close()


def test_chats_archived_before_labels_existed_have_the_english_convention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.db"
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
        old = Store(path)
        old.conn.execute(  # what the code of schema 5 wrote: no label columns
            "INSERT INTO chats (id, title, hashtag, hashtag_key, start, end, timezone,"
            " grace_seconds, targets, hosts, status, created_at) VALUES"
            " ('old', 'Old', '#WeDocs', '#wedocs', '2026-01-01T20:00:00+00:00',"
            " '2026-01-01T21:00:00+00:00', 'UTC', 0, '[]', '[]', 'published',"
            " '2026-01-01T19:00:00+00:00')"
        )
        old.conn.commit()
        assert old.schema_version() == 5
        old.close()
    store = Store(path)
    try:
        assert store.schema_version() >= 7
        assert store.get_chat("old").labels == Labels("Q", "A")
        columns = {row[1] for row in store.conn.execute("PRAGMA table_info(chats)")}
        assert {"question_label", "answer_label"} <= columns
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY version")]
    assert "each chat's question and answer label letters" in names[5:]  # after schema 5
