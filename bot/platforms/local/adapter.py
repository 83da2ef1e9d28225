"""The local platform: a chat network kept in a SQLite file, needing no account.

The file plays the part of the remote service. Participants (the demo, tests, or a person
with `tweetchat local say`) write messages into it, possibly from another process; the bot
polls its event log like it would poll X, posts by inserting, and reads history for backfill.
Because the "network" outlives the bot, restarts and downtime behave as on a real service.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from archive.highlights import Engagement
from archive.models import Chat, IncomingMessage
from bot.platforms.base import (
    ALERT_PREFIX,
    Capabilities,
    MessageDeleted,
    Platform,
    PostError,
    ReactionChanged,
    SentPost,
)
from bot.platforms.local.limits import POST_LIMIT
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit

logger = logging.getLogger(__name__)

BOT_ID = "tweetchat-bot"
_BATCH = 1000  # events read from the network file at once
BOT_NAME = "Tweetchat Bot"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    author_id TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reply_to TEXT NOT NULL DEFAULT '',
    is_bot INTEGER NOT NULL DEFAULT 0,
    is_repost INTEGER NOT NULL DEFAULT 0,
    edited_at TEXT,
    deleted_at TEXT,
    attachment_name TEXT NOT NULL DEFAULT '',
    attachment BLOB
);
CREATE INDEX IF NOT EXISTS messages_channel_time ON messages(channel, created_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,            -- create | edit | delete | react | unreact
    message_seq INTEGER NOT NULL,
    at TEXT NOT NULL
);
"""


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class LocalUser:
    id: str
    name: str
    handle: str


