"""Importing DiscordChatExporter exports: the chat, capture, idempotence, bad files, streaming."""

from __future__ import annotations

import io
import json
import multiprocessing
import multiprocessing.process
import os
import re
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.importers import discord_staging, discord_worker, export_files
from archive.importers.discord_export import (
    ExportError,
    ImportResult,
    RunProgress,
    TerminalProgress,
    import_discord_export,
    source_key,
    terminal_progress,
)
from archive.importers.discord_worker import ImportWorkerError
from archive.importers.exportjson import ExportReader
from archive.models import Chat, ChatStatus, MessageKind, Question, Target
from archive.publish import publish_chat
from archive.store import Store, iso
from tests.bot.helpers import config_file, tweetchat

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "wedocs_discord.json"
GUILD = "900000000000000001"
CHANNEL = "900000000000000042"
HOST_ID = "100000000000000001"
BOT_ID = "100000000000000099"


def mid(n: int) -> str:
    """The id of message ``n`` of the fixture export."""
    return f"8000000000000000{n:02d}"


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return datetime(2026, 3, 3, int(hours), int(minutes), tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "archive.sqlite")
    yield s
    s.close()


def run_import(store: Store, path: Path = EXPORT, **options: Any) -> ImportResult:
    options.setdefault("hashtag", "WeDocs")
    options.setdefault("hosts", (HOST_ID,))
    options.setdefault("timezone", "Europe/London")
    return import_discord_export(store, path, **options)


def dump(store: Store) -> list[str]:
    store.wait_for_background()  # an import's search index is made on a thread
    return list(store.conn.iterdump())


