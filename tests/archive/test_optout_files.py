"""A participant who opts out leaves the transcript files already published, not only what
is rendered from then on: ``Store.chats_showing_opted_out`` finds the published chats whose
files were written before one of their participants opted out."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from archive.models import ChatStatus
from archive.publish import publish_chat
from archive.store import Store
from tests.archive.test_store import START, make_chat, msg

LATER = START + timedelta(days=1)


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_a_chat_whose_files_predate_an_opt_out_of_its_own_is_found(tmp_path: Path) -> None:
    clock = Clock(START + timedelta(hours=2))
    store = Store(tmp_path / "archive.db", now=clock)
    try:
        chat = make_chat()
        store.add_chat(chat)
        other = make_chat("wedocs-2026-12-08", START + timedelta(days=7))
        store.add_chat(other)
        store.save_messages(
            [
                msg("1", author="ann", text="A1 my private answer"),
                msg("2", author="bob"),
                msg("3", chat_id=other.id, author="bob"),
            ]
        )
        store.mark_deleted("local", "2", START + timedelta(minutes=30))  # bob's, gone
        for c in (chat, other):
            store.set_status(c.id, ChatStatus.PUBLISHED)
        published = publish_chat(store, chat, tmp_path / "out", generated_at=clock())
        publish_chat(store, other, tmp_path / "out", generated_at=clock())
        assert store.chats_showing_opted_out() == []  # nobody opted out
        clock.at = LATER
        store.opt_out("local", "ann", "ann")
        assert [c.id for c in store.chats_showing_opted_out()] == [chat.id]
        store.opt_out("local", "nobody", "nobody")  # in no chat: nothing to write again
        store.opt_out("local", "bob", "bob")  # bob's only message in the first is deleted;
        # the second chat shows bob's answer
        assert [c.id for c in store.chats_showing_opted_out()] == [chat.id, other.id]
        assert "my private answer" in published.paths["md"].read_text(encoding="utf-8")
        clock.at = LATER + timedelta(minutes=1)
        for c in (chat, other):
            publish_chat(store, c, tmp_path / "out", generated_at=clock())
        assert store.chats_showing_opted_out() == []
        assert "my private answer" not in published.paths["md"].read_text(encoding="utf-8")
    finally:
        store.close()
