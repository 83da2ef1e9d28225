"""The archive's generation: every write that changed rows moves it once, in its own
commit; nothing else does. A published transcript recorded at a generation is current only
while the archive is still there (archive/published.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

import archive.publish as publish_module
from archive import migrations
from archive.groups import RosterEntry
from archive.highlights import Engagement
from archive.models import ChatStatus, Question
from archive.publish import publish_chat
from archive.published import current_transcript, transcript_options
from archive.store import AsyncStore, Store
from tests.archive.test_store import START, make_chat, msg

CHAT = "wedocs-2026-12-01"
LATER = START + timedelta(hours=2)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    s.add_chat(make_chat())
    s.save_messages([msg("1"), msg("2", author="u2", minute=14)])
    s.record_intent(CHAT, "q1", "local", "main", "Q1")
    return s


WRITES: dict[str, Callable[[Store], object]] = {
    "add a chat": lambda s: s.add_chat(make_chat("other", START + timedelta(days=7))),
    "replace a chat": lambda s: s.add_chat(
        replace(make_chat(), title="New title"), replace_existing=True
    ),
    "status": lambda s: s.set_status(CHAT, ChatStatus.ENDED),
    "end": lambda s: s.set_end(CHAT, LATER),
    "wording": lambda s: s.set_wording(
        CHAT, [Question(1, "Reworded?", timedelta(minutes=10))], closing="Bye"
    ),
    "control": lambda s: s.record_control(CHAT, LATER, "next", "Q2a", "host"),
    "intent": lambda s: s.record_intent(CHAT, "q2a", "local", "main", "Q2a"),
    "sent": lambda s: s.mark_sent(CHAT, "q1", "local", "main", "m1", START),
    "failed": lambda s: s.mark_failed(CHAT, "q1", "local", "main", "boom"),
    "post error": lambda s: s.note_post_error(CHAT, "q1", "local", "main", "slow"),
    "skipped": lambda s: s.mark_skipped(CHAT, "q1", "local", "main", "by a host"),
    "new message": lambda s: s.save_messages([msg("3", minute=20)]),
    "edit": lambda s: s.edit_message("local", "1", "A1 edited", LATER),
    "deletion": lambda s: s.mark_deleted("local", "2", LATER),
    "reaction": lambda s: s.add_reactions("local", "1", 1),
    "engagement": lambda s: s.set_engagement("local", {"1": Engagement(likes=2)}),
    "opt-out": lambda s: s.opt_out("local", "u1", "u1"),
    "group declaration": lambda s: s.declare_group("#WeDocs", "local", "u1", "patient", LATER),
    "roster": lambda s: s.set_group_setup(
        [("patient", "Patient")], [RosterEntry("local", "u2", "patient", 1)]
    ),
    "state": lambda s: s.set_state("x:usage:" + CHAT, '{"reads": 1}'),
    "mark": lambda s: s.mark_once("group-reply:local:1", "done"),
    "delete a chat": lambda s: s.delete_chat(CHAT),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_every_write_moves_the_generation_once(
    store: Store, write: Callable[[Store], object]
) -> None:
    before = store.generation()
    write(store)
    assert store.generation() == before + 1
    store.close()


def _empty_transaction(s: Store) -> None:
    with s.transaction():
        s.opted_out()


NO_CHANGE: dict[str, Callable[[Store], object]] = {
    "the same status": lambda s: s.set_status(CHAT, ChatStatus.SCHEDULED),
    "an opt-in of nobody": lambda s: s.opt_in("local", "nobody"),
    "no messages": lambda s: s.save_messages([]),
    "an empty transaction": _empty_transaction,
    "reads": lambda s: (s.messages(CHAT), s.opted_out(), s.posts(CHAT), s.get_state("k")),
}


@pytest.mark.parametrize("write", NO_CHANGE.values(), ids=NO_CHANGE.keys())
def test_what_changes_no_row_leaves_the_generation(
    store: Store, write: Callable[[Store], object]
) -> None:
    before = store.generation()
    write(store)
    assert store.generation() == before
    store.close()


def _announced(s: Store) -> None:
    s.record_intent(CHAT, "announce", "local", "main", "Transcript")
    s.note_post_error(CHAT, "announce", "local", "main", "slow")
    s.mark_sent(CHAT, "announce", "local", "main", "m9", LATER)


BOOKKEEPING: dict[str, Callable[[Store], object]] = {
    # No transcript reads these posts (only when each question went out, or why not): the
    # files recorded before the bot announced them stay current.
    "the announcement": _announced,
    "an intro thread's part": lambda s: s.record_intent(CHAT, "intro#2", "local", "main", "2"),
    "a failed closing": lambda s: (
        s.record_intent(CHAT, "close", "local", "main", "Bye"),
        s.mark_failed(CHAT, "close", "local", "main", "boom"),
    ),
    "a skipped reminder": lambda s: (
        s.record_intent(CHAT, "reminder-1", "local", "main", "Soon"),
        s.mark_skipped(CHAT, "reminder-1", "local", "main", "the chat ended"),
    ),
}


@pytest.mark.parametrize("write", BOOKKEEPING.values(), ids=BOOKKEEPING.keys())
def test_posts_no_transcript_reads_leave_the_generation(
    store: Store, write: Callable[[Store], object]
) -> None:
    before = store.generation()
    write(store)
    assert store.generation() == before
    assert len(store.posts(CHAT)) == 2  # the post is written all the same
    store.close()


def test_an_ended_chat_published_leaves_the_generation(store: Store) -> None:
    # How the bot sets a chat published once it has announced its files (recorded current).
    store.set_status(CHAT, ChatStatus.ENDED)
    before = store.generation()
    store.mark_published(CHAT)
    assert store.generation() == before
    assert store.get_chat(CHAT).status is ChatStatus.PUBLISHED
    store.close()


def test_the_same_groups_and_roster_again_write_nothing(store: Store) -> None:
    """Every CLI command syncs the config's groups into the archive: the same again is no
    change, or no published transcript would ever stay current."""
    setup = ([("patient", "Patient")], [RosterEntry("local", "u2", "patient", 1)])
    store.set_group_setup(*setup)
    before = store.generation()
    store.set_group_setup(*setup)
    assert store.generation() == before
    store.close()


def test_a_rolled_back_transaction_leaves_the_generation(store: Store) -> None:
    before = store.generation()
    with pytest.raises(RuntimeError), store.transaction():
        store.opt_out("local", "u1")
        raise RuntimeError("boom")
    assert store.generation() == before and store.opted_out() == frozenset()
    store.close()


def test_nested_writes_move_it_once_and_bookkeeping_not_at_all(store: Store) -> None:
    before = store.generation()
    with store.transaction():
        store.opt_out("local", "u1")
        store.edit_message("local", "1", "A1 again", LATER)
    assert store.generation() == before + 1
    store.record_transcript(CHAT, "md", "/x.md", LATER, generation=before + 1)
    assert store.generation() == before + 1
    with store.transaction():  # bookkeeping beside a real change: the change counts
        store.record_transcript(CHAT, "md", "/x.md", LATER)
        store.opt_in("local", "u1")
    assert store.generation() == before + 2
    with pytest.raises(RuntimeError, match="inside transaction"), store.bookkeeping():
        pass
    store.close()


def test_a_write_outside_a_transaction_is_counted_at_the_next_or_at_close(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.db"
    s = Store(path)
    s.add_chat(make_chat())
    before = s.generation()
    s.conn.execute("UPDATE chats SET title = 'by hand' WHERE id = ?", (CHAT,))  # autocommit
    s.close()
    reader = Store.open_readonly(path)
    assert reader.generation() == before + 1
    reader.close()
    s = Store(path)
    s.conn.execute("UPDATE chats SET title = 'again' WHERE id = ?", (CHAT,))
    s.set_state("k", "v")  # one transaction: its own change and the one before it
    assert s.generation() == before + 2
    s.close()


def test_migrations_move_the_generation_and_older_records_are_never_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.db"
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:10])
        old = Store(path)
        old.add_chat(make_chat())
        old.conn.execute(
            "INSERT INTO transcripts (chat_id, format, path, generated_at)"
            " VALUES (?, 'md', ?, '2026-12-01T21:00:00+00:00')",
            (CHAT, str(tmp_path / "x.md")),
        )
        old.close()
    (tmp_path / "x.md").write_text("old\n", encoding="utf-8")
    s = Store(path)
    assert s.schema_version() == migrations.MIGRATIONS[-1][0]
    first = s.generation()
    record = s.recorded_transcript(CHAT, "md")
    assert record is not None and record.generation is None
    options = transcript_options(cost_note="", highlights=3)
    assert current_transcript(s, CHAT, "md", options) is None
    s.close()

    def _m999(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE later (x INTEGER)")

    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (999, "later", _m999)])
        s = Store(path)
        assert s.generation() == first + 1
        s.close()


async def test_the_async_store_moves_it_and_its_readers_see_it(tmp_path: Path) -> None:
    store = AsyncStore(tmp_path / "a.db")
    try:
        await store.add_chat(make_chat())
        before = await store.read(Store.generation)
        await store.save_messages([msg("1")])
        await store.opt_out("local", "u9")
        assert await store.read(Store.generation) == before + 2
    finally:
        await store.aclose()


def test_published_files_are_current_until_anything_changes(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    chat = store.get_chat(CHAT)
    publish_chat(store, chat, out, highlights=2)
    options = transcript_options(cost_note="", highlights=2)
    for fmt in ("md", "html", "json"):
        record = current_transcript(store, CHAT, fmt, options)
        assert record is not None and record.path == out / f"{CHAT}.{fmt}"
    other = transcript_options(cost_note="$0.10 on X", highlights=2)
    assert current_transcript(store, CHAT, "md", other) is None
    assert (
        current_transcript(store, CHAT, "md", transcript_options(cost_note="", highlights=3))
        is None
    )
    store.set_status(CHAT, ChatStatus.SCHEDULED)  # no change: still current
    assert current_transcript(store, CHAT, "md", options) is not None
    store.opt_out("local", "u2")
    assert current_transcript(store, CHAT, "md", options) is None
    store.close()


def test_a_write_while_the_files_are_written_leaves_them_not_current(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generation is read before rendering: a write by another process that lands
    while the transcripts are written may or may not be in them, so they are not current."""
    render = publish_module.write_transcripts

    def write_then_render(*args: object, **kwargs: object) -> object:
        other = Store(tmp_path / "a.db")
        other.opt_out("local", "u2")
        other.close()
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publish_module, "write_transcripts", write_then_render)
    publish_chat(store, store.get_chat(CHAT), tmp_path / "out")
    options = transcript_options(cost_note="", highlights=3)
    assert current_transcript(store, CHAT, "md", options) is None
    monkeypatch.setattr(publish_module, "write_transcripts", render)
    publish_chat(store, store.get_chat(CHAT), tmp_path / "out")
    assert current_transcript(store, CHAT, "md", options) is not None
    store.close()