class LocalNetwork:
    """Synchronous access to the network file; safe to use from several processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.executescript(_SCHEMA)
        # One connection serves several threads (asyncio.to_thread), so every statement
        # holds this lock: a transaction must not interleave with another thread's
        # statements ("cannot start a transaction within a transaction" when two chats post
        # at once), and CPython's sqlite3 objects are not safe to use from two threads at
        # once (an unlocked read beside a locked write crashed the live benchmark with a
        # segmentation fault).
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def post(
        self,
        channel: str,
        user: LocalUser,
        text: str,
        *,
        at: datetime,
        reply_to: str = "",
        is_bot: bool = False,
        is_repost: bool = False,
        attachment: tuple[str, bytes] | None = None,
    ) -> str:
        """Post a message; returns its id."""
        name, data = attachment if attachment else ("", None)
        with self._lock:
            return self._post(channel, user, text, at, reply_to, is_bot, is_repost, name, data)

    def _post(
        self,
        channel: str,
        user: LocalUser,
        text: str,
        at: datetime,
        reply_to: str,
        is_bot: bool,
        is_repost: bool,
        name: str,
        data: bytes | None,
    ) -> str:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(
                "INSERT INTO messages (channel, author_id, author_name, author_handle, text,"
                " created_at, reply_to, is_bot, is_repost, attachment_name, attachment)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    channel,
                    user.id,
                    user.name,
                    user.handle,
                    text,
                    _iso(at),
                    reply_to,
                    int(is_bot),
                    int(is_repost),
                    name,
                    data,
                ),
            )
            seq = cur.lastrowid
            self.conn.execute(
                "INSERT INTO events (kind, message_seq, at) VALUES ('create', ?, ?)",
                (seq, _iso(at)),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return str(seq)

    def edit(self, message_id: str, text: str, *, at: datetime) -> None:
        self._change(
            message_id,
            "edit",
            at,
            "UPDATE messages SET text=?, edited_at=? WHERE seq=?",
            (text, _iso(at), int(message_id)),
        )

    def delete(self, message_id: str, *, at: datetime) -> None:
        self._change(
            message_id,
            "delete",
            at,
            "UPDATE messages SET deleted_at=? WHERE seq=?",
            (_iso(at), int(message_id)),
        )

    def react(self, message_id: str, *, at: datetime, remove: bool = False) -> None:
        self._change(message_id, "unreact" if remove else "react", at, None, ())

    def _change(
        self, message_id: str, kind: str, at: datetime, sql: str | None, args: tuple[object, ...]
    ) -> None:
        with self._lock:
            self._change_locked(message_id, kind, at, sql, args)

    def _change_locked(
        self, message_id: str, kind: str, at: datetime, sql: str | None, args: tuple[object, ...]
    ) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if sql:
                self.conn.execute(sql, args)
            self.conn.execute(
                "INSERT INTO events (kind, message_seq, at) VALUES (?, ?, ?)",
                (kind, int(message_id), _iso(at)),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one read under the lock (see ``__init__``)."""
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def last_event(self) -> int:
        return int(self._query("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def events_after(self, seq: int, limit: int = 1000) -> list[sqlite3.Row]:
        return self._query(
            "SELECT e.seq AS event_seq, e.kind, e.at AS event_at, m.* FROM events e"
            " JOIN messages m ON m.seq = e.message_seq WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            (seq, limit),
        )

    def messages(
        self, channel: str | None = None, *, include_deleted: bool = False
    ) -> list[sqlite3.Row]:
        sql = "SELECT * FROM messages WHERE 1=1"
        args: list[object] = []
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel)
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        return self._query(sql + " ORDER BY seq", args)

    def history(self, channel: str, after: datetime, before: datetime) -> list[sqlite3.Row]:
        return self._query(
            "SELECT * FROM messages WHERE channel = ? AND created_at >= ? AND created_at <= ?"
            " AND deleted_at IS NULL ORDER BY created_at, seq",
            (channel, _iso(after), _iso(before)),
        )

    def find_bot_post(self, channel: str, text: str, after: datetime) -> sqlite3.Row | None:
        rows = self._query(
            "SELECT * FROM messages WHERE channel=? AND is_bot=1 AND text=? AND created_at >= ?"
            " ORDER BY seq LIMIT 1",
            (channel, text, _iso(after)),
        )
        return rows[0] if rows else None

    def reaction_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """Message id -> its reactions now (reacts less unreacts, never below 0), for the
        messages of ``ids`` that exist and are not deleted."""
        counts: dict[str, int] = {}
        numeric = [int(i) for i in ids if i.isdigit()]
        for start in range(0, len(numeric), 500):
            chunk = numeric[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT m.seq, COALESCE(SUM(CASE e.kind WHEN 'react' THEN 1"
                " WHEN 'unreact' THEN -1 ELSE 0 END), 0) FROM messages m"
                " LEFT JOIN events e ON e.message_seq = m.seq"
                f" WHERE m.seq IN ({marks}) AND m.deleted_at IS NULL GROUP BY m.seq",
                chunk,
            )
            counts.update((str(r[0]), max(0, int(r[1]))) for r in rows)
        return counts

    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        numeric = [int(i) for i in ids if i.isdigit()]
        for start in range(0, len(numeric), 500):
            chunk = numeric[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT seq FROM messages WHERE seq IN ({marks}) AND deleted_at IS NULL", chunk
            )
            found.update(str(r[0]) for r in rows)
        return found


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def is_alert(row: sqlite3.Row) -> bool:
    """A host alert of the bot's (`LocalPlatform.notify_hosts`): for the hosts, not the
    transcript."""
    return bool(row["is_bot"]) and str(row["text"]).startswith(ALERT_PREFIX)


def row_to_message(row: sqlite3.Row) -> IncomingMessage:
    return IncomingMessage(
        platform="local",
        platform_id=str(row["seq"]),
        channel=row["channel"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        author_handle=row["author_handle"],
        text=row["text"],
        created_at=datetime.fromisoformat(row["created_at"]).astimezone(UTC),
        reply_to=row["reply_to"],
        is_repost=bool(row["is_repost"]),
        is_bot=bool(row["is_bot"]),
        edited_at=_parse(row["edited_at"]),
        raw={k: row[k] for k in row.keys() if k not in ("attachment", "event_seq", "event_at")},
    )


class LocalPlatform(Platform):
    """The adapter for the local network file."""

    name: ClassVar[str] = "local"
    capabilities: ClassVar[Capabilities] = Capabilities(
        history=True,
        find_posts=True,
        existence=True,
        edits=True,
        reactions=True,
        attachments=True,
        engagement=True,
    )

    def __init__(
        self, network_path: Path | str, *, clock: Clock | None = None, poll_interval: float = 0.05
    ) -> None:
        super().__init__()
        self.network_path = Path(network_path)
        self.clock: Clock = clock or SystemClock()
        self.poll_interval = poll_interval
        self.user = LocalUser(BOT_ID, BOT_NAME, "tweetchat")
        self.bot_user_id = BOT_ID
        self._net: LocalNetwork | None = None
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None
        # One reader of the event log at a time (the poll loop, a sweep): the cursor moves
        # past each event once, so nothing is delivered twice (a reaction would count twice).
        self._reading = asyncio.Lock()

    @property
    def net(self) -> LocalNetwork:
        if self._net is None:
            raise PostError("the local platform is not started")
        return self._net

    async def start(self) -> None:
        self._net = await asyncio.to_thread(LocalNetwork, self.network_path)
        # Start from the present: what was posted while we were away comes from history
        # (the facilitator backfills every live chat when a platform (re)connects).
        self._cursor = await asyncio.to_thread(self.net.last_event)
        self._stopping.clear()
        self._task = asyncio.create_task(self.supervised(self._poll, "capture"), name="local-poll")
        if self.sink is not None:
            await self.sink.reconnected(self)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._net is not None:
            self._net.close()
            self._net = None

    async def _poll(self) -> None:
        """Read the network's new events and deliver them, forever. An error (the network
        file unreadable, the archive refusing writes) ends the run: the supervisor logs it
        and restarts it, and the cursor, which moves only past what was delivered, makes the
        next run fetch again what could not be saved."""
        while not self._stopping.is_set():
            if await self._deliver_next() < _BATCH:
                await asyncio.sleep(self.poll_interval)

    async def _deliver_next(self) -> int:
        """Read and deliver the next events after the cursor; returns how many there were."""
        async with self._reading:
            rows = await asyncio.to_thread(self.net.events_after, self._cursor, _BATCH)
            await self._deliver_rows(rows)
            return len(rows)

    async def sweep(self, chat: Chat) -> None:
        """Deliver every event the network file holds that is not delivered yet (the poll
        loop may be sleeping between two reads), whatever chat it belongs to."""
        if self._net is None:
            return
        while await self._deliver_next() == _BATCH:
            pass

    async def _deliver_rows(self, rows: Sequence[sqlite3.Row]) -> None:
        """Deliver in order; runs of new messages go to the sink as one batch (one
        transaction), and the cursor moves only once they are in."""
        sink = self.sink
        batch: list[IncomingMessage] = []
        for row in rows:
            if is_alert(row):
                continue
            if sink is not None and row["kind"] == "create":
                batch.append(row_to_message(row))
                continue
            if batch and sink is not None:
                await sink.capture_messages(batch)
                batch = []
            await self._deliver(row)
            self._cursor = row["event_seq"]
        if batch and sink is not None:
            await sink.capture_messages(batch)
        if rows:
            self._cursor = rows[-1]["event_seq"]

    async def _deliver(self, row: sqlite3.Row) -> None:
        kind = row["kind"]
        if kind in ("create", "edit"):
            if row["deleted_at"] is not None and kind == "create":
                # Deleted before we saw it; the delete event follows and removes nothing.
                pass
            msg = row_to_message(row)
            await self.emit(msg)
        elif kind == "delete":
            await self.emit(
                MessageDeleted("local", str(row["seq"]), datetime.fromisoformat(row["event_at"]))
            )
        elif kind in ("react", "unreact"):
            await self.emit(ReactionChanged("local", str(row["seq"]), 1 if kind == "react" else -1))

    @property
    def post_limit(self) -> PostLimit:
        return POST_LIMIT

    async def _send(self, channel: str, text: str) -> SentPost:
        at = self.clock.now()
        try:
            mid = await asyncio.to_thread(
                self.net.post, channel, self.user, text, at=at, is_bot=True
            )
        except sqlite3.Error as exc:
            raise PostError(f"local: could not post: {exc}") from exc
        return SentPost(mid, at, f"local://{channel}/{mid}")

    async def reply(self, message: IncomingMessage, text: str) -> SentPost | None:
        """A reply in the message's room, linked to it."""
        self.check_length(text)
        at = self.clock.now()
        try:
            mid = await asyncio.to_thread(
                self.net.post,
                message.channel,
                self.user,
                text,
                at=at,
                is_bot=True,
                reply_to=message.platform_id,
            )
        except sqlite3.Error as exc:
            raise PostError(f"local: could not reply: {exc}") from exc
        return SentPost(mid, at, f"local://{message.channel}/{mid}")

    async def send_file(self, channel: str, text: str, filename: str, data: bytes) -> SentPost:
        self.check_length(text)
        at = self.clock.now()
        mid = await asyncio.to_thread(
            self.net.post, channel, self.user, text, at=at, is_bot=True, attachment=(filename, data)
        )
        return SentPost(mid, at, f"local://{channel}/{mid}")

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """A host alert (a post failed on another network...) in each of the chat's local
        channels, as a bot post marked with `ALERT_PREFIX` that capture leaves out."""
        message = f"{ALERT_PREFIX} {chat.id}: {text}"
        limit = self.post_limit.max_length
        if len(message) > limit:
            message = message[: limit - 1] + "\u2026"
        for channel in dict.fromkeys(t.channel for t in chat.targets if t.platform == self.name):
            await self.send(channel, message)

    async def history(
        self, channel: str, after: datetime, before: datetime
    ) -> Sequence[IncomingMessage]:
        rows = await asyncio.to_thread(self.net.history, channel, after, before)
        return [row_to_message(r) for r in rows if not is_alert(r)]

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        row = await asyncio.to_thread(self.net.find_bot_post, channel, text, after)
        if row is None:
            return None
        mid = str(row["seq"])
        return SentPost(mid, datetime.fromisoformat(row["created_at"]), f"local://{channel}/{mid}")

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        return await asyncio.to_thread(self.net.existing, platform_ids)

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """Each message's reactions as the network file counts them now (``tweetchat local
        react``); the local platform has no likes or reposts."""
        counts = await asyncio.to_thread(self.net.reaction_counts, platform_ids)
        return {mid: Engagement(reactions=n) for mid, n in counts.items()}
