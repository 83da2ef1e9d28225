"""Import a DiscordChatExporter JSON export of one channel as an ended, published chat.

The export (``guild``, ``channel``, ``messages`` [...], in DiscordChatExporter's documented
JSON format) is read once, streamed (:mod:`archive.importers.exportjson`), so memory stays
flat however large it is. Which question a message answers can only be settled once every
question post is known, so the work is split in two:

1. the read validates the whole file, finds the channel, the time range, the bots and the
   question posts (host or bot messages that begin with a question label in the chat's
   convention: ``Q1`` by default, ``C1`` with ``--labels C/A``; in a topic convention,
   ``T``/``T``, only the first such post of each label, as the host's later ``T1 ...``
   posts are the host's answers), and stages every message, already converted, in
   temporary files (``marshal`` batches);
2. the capture builds the chat and puts every staged message through the same capture
   rules as live messages, saving in batches inside one transaction, each batch indexed
   for search as it is saved.

Two processes share the work (see "the worker" below): a forked worker parses the file and
encodes each message's raw payload while this process converts and stages the messages;
then the worker applies the capture rules while this process writes the rows to SQLite.
Asked to publish a new chat, both render its transcripts from the rows meanwhile.

A new chat asked to be published is first tried in one pass instead
(:mod:`archive.importers.one_pass`, whose ``import_discord_export`` the commands use: the
capture rules applied as the file is read, with the questions met so far); the two passes
here are for what that cannot settle.

A file that turns out malformed or truncated fails in the read, before anything is
written; any failure later (the worker's too) rolls the one transaction back.
Re-importing the same export (same channel, same first message) finds the chat it made
before by its ``source`` and, with the same options, changes nothing. With options the
capture rules depend on (:func:`changed_options`: hosts, labels, hashtag) the chat's
messages are captured again from the export in the same transaction, their verdicts
replacing those stored (:meth:`archive.store.Store.recapture_messages`); other options
only update the chat. A chat holding messages the export lacks (a longer export extended
it) is not captured again from it: refused, rather than losing them.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import marshal
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import operator
import os
import pickle
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ijson
import orjson

from archive.capture import CaptureContext, host_idents, is_host, judge, label_grammar
from archive.discord_messages import read
from archive.hashtags import HashtagError, normalise_hashtag
from archive.i18n import language_tag
from archive.importers.export_shape import export_message
from archive.importers.exportjson import BOM, ExportError, ExportReader
from archive.importers.progress import Progress, RunProgress, TerminalProgress, terminal_progress
from archive.importers.streams import is_stream, readable_again
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import (
    IMPORTED_SOURCE,
    Attachment,
    AttachmentKind,
    Chat,
    ChatStatus,
    IncomingMessage,
    Question,
    Target,
    chat_id_for,
)
from archive.publish import (
    PublicationInputs,
    PublishOptions,
    PublishResult,
    RowPublication,
    publication_inputs,
    publish_staged,
    publish_with,
    staged_paths,
    staging_folder,
)
from archive.published import Digest
from archive.stats import ChatStats
from archive.store import Store, iso
from archive.store.engagement import RowHighlights
from archive.store.messages import RAW_COLUMN, export_json, index_search, row_of
from archive.transcripts.rows import SeveralNetworks

__all__ = [
    "ExportError",
    "ImportResult",
    "ImportWorkerError",
    "Progress",
    "RunProgress",
    "TerminalProgress",
    "changed_options",
    "check_options",
    "export_files",
    "first_message_time",
    "import_discord_export",
    "in_time_order",
    "paused_gc",
    "source_key",
    "terminal_progress",
]

logger = logging.getLogger(__name__)

PLATFORM = "discord"
BATCH = 2000
# Messages' texts per frame from the worker while it parses (~300 KB: a frame fits the
# pipe's buffer even where the system caps it, see PIPE_BUFFER).
TEXTS_PER_FRAME = 500


# ---- messages -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is missing")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO 8601 time") from None
    if dt.utcoffset() is None:
        raise ValueError(f"{what} {value!r} has no UTC offset")
    return dt


def _reactions(raw: dict[str, Any]) -> int:
    total = 0
    for r in raw.get("reactions") or ():
        if isinstance(r, dict) and isinstance(r.get("count"), int):
            total += max(r["count"], 0)
    return total


@functools.lru_cache(maxsize=16)
def _question_head(letter: str) -> re.Pattern[str]:
    """What goes before a question's words in its post (mentions, tags, its label or
    labels, punctuation), for the question letter ``letter``."""
    q = f"[{re.escape(letter.upper())}{re.escape(letter.lower())}]"
    return re.compile(
        r"\s*(?:(?:@[\w.-]+|<@!?\d+>|[#＃]\w+)[\s,:;]*)*"
        rf"{q}\s?\d{{1,2}}[a-zA-Z]?(?:\s*(?:[/&,+]|and)\s*{q}\s?\d{{1,2}}[a-zA-Z]?)*"
        rf"(?:[-–]{q}?\d{{1,2}})?\s*[:.)\-–—]?\s*"
    )


def _question_text(text: str, hashtag: str, labels: Labels = DEFAULT_LABELS) -> str:
    """A question post's text without its label and without the trailing hashtag."""
    body = _question_head(labels.question).sub("", text, count=1)
    tag = re.escape(hashtag.lstrip("#"))
    body = re.sub(rf"\s*[#＃]{tag}\s*\Z", "", body, flags=re.IGNORECASE).strip()
    return body or text.strip()


# ---- the read -------------------------------------------------------------------------------

# One message as staged between the read and the capture: everything capture needs that does
# not depend on the questions. (The raw payload that is stored with it is staged apart.)
_Staged = tuple[
    int,  # position in the export
    str,  # id
    str,  # author id
    str,  # author name (the nickname when there is one)
    str,  # author handle
    str,  # text
    str,  # timestamp, as exported
    str,  # id of the message replied to
    bool,  # is_bot
    "str | None",  # timestampEdited, as exported
    tuple[str, ...],  # mentions
    int,  # reactions
    bool,  # is_repost (a forward)
    tuple[tuple[str, str, str], ...],  # attachments: (name, url, kind)
]


@dataclass
class _Scan:
    guild: dict[str, Any] = field(default_factory=dict)
    channel: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    staged: int = 0
    first_id: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None
    # (time, message id, keys, text) of every question post, in file order
    questions: list[tuple[datetime, str, tuple[str, ...], str]] = field(default_factory=list)
    bot_authors: set[str] = field(default_factory=set)
    bot_posts: set[str] = field(default_factory=set)


def _ids(scan: _Scan) -> tuple[str, str]:
    return _text(scan.guild.get("id")), _text(scan.channel.get("id"))


def _bad_message(path: Path, index: int, offset: int, problem: str) -> ExportError:
    return ExportError(f"{path}: message {index} (at byte {offset}) {problem}")