def write_export(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def fixture_doc() -> dict[str, Any]:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


# ---- the chat -------------------------------------------------------------------------------


def test_export_becomes_an_ended_chat_on_its_channel(store: Store) -> None:
    # Published once its transcripts are written (an import asked to publish: see
    # test_import_failures.py); not asked to, it is a chat over, not yet published.
    chat = run_import(store).chat
    assert store.get_chat(chat.id) == chat
    assert chat.status == ChatStatus.ENDED
    assert chat.targets == (Target("discord", CHANNEL),)
    assert chat.hosts == (HOST_ID,)
    assert chat.timezone == "Europe/London"


def test_chat_runs_from_the_first_question_post_to_the_last_message(store: Store) -> None:
    chat = run_import(store).chat
    assert (chat.start, chat.end) == (at("20:00"), at("20:31"))


def test_chat_id_and_default_title_come_from_hashtag_date_and_channel(store: Store) -> None:
    chat = run_import(store).chat
    assert chat.id == "wedocs-2026-03-03"
    assert chat.title == "#WeDocs in #qi-chat"


def test_title_option_is_used(store: Store) -> None:
    chat = run_import(store, title="Involving patients").chat
    assert chat.title == "Involving patients"


def test_chat_id_uses_the_local_date_of_the_timezone(store: Store) -> None:
    # 20:00 UTC on 3 March is already 4 March in Auckland.
    chat = run_import(store, timezone="Pacific/Auckland").chat
    assert chat.id == "wedocs-2026-03-04"


def test_chat_id_is_made_unique_beside_an_existing_chat(store: Store) -> None:
    other = Chat(
        id="wedocs-2026-03-03",
        title="Scheduled",
        hashtag="#WeDocs",
        start=at("20:00"),
        end=at("21:00"),
        timezone="UTC",
        questions=(),
    )
    store.add_chat(other)
    assert run_import(store).chat.id == "wedocs-2026-03-03-2"


def test_questions_come_from_host_posts_with_q_labels(store: Store) -> None:
    chat = run_import(store).chat
    assert chat.questions == (
        Question(1, "How do you involve patients in QI?", timedelta(0)),
        Question(2, "What got in the way?", timedelta(minutes=10)),
        Question(3, "One thing you will try next month?", timedelta(minutes=20)),
    )


def test_hosts_may_be_named_by_username(store: Store) -> None:
    chat = run_import(store, hosts=("drsmith",)).chat
    assert [q.key for q in chat.questions] == ["1", "2", "3"]


def test_without_hosts_there_are_no_question_posts(store: Store) -> None:
    chat = run_import(store, hosts=()).chat
    assert chat.questions == ()
    assert chat.start == at("19:40") + timedelta(seconds=5)  # the first message


def test_bot_posts_with_q_labels_are_questions(tmp_path: Path, store: Store) -> None:
    doc = fixture_doc()
    bot = doc["messages"][1]["author"]
    for m in doc["messages"]:
        if m["content"].startswith("Q"):
            m["author"] = bot
    chat = run_import(store, write_export(tmp_path / "bot.json", doc), hosts=()).chat
    assert [q.key for q in chat.questions] == ["1", "2", "3"]


def test_question_text_drops_label_and_hashtag_in_any_layout(tmp_path: Path, store: Store) -> None:
    doc = fixture_doc()
    doc["messages"][3]["content"] = "#wedocs Q1 - How do you involve patients?  #WEDOCS "
    chat = run_import(store, write_export(tmp_path / "q.json", doc)).chat
    assert chat.questions[0].text == "How do you involve patients?"


# ---- capture ----------------------------------------------------------------------------------


def kinds(store: Store, chat: Chat) -> dict[str, tuple[MessageKind, tuple[str, ...]]]:
    return {m.platform_id: (m.kind, m.question_keys) for m in store.messages(chat.id)}


def test_answers_are_attributed_by_the_capture_rules(store: Store) -> None:
    got = kinds(store, run_import(store).chat)
    assert got[mid(5)] == (MessageKind.ANSWER, ("1",))  # labelled
    assert got[mid(6)] == (MessageKind.ANSWER, ("1",))  # reply to Q1, no hashtag
    assert got[mid(10)] == (MessageKind.ANSWER, ("2",))  # open question
    assert got[mid(13)] == (MessageKind.ANSWER, ("3",))  # labelled reply, no hashtag
    assert got[mid(14)] == (MessageKind.ANSWER, ("1",))  # label beats the open question


def test_question_posts_host_posts_and_intro_comments(store: Store) -> None:
    got = kinds(store, run_import(store).chat)
    assert got[mid(4)] == (MessageKind.QUESTION, ("1",))
    assert got[mid(15)] == (MessageKind.HOST, ())
    assert got[mid(3)] == (MessageKind.COMMENT, ())  # before Q1


def test_bot_message_is_a_host_post(store: Store) -> None:
    chat = run_import(store).chat
    bot_post = next(m for m in store.messages(chat.id) if m.platform_id == mid(2))
    assert (bot_post.kind, bot_post.author_id) == (MessageKind.HOST, BOT_ID)


def test_messages_without_the_hashtag_and_system_messages_are_not_captured(
    store: Store,
) -> None:
    result = run_import(store)
    ids = {m.platform_id for m in store.messages(result.chat.id)}
    assert ids.isdisjoint({mid(1), mid(7), mid(11), mid(16)})
    assert (result.read, result.captured, result.new_messages) == (16, 12, 12)


def test_message_fields_come_from_the_export(store: Store) -> None:
    chat = run_import(store).chat
    m = next(m for m in store.messages(chat.id) if m.platform_id == mid(9))
    assert (m.author_id, m.author_name, m.author_handle) == (
        "100000000000000004",
        "Carol White",
        "carolw",
    )
    assert m.channel == CHANNEL
    assert m.mentions == ("drsmith",)
    assert m.permalink == f"https://discord.com/channels/{GUILD}/{CHANNEL}/{mid(9)}"


def test_reply_edit_and_reactions_are_kept(store: Store) -> None:
    chat = run_import(store).chat
    by_id = {m.platform_id: m for m in store.messages(chat.id)}
    assert by_id[mid(6)].reply_to == mid(4)
    assert by_id[mid(5)].edited_at == datetime(2026, 3, 3, 20, 4, 10, tzinfo=UTC)
    assert by_id[mid(5)].reactions == 3  # 👍 2 + ❤️ 1


def test_raw_payload_is_stored_verbatim(store: Store) -> None:
    chat = run_import(store).chat
    (raw,) = store.conn.execute(
        "SELECT raw FROM messages WHERE chat_id = ? AND platform_id = ?", (chat.id, mid(5))
    ).fetchone()
    assert json.loads(raw) == fixture_doc()["messages"][4]


def section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else None]


def test_transcript_lists_the_answers_under_their_questions(tmp_path: Path, store: Store) -> None:
    chat = run_import(store).chat
    md = publish_chat(store, chat, tmp_path / "out").paths["md"].read_text(encoding="utf-8")
    q1 = section(md, "## Q1 · How do you involve patients in QI?")
    q2 = section(md, "## Q2 · What got in the way?")
    q3 = section(md, "## Q3 · One thing you will try next month?")
    assert "patient council" in q1 and "We ask patients first" in q1 and "pay patient" in q1
    assert "Time, mostly" in q2 and "board never saw" in q2 and "patient council" not in q2
    assert "patient stories" in q3
    assert "brb" not in md and "coffee" not in md and "what was that about" not in md


# ---- re-import --------------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(store: Store) -> None:
    first = run_import(store)
    before = dump(store)
    again = run_import(store)
    assert (again.chat, again.created, again.new_messages) == (first.chat, False, 0)
    assert dump(store) == before


