"""Import a DiscordChatExporter JSON export of one channel as an ended, published chat.

The export (``guild``, ``channel``, ``messages`` [...], in DiscordChatExporter's documented
JSON format) is read twice, incrementally, so memory stays flat however large it is:

1. a scan validates the whole file and finds the channel, the time range, the bots and
   the question posts (host or bot messages that begin with a ``Q`` label);
2. the import builds the chat from that scan and puts every message through the same
   capture rules as live messages, saving in batches inside one transaction.

A file that turns out malformed or truncated fails in the scan, before anything is
written; any failure later rolls the one transaction back. Re-importing the same export
(same channel, same first message) finds the chat it made before by its ``source`` and
changes nothing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archive.capture import CaptureContext, capture, is_host, parse_question_labels
from archive.hashtags import HashtagError, normalise_hashtag
from archive.importers.jsonstream import ExportError, iter_members
from archive.models import (
    CapturedMessage,
    Chat,
    ChatStatus,
    IncomingMessage,
    Question,
    Target,
    chat_id_for,
)
from archive.store import Store

__all__ = [
    "ExportError",
    "ImportResult",
    "Progress",
    "TerminalProgress",
    "import_discord_export",
    "iter_messages",
    "source_key",
    "terminal_progress",
]

logger = logging.getLogger(__name__)

PLATFORM = "discord"
BATCH = 2000
# Message types that people (or bots) write; system notices such as ThreadCreated or
# ChannelPinnedMessage carry generated text that is not part of the conversation.
CHAT_TYPES = frozenset({"Default", "Reply", "ChatInputCommand", "ContextMenuCommand"})

Progress = Callable[[str, int, float], None]
"""progress(verb, messages so far, fraction of the file read)."""


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


def _incoming(raw: Any, guild_id: str, channel_id: str) -> IncomingMessage:
    """The neutral form of one exported message; ValueError says what is missing."""
    if not isinstance(raw, dict):
        raise ValueError("is not an object")
    mid = _text(raw.get("id"))
    if not mid:
        raise ValueError("has no 'id'")
    author = raw.get("author")
    if not isinstance(author, dict) or not _text(author.get("id")):
        raise ValueError("has no 'author' with an 'id'")
    name = _text(author.get("name"))
    edited = raw.get("timestampEdited")
    reference = raw.get("reference")
    reply_to = _text(reference.get("messageId")) if isinstance(reference, dict) else ""
    mentions = tuple(
        _text(m.get("name")).lower()
        for m in raw.get("mentions") or ()
        if isinstance(m, dict) and m.get("name")
    )
    place = guild_id if guild_id and guild_id != "0" else "@me"
    return IncomingMessage(
        platform=PLATFORM,
        platform_id=mid,
        channel=channel_id,
        author_id=_text(author["id"]),
        author_name=_text(author.get("nickname")) or name,
        author_handle=name,
        text=_text(raw.get("content")),
        created_at=_time(raw.get("timestamp"), "'timestamp'"),
        reply_to=reply_to,
        is_bot=bool(author.get("isBot")),
        permalink=f"https://discord.com/channels/{place}/{channel_id}/{mid}",
        edited_at=None if edited is None else _time(edited, "'timestampEdited'"),
        mentions=mentions,
    )


def _reactions(raw: dict[str, Any]) -> int:
    total = 0
    for r in raw.get("reactions") or ():
        if isinstance(r, dict) and isinstance(r.get("count"), int):
            total += max(r["count"], 0)
    return total


_Q_HEAD = re.compile(
    r"\s*(?:(?:@[\w.-]+|<@!?\d+>|[#＃]\w+)[\s,:;]*)*"
    r"[Qq]\s?\d{1,2}[a-zA-Z]?(?:\s*(?:[/&,+]|and)\s*[Qq]\s?\d{1,2}[a-zA-Z]?)*"
    r"(?:[-–][Qq]?\d{1,2})?\s*[:.)\-–—]?\s*"
)


def _question_text(text: str, hashtag: str) -> str:
    """A question post's text without its label and without the trailing hashtag."""
    body = _Q_HEAD.sub("", text, count=1)
    tag = re.escape(hashtag.lstrip("#"))
    body = re.sub(rf"\s*[#＃]{tag}\s*\Z", "", body, flags=re.IGNORECASE).strip()
    return body or text.strip()