def _staged(raw: Any, index: int) -> tuple[_Staged | None, str, datetime]:
    """The fields of one exported message (None when it is never captured: a system notice,
    or nothing of its own, as :func:`archive.discord_messages.read` decides), its
    id and its time; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("is not an object")
    mid = _text(raw.get("id"))
    if not mid:
        raise ValueError("has no 'id'")
    author = raw.get("author")
    if not isinstance(author, dict) or not _text(author.get("id")):
        raise ValueError("has no 'author' with an 'id'")
    stamp = raw.get("timestamp")
    at = _time(stamp, "'timestamp'")
    edited = raw.get("timestampEdited")
    if edited is not None:
        _time(edited, "'timestampEdited'")
    shape = export_message(raw, at)
    msg = read(shape, bot_id=None)  # the one reading of a Discord message, live or imported
    if msg is None:
        return None, mid, at
    staged: _Staged = (
        index,
        mid,
        shape.author_id,
        shape.author_name,
        shape.author_handle,
        msg.text,
        cast(str, stamp),  # checked by _time()
        msg.reply_to,
        msg.is_bot,
        edited,
        msg.mentions,
        _reactions(raw),
        msg.is_repost,
        tuple((a.name, a.url, a.kind.value) for a in msg.attachments) if msg.attachments else (),
    )
    return staged, mid, at


def _stored_time(stamp: str, at: datetime) -> str:
    """``iso(at)``, for ``at`` read from the exported ``stamp``: DiscordChatExporter's UTC
    times to the millisecond (``2026-03-03T20:00:05.123+00:00``) give the store's text
    without a round trip through the datetime (~2 µs a message); other forms, iso()."""
    if _EXPORTED_UTC.fullmatch(stamp):
        return f"{stamp[:23]}000+00:00"
    return iso(at)


# DiscordChatExporter's timestamps (fromisoformat() takes other forms too: a space for the T,
# week dates... which iso() writes otherwise).
_EXPORTED_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\+00:00"
)


def _attachments(staged: tuple[tuple[str, str, str], ...]) -> tuple[Attachment, ...]:
    if not staged:
        return ()
    return tuple(Attachment(name, url, AttachmentKind(kind)) for name, url, kind in staged)


class _Spill:
    """Staged messages on disk between the read and the capture (memory stays flat):
    batches of tuples in ``marshal`` format, each behind its length, read back in order;
    their raw payloads (JSON text) in a second file, in the same batches.

    Written by the importer. The worker, which shares the files (they are opened before it
    starts), reads the staged messages with ``pread`` (which moves no file offset) and sends
    back rows without their payloads; the importer reads the payloads (:meth:`raws`) to
    complete them: the payloads, nine tenths of the bytes, never cross the pipe twice.
    """

    def __init__(self, directory: Path | None) -> None:
        self._fh = tempfile.TemporaryFile(prefix="tweetchat-import-", dir=directory)
        self._raw_fh = tempfile.TemporaryFile(prefix="tweetchat-import-", dir=directory)
        self._batch: list[_Staged] = []
        self._raws: list[str] = []

    def add(self, staged: _Staged, raw_text: str) -> None:
        self._batch.append(staged)
        self._raws.append(raw_text)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            for fh, batch in ((self._fh, self._batch), (self._raw_fh, self._raws)):
                data = marshal.dumps(batch)
                fh.write(len(data).to_bytes(8, "little"))
                fh.write(data)
            self._batch, self._raws = [], []

    def finish(self) -> None:
        """Write out what is buffered: the files are complete for :meth:`batches`."""
        self._flush()
        self._fh.flush()
        self._raw_fh.flush()

    def batches(self) -> Iterator[list[_Staged]]:
        """The batches of staged messages written before :meth:`finish`, in order."""
        return _batches(self._fh.fileno())

    def raws(self) -> Iterator[list[str]]:
        """The raw payloads of :meth:`batches`, batch for batch."""
        return _batches(self._raw_fh.fileno())

    def close(self) -> None:
        self._fh.close()
        self._raw_fh.close()


def _batches(fd: int) -> Iterator[Any]:
    at = 0
    while size := int.from_bytes(os.pread(fd, 8, at), "little"):
        # marshal.load() on a file reads it a few bytes at a time: 10x slower than this.
        yield marshal.loads(os.pread(fd, size, at + 8))
        at += 8 + size


def _read(
    path: Path,
    hashtag: str,
    hosts: tuple[str, ...],
    spill: _Spill,
    worker: _Worker,
    progress: Progress | None,
    labels: Labels = DEFAULT_LABELS,
) -> _Scan:
    """Read the export once (parsed by the worker): validate it, stage its messages, find
    the question posts."""
    scan = _Scan()
    finder = _QuestionFinder(hashtag, hosts, labels)
    first_at = last_at = None
    for raw, index, raw_text in worker.messages(progress):
        try:
            staged, mid, at = _staged(raw, index)
        except ValueError as e:
            raise _bad_message(path, index, worker.offset_of(index), str(e)) from None
        if first_at is None:
            scan.first_id = mid
            first_at = last_at = at
        elif at < first_at:
            first_at = at
        elif at > last_at:  # type: ignore[operator]
            last_at = at
        if staged is None:
            continue
        spill.add(staged, raw_text)
        scan.staged += 1
        if staged[8]:  # is_bot
            scan.bot_authors.add(staged[2])
            scan.bot_posts.add(staged[1])
        entry = finder.entry(staged, at)
        if entry is not None:
            scan.questions.append(entry)
    scan.count = worker.count
    scan.first_at, scan.last_at = first_at, last_at
    scan.guild = _member(worker.members, "guild")
    scan.channel = _member(worker.members, "channel")
    if scan.count == 0 and not _has_list(path, "messages"):
        raise ExportError(
            f"{path}: not a DiscordChatExporter export (no 'messages' list); "
            "export the channel as JSON"
        )
    if not scan.channel or not _text(scan.channel.get("id")):
        raise ExportError(
            f"{path}: not a DiscordChatExporter export (no 'channel' with an 'id'); "
            "export the channel as JSON"
        )
    if scan.count == 0:
        raise ExportError(f"{path}: the export has no messages")
    return scan


_Question = tuple[datetime, str, tuple[str, ...], str]  # (time, message id, keys, text)


class _QuestionFinder:
    """Which staged messages are question posts: the host's or a bot's that begin with a
    question label (not a forward), in the chat's label convention."""

    def __init__(self, hashtag: str, hosts: tuple[str, ...], labels: Labels) -> None:
        self.hashtag = hashtag
        self.labels = labels
        self._ask = label_grammar(labels.question)  # the grammar looked up once
        self._probe = Chat(  # is_host() needs a chat only for its hosts
            id="",
            title="",
            hashtag=hashtag,
            start=datetime.min.replace(tzinfo=UTC),
            end=datetime.min.replace(tzinfo=UTC),
            timezone="UTC",
            questions=(),
            hosts=hosts,
        )
        self._hosted: dict[tuple[str, str], bool] = {}

    def entry(self, staged: _Staged, at: datetime) -> _Question | None:
        """(time, id, keys, question text) when ``staged`` (posted at ``at``) asks."""
        text = staged[5]
        keys = self._ask.parse(text) if not staged[12] else ()  # a forward asks nothing
        if not keys:
            return None
        if not staged[8]:  # not a bot's: a host's?
            author = (staged[2], staged[4])
            host = self._hosted.get(author)
            if host is None:
                host = self._hosted[author] = is_host(_probe_message(staged), self._probe)
            if not host:
                return None
        return (at, staged[1], keys, _question_text(text, self.hashtag, self.labels))


def _member(members: dict[str, Any], name: str) -> dict[str, Any]:
    value = members.get(name)
    return value if isinstance(value, dict) else {}


def _has_list(path: Path, name: str) -> bool:
    """Whether the export's top-level member ``name`` is a list (read again: only an export
    without messages gets here)."""
    with open(path, "rb") as fh:
        if fh.read(len(BOM)) != BOM:
            fh.seek(0)
        for prefix, event, _value in ijson.parse(fh):
            if prefix == name:
                return bool(event == "start_array")
    return False