def test_reimport_is_found_by_channel_and_first_message(store: Store) -> None:
    chat = run_import(store).chat
    assert store.find_chat_by_source(source_key(CHANNEL, mid(1))) == chat


def test_a_longer_export_of_the_same_channel_adds_only_new_messages(
    tmp_path: Path, store: Store
) -> None:
    first = run_import(store).chat
    doc = fixture_doc()
    extra = json.loads(json.dumps(doc["messages"][13]))
    extra.update(id="800000000000000017", timestamp="2026-03-03T20:40:00.000+00:00")
    extra["content"] = "A2: and no protected time #WeDocs"
    doc["messages"].append(extra)
    result = run_import(store, write_export(tmp_path / "longer.json", doc))
    assert (result.chat.id, result.created, result.new_messages) == (first.id, False, 1)
    assert store.get_chat(first.id).end == at("20:40")


def test_a_later_export_lacking_a_deleted_message_still_adds_its_new_ones(
    tmp_path: Path, store: Store
) -> None:
    """Found by a tester: a later export of the channel, where one message was deleted on
    Discord since and one added, said "11 of 16 captured, 0 new": the chat kept its end,
    so the added answer, after it, was dropped."""
    first = run_import(store).chat
    doc = fixture_doc()
    doc["messages"] = [m for m in doc["messages"] if m["id"] != mid(9)]  # Carol's A2, deleted
    extra = json.loads(json.dumps(doc["messages"][12]))
    extra.update(id="800000000000000017", timestamp="2026-03-03T20:40:00.000+00:00")
    extra["content"] = "A2: and no protected time #WeDocs"
    doc["messages"].append(extra)
    result = run_import(store, write_export(tmp_path / "later.json", doc))
    assert (result.chat.id, result.created, result.new_messages) == (first.id, False, 1)
    chat = store.get_chat(first.id)
    assert (chat.start, chat.end, chat.questions) == (first.start, at("20:40"), first.questions)
    texts = [m.text for m in store.messages(first.id)]
    assert "A2: and no protected time #WeDocs" in texts
    assert len(texts) == 13  # what the archive held stays (a missing message is not known deleted)


def test_the_next_imports_worker_is_forked_only_once_the_last_imports_thread_is_over(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread after a bulk load (search index, checkpoint) runs SQLite; a process forked
    # meanwhile would copy its locks. Two imports in a row: the second forks after it.
    threads_at_fork: list[list[str]] = []
    start = discord_worker._Worker.__init__

    def recorded(self: Any, *args: Any) -> None:
        threads_at_fork.append([t.name for t in threading.enumerate()])
        start(self, *args)

    monkeypatch.setattr(discord_worker._Worker, "__init__", recorded)
    doc = fixture_doc()
    doc["channel"]["id"] = "999"
    run_import(store)
    run_import(store, write_export(tmp_path / "other.json", doc))
    assert len(threads_at_fork) == 2
    assert all("tweetchat-after-bulk-load" not in names for names in threads_at_fork)


# ---- bad files and options --------------------------------------------------------------------


@pytest.fixture
def archived(store: Store) -> list[str]:
    """An archive that already holds one import: bad files must leave it exactly so."""
    run_import(store)
    return dump(store)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="middle"),
        pytest.param(lambda text: text[: text.index('"id": "800000000000000009"')], id="in-key"),
        pytest.param(lambda text: text[: text.rindex("}") - 1], id="before-last-brace"),
        pytest.param(lambda text: text[: text.index('"timestampEdited": null') + 21], id="in-nu"),
    ],
)
def test_truncated_file_is_refused_and_leaves_the_archive_untouched(
    tmp_path: Path, store: Store, archived: list[str], cut: Any
) -> None:
    path = tmp_path / "cut.json"
    path.write_text(cut(EXPORT.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ExportError, match=r"cut\.json: the file ends too early at byte \d+"):
        run_import(store, path, hashtag="OtherTag")
    assert dump(store) == archived


def test_malformed_message_is_named_with_its_index_and_byte_offset(
    tmp_path: Path, store: Store, archived: list[str]
) -> None:
    text = EXPORT.read_text(encoding="utf-8")
    broken = text.replace('"content": "brb"', '"content": "brb" oops')
    path = tmp_path / "broken.json"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ExportError) as err:
        run_import(store, path)
    offset = len(broken[: broken.index(" oops") + 1].encode("utf-8"))
    assert str(err.value).startswith(f"{path}: invalid JSON at byte {offset} (in message 7)")
    assert dump(store) == archived


def test_byte_offsets_count_bytes_not_characters(tmp_path: Path) -> None:
    text = '{"channel": {"id": "1"}, "messages": [{"content": "é€😀"} x]}'
    path = tmp_path / "utf8.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExportError, match=rf"at byte {text.index(' x') + 1 + 1 + 2 + 3}\b"):
        list(ExportReader(path, stream="messages"))


