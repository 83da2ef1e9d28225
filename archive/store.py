"""The SQLite store: the only source of truth for chats, posts and captured messages.

`Store` is synchronous and owns one connection; `AsyncStore` runs every call on one
dedicated thread so that sqlite never blocks the event loop and all writes go through a
single writer (the datasette habit). Bulk writes happen in one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

from archive.migrations import SEARCH_CURSOR_KEY, apply_migrations
from archive.models import (
    CapturedMessage,
    Chat,
    ChatStatus,
    MessageKind,
    Post,
    PostStatus,
    Question,
    Target,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class StoreError(Exception):
    """Base class for store failures that a user can act on."""


class NotFoundError(StoreError):
    """No chat (or other row) with that id."""


class DuplicateChatError(StoreError):
    """A chat with that id already exists."""


def iso(dt: datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that text order is time order."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: every instant must be timezone-aware")
    dt = dt.astimezone(UTC)
    # isoformat() leaves out a zero fraction; it is ~25% faster than timespec="microseconds"
    # and this runs for every stored message.
    text = dt.isoformat()
    return text if dt.microsecond else f"{text[:19]}.000000{text[19:]}"


def parse_iso(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:  # defensive: rows are written by iso(), always with an offset
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _opt_parse(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def participant_key(platform: str, author_id: str) -> str:
    return f"{platform}:{author_id}"


class Store:
    """Synchronous access to the archive database. Not thread-safe: use from one thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else Path(":memory:")
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.db = sqlite_utils.Database(self.conn)
        apply_migrations(self.conn)
        self._tx_depth = 0

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the archive (a read transaction: in WAL mode it
        blocks no writer). Inside a write transaction, that transaction is the snapshot."""
        if self._tx_depth:
            yield
            return
        self.conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield
            finally:
                self._tx_depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._tx_depth = 1
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._tx_depth = 0

    # ---- chats ---------------------------------------------------------------------

    def add_chat(
        self,
        chat: Chat,
        *,
        reminders: Sequence[timedelta] = (),
        source: str = "",
        replace_existing: bool = False,
    ) -> Chat:
        """Store a new chat with its questions. Raises DuplicateChatError if the id exists."""
        created = chat.created_at or datetime.now(UTC)
        with self.transaction():
            exists = self.conn.execute(
                "SELECT status FROM chats WHERE id = ?", (chat.id,)
            ).fetchone()
            if exists and not replace_existing:
                raise DuplicateChatError(f"a chat with id {chat.id!r} already exists")
            row = {
                "id": chat.id,
                "title": chat.title,
                "hashtag": chat.hashtag,
                "hashtag_key": chat.hashtag.casefold(),
                "start": iso(chat.start),
                "end": iso(chat.end),
                "timezone": chat.timezone,
                "intro": chat.intro,
                "closing": chat.closing,
                "grace_seconds": int(chat.grace.total_seconds()),
                "targets": json.dumps([[t.platform, t.channel] for t in chat.targets]),
                "hosts": json.dumps(list(chat.hosts)),
                "reminders": json.dumps(sorted(int(r.total_seconds()) for r in reminders)),
                "status": str(chat.status),
                "series_id": chat.series_id,
                "source": source,
                "created_at": iso(created),
            }
            if exists:
                # UPDATE, never INSERT OR REPLACE: a replace deletes the row first, and the
                # cascade would take the chat's posts, messages and controls with it.
                self.conn.execute("DELETE FROM questions WHERE chat_id = ?", (chat.id,))
                self.db.table("chats").update(chat.id, row)
            else:
                self.db.table("chats").insert(row)
            self.db.table("questions").insert_all(
                {
                    "chat_id": chat.id,
                    "position": i,
                    "number": q.number,
                    "part": q.part,
                    "text": q.text,
                    "offset_seconds": q.offset.total_seconds(),
                }
                for i, q in enumerate(chat.questions)
            )
        return replace(chat, created_at=created)

    def unique_chat_id(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`... whichever is free."""
        candidate, n = base, 1
        while self.conn.execute("SELECT 1 FROM chats WHERE id = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def _chat_from_row(self, row: sqlite3.Row) -> Chat:
        questions = tuple(
            Question(
                number=q["number"],
                text=q["text"],
                offset=timedelta(seconds=q["offset_seconds"]),
                part=q["part"],
            )
            for q in self.conn.execute(
                "SELECT * FROM questions WHERE chat_id = ? ORDER BY position", (row["id"],)
            )
        )
        return Chat(
            id=row["id"],
            title=row["title"],
            hashtag=row["hashtag"],
            start=parse_iso(row["start"]),
            end=parse_iso(row["end"]),
            timezone=row["timezone"],
            questions=questions,
            intro=row["intro"],
            closing=row["closing"],
            grace=timedelta(seconds=row["grace_seconds"]),
            targets=tuple(Target(p, c) for p, c in json.loads(row["targets"])),
            hosts=tuple(json.loads(row["hosts"])),
            status=ChatStatus(row["status"]),
            series_id=row["series_id"],
            created_at=parse_iso(row["created_at"]),
        )

    def get_chat(self, chat_id: str) -> Chat:
        row = self.conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat with id {chat_id!r}")
        return self._chat_from_row(row)

    def find_chat(self, ref: str) -> Chat:
        """A chat by exact id, or by a unique id prefix (what a host types on the CLI)."""
        try:
            return self.get_chat(ref)
        except NotFoundError:
            pass
        rows = self.conn.execute(
            "SELECT id FROM chats WHERE id LIKE ? ESCAPE '\\' ORDER BY start",
            (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
        ).fetchall()
        if len(rows) == 1:
            return self.get_chat(rows[0]["id"])
        if not rows:
            raise NotFoundError(f"no chat with id {ref!r} (see `tweetchat chats`)")
        ids = ", ".join(r["id"] for r in rows[:5])
        raise NotFoundError(f"{ref!r} matches several chats ({ids}); give the whole id")

    def chat_reminders(self, chat_id: str) -> tuple[timedelta, ...]:
        row = self.conn.execute("SELECT reminders FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat with id {chat_id!r}")
        return tuple(timedelta(seconds=s) for s in json.loads(row["reminders"]))

    def list_chats(self, statuses: Iterable[ChatStatus] | None = None) -> list[Chat]:
        if statuses is None:
            rows = self.conn.execute("SELECT * FROM chats ORDER BY start, id").fetchall()
        else:
            wanted = [str(s) for s in statuses]
            marks = ",".join("?" * len(wanted))
            rows = self.conn.execute(
                f"SELECT * FROM chats WHERE status IN ({marks}) ORDER BY start, id", wanted
            ).fetchall()
        return [self._chat_from_row(r) for r in rows]

    def set_status(self, chat_id: str, status: ChatStatus) -> None:
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE chats SET status = ? WHERE id = ?", (str(status), chat_id)
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"no chat with id {chat_id!r}")

    def set_end(self, chat_id: str, end: datetime) -> None:
        with self.transaction():
            self.conn.execute("UPDATE chats SET end = ? WHERE id = ?", (iso(end), chat_id))

    def delete_chat(self, chat_id: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # ---- posts (what the bot posted) -------------------------------------------------

    def record_intent(
        self, chat_id: str, action_key: str, platform: str, channel: str, text: str
    ) -> Post | None:
        """Record that we are about to post. Returns None when this action was already handled.

        The intent row is committed *before* the network call, so a crash between posting and
        recording leaves an `intent` row that the next start reconciles instead of posting twice.
        """
        with self.transaction():
            row = self.conn.execute(
                "SELECT * FROM posts WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (chat_id, action_key, platform, channel),
            ).fetchone()
            if row is not None:
                return None
            now = datetime.now(UTC)
            self.conn.execute(
                "INSERT INTO posts (chat_id, action_key, platform, channel, status, text, intent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, action_key, platform, channel, PostStatus.INTENT, text, iso(now)),
            )
        return Post(chat_id, action_key, platform, channel, text=text)

    def mark_sent(
        self,
        chat_id: str,
        action_key: str,
        platform: str,
        channel: str,
        platform_message_id: str,
        posted_at: datetime,
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET status=?, platform_message_id=?, posted_at=?, error=''"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (
                    PostStatus.SENT,
                    platform_message_id,
                    iso(posted_at),
                    chat_id,
                    action_key,
                    platform,
                    channel,
                ),
            )

    def mark_failed(
        self, chat_id: str, action_key: str, platform: str, channel: str, error: str
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET status=?, error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (PostStatus.FAILED, error, chat_id, action_key, platform, channel),
            )

    def mark_skipped(
        self, chat_id: str, action_key: str, platform: str, channel: str, reason: str
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET status=?, error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (PostStatus.SKIPPED, reason, chat_id, action_key, platform, channel),
            )

    def posts(self, chat_id: str) -> list[Post]:
        rows = self.conn.execute(
            "SELECT * FROM posts WHERE chat_id = ? ORDER BY intent_at, rowid", (chat_id,)
        ).fetchall()
        return [
            Post(
                chat_id=r["chat_id"],
                action_key=r["action_key"],
                platform=r["platform"],
                channel=r["channel"],
                platform_message_id=r["platform_message_id"],
                status=PostStatus(r["status"]),
                posted_at=_opt_parse(r["posted_at"]),
                text=r["text"],
                error=r["error"],
            )
            for r in rows
        ]

    # ---- captured messages -------------------------------------------------------------

    def save_messages(
        self, messages: Iterable[CapturedMessage], raws: Iterable[Mapping[str, Any]] | None = None
    ) -> int:
        """Insert or update captured messages in one transaction; returns rows written.

        Idempotent per (platform, platform_id): a redelivery changes nothing, an edit (a newer
        `edited_at`) updates the text, and a deleted message stays deleted.
        """
        now = iso(datetime.now(UTC))
        if raws is None:
            rows = [_message_row(m, "{}", now) for m in messages]
        else:
            padded = itertools.chain(raws, itertools.repeat(_NO_RAW))  # missing raws: {}
            rows = [
                _message_row(m, _raw_json(raw), now)
                for m, raw in zip(messages, padded, strict=False)
            ]
        if not rows:
            return 0
        with self.transaction():
            indexed = self._search_cursor()
            cur = self.conn.executemany(_UPSERT_MESSAGE, rows)
            written = max(cur.rowcount, 0)
            self._index_past(indexed)
            return written

    def index_new_messages(self) -> int:
        """Add rows written to ``messages`` other than by :meth:`save_messages` (a bulk
        load in SQL) to the search index; returns how many. Saves index their own rows."""
        with self.transaction():
            return self._index_past(self._search_cursor())

    def _search_cursor(self) -> int:
        # Every row at or below the cursor is indexed. Clamp it to MAX(id) first: after
        # the newest rows were deleted (a chat deleted), SQLite reuses their ids.
        self.conn.execute(_CLAMP_SEARCH_CURSOR)
        return int(self.conn.execute(_SEARCH_CURSOR).fetchone()[0])

    def _index_past(self, indexed: int) -> int:
        # New rows get ids above MAX(id), so they are exactly those past the cursor; one
        # INSERT ... SELECT indexes them far cheaper than a trigger per row (migration 3).
        cur = self.conn.execute(_INDEX_NEW_MESSAGES, (indexed,))
        self.conn.execute(_ADVANCE_SEARCH_CURSOR)
        return max(cur.rowcount, 0)

    def mark_deleted(self, platform: str, platform_id: str, at: datetime) -> bool:
        """Mark a message deleted (it leaves every output). Returns whether it was known."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE messages SET deleted_at = COALESCE(deleted_at, ?)"
                " WHERE platform = ? AND platform_id = ?",
                (iso(at), platform, platform_id),
            )
            return cur.rowcount > 0

    def edit_message(
        self, platform: str, platform_id: str, text: str, edited_at: datetime
    ) -> str | None:
        """Update a stored message's text after an edit; returns its chat id, if known."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT chat_id, edited_at FROM messages WHERE platform=? AND platform_id=?",
                (platform, platform_id),
            ).fetchone()
            if row is None:
                return None
            if row["edited_at"] is not None and row["edited_at"] > iso(edited_at):
                return str(row["chat_id"])  # an older edit arriving late changes nothing
            self.conn.execute(
                "UPDATE messages SET text=?, edited_at=? WHERE platform=? AND platform_id=?",
                (text, iso(edited_at), platform, platform_id),
            )
            return str(row["chat_id"])

    def add_reactions(self, platform: str, platform_id: str, delta: int) -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE messages SET reactions = MAX(0, reactions + ?)"
                " WHERE platform=? AND platform_id=?",
                (delta, platform, platform_id),
            )

    def message_chat(self, platform: str, platform_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT chat_id FROM messages WHERE platform=? AND platform_id=?",
            (platform, platform_id),
        ).fetchone()
        return None if row is None else str(row["chat_id"])

    def iter_messages(
        self, chat_id: str, *, include_deleted: bool = True, batch: int = 5000
    ) -> Iterator[CapturedMessage]:
        """The chat's messages in time order, streamed in batches (memory stays flat)."""
        where = "chat_id = ?" + ("" if include_deleted else " AND deleted_at IS NULL")
        return self._stream_messages(where, (chat_id,), batch)

    def messages(self, chat_id: str, *, include_deleted: bool = True) -> list[CapturedMessage]:
        return list(self.iter_messages(chat_id, include_deleted=include_deleted))

    def message_ids(self, chat_id: str, platform: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT platform_id FROM messages WHERE chat_id=? AND platform=? AND deleted_at IS NULL",
            (chat_id, platform),
        ).fetchall()
        return [r[0] for r in rows]

    def count_messages(self, chat_id: str) -> int:
        row = self.conn.execute(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND deleted_at IS NULL", (chat_id,)
        ).fetchone()
        return int(row[0])

    # ---- opt-outs ----------------------------------------------------------------------

    def opt_out(self, platform: str, author_id: str, handle: str = "") -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO optouts (platform, author_id, handle, at) VALUES (?,?,?,?)",
                (platform, author_id, handle, iso(datetime.now(UTC))),
            )

    def opt_in(self, platform: str, author_id: str) -> bool:
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM optouts WHERE platform=? AND author_id=?", (platform, author_id)
            )
            return cur.rowcount > 0

    def opted_out(self) -> frozenset[str]:
        rows = self.conn.execute("SELECT platform, author_id FROM optouts").fetchall()
        return frozenset(participant_key(r[0], r[1]) for r in rows)

    # ---- history, controls, transcripts, state ------------------------------------------

    def participation_history(self, chat: Chat) -> dict[str, int]:
        """participant key -> number of earlier chats with the same hashtag they took part in."""
        rows = self.conn.execute(
            """
            SELECT m.platform || ':' || m.author_id AS key, COUNT(DISTINCT m.chat_id) AS n
            FROM messages m JOIN chats c ON c.id = m.chat_id
            WHERE c.hashtag_key = ? AND c.start < ? AND c.id != ? AND m.deleted_at IS NULL
              AND m.kind IN ('answer', 'comment', 'repost')
            GROUP BY key
            """,
            (chat.hashtag.casefold(), iso(chat.start), chat.id),
        ).fetchall()
        return {r["key"]: int(r["n"]) for r in rows}

    def record_control(self, chat_id: str, at: datetime, kind: str, detail: str, by: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO controls (chat_id, at, kind, detail, by) VALUES (?,?,?,?,?)",
                (chat_id, iso(at), kind, detail, by),
            )

    def controls(self, chat_id: str) -> list[tuple[datetime, str, str, str]]:
        rows = self.conn.execute(
            "SELECT at, kind, detail, by FROM controls WHERE chat_id=? ORDER BY at, id", (chat_id,)
        ).fetchall()
        return [(parse_iso(r["at"]), r["kind"], r["detail"], r["by"]) for r in rows]

    def record_transcript(self, chat_id: str, fmt: str, path: str, generated_at: datetime) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO transcripts (chat_id, format, path, generated_at)"
                " VALUES (?,?,?,?)",
                (chat_id, fmt, path, iso(generated_at)),
            )

    def transcripts(self, chat_id: str) -> dict[str, Path]:
        rows = self.conn.execute(
            "SELECT format, path FROM transcripts WHERE chat_id = ?", (chat_id,)
        ).fetchall()
        return {r["format"]: Path(r["path"]) for r in rows}

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row["value"])

    def states(self, prefix: str) -> dict[str, str]:
        """Every non-empty state value whose key starts with ``prefix``."""
        rows = self.conn.execute(
            "SELECT key, value FROM state WHERE substr(key, 1, ?) = ? AND value != ''",
            (len(prefix), prefix),
        ).fetchall()
        return {str(r["key"]): str(r["value"]) for r in rows}

    def set_state(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value)
            )

    # ---- web archive queries (read-only; used by archive/web) ----------------------------

    @classmethod
    def open_readonly(cls, path: Path | str) -> Store:
        """A store on a read-only connection: no migrations, every write refused by SQLite."""
        self = cls.__new__(cls)
        self.path = Path(path)
        uri = self.path.resolve().as_uri() + "?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA query_only=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.db = sqlite_utils.Database(self.conn)
        self._tx_depth = 0
        return self

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT MAX(version) FROM _migrations").fetchone()
        return int(row[0] or 0)

    def chats_page(
        self,
        statuses: Iterable[ChatStatus],
        *,
        hashtag_key: str | None = None,
        newest_first: bool = False,
        limit: int = -1,
        offset: int = 0,
    ) -> list[Chat]:
        """Chats with one of ``statuses`` (optionally of one hashtag), by start time."""
        wanted = [str(s) for s in statuses]
        sql = f"SELECT * FROM chats WHERE status IN ({','.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        if hashtag_key is not None:
            sql += " AND hashtag_key = ?"
            params.append(hashtag_key)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY start {order}, id {order} LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [self._chat_from_row(r) for r in self.conn.execute(sql, params).fetchall()]

    def count_chats(self, statuses: Iterable[ChatStatus], *, hashtag_key: str | None = None) -> int:
        wanted = [str(s) for s in statuses]
        sql = f"SELECT COUNT(*) FROM chats WHERE status IN ({','.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        if hashtag_key is not None:
            sql += " AND hashtag_key = ?"
            params.append(hashtag_key)
        return int(self.conn.execute(sql, params).fetchone()[0])

    def hashtags(self) -> list[tuple[str, str, int, datetime]]:
        """(hashtag as last written, casefolded key, chats, latest start) of every hashtag
        with a chat that is not cancelled, most recently active first."""
        rows = self.conn.execute(
            """
            SELECT hashtag_key, COUNT(*) AS n, MAX(start) AS latest,
                   (SELECT c2.hashtag FROM chats c2 WHERE c2.hashtag_key = c.hashtag_key
                    ORDER BY c2.start DESC LIMIT 1) AS hashtag
            FROM chats c WHERE status != 'cancelled'
            GROUP BY hashtag_key ORDER BY latest DESC
            """
        ).fetchall()
        return [(r["hashtag"], r["hashtag_key"], int(r["n"]), parse_iso(r["latest"])) for r in rows]

    def message_counts(self, chat_ids: Sequence[str]) -> dict[str, int]:
        """Non-deleted messages per chat."""
        if not chat_ids:
            return {}
        marks = ",".join("?" * len(chat_ids))
        rows = self.conn.execute(
            f"SELECT chat_id, COUNT(*) FROM messages WHERE chat_id IN ({marks})"
            " AND deleted_at IS NULL GROUP BY chat_id",
            list(chat_ids),
        ).fetchall()
        counts = dict.fromkeys(chat_ids, 0)
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    def series_participants(self, hashtag_key: str) -> list[tuple[str, set[str]]]:
        """(chat id, participant keys) of every non-cancelled chat of a hashtag, oldest
        first; participants are authors of non-deleted answers, comments and reposts
        (the same rule as `participation_history`)."""
        chats = self.conn.execute(
            "SELECT id FROM chats WHERE hashtag_key = ? AND status != 'cancelled'"
            " ORDER BY start, id",
            (hashtag_key,),
        ).fetchall()
        out: list[tuple[str, set[str]]] = []
        for c in chats:
            rows = self.conn.execute(
                "SELECT DISTINCT platform || ':' || author_id FROM messages"
                " WHERE chat_id = ? AND deleted_at IS NULL"
                " AND kind IN ('answer', 'comment', 'repost')",
                (c["id"],),
            ).fetchall()
            out.append((c["id"], {r[0] for r in rows}))
        return out

    def search_messages(
        self, match: str, *, limit: int, offset: int = 0, marks: tuple[str, str] = ("[", "]")
    ) -> list[tuple[CapturedMessage, str]]:
        """Shown messages (not deleted, not reposts, not by opted-out participants) whose
        text matches the FTS5 query ``match``, newest first, with a highlighted snippet."""
        cur = self.conn.cursor()
        cur.row_factory = None
        rows = cur.execute(
            f"""
            SELECT {_STREAM_COLUMNS_OF_M}, snippet(messages_fts, 0, ?, ?, '…', 24)
            FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
            WHERE messages_fts MATCH ? AND m.deleted_at IS NULL AND m.kind != 'repost'
              AND NOT EXISTS (SELECT 1 FROM optouts o
                              WHERE o.platform = m.platform AND o.author_id = m.author_id)
            ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?
            """,
            (marks[0], marks[1], match, limit, offset),
        ).fetchall()
        return [(_message_from_tuple(r), str(r[-1])) for r in rows]

    def hidden_handles(self, chat_ids: Sequence[str]) -> set[str]:
        """Handles of opted-out participants: as recorded at opt-out, and as seen in the
        messages of ``chat_ids``."""
        handles = {r[0] for r in self.conn.execute("SELECT handle FROM optouts") if r[0]}
        if chat_ids:
            marks = ",".join("?" * len(chat_ids))
            rows = self.conn.execute(
                f"SELECT DISTINCT m.author_handle FROM messages m WHERE m.chat_id IN ({marks})"
                " AND EXISTS (SELECT 1 FROM optouts o"
                " WHERE o.platform = m.platform AND o.author_id = m.author_id)",
                list(chat_ids),
            ).fetchall()
            handles.update(r[0] for r in rows if r[0])
        return handles

    def chat_fingerprint(self, chat_id: str) -> tuple[Any, ...]:
        """Changes whenever the chat's rendering may change: its messages (new, edited,
        deleted, reactions), opt-outs, posts and controls. Sums of times rather than
        maxima, so that a change to any one row shows."""
        row = self.conn.execute(
            """
            SELECT (SELECT json_array(COUNT(*), MAX(id), COUNT(edited_at),
                                      TOTAL(julianday(edited_at)), COUNT(deleted_at),
                                      TOTAL(julianday(deleted_at)), SUM(reactions))
                    FROM messages WHERE chat_id = :c),
                   (SELECT json_array(COUNT(*), MAX(at)) FROM optouts),
                   (SELECT json_array(COUNT(*), MAX(posted_at), MAX(intent_at)) FROM posts
                    WHERE chat_id = :c),
                   (SELECT COUNT(*) FROM controls WHERE chat_id = :c)
            """,
            {"c": chat_id},
        ).fetchone()
        return tuple(row)

    def transcript_times(self, chat_ids: Sequence[str]) -> dict[str, datetime]:
        """When each chat's transcript was last generated, for chats that have one."""
        if not chat_ids:
            return {}
        marks = ",".join("?" * len(chat_ids))
        rows = self.conn.execute(
            f"SELECT chat_id, MAX(generated_at) FROM transcripts WHERE chat_id IN ({marks})"
            " GROUP BY chat_id",
            list(chat_ids),
        ).fetchall()
        return {r[0]: parse_iso(r[1]) for r in rows}

    # ---- import

    def find_chat_by_source(self, source: str) -> Chat | None:
        """The chat stored with this ``source`` (e.g. an import's), if there is one."""
        row = self.conn.execute(
            "SELECT * FROM chats WHERE source = ? ORDER BY created_at, id LIMIT 1", (source,)
        ).fetchone()
        return None if row is None else self._chat_from_row(row)

    # ---- streaming transcripts (read-only) ----------------------------------------------

    def _stream_messages(
        self, where: str, params: Sequence[Any], batch: int = 5000
    ) -> Iterator[CapturedMessage]:
        """Messages matching ``where``, in time order, built from plain tuples (a quarter
        of the cost of ``sqlite3.Row`` look-ups by name at transcript scale)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(
            f"SELECT {_STREAM_COLUMNS} FROM messages WHERE {where} ORDER BY created_at, id",
            params,
        )
        while rows := cur.fetchmany(batch):
            for r in rows:
                yield _message_from_tuple(r)

    def chat_platforms(self, chat_id: str) -> set[str]:
        """The platforms of the chat's undeleted messages."""
        rows = self.conn.execute(
            "SELECT DISTINCT platform FROM messages WHERE chat_id = ? AND deleted_at IS NULL",
            (chat_id,),
        ).fetchall()
        return {str(r[0]) for r in rows}

    def opted_out_handles(self, chat_id: str) -> set[str]:
        """Handles that opted-out participants used in the chat's undeleted messages."""
        rows = self.conn.execute(
            "SELECT DISTINCT m.author_handle FROM messages m"
            " WHERE m.chat_id = ? AND m.deleted_at IS NULL AND m.author_handle != ''"
            " AND EXISTS (SELECT 1 FROM optouts o"
            " WHERE o.platform = m.platform AND o.author_id = m.author_id)",
            (chat_id,),
        ).fetchall()
        return {str(r[0]) for r in rows}