def _probe_message(staged: _Staged) -> IncomingMessage:
    """Enough of a message for is_host()."""
    return IncomingMessage(
        platform=PLATFORM,
        platform_id=staged[1],
        channel="",
        author_id=staged[2],
        author_name=staged[3],
        author_handle=staged[4],
        text=staged[5],
        created_at=datetime.fromisoformat(staged[6]),
    )


def source_key(channel_id: str, first_message_id: str) -> str:
    """The ``source`` recorded for an imported chat: the same export always gives the same."""
    return f"{IMPORTED_SOURCE}{channel_id}:{first_message_id}"


# ---- the import -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    chat: Chat
    created: bool  # False when the export had been imported before
    read: int  # messages in the export
    captured: int  # messages of the export that belong to the chat (an id listed twice counts once)
    new_messages: int  # rows the archive did not have before
    published: PublishResult | None = None  # when the import was asked to publish
    # A re-import: the options that changed the stored chat (``--host``, ``--title``...),
    # and whether its messages were captured again under new rules (changed_options()).
    changed: tuple[str, ...] = ()
    recaptured: bool = False
    # Captured messages listed again in the export under an id already read (a hand-merged
    # export): stored and counted once.
    repeated: int = 0


class PublishFailed(Exception):
    """The import of an export was committed, but its transcripts were not written: the
    disk or the transcripts' folder failed (OSError), the record of the files did
    (sqlite3.Error), or an interrupt came (KeyboardInterrupt; Ctrl-C, or SIGTERM as the
    command line turns it). ``result`` is the import (``published`` None), ``cause``
    the failure. The chat stays ended (or as it was, re-imported) and the transcripts'
    folder holds the files it had: importing the same export again writes them."""

    def __init__(self, result: ImportResult, cause: BaseException) -> None:
        super().__init__(f"{result.chat.id}: its transcripts were not written: {cause}")
        self.result = result
        self.cause = cause

    @property
    def interrupted(self) -> bool:
        """Whether an interrupt, not a failure, stopped the publication."""
        return isinstance(self.cause, KeyboardInterrupt)


# What stops the publication of an import already committed (see PublishFailed).
PUBLICATION_FAILURES = (OSError, sqlite3.Error, KeyboardInterrupt)


@contextmanager
def publishing(result: ImportResult) -> Iterator[None]:
    """Around what follows the commit of the import ``result``: a failure to write or record
    its transcripts, or an interrupt, raises :class:`PublishFailed` naming it."""
    try:
        yield
    except PUBLICATION_FAILURES as e:
        raise PublishFailed(replace(result, published=None), e) from e


def _topic_posts(scan: _Scan) -> None:
    """Keep, of a topic chat's labelled host and bot posts, the first of each label: the
    topic itself (a later ``T1 ...`` by a host is the host's answer to it)."""
    seen: set[str] = set()
    topics = []
    for entry in sorted(scan.questions, key=lambda q: q[0]):
        keys = entry[2]
        if any(key in seen for key in keys):
            continue
        seen.update(keys)
        topics.append(entry)
    scan.questions = topics


def _default_title(scan: _Scan, hashtag: str) -> str:
    """An imported chat's title without ``--title``: ``#WeDocs in #qi-chat``."""
    channel_name = _text(scan.channel.get("name")) or _ids(scan)[1]
    return f"{hashtag} in #{channel_name}"


def _build_chat(
    scan: _Scan,
    *,
    hashtag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    labels: Labels = DEFAULT_LABELS,
) -> Chat:
    assert scan.first_at is not None and scan.last_at is not None
    start = min(at for at, *_ in scan.questions) if scan.questions else scan.first_at
    seen: dict[str, Question] = {}
    for at, _mid, keys, text in sorted(scan.questions, key=lambda q: q[0]):
        for key in keys:
            if key in seen:
                continue
            number = int(key.rstrip("abcdefghijklmnopqrstuvwxyz"))
            seen[key] = Question(number, text, at - start, key[len(str(number)) :])
    end = max(scan.last_at, start)
    return Chat(
        id="",
        title=title or _default_title(scan, hashtag),
        hashtag=hashtag,
        start=start,
        end=end,
        timezone=timezone,
        questions=tuple(seen.values()),
        targets=(Target(PLATFORM, _ids(scan)[1]),),
        hosts=hosts,
        # Published once its transcripts are written and recorded (Store.mark_published):
        # an import whose publication fails, or that was not asked for one, says so.
        status=ChatStatus.ENDED,
        grace=timedelta(0),
        labels=labels,
    )


def changed_options(existing: Chat, chat: Chat) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The options of a re-import that make ``chat`` (as this import builds it) differ from
    the ``existing`` one: first those the capture rules and the chat's questions depend on
    (the hashtag, which messages carry and which a question post's text drops; the hosts,
    whose labelled posts are the questions; the label convention), then those that only
    change how the chat is shown (its title, time zone, language, and the spelling of a
    hashtag or a host that the rules read alike)."""
    rules: list[str] = []
    shown: list[str] = []
    if existing.hashtag.casefold() != chat.hashtag.casefold():
        rules.append("--hashtag")
    elif existing.hashtag != chat.hashtag:
        shown.append("--hashtag")
    if host_idents(existing.hosts) != host_idents(chat.hosts):
        rules.append("--host")
    elif existing.hosts != chat.hosts:
        shown.append("--host")
    if existing.labels != chat.labels:
        rules.append("--labels")
    for option, name in (
        ("--title", "title"),
        ("--timezone", "timezone"),
        ("--language", "language"),
    ):
        if getattr(existing, name) != getattr(chat, name):
            shown.append(option)
    return tuple(rules), tuple(shown)


def _export_ids(spill: _Spill) -> set[str]:
    """The ids of the export's staged messages (every one that could be captured)."""
    return {staged[1] for batch in spill.batches() for staged in batch}


def import_discord_export(
    store: Store,
    path: Path,
    *,
    hashtag: str,
    hosts: tuple[str, ...] = (),
    title: str = "",
    timezone: str = "UTC",
    progress: Progress | None = None,
    labels: Labels = DEFAULT_LABELS,
    language: str = "en",
    publish: PublishOptions | None = None,
) -> ImportResult:
    """Archive the export at ``path`` as an ended chat; re-importing changes nothing.

    ``labels`` is the chat's label convention (:mod:`archive.labels`): which posts are
    questions (``Q1``; ``C1`` in a Welsh chat) and which labels answer them (``A1``; ``R1``
    in a French chat); it is stored with the chat, for its transcripts.
    ``language`` is the chat's (BCP 47, ``archive.i18n``): its transcripts are written in it.
    Raises :class:`ExportError` (and leaves the archive untouched) for a bad option or file;
    :class:`PublishFailed` when the import was committed but publishing it failed.

    ``publish``: also publish the chat there (``ImportResult.published``: what
    :func:`archive.publish.publish_chat` returns, the same files and record). This is the
    two-pass import: :func:`archive.importers.one_pass.import_discord_export` (the one
    commands use) tries one pass first for a new chat to publish. A new chat is rendered by
    the worker from the rows it captures while this process saves them (see "the worker");
    otherwise (a re-import, a case the rows alone cannot settle: messages
    out of time order, an opted-out participant's handle to hide, stakeholder groups, a
    failure of the worker's rendering) it is published from the store once imported.
    The chat becomes published with the record of its transcripts (a re-imported one
    keeps its status). Without it, transcripts are not written: publish the returned chat
    afterwards.

    A stream (``/dev/stdin``, a FIFO) is copied to a regular file first, read twice
    (:func:`archive.importers.streams.readable_again`).
    """
    with readable_again(path, store.path) as readable:
        return _import_file(
            store,
            readable,
            hashtag=hashtag,
            hosts=hosts,
            title=title,
            timezone=timezone,
            progress=progress,
            labels=labels,
            language=language,
            publish=publish,
        )