def test_message_without_timestamp_is_named(
    tmp_path: Path, store: Store, archived: list[str]
) -> None:
    doc = fixture_doc()
    del doc["messages"][4]["timestamp"]
    with pytest.raises(ExportError, match=r"message 5 \(at byte \d+\) 'timestamp' is missing"):
        run_import(store, write_export(tmp_path / "nots.json", doc))
    assert dump(store) == archived


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"hello", "not JSON"),
        (b'[{"id": "1"}]', "not an export"),
        (b'{"guild": {}, "messageCount": 0}', "not a DiscordChatExporter export"),
        (
            b'{"messages": [{"id": "1", "timestamp": "2026-01-01T00:00:00+00:00",'
            b' "author": {"id": "2"}}]}',
            "not a DiscordChatExporter export",
        ),
        (b'{"channel": {"id": "1"}, "messages": {}}', "not a DiscordChatExporter export"),
        (b'{"channel": {"id": "1", "name": "x"}, "messages": []}', "the export has no messages"),
        (b'{"channel": {"id": "1"}, "messages": []} {}', "unexpected data after the export"),
        (b'{"channel": {"id": "1"}, "messages": [{"content": "\xff"}]}', "not UTF-8"),
        # UTF-16 and UTF-32, with a byte-order mark and without (before: "not JSON")
        *[
            (
                b'{"messages": []}'.decode().encode(codec),
                f"this is {codec[:6].upper()} text, not UTF-8",
            )
            for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
        ],
        (" \n{}".encode("utf-16-le"), "this is UTF-16 text, not UTF-8"),
    ],
)
def test_files_that_are_not_exports_are_refused(
    tmp_path: Path,
    store: Store,
    archived: list[str],
    content: bytes,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminated: list[object] = []
    terminate = multiprocessing.process.BaseProcess.terminate

    def recorded(process: multiprocessing.process.BaseProcess) -> None:
        terminated.append(process)
        terminate(process)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "terminate", recorded)
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ExportError, match=rf"^{re.escape(str(path))}: {message}"):
        run_import(store, path)
    assert dump(store) == archived
    # The worker ended by itself once the import stopped (it was once left waiting for its
    # next frame, and the import failed only when it was terminated 10 s later).
    assert terminated == []


def test_missing_file_is_refused(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ExportError, match=r"nope\.json: cannot read the file"):
        run_import(store, tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"hashtag": "We Docs"}, "--hashtag"), ({"timezone": "Mars/Olympus"}, "--timezone")],
)
def test_bad_options_are_refused(store: Store, options: dict[str, str], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        run_import(store, **options)
    assert store.list_chats() == []


# ---- the streaming reader -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
exports = st.fixed_dictionaries(
    {
        "guild": st.dictionaries(st.text(max_size=4), json_values, max_size=2),
        "channel": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=5)}),
        "messages": st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4)),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=exports, indent=st.sampled_from([None, 0, 2]), chunk=st.integers(1, 40))
def test_reader_sees_the_same_values_as_json_load(
    tmp_path: Path, doc: dict[str, Any], indent: int | None, chunk: int
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc, indent=indent, ensure_ascii=False), encoding="utf-8")
    reader = ExportReader(path, stream="messages", members=("guild", "channel"), chunk_size=chunk)
    messages = [value for value, _position in reader]
    assert {**reader.members, "messages": messages} == doc


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=exports, data=st.data())
def test_any_cut_short_export_is_refused(tmp_path: Path, doc: dict[str, Any], data: Any) -> None:
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    cut = data.draw(st.integers(0, len(text) - 1), label="cut")
    path = tmp_path / "cut.json"
    path.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(ExportError):
        list(ExportReader(path, stream="messages", chunk_size=7))


def test_message_offsets_point_at_each_message(tmp_path: Path) -> None:
    raw = EXPORT.read_bytes()
    reader = ExportReader(EXPORT, stream="messages", chunk_size=64)
    assert [position for _value, position in reader] == list(range(1, 17))
    offsets = [reader.offset_of(position) for position in range(1, 17)]
    assert [raw[o : o + 1] for o in offsets] == [b"{"] * 16
    assert raw[offsets[4] :].decode("utf-8").startswith('{\n      "id": "800000000000000005"')


def test_message_offsets_from_another_readers_counts_so_far(tmp_path: Path) -> None:
    # The importer finds a bad message's offset with the counts the worker's reader has
    # reported so far: any first part of them, as the worker may be a chunk ahead or not.
    counts: list[int] = []
    reader = ExportReader(
        EXPORT, stream="messages", chunk_size=256, on_progress=lambda n, _f: counts.append(n)
    )
    assert len(list(reader)) == 16
    offsets = {position: reader.offset_of(position) for position in (1, 2, 9, 16)}
    for upto in range(len(counts) + 1):
        other = ExportReader(EXPORT, stream="messages", chunk_size=256, counts=counts[:upto])
        assert {p: other.offset_of(p) for p in offsets} == offsets, upto


