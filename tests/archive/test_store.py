"""The SQLite store, on real database files."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.migrations import MIGRATIONS
from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind, Question, Target
from archive.store import AsyncStore, DuplicateChatError, NotFoundError, Store, iso, parse_iso
from archive.store.connection import PAGE_SIZE

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def make_chat(chat_id: str = "wedocs-2026-12-01", start: datetime = START) -> Chat:
    return Chat(
        id=chat_id,
        title="Patients as partners",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/London",
        questions=(
            Question(1, "How do you involve patients?", timedelta(minutes=10)),
            Question(2, "Stem", timedelta(minutes=20), part="a"),
            Question(2, "Stem b", timedelta(minutes=25), part="b"),
        ),
        targets=(Target("local", "main"), Target("discord", "42")),
        hosts=("drjane",),
    )


def msg(
    pid: str,
    *,
    chat_id: str = "wedocs-2026-12-01",
    minute: int = 12,
    text: str = "A1 yes",
    author: str = "u1",
    edited: datetime | None = None,
) -> CapturedMessage:
    return CapturedMessage(
        chat_id=chat_id,
        platform="local",
        platform_id=pid,
        author_id=author,
        author_name=author.upper(),
        author_handle=author,
        text=text,
        created_at=START + timedelta(minutes=minute),
        kind=MessageKind.ANSWER,
        question_keys=("1",),
        edited_at=edited,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "archive.db")
    yield s
    s.close()


def test_chat_round_trips_with_questions_targets_and_reminders(store: Store) -> None:
    chat = make_chat()
    store.add_chat(chat, reminders=[timedelta(hours=1), timedelta(minutes=10)])
    got = store.get_chat(chat.id)
    assert replace(got, created_at=None) == chat
    assert got.label(got.questions[1]) == "Q2a"
    assert store.chat_reminders(chat.id) == (timedelta(minutes=10), timedelta(hours=1))


def test_duplicate_chat_id_is_refused_unless_replacing(store: Store) -> None:
    store.add_chat(make_chat())
    with pytest.raises(DuplicateChatError, match="already exists"):
        store.add_chat(make_chat())
    store.add_chat(replace(make_chat(), title="New title"), replace_existing=True)
    assert store.get_chat("wedocs-2026-12-01").title == "New title"
    assert len(store.get_chat("wedocs-2026-12-01").questions) == 3


def test_find_chat_by_unique_prefix_and_clear_errors(store: Store) -> None:
    store.add_chat(make_chat("wedocs-2026-12-01"))
    store.add_chat(make_chat("wedocs-2027-01-05", START + timedelta(days=35)))
    assert store.find_chat("wedocs-2027").id == "wedocs-2027-01-05"
    with pytest.raises(NotFoundError, match="several chats"):
        store.find_chat("wedocs-20")
    with pytest.raises(NotFoundError, match="no chat with id 'nope'"):
        store.find_chat("nope")
    # LIKE wildcards in the reference are literal
    with pytest.raises(NotFoundError):
        store.find_chat("%")


def test_unique_chat_id_adds_a_suffix(store: Store) -> None:
    store.add_chat(make_chat())
    assert store.unique_chat_id("wedocs-2026-12-01") == "wedocs-2026-12-01-2"
    assert store.unique_chat_id("other") == "other"


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Store(path).close()
    s = Store(path)
    rows = s.conn.execute("SELECT version FROM _migrations").fetchall()
    s.close()
    assert [r[0] for r in rows] == [version for version, _name, _fn in MIGRATIONS]


def test_database_is_in_wal_mode(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_archive_has_16_kib_pages_and_an_existing_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    Store(tmp_path / "new.db").close()
    new = sqlite3.connect(tmp_path / "new.db")
    assert new.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,) == (16384,)
    new.close()
    # An archive made with SQLite's default pages (as before this setting) opens, migrates
    # and keeps them; what is saved reads back.
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute("CREATE TABLE kept (x)")
    old.close()
    store = Store(tmp_path / "old.db")
    store.add_chat(make_chat())
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    store.close()
    again = Store(tmp_path / "old.db")
    assert again.get_chat("wedocs-2026-12-01").title == "Patients as partners"
    again.close()


def test_intent_is_recorded_once_per_action_and_platform(store: Store) -> None:
    store.add_chat(make_chat())
    assert store.record_intent("wedocs-2026-12-01", "q1", "local", "main", "Q1: ...") is not None
    assert store.record_intent("wedocs-2026-12-01", "q1", "local", "main", "Q1: ...") is None
    assert store.record_intent("wedocs-2026-12-01", "q1", "discord", "42", "Q1: ...") is not None
    store.mark_sent("wedocs-2026-12-01", "q1", "local", "main", "777", START)
    posts = {
        (p.platform, p.status, p.platform_message_id) for p in store.posts("wedocs-2026-12-01")
    }
    assert posts == {("local", "sent", "777"), ("discord", "intent", "")}


def test_the_first_plan_of_a_split_post_stands(store: Store) -> None:
    """A thread's plan is written once per action and target; a later plan (another limit)
    changes nothing, and the plan of one target is not another's."""
    store.add_chat(make_chat())
    chat_id = "wedocs-2026-12-01"
    assert store.post_plan(chat_id, "intro", "x", "") == []
    planned = store.plan_posts(chat_id, "intro", "x", "", ["One. (1/2)", "Two. (2/2)"], thread=True)
    assert planned == [(1, "One. (1/2)"), (2, "Two. (2/2)")]
    again = store.plan_posts(chat_id, "intro", "x", "", ["One. Two."], thread=False)
    assert again == planned == store.post_plan(chat_id, "intro", "x", "")
    single = store.plan_posts(chat_id, "intro", "local", "main", ["One. Two."], thread=False)
    assert single == [(0, "One. Two.")]
    with pytest.raises(ValueError):
        store.plan_posts(chat_id, "close", "x", "", ["a", "b"], thread=False)
    with pytest.raises(ValueError):
        store.plan_posts(chat_id, "close", "x", "", [], thread=True)