_STREAM_COLUMNS = (
    "chat_id, platform, platform_id, author_id, author_name, author_handle, text, created_at,"
    " kind, question_keys, late, reply_to, permalink, edited_at, deleted_at, mentions,"
    " reactions, channel"
)
_STREAM_COLUMNS_OF_M = ", ".join(f"m.{c.strip()}" for c in _STREAM_COLUMNS.split(","))
_KINDS = {k.value: k for k in MessageKind}


_UPSERT_MESSAGE = """
INSERT INTO messages (
    chat_id, platform, platform_id, channel, author_id, author_name, author_handle, text,
    created_at, kind, question_keys, late, reply_to, permalink, edited_at, deleted_at,
    mentions, reactions, raw, captured_at
) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (platform, platform_id) DO UPDATE SET
    text = excluded.text,
    edited_at = excluded.edited_at,
    kind = excluded.kind,
    question_keys = excluded.question_keys,
    mentions = excluded.mentions,
    raw = excluded.raw
WHERE excluded.edited_at IS NOT NULL
  AND (messages.edited_at IS NULL OR excluded.edited_at > messages.edited_at)
  AND messages.deleted_at IS NULL
"""


_SEARCH_CURSOR = f"SELECT CAST(value AS INTEGER) FROM state WHERE key = '{SEARCH_CURSOR_KEY}'"
_CLAMP_SEARCH_CURSOR = (
    "UPDATE state SET value = MIN(CAST(value AS INTEGER), (SELECT COALESCE(MAX(id), 0) FROM messages))"
    f" WHERE key = '{SEARCH_CURSOR_KEY}'"
)
_ADVANCE_SEARCH_CURSOR = (
    "UPDATE state SET value = (SELECT COALESCE(MAX(id), 0) FROM messages)"
    f" WHERE key = '{SEARCH_CURSOR_KEY}'"
)
_INDEX_NEW_MESSAGES = (
    "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ?"
)