# ---- progress ---------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_stderr_is_not_a_terminal() -> None:
    assert terminal_progress(io.StringIO()) is None


def test_progress_on_a_terminal_ends_with_every_message_imported(store: Store) -> None:
    screen = Terminal()
    progress = terminal_progress(screen)
    assert isinstance(progress, TerminalProgress)
    run_import(store, progress=progress)
    progress.done()
    last = screen.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("imported 16 messages (100%)")


# ---- the command ------------------------------------------------------------------------------


def test_cli_imports_and_publishes_the_transcript(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", "drsmith"]
    done = tweetchat([*args, "--timezone", "Europe/London"], config)
    assert done.returncode == 0, done.stderr
    assert "imported wedocs-2026-03-03" in done.stdout and "12 new messages" in done.stdout
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "## Q3 · One thing you will try next month?" in md


def test_cli_reimport_reports_no_new_messages(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs"]
    assert tweetchat(args, config).returncode == 0
    again = tweetchat(args, config)
    assert again.returncode == 0, again.stderr
    assert "already imported as wedocs-2026-03-03" in again.stdout
    assert "0 new messages" in again.stdout


def test_cli_truncated_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    cut = tmp_path / "cut.json"
    cut.write_bytes(EXPORT.read_bytes()[:5000])
    done = tweetchat(["import", "discord-export", str(cut), "--hashtag", "WeDocs"], config)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert re.fullmatch(
        rf"tweetchat: {re.escape(str(cut))}: the file ends too early at byte 5000 \(in message \d+\);"
        r" it looks truncated: export it again",
        done.stderr.strip().splitlines()[-1],
    )


# ---- memory -----------------------------------------------------------------------------------


def generate_export(path: Path, messages: int) -> None:
    """A large export written message by message (never built in memory)."""
    start = datetime(2026, 5, 5, 19, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(
            '{"guild": {"id": "1", "name": "G", "iconUrl": ""},'
            ' "channel": {"id": "2", "type": "GuildTextChat", "name": "chat"}, "messages": [\n'
        )
        for i in range(messages):
            host = i % 1000 == 0
            n = i // 1000 % 9 + 1
            text = f"Q{n}: question {n}? #Big" if host else f"A{n}: answer number {i} #Big"
            author = "9" if host else str(100 + i % 500)
            msg = {
                "id": str(10**6 + i),
                "type": "Default",
                "timestamp": (start + timedelta(milliseconds=20 * i)).isoformat(),
                "timestampEdited": None,
                "content": text,
                "author": {"id": author, "name": f"user{author}", "nickname": None, "isBot": False},
                "reactions": [{"emoji": {"name": "👍"}, "count": i % 3}],
                "mentions": [],
            }
            fh.write(("," if i else "") + json.dumps(msg, ensure_ascii=False) + "\n")
        fh.write(f'], "messageCount": {messages}}}\n')


def peak_memory(tmp_path: Path, messages: int) -> int:
    path = tmp_path / f"big-{messages}.json"
    generate_export(path, messages)
    store = Store(tmp_path / f"big-{messages}.sqlite")
    # The worker in a thread, not a process, so that tracemalloc sees both ends' memory.
    mp = pytest.MonkeyPatch()
    mp.setattr(discord_worker, "_fork_context", lambda: None)
    try:
        tracemalloc.start()
        result = import_discord_export(store, path, hashtag="Big", hosts=("9",))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        mp.undo()
        store.close()
    assert result.new_messages == messages
    return peak


def test_memory_stays_flat_as_the_export_grows(tmp_path: Path) -> None:
    # 5k vs 20k rather than 20k vs 80k: under tracemalloc the larger pair takes over a
    # minute, and the peak has already levelled off at ~10k (2,000-message batches,
    # 1 MiB reads), so loading the export whole would still show as ~3x here.
    small = peak_memory(tmp_path, 5_000)
    large = peak_memory(tmp_path, 20_000)
    assert large < 2 * small, (small, large)


# ---- several files, folders, byte-order marks, failures late in the import -----------------


def test_export_with_a_byte_order_mark_imports(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + EXPORT.read_bytes())
    result = run_import(store, path)
    assert (result.read, result.captured) == (16, 12)
    assert result.chat.id == "wedocs-2026-03-03"


def test_errors_in_a_file_with_a_byte_order_mark_count_its_bytes(tmp_path: Path) -> None:
    text = '{"channel": {"id": "1"}, "messages": [{"content": "x"} x]}'
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    with pytest.raises(
        ExportError, match=rf"at byte {3 + text.index(' x]') + 1} \(after element 1\)"
    ):
        list(ExportReader(path, stream="messages"))


def test_a_failure_while_saving_leaves_the_archive_untouched(
    store: Store, archived: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    save = store.save_message_rows  # what the import saves its batches with

    def failing_save(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        save(*args, **kwargs)  # the rows are written, then the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(store, "save_message_rows", failing_save)
    with pytest.raises(OSError, match="disk full"):
        run_import(store, hashtag="OtherTag", hosts=())
    assert calls == 1
    assert dump(store) == archived


def test_progress_runs_over_every_file_and_phase() -> None:
    seen: list[tuple[str, float]] = []
    small, large = DATA / "small.json", EXPORT  # sizes: 1 byte (missing) and the fixture
    run = RunProgress(lambda verb, _n, fraction: seen.append((verb, fraction)), [small, large])
    first = run.file(small)
    first("reading", 1, 1.0)
    first("published", 1, 1.0)
    second = run.file(large)
    second("reading", 8, 0.5)
    second("imported", 16, 1.0)
    second("publishing", 16, 0.0)
    second("published", 16, 1.0)
    fractions = [fraction for _verb, fraction in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[0][0] == "[1/2] small.json: reading"
    assert seen[-1][0] == "[2/2] wedocs_discord.json: published"


def test_cli_imports_several_files_and_a_folder_reporting_the_bad_one(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    doc = fixture_doc()
    for m in doc["messages"]:  # the same chat a week later, in another channel
        m["timestamp"] = m["timestamp"].replace("2026-03-03", "2026-03-10")
    doc["channel"]["id"] = "900000000000000043"
    write_export(folder / "b-later.json", doc)
    (folder / "a-broken.json").write_bytes(EXPORT.read_bytes()[:3000])
    (folder / "notes.txt").write_text("not an export", encoding="utf-8")
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + EXPORT.read_bytes())
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(bom), str(folder), "--hashtag", "WeDocs"]
    done = tweetchat([*args, "--host", "drsmith"], config)
    assert done.returncode == 2
    assert "imported wedocs-2026-03-03:" in done.stdout
    assert "imported wedocs-2026-03-10:" in done.stdout
    errors = done.stderr.strip().splitlines()
    assert any(
        line.startswith(f"tweetchat: {folder / 'a-broken.json'}: the file ends too early")
        for line in errors
    )
    assert errors[-1] == "tweetchat: 1 of 3 exports not imported (see above)"
    assert "Traceback" not in done.stderr
    assert (tmp_path / "out" / "wedocs-2026-03-10.md").exists()


def test_cli_refuses_a_folder_without_exports(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    config = config_file(tmp_path)
    done = tweetchat(["import", "discord-export", str(empty), "--hashtag", "WeDocs"], config)
    assert done.returncode == 2
    assert done.stderr.strip() == f"tweetchat: {empty}: no .json export in this folder"


def test_cli_bad_option_is_reported_once(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), str(EXPORT), "--hashtag", "We Docs"]
    done = tweetchat(args, config)
    assert done.returncode == 2
    assert done.stderr.strip().count("--hashtag") == 1


def test_a_message_that_is_not_an_object_is_named_with_its_offset(
    tmp_path: Path, store: Store, archived: list[str]
) -> None:
    text = EXPORT.read_text(encoding="utf-8")
    broken = text.replace('"messages": [', '"messages": [\n    "hello",', 1)
    path = tmp_path / "scalar.json"
    path.write_text(broken, encoding="utf-8")
    offset = len(broken[: broken.index('"hello"')].encode("utf-8"))
    with pytest.raises(ExportError, match=rf"message 1 \(at byte {offset}\) is not an object"):
        run_import(store, path)
    assert dump(store) == archived


# ---- the worker process ----------------------------------------------------------------------


def message_rows(store: Store) -> list[tuple[Any, ...]]:
    """Every stored message but its capture time (the store's clock)."""
    return [
        tuple(r)
        for r in store.conn.execute(
            "SELECT id, chat_id, platform, platform_id, channel, author_id, author_name,"
            " author_handle, text, created_at, kind, question_keys, late, reply_to, permalink,"
            " edited_at, deleted_at, mentions, reactions, raw, attachments FROM messages"
            " ORDER BY id"
        )
    ]


def test_the_worker_in_a_thread_imports_the_same(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_import(store)
    monkeypatch.setattr(discord_worker, "_fork_context", lambda: None)  # no fork: a thread
    other = Store(tmp_path / "other.sqlite")
    try:
        run_import(other)
        assert message_rows(other) == message_rows(store)
        assert len(message_rows(store)) == 12  # the captured messages of the fixture
    finally:
        other.close()


def test_a_worker_that_dies_is_reported_and_leaves_the_archive_untouched(
    store: Store, archived: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(*_args: Any) -> Iterator[Any]:
        os._exit(3)  # in the forked worker: killed, out of memory...
        yield

    monkeypatch.setattr(discord_worker, "_captured_rows", die)
    with pytest.raises(
        ImportWorkerError,
        match=r"wedocs_discord\.json: the import's worker process stopped unexpectedly"
        r" \(exit code 3\)",
    ):
        run_import(store, hashtag="OtherTag", hosts=())
    assert dump(store) == archived


def test_a_failure_in_the_worker_is_reported_with_its_traceback(
    store: Store, archived: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: Any) -> Iterator[Any]:
        raise RuntimeError("the worker broke")
        yield

    monkeypatch.setattr(discord_worker, "_captured_rows", fail)
    with pytest.raises(ImportWorkerError) as err:
        run_import(store, hashtag="OtherTag", hosts=())
    assert "the import failed in its worker process" in str(err.value)
    assert "RuntimeError: the worker broke" in str(err.value)
    assert dump(store) == archived


def test_a_bad_message_before_a_syntax_error_is_the_one_named(
    tmp_path: Path, store: Store, archived: list[str]
) -> None:
    # The worker parses ahead of the importer, which checks the messages: the error that
    # comes first in the file is still the one reported.
    doc = fixture_doc()
    del doc["messages"][2]["timestamp"]
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    cut = text.index('"id": "800000000000000012"')
    path = tmp_path / "both.json"
    path.write_text(text[:cut] + "oops " + text[cut:], encoding="utf-8")
    with pytest.raises(ExportError, match=r"message 3 \(at byte \d+\) 'timestamp' is missing"):
        run_import(store, path)
    assert dump(store) == archived
    path.write_text(json.dumps(fixture_doc())[:-40], encoding="utf-8")  # and alone
    with pytest.raises(ExportError, match="the file ends too early"):
        run_import(store, path)


@given(
    st.datetimes(  # hypothesis takes naive bounds, and gives aware values in UTC
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(["ms", "us", "none", "offset", "Z", "space", "week"]),
)
def test_stored_time_is_iso_of_the_exported_stamp(moment: datetime, form: str) -> None:
    # DiscordChatExporter writes milliseconds in UTC; any other form fromisoformat() takes
    # goes through iso()
    clock = moment.time().isoformat(timespec="milliseconds")
    if form == "space":
        stamp = moment.isoformat(sep=" ", timespec="milliseconds")
    elif form == "week":
        year, week, day = moment.isocalendar()
        stamp = f"{year:04d}-W{week:02d}-{day}T{clock}+00:00"
    elif form == "ms":
        stamp = moment.isoformat(timespec="milliseconds")
    elif form == "us":
        stamp = moment.isoformat(timespec="microseconds")
    elif form == "none":
        stamp = moment.isoformat(timespec="seconds")
    elif form == "offset":
        stamp = moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    else:
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    at = datetime.fromisoformat(stamp)
    assert discord_staging._stored_time(stamp, at) == iso(at)


# ---- the worker's pipe -------------------------------------------------------------------------


def _send_buffer(conn: Any) -> int:
    import socket

    sock = socket.socket(fileno=conn.fileno())
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    finally:
        sock.detach()


@pytest.mark.skipif(not Path("/proc/sys/net/core/wmem_max").exists(), reason="Linux sockets")
def test_the_workers_pipe_holds_several_frames(tmp_path: Path) -> None:
    # The kernel grants what is asked up to net.core.wmem_max, and doubles it.
    limit = int(Path("/proc/sys/net/core/wmem_max").read_text())
    granted = 2 * min(discord_worker.PIPE_BUFFER, limit)
    ours, theirs = multiprocessing.Pipe()
    default = _send_buffer(ours)
    discord_worker._widen(ours, theirs)
    assert _send_buffer(ours) == _send_buffer(theirs) == granted >= default
    ours.close()
    theirs.close()
    # A pipe that is not a socket is left as it is.
    reader, writer = multiprocessing.Pipe(duplex=False)
    discord_worker._widen(reader, writer)
    writer.send_bytes(b"still works")
    assert reader.recv_bytes() == b"still works"
    reader.close()
    writer.close()
    # And the import's worker gets the wide one.
    spill = discord_staging._Spill(tmp_path)
    try:
        with discord_worker._Worker(EXPORT, spill) as worker:
            assert _send_buffer(worker._conn) == granted
    finally:
        spill.close()


def test_export_files_takes_a_folder_s_json_files_in_any_case(tmp_path: Path) -> None:
    """Before, ``MARCH.JSON`` was left out of its folder."""
    for name in ("b.json", "MARCH.JSON", "c.Json", "notes.txt", "json"):
        (tmp_path / name).write_bytes(b"{}")
    (tmp_path / "sub.json").mkdir()
    files, problems = export_files.export_files([tmp_path])
    assert [p.name for p in files] == ["MARCH.JSON", "b.json", "c.Json"]
    assert problems == []


def test_cli_warns_of_a_zone_that_is_not_a_place_as_check_does(tmp_path: Path) -> None:
    """Before, ``--timezone EST`` was taken without a word (``tweetchat check`` warns)."""
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", "drsmith"]
    done = tweetchat([*args, "--timezone", "EST"], config)
    assert done.returncode == 0, done.stderr
    [warning] = done.stderr.strip().splitlines()
    assert warning.startswith("tweetchat: warning: --timezone: ")
    assert "EST" in warning and "is a fixed offset or abbreviation, not a place" in warning
    assert "America/Toronto or America/New_York" in warning
    again = tweetchat([*args, "--timezone", "Europe/London"], config)
    assert again.returncode == 0 and again.stderr == ""


def _tell_sigterm_handler(conn: Any) -> None:
    """A worker's work: send whether SIGTERM has its default action in the worker."""
    import signal

    conn.send_bytes(
        b"T" + (b"default" if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL else b"taken")
    )
    conn.close()


@pytest.mark.skipif(discord_worker._fork_context() is None, reason="the worker is a thread")
def test_the_worker_ends_on_sigterm_even_when_the_importer_interrupts_on_it(
    tmp_path: Path,
) -> None:
    # `tweetchat import` turns SIGTERM into KeyboardInterrupt; the forked worker must not
    # inherit that: its importer's close() terminates a stuck worker with SIGTERM.
    import signal

    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with discord_worker._Worker(EXPORT, work=_tell_sigterm_handler) as worker:
            assert worker._receive() == (b"T", b"default")
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_message_listed_twice_is_captured_and_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, "13 of 17 messages captured, 12 new messages": the repeat counted twice."""
    from bot.cli import main

    doc = fixture_doc()
    doc["messages"].insert(5, doc["messages"][4])  # a hand-merged export repeats one
    path = write_export(tmp_path / "merged.json", doc)
    config = config_file(tmp_path)
    store = Store(tmp_path / "db.sqlite")
    try:
        for new in (12, 0):  # imported, then imported again
            result = run_import(store, path)
            assert (result.read, result.captured, result.repeated) == (17, 12, 1)
            assert result.new_messages == new
        assert store.count_messages(result.chat.id) == 12
        again = run_import(store, path, hosts=("drsmith",))  # captured again: other rules
        assert (again.recaptured, again.captured, again.repeated) == (True, 12, 1)
        alone = run_import(store, EXPORT)  # the same chat, no repeat: none said
        assert (alone.captured, alone.repeated) == (12, 0)
    finally:
        store.close()
    args = ["import", "discord-export", str(path), "--hashtag", "WeDocs", "--host", HOST_ID]
    assert main(["--config", str(config), *args]) == 0
    out = capsys.readouterr().out
    assert "12 of 17 messages captured (1 listed more than once, counted once), 0 new" in out


def test_repeats_are_counted_by_message_not_by_copy_nor_as_messages_stored_before(
    tmp_path: Path, store: Store
) -> None:
    """Found by a tester: after a partial export of the channel (its messages stored in a
    chat of their own), the merged export's new chat said "5 of 17 messages captured (8
    listed twice)": the messages stored before were taken for repeats."""
    doc = fixture_doc()
    part = write_export(tmp_path / "part.json", {**doc, "messages": doc["messages"][6:]})
    assert run_import(store, part).captured == 7
    messages = doc["messages"]
    # One message three times, another twice: two messages repeated, four copies too many.
    merged = [*messages[:5], messages[4], messages[4], *messages[5:], messages[9]]
    path = write_export(tmp_path / "merged.json", {**doc, "messages": merged})
    result = run_import(store, path)
    assert result.created
    assert (result.read, result.captured, result.repeated) == (19, 12, 2)
    assert result.new_messages == 12 - 7  # the part's 7 captured messages were stored before


@pytest.mark.parametrize(
    ("language", "title"),
    [("en", "#WeDocs in #qi-chat"), ("fr", "#WeDocs sur #qi-chat"), ("cy", "#WeDocs yn #qi-chat")],
)
def test_the_default_title_is_in_the_chats_language(
    store: Store, language: str, title: str
) -> None:
    """Found by a tester: a French or Welsh chat's default title stayed English."""
    first = run_import(store, language=language)
    assert first.chat.title == title
    again = run_import(store, language=language)
    assert (again.created, again.changed) == (False, ())  # the same options: nothing changed