def test_saving_the_same_message_twice_keeps_one_row(store: Store) -> None:
    store.add_chat(make_chat())
    assert store.save_messages([msg("1"), msg("2")]) == 2
    assert store.save_messages([msg("1"), msg("2")]) == 0
    assert [m.platform_id for m in store.messages("wedocs-2026-12-01")] == ["1", "2"]


def test_a_newer_edit_updates_and_an_older_one_does_not(store: Store) -> None:
    store.add_chat(make_chat())
    store.save_messages([msg("1")])
    t1 = START + timedelta(minutes=13)
    store.save_messages([msg("1", text="A1 yes, edited", edited=t1)])
    store.save_messages([msg("1", text="A1 stale", edited=t1 - timedelta(seconds=30))])
    store.save_messages([msg("1", text="A1 original redelivered")])
    [m] = store.messages("wedocs-2026-12-01")
    assert m.text == "A1 yes, edited"
    assert m.edited_at == t1


def test_deleted_message_stays_deleted_through_redelivery_and_edits(store: Store) -> None:
    store.add_chat(make_chat())
    store.save_messages([msg("1")])
    assert store.mark_deleted("local", "1", START + timedelta(minutes=14))
    store.save_messages([msg("1", text="A1 back?", edited=START + timedelta(minutes=15))])
    [m] = store.messages("wedocs-2026-12-01")
    assert m.deleted and m.text == "A1 yes"
    assert store.messages("wedocs-2026-12-01", include_deleted=False) == []
    assert not store.mark_deleted("local", "unknown", START)


def test_messages_come_back_in_time_order(store: Store) -> None:
    store.add_chat(make_chat())
    store.save_messages([msg("3", minute=30), msg("1", minute=11), msg("2", minute=20)])
    assert [m.platform_id for m in store.iter_messages("wedocs-2026-12-01", batch=2)] == [
        "1",
        "2",
        "3",
    ]


def test_a_failing_bulk_write_leaves_nothing_behind(store: Store) -> None:
    store.add_chat(make_chat())
    bad = msg("2", chat_id="no-such-chat")  # violates the foreign key
    with pytest.raises(sqlite3.IntegrityError):
        store.save_messages([msg("1"), bad])
    assert store.messages("wedocs-2026-12-01") == []


def test_naive_datetimes_are_refused(store: Store) -> None:
    store.add_chat(make_chat())
    naive = replace(msg("1"), created_at=datetime(2026, 12, 1, 20, 12))  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        store.save_messages([naive])


def test_opt_out_and_back_in(store: Store) -> None:
    store.opt_out("local", "u1", "u1")
    assert store.opted_out() == frozenset({"local:u1"})
    assert store.opt_in("local", "u1")
    assert store.opted_out() == frozenset()