def _import_file(
    store: Store,
    path: Path,
    *,
    hashtag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    progress: Progress | None,
    labels: Labels,
    language: str,
    publish: PublishOptions | None,
) -> ImportResult:
    """:func:`import_discord_export` of a file that can be read more than once."""
    tag, language, hosts = checked_request(hashtag, timezone, language, hosts)
    # Beside the archive: the same file system, and the space the rows will need anyway.
    spill = _Spill(store.path.parent if store.path != Path(":memory:") else None)
    # The worker is forked: not while the thread a previous import left (its search index
    # and checkpoint, usually over by now) runs SQLite, whose locks the child would copy.
    store.wait_for_background()
    try:
        with paused_gc(), _Worker(path, spill) as worker:
            scan = _read(path, tag, hosts, spill, worker, progress, labels)
            spill.finish()
            if labels.topics:
                _topic_posts(scan)
            result = _capture(
                store,
                path,
                scan,
                spill,
                worker,
                tag,
                hosts,
                title,
                timezone,
                progress,
                labels,
                language,
                publish,
            )
    finally:
        spill.close()
    if publish is not None and result.published is None:
        # Published from the store, as any chat (the staged messages' files are gone: the
        # publication's own take their place on the disk).
        with publishing(result):
            result = published_from_store(store, result, publish, progress)
    return result


def checked_request(
    hashtag: str, timezone: str, language: str, hosts: tuple[str, ...]
) -> tuple[str, str, tuple[str, ...]]:
    """The hashtag normalised, the language as a BCP 47 tag, the hosts stripped;
    :class:`ExportError` names a bad ``--hashtag``, ``--timezone`` or ``--language``."""
    tag = _validate(hashtag, timezone)
    try:
        language = language_tag(language)
    except ValueError as e:
        raise ExportError(f"--language: {e}") from None
    return tag, language, tuple(h.strip() for h in hosts if h.strip())


def published_from_store(
    store: Store, result: ImportResult, publish: PublishOptions, progress: Progress | None
) -> ImportResult:
    """``result`` with its chat published from the store (as any chat), and marked
    published. Raises OSError or sqlite3.Error (:func:`archive.publish.publish_with`)."""
    if progress is not None:
        progress("publishing", result.read, 0.0)
    with paused_gc():
        published = publish_with(store, result.chat, publish, mark_published=True)
    return replace(result, chat=published.chat, published=published)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything).

    An import makes millions of short-lived, acyclic objects (parsed messages, rows); each
    collection would walk every live one again for nothing: 10-20% of an import or a
    publication of 100k messages.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _capture(
    store: Store,
    path: Path,
    scan: _Scan,
    spill: _Spill,
    worker: _Worker,
    tag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    progress: Progress | None,
    labels: Labels = DEFAULT_LABELS,
    language: str = "en",
    publish: PublishOptions | None = None,
) -> ImportResult:
    """Build (or find) the chat, have the worker put the staged messages through the capture
    rules, and save the rows it sends back, in one transaction; publish the chat when asked
    and its rows settle its transcripts (rendered as they are saved: see "the worker"; else
    ``published`` is None and the caller publishes from the store)."""
    _guild_id, channel_id = _ids(scan)
    source = source_key(channel_id, scan.first_id)
    draft = replace(
        _build_chat(scan, hashtag=tag, hosts=hosts, title=title, timezone=timezone, labels=labels),
        language=language,
    )
    captured = done = 0
    published = None
    committed: ImportResult | None = None
    try:
        with contextlib.ExitStack() as stack:
            # The search index of the rows is made once they are committed, on another thread
            # (while the import is published): one statement for all of them, off this core.
            with store.bulk_load(after=index_search), store.transaction():
                existing = store.find_chat_by_source(source)
                rules: tuple[str, ...] = ()
                changed: tuple[str, ...] = ()
                stored: set[str] = set()
                if existing is not None:
                    # Its status too: a published chat stays so (its files stand until the
                    # publication after this import replaces them).
                    chat = replace(
                        draft,
                        id=existing.id,
                        created_at=existing.created_at,
                        status=existing.status,
                    )
                    rules, shown = changed_options(existing, chat)
                    if not title and existing.title == _default_title(scan, existing.hashtag):
                        # The default title follows the hashtag: no --title was given or changed.
                        shown = tuple(option for option in shown if option != "--title")
                    changed = rules + shown
                    stored = store.platform_ids(existing.id, PLATFORM)
                    missing = stored - _export_ids(spill)
                    if missing and rules:
                        # Captured again from this export, they would be dropped: refused.
                        raise ExportError(
                            f"{path}: {existing.id} holds {len(missing)} messages that are not in "
                            "this export (a longer export of the channel added them); importing it "
                            f"again with the new options ({', '.join(rules)}) would lose them: "
                            "re-import the longest export of the channel with those options"
                        )
                    if missing:
                        # An older, shorter export of a chat a longer one extended: the chat keeps
                        # its questions, start and end; only how it is shown may change.
                        chat = replace(
                            existing,
                            title=chat.title,
                            hashtag=chat.hashtag,
                            hosts=chat.hosts,
                            timezone=chat.timezone,
                            language=chat.language,
                        )
                    if chat != existing:  # a later export of the same channel, or new options
                        chat = store.add_chat(chat, source=source, replace_existing=True)
                else:
                    base = chat_id_for(tag, draft.start.astimezone(draft.zone))
                    chat = store.add_chat(
                        replace(draft, id=store.unique_chat_id(base)), source=source
                    )
                # A chat just added holds no message (its id was free).
                before = 0 if existing is None else store.count_messages(chat.id)
                rendering = None
                picked = None
                # The ids captured, for a re-import's count of them (a new chat counts its rows).
                ids: set[str] | None = None if existing is None else set()
                if publish is not None and existing is None and worker.forked:
                    try:
                        staging = stack.enter_context(staging_folder(publish.out_dir))
                    except OSError as e:  # the publication after the import reports it
                        logger.info("%s: not rendered while imported: %s", path, e)
                    else:
                        # Closed before the staging folder is removed, whatever happens.
                        stack.callback(worker.close)
                        opted_out = store.opted_out()
                        rendering = _Rendering(staged_paths(chat, staging), opted_out)
                        # The highlights are picked from the rows too (publication_inputs takes
                        # them when nothing else decides them: no engagement recorded).
                        picked = RowHighlights(chat, publish.highlights, opted_out=opted_out)
                renderer = stack.enter_context(
                    contextlib.closing(_Renderer(chat, rendering, IMPORTER_FORMATS, counted=False))
                )
                # Options that change the capture rules: every message is judged again, and the
                # verdicts (kind, question keys, late) replace those stored.
                verdicts: list[tuple[str, str, int, str]] | None = [] if rules else None
                # While the worker captures the next batch, this process saves the last one
                # (and renders its share of the transcripts from it).
                for count, rows in worker.capture(scan, spill, chat, iso(store.now()), rendering):
                    done += count
                    captured += len(rows)
                    store.save_message_rows(rows, index=False, all_new=existing is None)
                    if ids is not None:
                        ids.update(cast(str, r[2]) for r in rows)
                    if verdicts is not None:
                        verdicts.extend(
                            (cast(str, r[9]), cast(str, r[10]), cast(int, r[11]), cast(str, r[2]))
                            for r in rows
                        )
                    renderer.feed(rows)
                    if picked is not None:
                        picked.feed(rows)
                    if progress is not None:
                        progress("imported", scan.count, done / max(scan.staged, 1))
                if verdicts is not None:
                    dropped = store.recapture_messages(chat.id, PLATFORM, verdicts)
                    new = len({v[3] for v in verdicts} - stored)
                    logger.info(
                        "%s captured again with new options (%s): %d messages no longer belong",
                        chat.id,
                        ", ".join(rules),
                        dropped,
                    )
                else:
                    new = store.count_messages(chat.id) - before
                # An id listed twice is one message (its copies saved as one row).
                distinct = new if ids is None else len(ids)
                generation = store.generation_at_commit()
            # Committed: the search index is made on another thread from here on. What
            # fails from here on fails the publication only (PublishFailed).
            committed = ImportResult(
                chat,
                existing is None,
                scan.count,
                distinct,
                new,
                changed=changed,
                recaptured=bool(rules),
                repeated=captured - distinct,
            )
            if progress is not None:
                progress("imported", scan.count, 1.0)
            if rendering is not None and worker.rendered:
                assert publish is not None
                # The rows rendered are the chat's rows only if every one was inserted as sent
                # (none already stored, no repeat in the export).
                published = _publish_rendered(
                    store,
                    chat,
                    worker,
                    renderer,
                    rendering,
                    picked,
                    publish,
                    generation=generation if new == captured else None,
                    progress=progress,
                    count=scan.count,
                )
    except PUBLICATION_FAILURES as e:
        if committed is None:  # rolled back: the archive is untouched
            raise
        raise PublishFailed(committed, e) from e
    assert committed is not None
    logger.info(
        "imported %s from %s: %d messages read, %d captured, %d new",
        chat.id,
        path,
        scan.count,
        committed.captured,
        new,
    )
    if published is not None:
        committed = replace(committed, chat=published.chat)
    return replace(committed, published=published)


