"""An import asked to publish renders a new chat's transcripts from the rows it captures,
while it saves them (the worker the JSON, the importer the Markdown and HTML): the files,
their records and the statistics must be those of the chat published from the store after
the import, in every case; and where the rows alone cannot settle the transcripts, the
import publishes from the store instead."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.importers import discord_export, discord_staging, discord_worker, one_pass
from archive.importers.discord_export import ImportResult, PublishFailed
from archive.importers.one_pass import import_discord_export
from archive.labels import Labels
from archive.models import ChatStatus
from archive.publish import FORMATS, PublishOptions, PublishResult, RowPublication, publish_chat
from archive.published import current_transcript, transcript_options
from archive.store import Store
from benchmarks.import_bench import write_export as write_generated_export

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "wedocs_discord.json"
HOST_ID = "100000000000000001"
RENDERED = "rendered from the import's rows while they were saved"


OPTIONS: dict[str, Any] = {"hashtag": "WeDocs", "hosts": (HOST_ID,), "timezone": "Europe/London"}
ONE_PASS = "in one pass"


@pytest.fixture
def two_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two-pass import, as when the one pass gives up (archive.importers.one_pass)."""
    monkeypatch.setattr(one_pass, "import_in_one_pass", lambda *args, **kwargs: None)


def imported_and_published(store: Store, path: Path, out: Path, **extra: Any) -> ImportResult:
    result = import_discord_export(
        store, path, publish=PublishOptions(out, highlights=2), **{**OPTIONS, **extra}
    )
    assert result.published is not None
    return result


def reference(store: Store, path: Path, out: Path, **extra: Any) -> PublishResult:
    """The chat imported, then published from the store, as before imports rendered."""
    result = import_discord_export(store, path, **{**OPTIONS, **extra})
    assert result.published is None  # not asked
    return publish_chat(store, result.chat, out, highlights=2)


def assert_same_publication(
    store: Store, result: ImportResult, ref_store: Store, ref: PublishResult
) -> None:
    published = result.published
    assert published is not None
    assert published.chat.id == ref.chat.id
    assert published.stats == ref.stats
    assert published.announcement == ref.announcement
    assert published.attachment == ref.attachment
    for fmt in FORMATS:
        assert published.paths[fmt].read_bytes() == ref.paths[fmt].read_bytes(), fmt
        ours = store.recorded_transcript(published.chat.id, fmt)
        theirs = ref_store.recorded_transcript(ref.chat.id, fmt)
        assert ours is not None and theirs is not None
        assert (ours.size, ours.sha256, ours.options) == (
            theirs.size,
            theirs.sha256,
            theirs.options,
        )
        # recorded as of the archive the import left: current, as after a publication
        opts = transcript_options(cost_note="", highlights=2)
        assert current_transcript(store, published.chat.id, fmt, opts) is not None, fmt
    # nothing left behind in the transcripts folder but the three files
    folder = published.paths["md"].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in published.paths.values()
    )


def rendered(caplog: pytest.LogCaptureFixture) -> bool:
    return any(RENDERED in r.getMessage() for r in caplog.records)