def test_participation_history_counts_earlier_chats_of_the_same_hashtag(store: Store) -> None:
    first = make_chat("wedocs-1", START - timedelta(days=28))
    second = make_chat("wedocs-2", START)
    other = replace(make_chat("other-1", START - timedelta(days=7)), hashtag="#Other")
    for c in (first, second, other):
        store.add_chat(c)
    store.save_messages(
        [
            replace(msg("a", chat_id="wedocs-1", author="u1"), created_at=first.start),
            replace(msg("b", chat_id="other-1", author="u2"), created_at=other.start),
            msg("c", chat_id="wedocs-2", author="u1"),
            msg("d", chat_id="wedocs-2", author="u2"),
        ]
    )
    assert store.participation_history(second) == {"local:u1": 1}


def test_status_controls_transcripts_and_state(store: Store) -> None:
    store.add_chat(make_chat())
    store.set_status("wedocs-2026-12-01", ChatStatus.LIVE)
    assert [c.id for c in store.list_chats([ChatStatus.LIVE])] == ["wedocs-2026-12-01"]
    store.record_control("wedocs-2026-12-01", START, "paused", "", "cli")
    assert store.controls("wedocs-2026-12-01")[0][1] == "paused"
    store.record_transcript("wedocs-2026-12-01", "md", "/tmp/x.md", START)
    assert store.transcripts("wedocs-2026-12-01") == {"md": Path("/tmp/x.md")}
    store.set_state("x:since", "123")
    assert store.get_state("x:since") == "123"
    with pytest.raises(NotFoundError):
        store.set_status("nope", ChatStatus.LIVE)


async def test_async_store_runs_calls_off_the_loop(tmp_path: Path) -> None:
    store = AsyncStore(tmp_path / "a.db")
    await store.add_chat(make_chat())
    assert await store.save_messages([msg("1")]) == 1
    chat = await store.get_chat("wedocs-2026-12-01")
    assert chat.title == "Patients as partners"
    await store.aclose()


@settings(max_examples=300)
@given(
    moment=st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30))])
    )
)
def test_stored_times_are_fixed_width_utc_with_microseconds(moment: datetime) -> None:
    # Text order must be time order: every stored instant has the same width, even when
    # its fraction of a second is zero (which isoformat() alone would leave out).
    text = iso(moment)
    assert text == moment.astimezone(UTC).isoformat(timespec="microseconds")
    assert parse_iso(text) == moment


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        iso(datetime(2026, 1, 1))  # noqa: DTZ001


def test_a_snapshot_keeps_one_state_while_another_process_writes(
    store: Store, tmp_path: Path
) -> None:
    store.add_chat(make_chat())
    store.save_messages([msg("1")])
    writer = Store(tmp_path / "archive.db")
    try:
        with store.snapshot():
            before = len(list(store.iter_messages("wedocs-2026-12-01")))
            writer.save_messages([msg("2")])  # not blocked by the reader
            during = len(list(store.iter_messages("wedocs-2026-12-01")))
        after = len(list(store.iter_messages("wedocs-2026-12-01")))
    finally:
        writer.close()
    assert (before, during, after) == (1, 1, 2)


def test_a_chat_s_language_is_stored_and_older_archives_are_english(tmp_path: Path) -> None:
    """Migration 6 adds the language; chats stored before it read back as English."""
    import sqlite3

    from archive.migrations import MIGRATIONS, migrate_in_tx

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL)"
    )
    for version, name, migrate in MIGRATIONS:
        if version >= 6:
            break
        conn.execute("BEGIN IMMEDIATE")
        migrate_in_tx(conn, migrate)
        conn.execute("INSERT INTO _migrations VALUES (?, ?, '2026-01-01')", (version, name))
        conn.execute("COMMIT")
    conn.close()
    old = Store(path)
    try:
        old.add_chat(make_chat())
        assert old.get_chat("wedocs-2026-12-01").language == "en"
        old.add_chat(replace(make_chat("soins-fr"), language="fr-CA"))
        assert old.get_chat("soins-fr").language == "fr-CA"
    finally:
        old.close()


def test_a_mark_is_set_once_across_connections_until_cleared(tmp_path: Path) -> None:
    first, second = Store(tmp_path / "a.db"), Store(tmp_path / "a.db")
    try:
        assert first.mark_once("opt-reply:local:7", "20:00") is True
        assert second.mark_once("opt-reply:local:7", "20:01") is False  # another process
        assert first.get_state("opt-reply:local:7") == "20:00"
        first.set_state("opt-reply:local:7", "")  # cleared: the next one may set it
        assert second.mark_once("opt-reply:local:7", "20:02") is True
        assert first.mark_once("opt-reply:local:8", "20:03") is True
    finally:
        first.close()
        second.close()