def settled_inputs(
    store: Store,
    chat: Chat,
    renderer: _Renderer,
    rendering: _Rendering,
    picked: RowHighlights | None,
    publish: PublishOptions,
    generation: int | None,
) -> PublicationInputs | None:
    """What the publication of the rows rendered as imported reads beside them, once
    committed at ``generation`` (None: the chat's rows are not those rendered), when those
    rows settle the transcripts a publication from the store would write; else None (the
    chat is then published from the store; a stopped rendering is logged)."""
    inputs = None
    if renderer.stopped:
        logger.info("%s: not rendered while imported: %s", chat.id, renderer.stopped)
    elif generation is not None:
        with store.snapshot():
            if store.generation() == generation:  # nothing written since the import
                inputs = publication_inputs(store, chat, publish.highlights, rows_highlights=picked)
    if inputs is None or not inputs.settled_by_rows(rendering.opted_out):
        return None
    return inputs


def _publish_rendered(
    store: Store,
    chat: Chat,
    worker: _Worker,
    renderer: _Renderer,
    rendering: _Rendering,
    picked: RowHighlights | None,
    publish: PublishOptions,
    *,
    generation: int | None,
    progress: Progress | None,
    count: int,
) -> PublishResult | None:
    """Publish the transcripts rendered as the chat's rows were captured (``renderer`` here,
    the worker's part there), once the import committed them at ``generation`` (None: the
    chat's rows are not those rendered); None (and the worker told) when they do not make
    the transcripts a publication from the store would (see :class:`_Rendering`) or when
    writing them failed (logged): the chat is then published from the store. Raises
    OSError or sqlite3.Error when the files cannot be moved into place or recorded."""
    inputs = settled_inputs(store, chat, renderer, rendering, picked, publish, generation)
    if inputs is None:
        worker.abandon_rendering()
        return None
    assert generation is not None
    if progress is not None:
        progress("publishing", count, 0.0)
    try:
        assert worker.counter is not None  # sent with the end of a capture fully rendered
        stats = inputs.stats(worker.counter)
    except Exception as e:  # the import stands: the chat is published from the store
        logger.warning("%s: its statistics as imported failed: %r", chat.id, e)
        worker.abandon_rendering()
        return None
    if not worker.finish_rendering(inputs, publish, stats):
        return None
    try:
        renderer.finish(inputs, publish.generated_at, publish.cost_note, stats)
        hashed = renderer.digests()  # while the worker hashes its files
    except Exception as e:  # the import stands: the chat is published from the store
        # A full disk fails that too, and is reported then: a warning only for the rest.
        level = logging.INFO if isinstance(e, OSError) else logging.WARNING
        logger.log(level, "%s: writing its transcripts as imported failed: %r", chat.id, e)
        return None
    theirs = worker.rendered_digests()
    if theirs is None:
        return None
    # The record is a write: it waits for the search index (a write transaction as long as
    # the import is big) here, not on SQLite's busy timeout.
    store.wait_for_background()
    published = publish_staged(
        store,
        chat,
        rendering.paths,
        stats,
        publish,
        generation=generation,
        hashed=hashed | theirs,
        mark_published=True,
    )
    logger.info("%s rendered from the import's rows while they were saved", chat.id)
    return published


def _context(scan: _Scan, chat: Chat) -> CaptureContext:
    """What the capture rules need to know about the export beside the chat."""
    question_times = tuple(sorted((at, keys[0]) for at, _mid, keys, _text in scan.questions))
    question_posts = {mid: keys[0] for _at, mid, keys, _text in scan.questions}
    return CaptureContext(
        chat=chat,
        question_posts=question_posts,
        chat_posts=frozenset(scan.bot_posts | question_posts.keys()),
        question_times=question_times,
        bot_ids=frozenset(scan.bot_authors),
    )


Row = list[object]  # the parameters of UPSERT_MESSAGE (archive.store.messages.message_row)


class _Incoming(NamedTuple):
    """What the capture rules read of an imported message (:class:`archive.capture.Message`):
    the fields of its :class:`IncomingMessage`, in a tuple a tenth as dear to build."""

    platform_id: str
    channel: str
    author_id: str
    author_handle: str
    text: str
    created_at: datetime
    reply_to: str
    is_repost: bool
    is_bot: bool
    edited_at: datetime | None
    mentions: tuple[str, ...]
    platform: str = PLATFORM


def _captured_rows(
    scan: _Scan, spill: _Spill, chat: Chat, now: str
) -> Iterator[tuple[int, list[Row], list[int]]]:
    """For each staged batch: how many staged messages it held, the rows of those that
    belong to ``chat`` (captured at ``now``, as :func:`archive.store.iso`) without their
    raw payload (``""`` at :data:`RAW_COLUMN`), and where in the batch each of them was."""
    channel_id, link = _link_base(scan)
    ctx = _context(scan, chat)
    chat_id = chat.id
    for staged_batch in spill.batches():
        rows: list[Row] = []
        kept: list[int] = []
        for position, staged in enumerate(staged_batch):
            row = _captured_row(staged, ctx, chat_id, channel_id, link, now)
            if row is not None:
                rows.append(row)
                kept.append(position)
        yield len(staged_batch), rows, kept


def _link_base(scan: _Scan) -> tuple[str, str]:
    """The channel's id, and its messages' permalinks up to their id."""
    guild_id, channel_id = _ids(scan)
    place = guild_id if guild_id and guild_id != "0" else "@me"
    return channel_id, f"https://discord.com/channels/{place}/{channel_id}/"


_parse_time = datetime.fromisoformat