def write_doc(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def fixture_doc() -> dict[str, Any]:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def compare(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    path: Path,
    *,
    setup: Callable[[Store], None] | None = None,
    **extra: Any,
) -> bool:
    """Import ``path`` publishing into one archive, import-then-publish into the other
    (both prepared by ``setup``); assert the same publication; whether it was rendered as
    imported."""
    caplog.set_level(logging.INFO, logger="archive.importers")
    a, b = stores
    if setup is not None:
        setup(a)
        setup(b)
    ref = reference(b, path, tmp_path / "ref", **extra)
    result = imported_and_published(a, path, tmp_path / "out", **extra)
    assert_same_publication(a, result, b, ref)
    return rendered(caplog)


# ---- rendered as imported ---------------------------------------------------------------------


def test_a_new_chat_is_rendered_as_imported_into_the_same_files(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    assert compare(tmp_path, stores, caplog, EXPORT)


def test_a_big_export_over_many_batches_is_rendered_the_same(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "big.json"
    write_generated_export(path, 5000)  # three of the import's batches; edits, forwards...
    assert compare(tmp_path, stores, caplog, path)


def test_a_chat_that_captured_nothing_is_rendered_the_same(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    doc = fixture_doc()
    doc["messages"] = [m for m in doc["messages"] if not m["author"]["isBot"]]
    path = write_doc(tmp_path / "quiet.json", doc)
    assert compare(tmp_path, stores, caplog, path, hashtag="NobodyUsesThis", hosts=())
    a, _b = stores
    assert a.conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_an_opt_out_of_someone_not_in_the_chat_is_still_rendered_as_imported(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    def setup(store: Store) -> None:
        store.opt_out("discord", "123456789")

    assert compare(tmp_path, stores, caplog, EXPORT, setup=setup)


def test_the_search_index_is_complete_once_published(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The publication's record waits for the import's index thread (a write transaction),
    # however slow it is: the import returns with the index complete.
    caplog.set_level(logging.INFO, logger="archive.importers")
    index_search = discord_export.index_search

    def slow_index(conn: Any) -> int:
        time.sleep(0.5)
        return index_search(conn)

    monkeypatch.setattr(discord_export, "index_search", slow_index)
    a, _b = stores
    imported_and_published(a, EXPORT, tmp_path / "out")
    assert rendered(caplog)
    indexed = a.conn.execute("SELECT COUNT(*) FROM messages_fts_docsize").fetchone()[0]
    assert indexed == a.conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 12
    hits = a.search_messages("patient council", limit=5)
    assert [m.platform_id for m, _snippet in hits] == ["800000000000000005"]


# ---- published from the store instead ------------------------------------------------------


def test_messages_out_of_time_order_are_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    doc = fixture_doc()
    # A1 at 20:02 and A2 at 20:12 change places: both are captured
    doc["messages"][4], doc["messages"][8] = doc["messages"][8], doc["messages"][4]
    path = write_doc(tmp_path / "shuffled.json", doc)
    assert not compare(tmp_path, stores, caplog, path)
    assert any("not in time order" in r.getMessage() for r in caplog.records)


def test_a_participant_who_opted_out_is_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    # drsmith opted out: their handle is hidden in carolw's "@drsmith", and their posts left out
    def setup(store: Store) -> None:
        store.opt_out("discord", HOST_ID, "drsmith")

    assert not compare(tmp_path, stores, caplog, EXPORT, setup=setup)
    md = (tmp_path / "out").glob("*.md").__next__().read_text(encoding="utf-8")
    assert "@drsmith" not in md


def test_stakeholder_groups_are_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "groups.json"
    write_generated_export(path, 2000)
    authors = sorted({m["author"]["id"] for m in json.loads(path.read_text())["messages"]})

    def setup(store: Store) -> None:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for n, author in enumerate(authors):
            group = ("clinician", "patient", "manager")[n % 3]
            store.declare_group("#WeDocs", "discord", author, group, at)

    assert not compare(tmp_path, stores, caplog, path, setup=setup)
    _a, b = stores
    (chat,) = b.list_chats()
    assert b.group_mix(chat, b.opted_out()) is not None  # the transcripts show the mix


def test_a_message_repeated_in_the_export_is_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    doc = fixture_doc()
    doc["messages"].append(dict(doc["messages"][4], content="A1: said twice #WeDocs"))
    path = write_doc(tmp_path / "repeated.json", doc)
    assert not compare(tmp_path, stores, caplog, path)


def test_a_message_already_archived_in_another_chat_is_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    doc = fixture_doc()
    first = write_doc(tmp_path / "first.json", {**doc, "messages": doc["messages"][:6]})
    later = write_doc(
        tmp_path / "later.json", {**doc, "messages": doc["messages"][3:]}
    )  # another first message: another chat, sharing three messages with the first

    def setup(store: Store) -> None:
        import_discord_export(store, first, **OPTIONS)

    assert not compare(tmp_path, stores, caplog, later, setup=setup)


def test_a_reimport_is_published_from_the_store(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    def setup(store: Store) -> None:
        import_discord_export(store, EXPORT, **OPTIONS)

    assert not compare(tmp_path, stores, caplog, EXPORT, setup=setup)


def test_a_worker_thread_leaves_the_publication_to_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord_worker, "_fork_context", lambda: None)  # off Linux
    assert not compare(tmp_path, stores, caplog, EXPORT)


@pytest.mark.parametrize("passes", [1, 2])
def test_a_write_between_the_import_and_its_publication_is_published_from_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    passes: int,
) -> None:
    caplog.set_level(logging.INFO, logger="archive.importers")
    if passes == 2:
        request.getfixturevalue("two_passes")
    module, name = (one_pass, "_publish") if passes == 1 else (discord_export, "_publish_rendered")
    a, b = stores
    other = Store(a.path)  # another process's connection to the same archive
    publish_rendered = getattr(module, name)

    def written_meanwhile(*args: Any, **kwargs: Any) -> Any:
        other.opt_out("discord", "123456789")  # after the import's commit
        return publish_rendered(*args, **kwargs)

    monkeypatch.setattr(module, name, written_meanwhile)
    try:
        result = imported_and_published(a, EXPORT, tmp_path / "out")
    finally:
        other.close()
    b.opt_out("discord", "123456789")
    assert_same_publication(a, result, b, reference(b, EXPORT, tmp_path / "ref"))
    assert not rendered(caplog)
    assert (ONE_PASS in " ".join(one_pass_log(caplog))) == (passes == 1)


def fail_in(monkeypatch: pytest.MonkeyPatch, method: str, *, worker: bool) -> None:
    """Make RowPublication's ``method`` fail as a full disk would, in the import's worker
    (``worker``) or in the importer."""
    importer = os.getpid()
    real = getattr(RowPublication, method)

    def broken(self: RowPublication, *args: Any, **kwargs: Any) -> Any:
        if (os.getpid() != importer) == worker:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RowPublication, method, broken)


@pytest.mark.parametrize("worker", [True, False], ids=["worker", "importer"])
@pytest.mark.parametrize("method", ["feed", "finish"])
def test_a_failure_of_either_sides_rendering_publishes_from_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    worker: bool,
    request: pytest.FixtureRequest,
) -> None:
    if worker:  # only the two-pass import has the worker render
        request.getfixturevalue("two_passes")
    fail_in(monkeypatch, method, worker=worker)
    assert not compare(tmp_path, stores, caplog, EXPORT)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("No space left on device" in m for m in messages)


@pytest.mark.usefixtures("two_passes")
def test_statistics_the_worker_cannot_send_publish_from_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker counts them and sends what it counted with the end of its capture.
    importer = os.getpid()
    real = RowPublication.counter

    def counter(self: RowPublication) -> Any:
        if os.getpid() != importer:
            raise OSError(28, "No space left on device")
        return real.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(RowPublication, "counter", property(counter))
    assert not compare(tmp_path, stores, caplog, EXPORT)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any(
        "not rendered while imported: its statistics could not be sent" in m
        and "No space left" in m
        for m in messages
    )


class _BrokenCounter:
    def result(self, **_: Any) -> Any:
        raise OSError(28, "No space left on device")


@pytest.mark.usefixtures("two_passes")
def test_a_failure_of_the_statistics_made_of_the_workers_count_publishes_from_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The importer makes the statistics of what the worker counted, for both sides' files.
    real = discord_worker._Worker.capture

    def capture(self: discord_worker._Worker, *args: Any, **kwargs: Any) -> Any:
        yield from real(self, *args, **kwargs)
        if self.counter is not None:  # the import that renders (not the reference's)
            self.counter = _BrokenCounter()

    monkeypatch.setattr(discord_worker._Worker, "capture", capture)
    assert not compare(tmp_path, stores, caplog, EXPORT)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("statistics as imported failed" in m and "No space left" in m for m in messages)


def test_the_highlights_are_picked_from_the_rows_not_read_back(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The import's publication takes the highlights it picked as it saved the rows (the
    # store is never asked), and they are the ones a publication from the store shows.
    a, b = stores
    asked: list[Store] = []
    highlights = Store.highlights

    def recorded(self: Store, *args: Any, **kwargs: Any) -> Any:
        asked.append(self)
        return highlights(self, *args, **kwargs)

    monkeypatch.setattr(Store, "highlights", recorded)
    assert compare(tmp_path, stores, caplog, EXPORT)
    assert b in asked and a not in asked
    ref_chat = b.list_chats()[0]
    assert b.highlights(ref_chat, 2, opted_out=b.opted_out())  # there are some to pick


def test_a_failed_import_leaves_no_transcript_and_no_staging_folder(
    tmp_path: Path, stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _b = stores
    save = Store.save_message_rows

    def failing(self: Store, rows: Any, **kw: Any) -> int:
        save(self, rows, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "save_message_rows", failing)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left"):
        imported_and_published(a, EXPORT, out)
    assert a.list_chats() == []
    assert list(out.iterdir()) == []


@pytest.mark.usefixtures("two_passes")
def test_a_worker_killed_after_the_capture_leaves_the_import_published_from_the_store(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    publish_rendered = discord_export._publish_rendered

    def killed_first(store: Store, chat: Any, worker: Any, *args: Any, **kwargs: Any) -> Any:
        os.kill(worker._process.pid, signal.SIGKILL)  # out of memory, say, once committed
        worker._process.join()
        return publish_rendered(store, chat, worker, *args, **kwargs)

    monkeypatch.setattr(discord_export, "_publish_rendered", killed_first)
    assert not compare(tmp_path, stores, caplog, EXPORT)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stopped unexpectedly" in w for w in warnings)


def test_an_unusable_transcripts_folder_fails_the_publication_not_the_import(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    a, _b = stores
    out = tmp_path / "out"
    out.write_text("a file where the folder should be", encoding="utf-8")
    with pytest.raises(PublishFailed) as failed:
        imported_and_published(a, EXPORT, out)
    assert isinstance(failed.value.cause, OSError)
    (chat,) = a.list_chats()  # imported, as before imports rendered
    assert failed.value.result.chat == chat
    assert a.count_messages(chat.id) == 12
    # Not published: nothing recorded, and the chat says so.
    assert chat.status == ChatStatus.ENDED
    assert a.transcripts(chat.id) == {}


@pytest.mark.usefixtures("two_passes")
def test_a_publication_from_the_store_comes_once_the_staged_messages_are_gone(
    tmp_path: Path, stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The staged messages' files (as big as the export) and the publication's spills are
    # never on the disk together.
    a, _b = stores
    a.opt_out("discord", HOST_ID, "drsmith")  # a case published from the store
    events: list[str] = []
    close, publish = discord_staging._Spill.close, discord_export.publish_with

    def closing(self: Any) -> None:
        events.append("staged messages removed")
        close(self)

    def publishing(*args: Any, **kwargs: Any) -> PublishResult:
        events.append("published from the store")
        return publish(*args, **kwargs)

    monkeypatch.setattr(discord_staging._Spill, "close", closing)
    monkeypatch.setattr(discord_export, "publish_with", publishing)
    imported_and_published(a, EXPORT, tmp_path / "out")
    assert events == ["staged messages removed", "published from the store"]


# ---- the one pass, and when it gives up ------------------------------------------------------


def one_pass_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if ONE_PASS in r.getMessage() or "imported in two passes" in r.getMessage()
    ]


def test_a_new_chat_is_imported_and_rendered_in_one_pass(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    assert compare(tmp_path, stores, caplog, EXPORT)
    (line,) = one_pass_log(caplog)
    assert ONE_PASS in line and "16 messages read, 12 captured, 12 new" in line


@pytest.mark.parametrize("labels", ["A1/A2", "A2/A1"])
def test_a_multi_answer_is_listed_under_each_question_with_one_anchor_in_one_pass(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture, labels: str
) -> None:
    # Its anchor is under the question first on the page, whatever the labels' order (a
    # tester's "A2/A1" had it under Q2, and the highlights' link to it jumped past Q1).
    doc = fixture_doc()
    (carol,) = [m for m in doc["messages"] if m["content"].startswith("A2 Time")]
    carol["content"] = f"{labels} Time, mostly. And funding @drsmith #WeDocs"
    assert compare(tmp_path, stores, caplog, write_doc(tmp_path / "multi.json", doc))
    assert ONE_PASS in one_pass_log(caplog)[0]
    (html,) = (tmp_path / "out").rglob("*.html")
    page = html.read_text(encoding="utf-8")
    anchor = 'id="m-discord-800000000000000009"'
    q1, q2, q3 = (page.index(f'id="q-{k}"') for k in "123")
    assert "Time, mostly" in page[q1:q2] and "Time, mostly" in page[q2:q3]
    assert page.count(anchor) == 1 and q1 < page.index(anchor) < q2


def test_a_chat_without_a_question_is_imported_in_one_pass(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    # Every message waits for a question that never comes: the chat starts with the first.
    doc = fixture_doc()
    doc["messages"] = [m for m in doc["messages"] if not m["content"].startswith("Q")]
    assert compare(tmp_path, stores, caplog, write_doc(tmp_path / "none.json", doc))
    assert ONE_PASS in one_pass_log(caplog)[0]


def test_a_topic_chat_is_imported_in_one_pass(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    # T1 twice by the host: the first is the topic, the second the host's answer to it.
    doc = fixture_doc()
    for m in doc["messages"]:
        m["content"] = m["content"].replace("Q1:", "T1:").replace("Q2:", "T2:")
        m["content"] = m["content"].replace("Q3:", "T1:").replace("A1", "T1")
    path = write_doc(tmp_path / "topics.json", doc)
    assert compare(tmp_path, stores, caplog, path, labels=Labels("T", "T"))
    assert ONE_PASS in one_pass_log(caplog)[0]


def test_a_hosts_follow_up_on_a_question_is_listed_in_its_thread_in_one_pass(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Found by a tester: a host's "Q1 follow-up: ..." was taken for a second question post,
    # which the Markdown and HTML do not list (a question is its section's heading).
    doc = fixture_doc()
    host = next(m for m in doc["messages"] if m["content"].startswith("Q1:"))
    follow_up = {
        **host,
        "id": "800000000000000017",
        "timestamp": "2026-03-03T20:06:00.000+00:00",
        "content": "Q1 follow-up: who measures the difference it makes? #WeDocs",
    }
    reply = {  # after Q2 went out, to the follow-up: an answer to Q1 all the same
        **next(m for m in doc["messages"] if m["author"]["name"] == "carolw"),
        "id": "800000000000000018",
        "timestamp": "2026-03-03T20:11:00.000+00:00",
        "content": "patients themselves, with run charts #WeDocs",
        "reference": {"messageId": follow_up["id"], "channelId": doc["channel"]["id"]},
    }
    bot = next(m for m in doc["messages"] if m["author"]["isBot"])
    reminder = {  # the export's bot, after Q2 went out: a reminder, not a second Q2
        **bot,
        "id": "800000000000000019",
        "timestamp": "2026-03-03T20:15:00.000+00:00",
        "content": "Q2 reminder: what got in the way? #WeDocs",
    }
    both = {**follow_up, "id": "800000000000000020", "content": "Q1/Q2 both still open #WeDocs"}
    both["timestamp"] = "2026-03-03T20:16:00.000+00:00"
    to_both = {**reply, "id": "800000000000000021", "content": "council and money"}
    to_both["timestamp"] = "2026-03-03T20:17:00.000+00:00"
    to_both["reference"] = {"messageId": both["id"], "channelId": doc["channel"]["id"]}
    at = [m["id"] for m in doc["messages"]].index("800000000000000008")
    doc["messages"][at:at] = [follow_up]
    doc["messages"].insert(at + 2, reply)
    at = [m["id"] for m in doc["messages"]].index("800000000000000012")
    doc["messages"][at:at] = [reminder, both, to_both]
    path = write_doc(tmp_path / "follow-up.json", doc)
    assert compare(tmp_path, stores, caplog, path)
    assert ONE_PASS in one_pass_log(caplog)[0]

    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    q1, q2 = md.index("## Q1"), md.index("## Q2")
    listed = md.index("who measures the difference it makes?", q1)
    assert q1 < listed < q2, md[q1:q2]
    head = md[: md.rindex("\n", 0, listed)]
    item = head[head.rindex("\n- ") + 1 :]  # the item's first line: the host mark, the author
    assert item.startswith("- <a id=") and "></a>Host · **Dr Smith** @drsmith · 20:06" in item
    assert q1 < md.index("patients themselves, with run charts", q1) < q2
    assert "*Went out at 20:00 GMT · 5 answers from 3 participants*" in md  # not an answer
    assert "- **Questions:** 3\n" in md  # nor a question
    q3 = md.index("## Q3")
    assert q2 < md.index("what got in the way? #WeDocs", q2) < q3  # the bot's reminder
    # A reply to a follow-up of two questions answers both (listed under each).
    assert q1 < md.index("council and money", q1) < q2 < md.index("council and money", q2) < q3
    html = (tmp_path / "out" / "wedocs-2026-03-03.html").read_text(encoding="utf-8")
    assert "who measures the difference it makes?" in html
    entries = json.loads((tmp_path / "out" / "wedocs-2026-03-03.json").read_text("utf-8"))
    by_id = {m["id"]: m for m in entries["messages"]}
    assert (by_id[follow_up["id"]]["kind"], by_id[follow_up["id"]]["questions"]) == (
        "host",
        ["1"],
    )
    assert (by_id[reply["id"]]["kind"], by_id[reply["id"]]["questions"]) == ("answer", ["1"])
    assert (by_id[reminder["id"]]["kind"], by_id[reminder["id"]]["questions"]) == ("host", ["2"])
    assert by_id[to_both["id"]]["questions"] == ["1", "2"]

    # The two-pass import (when the one pass gives up) reads the same posts the same way.
    with monkeypatch.context() as patched:
        patched.setattr(one_pass, "import_in_one_pass", lambda *args, **kwargs: None)
        two = Store(tmp_path / "two.sqlite")
        try:
            imported_and_published(two, path, tmp_path / "two")
        finally:
            two.close()
    for fmt in FORMATS:
        name = f"wedocs-2026-03-03.{fmt}"
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()


def _message(doc: dict[str, Any], mid: int) -> dict[str, Any]:
    return next(m for m in doc["messages"] if m["id"] == str(800000000000000000 + mid))


def test_a_bot_met_after_the_chat_starts_counts_from_then_on_in_one_pass(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    # A second bot posts after Q3; later, its account posts unflagged (a bot's by its
    # account) and someone replies to its post with no hashtag (captured as a reply to the
    # chat). The capture rules must know of the bot from the message it was met in on.
    doc = fixture_doc()
    bot = {**_message(doc, 2)["author"], "id": "100000000000000098", "name": "RemindBot"}
    _message(doc, 13).update(
        author=bot, type="Default", reference=None, content="One more question to go"
    )
    _message(doc, 14)["author"] = {**bot, "isBot": False}
    _message(doc, 16).update(type="Reply", reference={"messageId": "800000000000000013"})
    assert compare(tmp_path, stores, caplog, write_doc(tmp_path / "bot.json", doc))
    (line,) = one_pass_log(caplog)
    assert ONE_PASS in line


def _early_label(doc: dict[str, Any]) -> None:
    _message(doc, 10)["content"] = "A3 Our board never saw the data #WeDocs"  # before Q3


def _reply_to_a_later_question(doc: dict[str, Any]) -> None:
    # "brb", no hashtag: captured only as a reply to a question, Q3, which comes later.
    _message(doc, 7)["type"] = "Reply"
    _message(doc, 7)["reference"] = {"messageId": "800000000000000012"}


def _person_then_bot(doc: dict[str, Any]) -> None:
    _message(doc, 16)["author"] = {**_message(doc, 16)["author"], "isBot": True}


def _same_time_as_a_question(doc: dict[str, Any]) -> None:
    # Posted the instant Q2 goes out, listed before it: an answer to Q2, not Q1.
    _message(doc, 7)["timestamp"] = _message(doc, 8)["timestamp"]
    _message(doc, 7)["content"] = "brb #WeDocs"


def _out_of_order(doc: dict[str, Any]) -> None:
    doc["messages"][4], doc["messages"][5] = doc["messages"][5], doc["messages"][4]


def _channel_last(doc: dict[str, Any]) -> None:
    # After the messages, beyond the parser's first chunk of the file.
    doc["notes"] = "x" * 100_000
    doc["channel"] = doc.pop("channel")


def _id_again_as_a_question(doc: dict[str, Any]) -> None:
    # Q2 exported under Q1's id (found in review): the two-pass import takes the id's last
    # question post, Q2, for every message, the reply to "Q1" before it too.
    _message(doc, 8)["id"] = "800000000000000004"


def _guild_last(doc: dict[str, Any]) -> None:
    # The channel first, the guild (in every permalink) after the messages.
    doc["notes"] = "x" * 100_000
    doc["guild"] = doc.pop("guild")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_early_label, "an answer label came before its question"),
        (_reply_to_a_later_question, "a message replies to a later post of the bot"),
        (_person_then_bot, "an author turned out to be a bot after their first messages"),
        (_same_time_as_a_question, "a question was posted at the same time as a message"),
        (_out_of_order, "the export's messages are not in time order"),
        (_channel_last, "the export's channel comes after its messages"),
        (_guild_last, "the export's guild comes after its messages"),
        (_id_again_as_a_question, "message 800000000000000004 is in the export twice"),
    ],
    ids=[
        "early label",
        "reply to later",
        "became a bot",
        "same time",
        "order",
        "channel",
        "guild",
        "id again",
    ],
)
def test_what_a_later_message_changes_gives_the_two_pass_import(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    change: Callable[[dict[str, Any]], None],
    reason: str,
) -> None:
    doc = fixture_doc()
    change(doc)
    # The same publication as the import then a publication from the store: made the
    # two-pass way (rendered as imported, or published from the store after it).
    compare(tmp_path, stores, caplog, write_doc(tmp_path / "changed.json", doc))
    (line,) = one_pass_log(caplog)
    assert "imported in two passes" in line and reason in line


def test_too_many_messages_before_the_first_question_give_the_two_pass_import(
    tmp_path: Path,
    stores: tuple[Store, Store],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(one_pass, "WAITING_LIMIT", 2)  # three come before Q1
    assert compare(tmp_path, stores, caplog, EXPORT)  # rendered, the two-pass way
    (line,) = one_pass_log(caplog)
    assert "more than 2 messages before the first question" in line


def test_a_reimport_gives_the_two_pass_import(
    tmp_path: Path, stores: tuple[Store, Store], caplog: pytest.LogCaptureFixture
) -> None:
    a, _b = stores
    import_discord_export(a, EXPORT, **OPTIONS)
    caplog.set_level(logging.INFO, logger="archive.importers")
    result = imported_and_published(a, EXPORT, tmp_path / "out")
    assert not result.created and result.new_messages == 0
    assert any("imported in two passes (imported before)" in m for m in one_pass_log(caplog))


def test_a_bad_message_fails_the_one_pass_as_the_two_pass_import(
    tmp_path: Path, stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stores
    doc = fixture_doc()
    del _message(doc, 9)["author"]
    path = write_doc(tmp_path / "bad.json", doc)
    with pytest.raises(discord_export.ExportError) as one:
        imported_and_published(a, path, tmp_path / "out")
    monkeypatch.setattr(one_pass, "import_in_one_pass", lambda *args, **kwargs: None)
    with pytest.raises(discord_export.ExportError) as two:
        imported_and_published(b, path, tmp_path / "out2")
    assert str(one.value) == str(two.value)
    assert "message 9 (at byte" in str(one.value)
    assert a.list_chats() == [] and a.count_messages("wedocs-2026-03-03") == 0
    assert list((tmp_path / "out").iterdir()) == []