# ---- the scan ---------------------------------------------------------------------------------


@dataclass
class _Scan:
    guild: dict[str, Any] = field(default_factory=dict)
    channel: dict[str, Any] = field(default_factory=dict)
    has_messages: bool = False
    count: int = 0
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


def _scan(path: Path, hashtag: str, hosts: tuple[str, ...], progress: Progress | None) -> _Scan:
    scan = _Scan()
    # is_host() needs a chat only for its hosts.
    probe = Chat(
        id="",
        title="",
        hashtag=hashtag,
        start=datetime.min.replace(tzinfo=UTC),
        end=datetime.min.replace(tzinfo=UTC),
        timezone="UTC",
        questions=(),
        hosts=hosts,
    )

    def note(raw: Any, index: int, offset: int) -> None:
        try:
            msg = _incoming(raw, "", "")  # ids only make the permalink, not needed here
        except ValueError as e:
            raise _bad_message(path, index, offset, str(e)) from None
        at = msg.created_at
        if not scan.first_id:
            scan.first_id = msg.platform_id
        if scan.first_at is None or at < scan.first_at:
            scan.first_at = at
        if scan.last_at is None or at > scan.last_at:
            scan.last_at = at
        if raw.get("type", "Default") not in CHAT_TYPES:
            return
        if msg.is_bot:
            scan.bot_authors.add(msg.author_id)
            scan.bot_posts.add(msg.platform_id)
        keys = parse_question_labels(msg.text)
        if keys and (msg.is_bot or is_host(msg, probe)):
            scan.questions.append((at, msg.platform_id, keys, _question_text(msg.text, hashtag)))

    def report(n: int, fraction: float) -> None:
        if progress is not None:
            progress("reading", n, fraction)

    for member in iter_members(path, stream="messages", item="message", on_progress=report):
        if member.position:
            scan.count += 1
            note(member.value, member.position, member.offset)
        elif member.key == "messages":
            scan.has_messages = isinstance(member.value, list)
        elif member.key == "guild" and isinstance(member.value, dict):
            scan.guild = member.value
        elif member.key == "channel" and isinstance(member.value, dict):
            scan.channel = member.value
    if not scan.has_messages:
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


def iter_messages(
    path: Path, *, on_progress: Callable[[int, float], None] | None = None
) -> Iterator[tuple[Any, int, int]]:
    """``(message, 1-based index, byte offset)`` of every message of the export, streamed."""
    for member in iter_members(path, stream="messages", item="message", on_progress=on_progress):
        if member.position:
            yield member.value, member.position, member.offset


def source_key(channel_id: str, first_message_id: str) -> str:
    """The ``source`` recorded for an imported chat: the same export always gives the same."""
    return f"discord-export:{channel_id}:{first_message_id}"


# ---- the import -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    chat: Chat
    created: bool  # False when the export had been imported before
    read: int  # messages in the export
    captured: int  # messages of the export that belong to the chat
    new_messages: int  # rows the archive did not have before


