"""The store flags a published chat whose messages change (a deletion, an edit), as
bookkeeping, until its files are written again: a bot stopped before it did still does at
its next start (a tester's: a republication pending at a stop was lost)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from archive.models import ChatStatus
from archive.store import Store
from tests.archive.test_store import START, make_chat, msg

CHAT = "wedocs-2026-12-01"
LATER = START + timedelta(days=1)


def _store(tmp_path: Path, status: ChatStatus) -> Store:
    store = Store(tmp_path / "a.db")
    store.add_chat(make_chat())
    store.save_messages([msg("1"), msg("2", author="u2", minute=14)])
    store.set_status(CHAT, status)
    return store


def test_a_deletion_or_an_edit_flags_a_published_chat_without_moving_the_generation(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path, ChatStatus.PUBLISHED)
    try:
        before = store.generation()
        assert store.mark_deleted("local", "1", LATER)
        assert store.republish_flags() == {CHAT: "1"}
        assert store.generation() == before + 1  # the deletion itself, not the flag
        store.edit_message("local", "2", "A1 edited", LATER)
        assert store.republish_flags() == {CHAT: "2"}
        store.clear_republish_flag(CHAT, "1")  # written before the edit: the flag stays
        assert store.republish_flags() == {CHAT: "2"}
        store.clear_republish_flag(CHAT, "2")
        assert store.republish_flags() == {}
    finally:
        store.close()


def test_what_changes_nothing_flags_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path, ChatStatus.PUBLISHED)
    try:
        store.mark_deleted("local", "1", LATER)
        store.edit_message("local", "2", "A1 edited", LATER)
        store.clear_republish_flag(CHAT, "2")
        # The same deletion and edit again (a backfill), an unknown message: no flag.
        assert store.mark_deleted("local", "1", LATER + timedelta(hours=1))
        store.edit_message("local", "2", "A1 edited", LATER)
        assert not store.mark_deleted("local", "nope", LATER)
        assert store.republish_flags() == {}
    finally:
        store.close()


def test_a_chat_not_yet_published_is_not_flagged(tmp_path: Path) -> None:
    # Its files are written when it is published, from the archive as it then stands.
    store = _store(tmp_path, ChatStatus.ENDED)
    try:
        store.mark_deleted("local", "1", LATER)
        assert not store.flag_if_published(CHAT)
        assert store.republish_flags() == {}
    finally:
        store.close()