def _captured_row(
    staged: _Staged,
    ctx: CaptureContext,
    chat_id: str,
    channel_id: str,
    link: str,
    now: str,
    raw: str | bytes = "",
    at: datetime | None = None,
) -> Row | None:
    """The row (``INSERT_MESSAGE``'s parameters) of a staged message that belongs to
    ``ctx.chat`` under the capture rules, with ``raw`` as its payload; None when it does not
    belong. ``link``: the channel's permalinks up to the message id (:func:`_link_base`);
    ``at``: its time, when the caller has it parsed already."""
    (
        _index,
        mid,
        author_id,
        author_name,
        handle,
        text,
        stamp,
        reply_to,
        is_bot,
        edited,
        mentions,
        reactions,
        is_repost,
        attachments,
    ) = staged
    verdict = judge(
        _Incoming(
            mid,
            channel_id,
            author_id,
            handle,
            text,
            _parse_time(stamp) if at is None else at,
            reply_to,
            is_repost,
            is_bot,
            None if edited is None else _parse_time(edited),
            mentions,
        ),
        ctx,
    )
    if verdict is None:
        return None
    # The row of the CapturedMessage that capture() would make, without making it.
    at, kind, keys, late, edited_at, mentioned = verdict
    return [
        *row_of(
            chat_id,
            PLATFORM,
            mid,
            channel_id,
            author_id,
            author_name,
            handle,
            text,
            _stored_time(stamp, at),
            kind,
            keys,
            late,
            reply_to,
            link + mid,
            edited_at,
            None,  # deleted_at
            mentioned,
            reactions,
            raw,  # type: ignore[arg-type]  # bytes from the one pass: decoded by its importer
            now,
            _attachments(attachments),
        )
    ]


# ---- the worker ------------------------------------------------------------------------------
#
# Two cores share an import. A worker process (forked) parses the export with ijson and
# encodes each message as the JSON text the store keeps, while the importer converts the
# messages, finds the questions and stages them in the spill; once the questions are known,
# the worker puts the staged messages (read from the spill, which it shares) through the
# capture rules while the importer writes the rows it sends back to SQLite. They talk over a
# pipe in frames, the first byte saying what follows:
#
#   worker -> importer: P (messages read, fraction of the file), after each chunk; marshal
#                       M [JSON text of a message, ...], in file order; marshal
#                       S the parse is over: (messages, {member: value}); marshal
#                       R (staged messages done, [row without its payload, ...],
#                          [where each row's message was in its batch, ...]); marshal
#                       D the capture is over: (why the rows were not rendered, "" when
#                         they were; then what it counted of them, a StatsCounter); pickle
#                       W its share of the rendered transcripts is written: {format:
#                         (size, SHA-256)}; marshal
#                       E an ExportError's message (the file is bad); pickle
#                       F a traceback (the worker failed: a bug, out of memory...); pickle
#   importer -> worker: C (the scan, the chat, captured_at, a _Rendering or None): capture
#                         the spill (and render its rows); pickle
#                       B (PublicationInputs, generated_at, cost_note, ChatStats): write
#                         the rendered transcripts; pickle
#                       X the rendering is not wanted after all
#
# A new chat that the import is asked to publish is rendered as it is captured, by both
# (archive.publish.RowPublication: statistics, list items, JSON entries, in spills in the
# publication's staging folder), from the rows the worker sends; the chat's rows in the store will
# be exactly those, in that order, if every one is inserted (the importer checks) and the
# export is in time order (the worker checks). Once the rows are committed, the importer
# reads what the publication needs beside them (highlights, earlier chats...) in one
# snapshot, checked to be the state its commit made (its generation); both write their
# documents from their spills (the statistics made by the importer from what the worker
# counted, sent with its D, and given back with the B); the importer moves them into place
# and records them. When
# the rows alone cannot settle the transcripts (see RowPublication), another process wrote
# in between, or either side's rendering fails (or the worker is gone), the chat is
# published from the store as after any import.
#
# The messages parsed before a syntax error are sent before its E, so errors come in file
# order, as from one process. Nothing is written before the read is over, so a bad file
# fails before the transaction opens; any failure after it (E, F, the worker's death, a save
# that fails here) rolls the one transaction back. Off Linux the worker is a thread: the
# same frames, one core.
#
# The texts cross as orjson wrote them and are parsed again here by orjson: exactly the
# values ijson gave (ijson refuses integers beyond 64 bits and infinite numbers, and gives
# no lone surrogates, so orjson encodes all it gives, and its floats read back the same).


class ImportWorkerError(ExportError):
    """The import's worker process failed (the message carries its traceback) or died (its
    exit code) during the import; the archive is left untouched. (Once the import is
    committed, a failure of its rendering is logged and the chat published from the store.)
    An :class:`ExportError`, so that a command importing several files reports it by the
    file's name and goes on with the others."""


def _fork_context() -> multiprocessing.context.ForkContext | None:
    """The ``fork`` start method on Linux: a forked worker needs no imports or arguments
    pickled, and starts in milliseconds. (macOS has ``fork`` too, but its system libraries
    do not promise to work in a forked child: there, and elsewhere, the worker is a thread.)"""
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - the tests run on Linux, and patch this for a thread
    return multiprocessing.get_context("fork")


@contextmanager
def reported(conn: Connection) -> Iterator[None]:
    """Around a worker's work: its failure told to the importer (an :class:`ExportError`'s
    message in an ``E`` frame, any other's traceback in an ``F`` frame; nothing when the
    importer is gone), and its end of the pipe closed."""
    try:
        yield
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the importer is gone (it failed, gave up, or was stopped): nothing to tell
    except ExportError as e:
        _tell(conn, b"E" + pickle.dumps(str(e)))
    except BaseException:  # every failure is reported to the importer
        _tell(conn, b"F" + pickle.dumps(traceback.format_exc()))
    finally:
        conn.close()


def _work(conn: Connection, path: Path, spill: _Spill) -> None:
    """The worker: parse the export and send its messages, wait for the chat, send the rows
    of the staged messages that it captures (see the frames above)."""
    with reported(conn):
        _parse(conn, path)
        scan, chat, now, rendering = pickle.loads(conn.recv_bytes()[1:])
        renderer = _Renderer(chat, rendering, WORKER_FORMATS)
        try:
            for count, rows, kept in _captured_rows(scan, spill, chat, now):
                conn.send_bytes(b"R" + marshal.dumps((count, rows, kept)))
                renderer.feed(rows)  # while the importer saves them
            conn.send_bytes(b"D" + renderer.end_of_capture())
            if not renderer.stopped:
                frame = conn.recv_bytes()
                if frame[:1] == b"B":
                    inputs, generated_at, cost_note, stats = pickle.loads(frame[1:])
                    renderer.finish(inputs, generated_at, cost_note, stats)
                    conn.send_bytes(b"W" + marshal.dumps(renderer.digests()))
        finally:
            renderer.close()