def test_a_record_made_inside_a_write_is_not_current_after_it(store: Store, tmp_path: Path) -> None:
    """Published inside a transaction that changed rows: the render saw the uncommitted
    rows, the commit moves the generation past the one recorded."""
    with store.transaction():
        store.opt_out("local", "u2")
        publish_chat(store, store.get_chat(CHAT), tmp_path / "out")
    options = transcript_options(cost_note="", highlights=3)
    assert current_transcript(store, CHAT, "md", options) is None
    store.close()


def test_two_publishers_of_one_chat_never_make_a_wrong_file_current(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another publisher (other options) rewrites the chat's files while this one is
    between writing its files and recording them: whatever is served is what a rendering
    with the asked options writes."""
    from archive.published import copy_transcript

    out = tmp_path / "out"
    render = publish_module.write_transcripts
    calls = []

    def render_then_another_publisher(*args: object, **kwargs: object) -> object:
        stats = render(*args, **kwargs)  # type: ignore[arg-type]
        if not calls:
            calls.append(1)
            other = Store(tmp_path / "a.db")
            publish_chat(other, other.get_chat(CHAT), out, highlights=0)
            other.close()
        return stats

    monkeypatch.setattr(publish_module, "write_transcripts", render_then_another_publisher)
    store.set_engagement("local", {"1": Engagement(likes=5)})  # so highlights show
    publish_chat(store, store.get_chat(CHAT), out, highlights=3)
    monkeypatch.setattr(publish_module, "write_transcripts", render)
    for highlights in (3, 0):
        options = transcript_options(cost_note="", highlights=highlights)
        expected = tmp_path / f"expected-{highlights}.md"
        render(store, store.get_chat(CHAT), {"md": expected}, highlights=highlights)
        record = current_transcript(store, CHAT, "md", options)
        served = tmp_path / f"served-{highlights}.md"
        if record is not None and copy_transcript(record, served):
            assert served.read_bytes() == expected.read_bytes(), highlights
    assert calls == [1]
    store.close()


@pytest.mark.parametrize("write", [*WRITES.values(), None], ids=[*WRITES.keys(), "nothing"])
def test_generation_at_commit_is_the_generation_the_commit_leaves(
    store: Store, write: Callable[[Store], object] | None
) -> None:
    """What an import renders inside its transaction is recorded at this number."""
    with store.transaction():
        if write is not None:
            write(store)
        expected = store.generation_at_commit()
    assert store.generation() == expected
    store.close()


def test_generation_at_commit_is_only_for_inside_a_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError, match="inside transaction"):
        store.generation_at_commit()
    store.close()