def _build_chat(
    scan: _Scan, *, hashtag: str, hosts: tuple[str, ...], title: str, timezone: str
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
    channel_name = _text(scan.channel.get("name")) or _ids(scan)[1]
    end = max(scan.last_at, start)
    return Chat(
        id="",
        title=title or f"{hashtag} in #{channel_name}",
        hashtag=hashtag,
        start=start,
        end=end,
        timezone=timezone,
        questions=tuple(seen.values()),
        targets=(Target(PLATFORM, _ids(scan)[1]),),
        hosts=hosts,
        status=ChatStatus.PUBLISHED,
        grace=timedelta(0),
    )


def import_discord_export(
    store: Store,
    path: Path,
    *,
    hashtag: str,
    hosts: tuple[str, ...] = (),
    title: str = "",
    timezone: str = "UTC",
    progress: Progress | None = None,
) -> ImportResult:
    """Archive the export at ``path`` as a published chat; re-importing changes nothing.

    Raises :class:`ExportError` (and leaves the archive untouched) for a bad option or file.
    Transcripts are not written here: publish the returned chat afterwards.
    """
    tag = _validate(hashtag, timezone)
    hosts = tuple(h.strip() for h in hosts if h.strip())
    scan = _scan(path, tag, hosts, progress)
    guild_id, channel_id = _ids(scan)
    source = source_key(channel_id, scan.first_id)
    draft = _build_chat(scan, hashtag=tag, hosts=hosts, title=title, timezone=timezone)
    question_times = tuple(sorted((at, keys[0]) for at, _mid, keys, _text in scan.questions))
    question_posts = {mid: keys[0] for _at, mid, keys, _text in scan.questions}
    read = captured = 0

    def report(n: int, fraction: float) -> None:
        if progress is not None:
            progress("imported", n, fraction)

    with store.transaction():
        existing = store.find_chat_by_source(source)
        if existing is not None:
            chat = replace(draft, id=existing.id, created_at=existing.created_at)
            if chat != existing:  # a later export of the same channel: bring the chat up to date
                chat = store.add_chat(chat, source=source, replace_existing=True)
        else:
            base = chat_id_for(tag, draft.start.astimezone(draft.zone))
            chat = store.add_chat(replace(draft, id=store.unique_chat_id(base)), source=source)
        before = store.count_messages(chat.id)
        ctx = CaptureContext(
            chat=chat,
            question_posts=question_posts,
            chat_posts=frozenset(scan.bot_posts | question_posts.keys()),
            question_times=question_times,
            bot_ids=frozenset(scan.bot_authors),
        )
        batch: list[CapturedMessage] = []
        raws: list[dict[str, Any]] = []
        for raw, index, offset in iter_messages(path, on_progress=report):
            read += 1
            try:
                incoming = _incoming(raw, guild_id, channel_id)
            except ValueError as e:  # the file changed since the scan
                raise _bad_message(path, index, offset, str(e)) from None
            if raw.get("type", "Default") not in CHAT_TYPES:
                continue
            found = capture(incoming, ctx)
            if found is None:
                continue
            captured += 1
            reactions = _reactions(raw)
            # dataclasses.replace costs ~8 µs; most messages have no reactions.
            batch.append(replace(found, reactions=reactions) if reactions else found)
            raws.append(raw)
            if len(batch) >= BATCH:
                store.save_messages(batch, raws)
                batch.clear()
                raws.clear()
        if batch:
            store.save_messages(batch, raws)
        new = store.count_messages(chat.id) - before
    logger.info(
        "imported %s from %s: %d messages read, %d captured, %d new",
        chat.id,
        path,
        read,
        captured,
        new,
    )
    return ImportResult(chat, existing is None, read, captured, new)


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


# ---- progress on a terminal --------------------------------------------------------------------


class TerminalProgress:
    """Writes ``imported N messages (X%)`` in place on a terminal, a few times a second."""

    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self._stream = stream
        self._interval = interval
        self._last = float("-inf")
        self._written = False

    def __call__(self, verb: str, messages: int, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self._interval:
            return
        self._last = now
        self._stream.write(f"\r{verb} {messages} messages ({fraction:.0%})\x1b[K")
        self._stream.flush()
        self._written = True

    def done(self) -> None:
        """End the progress line, if one was written."""
        if self._written:
            self._stream.write("\n")
            self._stream.flush()
            self._written = False


def terminal_progress(stream: TextIO) -> TerminalProgress | None:
    """A progress printer for ``stream`` when it is a terminal, else None (stay silent)."""
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream) if isatty is not None and isatty() else None