def _forked_work(
    importers_end: Connection, work: Callable[..., None], conn: Connection, *args: Any
) -> None:
    """``work(conn, *args)`` (:func:`_work`, or the one-pass import's) in a forked worker,
    which first closes its copy of the importer's end of the pipe: else, when the importer
    stops (an export refused once read, a failed save), the worker waiting for its next
    frame would never read EOF, and the importer would wait for it until its close()
    terminates it, 10 s later.

    SIGTERM and SIGHUP end the worker at once, as by default, even when its importer had
    them raise KeyboardInterrupt (``tweetchat import``): the importer cleans up, and its
    ``close()`` must be able to terminate a worker stuck where no handler runs."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) is signal.default_int_handler:
            signal.signal(sig, signal.SIG_DFL)
    importers_end.close()
    work(conn, *args)


# A row of _captured_rows (the parameters of INSERT_MESSAGE) as the store gives it back to a
# publication: its TRANSCRIPT_COLUMNS (archive.store.messages), in that order.
_TRANSCRIPT_ROW = operator.itemgetter(1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 20)


# Who renders which transcript of a new chat as it is captured: the worker the JSON entries
# and the statistics, besides capturing; the importer the Markdown and HTML (their list
# items), besides saving the rows and picking the highlights: about as long on either side
# (benchmarks/README.md, "seventh round").
WORKER_FORMATS = ("json",)
IMPORTER_FORMATS = ("md", "html")


@dataclass(frozen=True)
class _Rendering:
    """A new chat's transcripts rendered as it is captured: format -> file in the
    publication's staging folder, and the opt-outs as they stand."""

    paths: dict[str, Path]
    opted_out: frozenset[str]


class _Renderer:
    """One side's share (``formats``) of a :class:`_Rendering` (None: nothing asked), in
    the worker or the importer. ``stopped`` says why it rendered nothing, or stopped: the
    rows out of time order, a second network, a failure (disk full...): the chat is then
    published from the store."""

    def __init__(
        self,
        chat: Chat,
        rendering: _Rendering | None,
        formats: tuple[str, ...],
        *,
        counted: bool = True,
    ) -> None:
        self.stopped = "" if rendering is not None else "not asked"
        self._last = ""
        self._publication: RowPublication | None = None
        if rendering is not None:
            paths = {fmt: rendering.paths[fmt] for fmt in formats}
            try:
                self._publication = RowPublication(
                    chat, paths, opted_out=rendering.opted_out, counted=counted
                )
            except Exception as e:
                self._stop(f"it could not start: {e}")

    def feed(self, rows: list[Row]) -> None:
        """Render the next captured rows (a batch of :func:`_captured_rows`)."""
        if self._publication is None or not rows:
            return
        projected = list(map(_TRANSCRIPT_ROW, rows))
        times = [row[6] for row in projected]  # iso() text: sorts as the instants do
        # The store gives a chat's rows by time, then in the order saved (file order here).
        if times[0] < self._last or times != sorted(times):
            self._stop("the export's messages are not in time order")
            return
        self._last = times[-1]
        try:
            self._publication.feed(projected)
        except SeveralNetworks as e:
            self._stop(f"messages from several networks ({e})")
        except Exception as e:
            self._stop(f"it failed: {e!r}")

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.close()

    def digests(self) -> dict[str, Digest]:
        """The digests of the files written (:meth:`RowPublication.digests`)."""
        assert self._publication is not None
        return self._publication.digests()

    def stats(self, inputs: PublicationInputs) -> ChatStats:
        """The statistics of the rows (:meth:`RowPublication.stats`)."""
        assert self._publication is not None
        return self._publication.stats(inputs)

    def add_question(self, chat: Chat, key: str) -> None:
        """:meth:`RowPublication.add_question` (nothing once stopped)."""
        if self._publication is not None:
            self._publication.add_question(chat, key)

    def settle(self, chat: Chat) -> None:
        """:meth:`RowPublication.settle` (nothing once stopped)."""
        if self._publication is not None:
            self._publication.settle(chat)

    def end_of_capture(self) -> bytes:
        """The ``D`` frame's body: why nothing (more) was rendered ("" when every row was)
        and, when every row was, what was counted of them (:attr:`RowPublication.counter`);
        a counter that cannot be sent stops the rendering."""
        counter = None
        if self._publication is not None:
            try:
                counter = self._publication.counter
                return pickle.dumps((self.stopped, counter))
            except Exception as e:
                self._stop(f"its statistics could not be sent: {e!r}")
        return pickle.dumps((self.stopped, None))

    def finish(
        self,
        inputs: PublicationInputs,
        generated_at: datetime | None,
        cost_note: str,
        stats: ChatStats | None = None,
    ) -> ChatStats:
        """Write the documents (:meth:`RowPublication.finish`); the statistics."""
        assert self._publication is not None
        return self._publication.finish(
            inputs, generated_at=generated_at, cost_note=cost_note, stats=stats
        )

    def close(self) -> None:
        if self._publication is not None:
            self._publication.close()
            self._publication = None


def _parse(conn: Connection, path: Path) -> None:
    def report(n: int, fraction: float) -> None:
        conn.send_bytes(b"P" + marshal.dumps((n, fraction)))

    reader = ExportReader(
        path, stream="messages", members=("guild", "channel"), item="message", on_progress=report
    )
    texts: list[str] = []
    try:
        for raw, _index in reader:
            texts.append(export_json(raw))
            if len(texts) >= TEXTS_PER_FRAME:
                conn.send_bytes(b"M" + marshal.dumps(texts))
                texts = []
    finally:  # what was parsed before an error too: its messages' errors come first
        if texts:
            conn.send_bytes(b"M" + marshal.dumps(texts))
    conn.send_bytes(b"S" + marshal.dumps((reader.count, reader.members)))


