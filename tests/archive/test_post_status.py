"""The post ledger's statuses are one enum whose values are the strings the database holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.models import DONE_POST_STATUSES, Chat, PostStatus, Question
from archive.store import Store

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
CHAT = Chat(
    id="wedocs-2026-12-01",
    title="Patients in QI",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(hours=1),
    timezone="UTC",
    questions=(
        Question(1, "How?", timedelta(minutes=10)),
        Question(2, "Why?", timedelta(minutes=20)),
    ),
)


def test_values_are_the_stored_strings() -> None:
    assert [s.value for s in PostStatus] == ["intent", "sent", "failed", "skipped"]
    assert PostStatus.INTENT not in DONE_POST_STATUSES
    assert DONE_POST_STATUSES == set(PostStatus) - {PostStatus.INTENT}


def test_every_status_round_trips_through_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    try:
        store.add_chat(CHAT)
        for key in ("intro", "q1", "q2", "close"):
            store.record_intent(CHAT.id, key, "local", "main", key)
        store.mark_sent(CHAT.id, "q1", "local", "main", "7", START)
        store.mark_failed(CHAT.id, "q2", "local", "main", "refused")
        store.mark_skipped(CHAT.id, "close", "local", "main", "ended early")
        got = {p.action_key: p.status for p in store.posts(CHAT.id)}
        raw = dict(store.conn.execute("SELECT action_key, status FROM posts").fetchall())
    finally:
        store.close()
    assert got == {
        "intro": PostStatus.INTENT,
        "q1": PostStatus.SENT,
        "q2": PostStatus.FAILED,
        "close": PostStatus.SKIPPED,
    }
    assert all(type(s) is PostStatus for s in got.values())
    assert raw == {"intro": "intent", "q1": "sent", "q2": "failed", "close": "skipped"}
