"""The messages of a DiscordChatExporter export between the file and the store.

The read converts each message and stages what the capture rules need of it (a
:data:`_Staged` tuple, in ``marshal`` batches in a :class:`_Spill`), noting the channel,
the time range, the bots and the question posts on the way (:class:`_Scan`); the capture
then puts each staged message through the same rules as live messages and makes the
store's row of it (:func:`_captured_rows`). The import (:mod:`archive.importers.discord_export`)
and its worker (:mod:`archive.importers.discord_worker`) run these; the one pass
(:mod:`archive.importers.one_pass`) uses the same conversion and rows.
"""

from __future__ import annotations

import functools
import logging
import marshal
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

import ijson

from archive.capture import CaptureContext, is_host, judge, label_grammar
from archive.discord_messages import read
from archive.groups import find_declaration
from archive.importers.export_shape import export_message
from archive.importers.exportjson import BOM, ExportError
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import (
    IMPORTED_SOURCE,
    Attachment,
    AttachmentKind,
    Chat,
    IncomingMessage,
)
from archive.optouts import opt_command
from archive.store import iso
from archive.store.messages import row_of

logger = logging.getLogger(__name__)

PLATFORM = "discord"
BATCH = 2000  # staged messages per marshal batch of the spill


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


def declaration_of(staged: _Staged) -> str | None:
    """The word of a participant's ``!iam`` declaration in the staged message
    (:func:`archive.groups.find_declaration`, ``""`` for a bare ``!iam``; not a bot's, not a
    forward: someone else's words), else None."""
    text = staged[5]
    if staged[8] or staged[12] or "!" not in text:  # (most texts: no regex search)
        return None
    return find_declaration(text)


def opt_of(staged: _Staged) -> str | None:
    """``"optout"`` / ``"optin"`` when the staged message is a participant's opt command
    (:func:`archive.optouts.opt_command`; not a bot's, not a forward: someone else's
    words), else None."""
    if staged[8] or staged[12]:
        return None
    return opt_command(staged[5])


@dataclass
class _Scan:
    guild: dict[str, Any] = field(default_factory=dict)
    channel: dict[str, Any] = field(default_factory=dict)
    count: int = 0
    # The participants' opt commands, in export order: (platform, author id, handle, word);
    # applied by the import, never captured.
    opt_commands: list[tuple[str, str, str, str]] = field(default_factory=list)
    # The participants' !iam declarations, in export order: (author id, handle, word, time,
    # message id, whether it carries the hashtag, the id it replies to); applied by the
    # import, as live (a post that is only one is not captured).
    declarations: list[tuple[str, str, str, datetime, str, bool, str]] = field(default_factory=list)
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


class QuestionPosts(NamedTuple):
    """An export's labelled host and bot posts (:class:`_QuestionFinder`'s entries), as the
    capture rules read them (:class:`archive.capture.CaptureContext`)."""

    posts: dict[str, str]  # a question's own post: message id -> the key it asks
    times: tuple[tuple[datetime, str], ...]  # (when, key) of each of those, sorted
    follow_ups: dict[str, tuple[str, ...]]  # a later post of keys already asked -> its keys


def question_posts(entries: Sequence[_Question]) -> QuestionPosts:
    """Which entries are questions' own posts: in time order (ties in the export's order,
    as the chat's questions are made), the first post of each key, attributed to the
    first key it is the first of; every other entry follows up the questions it names."""
    posts: dict[str, str] = {}
    times: list[tuple[datetime, str]] = []
    follow_ups: dict[str, tuple[str, ...]] = {}
    asked: set[str] = set()
    for at, mid, keys, _text in sorted(entries, key=lambda q: q[0]):
        new = [key for key in keys if key not in asked]
        if new:
            posts[mid] = new[0]
            times.append((at, new[0]))
            asked.update(new)
        else:
            follow_ups[mid] = keys
    return QuestionPosts(posts, tuple(times), follow_ups)


def _context(scan: _Scan, chat: Chat) -> CaptureContext:
    """What the capture rules need to know about the export beside the chat."""
    found = question_posts(scan.questions)
    return CaptureContext(
        chat=chat,
        question_posts=found.posts,
        chat_posts=frozenset(scan.bot_posts | found.posts.keys() | found.follow_ups.keys()),
        question_times=found.times,
        bot_ids=frozenset(scan.bot_authors),
        follow_ups=found.follow_ups,
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