def _tell(conn: Connection, frame: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.send_bytes(frame)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # pragma: no cover - export_json's json fallback
        return json.loads(text)


class _Worker:
    """The importer's end of the worker (a context manager: leaving it stops the worker)."""

    def __init__(
        self,
        path: Path,
        spill: _Spill | None = None,
        *,
        work: Callable[..., None] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        """Start the worker: ``work(its end of the pipe, *args)``, :func:`_work` on
        ``path`` and ``spill`` by default."""
        self._path = path
        self.count = 0  # messages in the export, once messages() is over
        self.members: dict[str, Any] = {}  # its guild and channel, once messages() is over
        self._counts: list[int] = []  # messages parsed after each chunk (for offset_of)
        self.rendered = False  # whether the worker rendered every row (capture() over)
        # what the worker counted of the rows it rendered (StatsCounter), once capture() is over
        self.counter: Any = None
        context = _fork_context()
        self._conn, theirs = multiprocessing.Pipe()
        _widen(self._conn, theirs)
        if work is None:
            work, args = _work, (path, spill)
        self._process: multiprocessing.process.BaseProcess | None = None
        if context is not None:
            self._process = context.Process(
                target=_forked_work,
                args=(self._conn, work, theirs, *args),
                name="tweetchat-import",
                daemon=True,
            )
            self._process.start()
            theirs.close()  # the worker's end: closed here, its death reads as EOF
        else:
            threading.Thread(
                target=work, args=(theirs, *args), name="tweetchat-import", daemon=True
            ).start()
        # A worker thread would render on this process's core: nothing gained.
        self.forked = self._process is not None

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop talking; a worker still busy gets EOF or a broken pipe and ends; one that
        does not within 10 s is terminated."""
        self._conn.close()
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():  # pragma: no cover - stuck: it cannot be waited for
                self._process.terminate()
                self._process.join()

    def _receive(self) -> tuple[bytes, bytes]:
        try:
            frame = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise ImportWorkerError(self._died()) from None
        kind, body = frame[:1], frame[1:]
        if kind == b"E":
            raise ExportError(pickle.loads(body))
        if kind == b"F":
            raise ImportWorkerError(
                f"{self._path}: the import failed in its worker process:\n{pickle.loads(body)}"
            )
        return kind, body

    def _died(self) -> str:
        code = None
        if self._process is not None:
            self._process.join(5)
            code = self._process.exitcode
        how = f" (exit code {code})" if code is not None else ""
        return f"{self._path}: the import's worker process stopped unexpectedly{how}"

    def _unexpected(self, kind: bytes) -> ImportWorkerError:
        return ImportWorkerError(f"{self._path}: unexpected {kind!r} from the import's worker")

    def messages(self, progress: Progress | None) -> Iterator[tuple[Any, int, str]]:
        """Every message of the export as (its value, its 1-based position, its JSON text),
        in file order, reporting the progress of the parse; raises :class:`ExportError`
        for a file that is not JSON (at the point where the file breaks)."""
        index = 0
        loads = _loads
        while True:
            kind, body = self._receive()
            if kind == b"M":
                for text in marshal.loads(body):
                    index += 1
                    yield loads(text), index, text
            elif kind == b"P":
                n, fraction = marshal.loads(body)
                self._counts.append(n)
                if progress is not None:
                    progress("reading", n, fraction)
            elif kind == b"S":
                self.count, self.members = marshal.loads(body)
                return
            else:
                raise self._unexpected(kind)

    def offset_of(self, position: int) -> int:
        """Where message ``position`` starts in the file (:meth:`ExportReader.offset_of`)."""
        reader = ExportReader(self._path, stream="messages", item="message", counts=self._counts)
        return reader.offset_of(position)

    def capture(
        self,
        scan: _Scan,
        spill: _Spill,
        chat: Chat,
        now: str,
        rendering: _Rendering | None = None,
    ) -> Iterator[tuple[int, list[Row]]]:
        """Have the worker capture the staged messages for ``chat``: (staged messages done,
        their rows) per batch, as :func:`_captured_rows`, with their raw payloads; and render
        them as they go when ``rendering`` (:attr:`rendered` says, once over, whether every
        one was: then :meth:`finish_rendering` or :meth:`abandon_rendering`)."""
        self._conn.send_bytes(b"C" + pickle.dumps((scan, chat, now, rendering)))
        raw_batches = spill.raws()
        while True:
            kind, body = self._receive()
            if kind == b"D":
                stopped, self.counter = pickle.loads(body)
                self.rendered = rendering is not None and not stopped
                if rendering is not None and stopped:
                    logger.info("%s: not rendered while imported: %s", self._path, stopped)
                return
            if kind != b"R":
                raise self._unexpected(kind)
            count, rows, kept = marshal.loads(body)
            raws = next(raw_batches)
            for row, position in zip(rows, kept, strict=True):
                row[RAW_COLUMN] = raws[position]
            yield count, rows

    def finish_rendering(
        self, inputs: PublicationInputs, options: PublishOptions, stats: ChatStats
    ) -> bool:
        """Have the worker write the transcripts it rendered, with ``inputs`` (read once
        the rows were saved) and the statistics made of what it counted: then
        :meth:`rendered_digests`. False, logged, when the worker is gone (killed since the
        capture: the chat is then published from the store)."""
        payload = (inputs, options.generated_at, options.cost_note, stats)
        try:
            self._conn.send_bytes(b"B" + pickle.dumps(payload))
        except OSError:
            logger.warning("%s", self._died())
            return False
        return True

    def abandon_rendering(self) -> None:
        """Tell the worker its rendering is not wanted (it removes it and ends); a worker
        already gone needs no telling."""
        with contextlib.suppress(OSError):
            self._conn.send_bytes(b"X")

    def _rendered(self, expected: bytes) -> bytes | None:
        try:
            kind, body = self._receive()
        except ExportError as e:
            logger.warning("the import's rendering of the transcripts failed: %s", e)
            return None
        if kind != expected:
            logger.warning("%s", self._unexpected(kind))
            return None
        return body

    def rendered_digests(self) -> dict[str, Digest] | None:
        """The digests of the transcripts the worker wrote (:meth:`finish_rendering`);
        None, logged, when it failed to (the chat is then published from the store)."""
        body = self._rendered(b"W")
        return None if body is None else cast(dict[str, Digest], marshal.loads(body))


# What each end of the worker's pipe may hold in flight (the kernel caps it at
# net.core.wmem_max / rmem_max: 208 KiB on most Linux systems, which it doubles).
PIPE_BUFFER = 4 << 20


def _widen(*ends: Connection) -> None:
    """Ask for :data:`PIPE_BUFFER` bytes of socket buffer on each end (a socket pair on
    Linux). The frames the two processes exchange weigh 0.5-1.2 MB (2,000 messages' texts,
    or rows): with the default buffer, a side sending one waits until the other has read
    it all, so each one's slower moments stall the other (per 100k messages, ~0.3 s of
    blocked sends and ~0.4 s of waits for frames); a buffer of a few frames lets either run
    ahead (benchmarks/README.md, "seventh round"). Not a socket (another platform's
    pipe): left as it is."""
    for end in ends:
        try:
            sock = socket.socket(fileno=end.fileno())
        except OSError:
            continue
        try:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, PIPE_BUFFER)
        except OSError as e:  # pragma: no cover - a socket that refuses: the default stays
            logger.debug("the import's pipe keeps its default buffer: %s", e)
        finally:
            sock.detach()  # the Connection keeps the descriptor


def check_options(hashtag: str, timezone: str) -> str:
    """The hashtag, normalised; :class:`ExportError` names a bad ``--hashtag``/``--timezone``."""
    return _validate(hashtag, timezone)


def _validate(hashtag: str, timezone: str) -> str:
    try:
        tag = normalise_hashtag(hashtag)
    except HashtagError as e:
        raise ExportError(f"--hashtag: {e}") from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(
            f"--timezone: unknown time zone {timezone!r} (use an IANA name such as Europe/London)"
        ) from None
    return tag


# ---- files ------------------------------------------------------------------------------------


def export_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The export files named by ``paths`` (a folder stands for its ``*.json`` files, by
    name, the suffix in any case), and a problem line for each folder that has none."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            # *.JSON too: a name's case says nothing of its contents
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
            if not found:
                problems.append(f"{path}: no .json export in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files, problems


# How far into a file its first message's time is looked for: DiscordChatExporter writes the
# guild, the channel and the date range (a few hundred bytes) before the messages.
FIRST_TIME_WITHIN = 1 << 20


def first_message_time(path: Path) -> datetime | None:
    """When the export's first message was posted, read from the start of the file (about
    1 ms, the first 64 KB, for an export of any size); None when it cannot be told from its
    first :data:`FIRST_TIME_WITHIN` bytes (not JSON, no messages...: the import says why),
    and for a stream (``/dev/stdin``, a FIFO), whose bytes reading here would take from
    the import."""
    if is_stream(path):
        return None
    try:
        with open(path, "rb") as fh:
            if fh.read(len(BOM)) != BOM:
                fh.seek(0)
            for prefix, _event, value in ijson.parse(fh):
                if prefix == "messages.item.timestamp":
                    return _time(value, "'timestamp'")
                if fh.tell() > FIRST_TIME_WITHIN:
                    return None
    except (OSError, ValueError, ijson.JSONError):
        return None
    return None


def in_time_order(files: list[Path]) -> list[Path]:
    """``files`` by their first message's time (:func:`first_message_time`), so that a
    series' earlier chats are imported before its later ones: the later chats' statistics
    (first-time and returning participants) then count them from their first publication.
    Files whose time cannot be told come first, in the order given (they are reported
    before the long imports); equal times keep the order given."""
    known = {path: first_message_time(path) for path in files}
    return sorted(files, key=lambda path: (known[path] is not None, known[path] or _EPOCH))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