_NO_RAW: dict[str, Any] = {}
# json.dumps(raw, default=str, ensure_ascii=False), without building an encoder per call.
_RAW_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


def _raw_json(raw: Mapping[str, Any]) -> str:
    """A message's raw platform payload as stored (most captured messages have none)."""
    if type(raw) is dict and not raw:
        return "{}"
    return _RAW_ENCODER.encode(raw)


def _message_row(m: CapturedMessage, raw_json: str, now: str) -> tuple[object, ...]:
    """The parameters of ``_UPSERT_MESSAGE`` for ``m``."""
    return (
        m.chat_id,
        m.platform,
        m.platform_id,
        m.channel,
        m.author_id,
        m.author_name,
        m.author_handle,
        m.text,
        iso(m.created_at),
        str(m.kind),
        " ".join(m.question_keys),
        int(m.late),
        m.reply_to,
        m.permalink,
        None if m.edited_at is None else iso(m.edited_at),
        None if m.deleted_at is None else iso(m.deleted_at),
        " ".join(m.mentions),
        m.reactions,
        raw_json,
        now,
    )


def _message_from_tuple(r: Sequence[Any]) -> CapturedMessage:
    """A message from a plain row of ``_STREAM_COLUMNS`` (positional: a quarter of the cost
    of ``sqlite3.Row`` look-ups by name at transcript scale)."""
    created = datetime.fromisoformat(r[7])
    # Rows are written by iso() in UTC; be safe anyway (a string test is cheaper than
    # utcoffset() on every row).
    if not r[7].endswith("+00:00") and created.utcoffset():
        created = created.astimezone(UTC)
    return CapturedMessage(
        r[0],  # chat_id
        r[1],  # platform
        r[2],  # platform_id
        r[3],  # author_id
        r[4],  # author_name
        r[5],  # author_handle
        r[6],  # text
        created,
        _KINDS[r[8]],
        tuple(r[9].split()) if r[9] else (),  # question_keys
        bool(r[10]),  # late
        r[11],  # reply_to
        r[12],  # permalink
        _opt_parse(r[13]),  # edited_at
        _opt_parse(r[14]),  # deleted_at
        tuple(r[15].split()) if r[15] else (),  # mentions
        r[16],  # reactions
        r[17],  # channel
    )


class AsyncStore:
    """Runs a `Store` on one dedicated thread: every call is awaited, none blocks the loop.

    One thread means one writer, so write transactions never contend with each other.
    """

    def __init__(self, path: Path | str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        # The connection is made on the store thread, the only thread that ever uses it.
        self._store: Store | None = self._executor.submit(Store, path).result()

    @property
    def sync(self) -> Store:
        """The underlying store, for code already running on the store thread."""
        assert self._store is not None
        return self._store

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `fn(*args, **kwargs)` on the store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = getattr(self.sync, name)
        if not callable(target):
            raise AttributeError(name)

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await self.call(target, *args, **kwargs)

        return method

    async def aclose(self) -> None:
        """Finish the write in progress, then close the connection."""
        store = self._store
        if store is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, store.close)
        self._executor.shutdown(wait=True)
        self._store = None

    def close(self) -> None:
        store = self._store
        if store is None:
            return
        self._executor.submit(store.close).result()
        self._executor.shutdown(wait=True)
        self._store = None
