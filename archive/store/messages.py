"""Captured messages and their full-text search index.

Capture is idempotent: one row per (platform, platform message id); an edit updates it, a
deletion marks it. The FTS5 index (``messages_fts``) is kept in step by the saves
themselves, through a cursor in the ``state`` table (see migration 3): every row at or
below the cursor is indexed, every row above it is not, and each save indexes its new rows
in its own transaction. A bulk load (an import) instead leaves its rows to
:func:`index_search`, run on another thread once it has committed
(``Connection.bulk_load(after=...)``); should that never happen (the process stopped), the
next save, or the next opening of the store, indexes them. The index stems words (Porter
over unicode61, diacritics folded: migration 4), at writing and at querying alike; FTS5's
integrity check against this table holds after any sequence of saves, edits and deletions
(tests/archive/test_search_index.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from archive.migrations import SEARCH_CURSOR_KEY
from archive.models import Attachment, AttachmentKind, CapturedMessage, MessageKind
from archive.store.connection import Connection, iso, opt_parse
from archive.store.state import flag_republish

logger = logging.getLogger(__name__)

SQLRow = Sequence[Any]
"""A plain row as ``sqlite3`` returns it (its cells are whatever the columns hold)."""

Raw = Mapping[str, object]
"""A message's raw platform payload (JSON-like), kept beside it for later re-processing."""

STREAM_COLUMNS = (
    "chat_id, platform, platform_id, author_id, author_name, author_handle, text, created_at,"
    " kind, question_keys, late, reply_to, permalink, edited_at, deleted_at, mentions,"
    " reactions, channel, attachments"
)
STREAM_COLUMNS_OF_M = ", ".join(f"m.{c.strip()}" for c in STREAM_COLUMNS.split(","))
_KINDS = {k.value: k for k in MessageKind}
TRANSCRIPT_COLUMNS = (
    "platform, platform_id, author_id, author_name, author_handle, text, created_at, kind,"
    " question_keys, late, permalink, edited_at, deleted_at, mentions, reactions, attachments"
)
"""The columns of :meth:`MessageTables.iter_message_rows`, in this order."""


INSERT_MESSAGE = """
INSERT INTO messages (
    chat_id, platform, platform_id, channel, author_id, author_name, author_handle, text,
    created_at, kind, question_keys, late, reply_to, permalink, edited_at, deleted_at,
    mentions, reactions, raw, captured_at, attachments
) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
"""
"""A message row (:func:`message_row`) inserted; ``sqlite3.IntegrityError`` when stored."""
UPSERT_MESSAGE = (
    INSERT_MESSAGE
    + """ON CONFLICT (platform, platform_id) DO UPDATE SET
    text = excluded.text,
    attachments = excluded.attachments,
    edited_at = excluded.edited_at,
    kind = excluded.kind,
    question_keys = excluded.question_keys,
    mentions = excluded.mentions,
    raw = excluded.raw
WHERE excluded.edited_at IS NOT NULL
  AND (messages.edited_at IS NULL OR excluded.edited_at > messages.edited_at)
  AND messages.deleted_at IS NULL
"""
)


_SEARCH_CURSOR = f"SELECT CAST(value AS INTEGER) FROM state WHERE key = '{SEARCH_CURSOR_KEY}'"
# Both write only when the value changes: a save that changed nothing changes no row, so it
# leaves the archive's generation (and the published transcripts current).
_MAX_ID = "(SELECT COALESCE(MAX(id), 0) FROM messages)"
_CLAMP_SEARCH_CURSOR = (
    f"UPDATE state SET value = {_MAX_ID}"
    f" WHERE key = '{SEARCH_CURSOR_KEY}' AND CAST(value AS INTEGER) > {_MAX_ID}"
)
_ADVANCE_SEARCH_CURSOR = (
    f"UPDATE state SET value = {_MAX_ID}"
    f" WHERE key = '{SEARCH_CURSOR_KEY}' AND CAST(value AS INTEGER) != {_MAX_ID}"
)
_INDEX_NEW_MESSAGES = (
    "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ?"
)


def index_search(conn: sqlite3.Connection) -> int:
    """Add the rows past the search cursor to the search index, in one transaction of its
    own on ``conn`` (in autocommit mode); returns how many.

    It moves no generation (``Connection.transaction`` is not used): the search index is no
    transcript's input, and an import's transcripts, published meanwhile, stay current.
    Raises ``sqlite3.Error`` (the transaction rolled back) when SQLite fails.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        count = _index_past(conn, _search_cursor(conn))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def _search_cursor(conn: sqlite3.Connection) -> int:
    # Every row at or below the cursor is indexed. Clamp it to MAX(id) first: after the
    # newest rows were deleted (a chat deleted), SQLite reuses their ids.
    conn.execute(_CLAMP_SEARCH_CURSOR)
    return int(conn.execute(_SEARCH_CURSOR).fetchone()[0])


def _index_past(conn: sqlite3.Connection, indexed: int) -> int:
    # New rows get ids above MAX(id), so they are exactly those past the cursor; one
    # INSERT ... SELECT indexes them far cheaper than a trigger per row (migration 3).
    cur = conn.execute(_INDEX_NEW_MESSAGES, (indexed,))
    conn.execute(_ADVANCE_SEARCH_CURSOR)
    return max(cur.rowcount, 0)


_NO_RAW: Raw = {}
# json.dumps(raw, default=str, ensure_ascii=False), without building an encoder per call.
_RAW_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


def raw_json(raw: Raw) -> str:
    """A message's raw platform payload as stored (most captured messages have none)."""
    if type(raw) is dict and not raw:
        return "{}"
    return _RAW_ENCODER.encode(raw)


def export_json(raw: Raw) -> str:
    """A payload parsed from JSON (only dicts, lists, strings, numbers, booleans and null: an
    export read by ijson) as stored in the ``raw`` column, encoded by orjson: compact (no
    blank after ``,`` and ``:``), UTF-8 kept as is, keys in their order; :func:`raw_json`
    gives the same value with blanks, 5x slower. What orjson cannot encode exactly (an
    integer beyond 64 bits) is left to :func:`raw_json`.
    """
    try:
        return orjson.dumps(raw).decode("utf-8")
    except orjson.JSONEncodeError:
        return raw_json(raw)


def attachments_json(attachments: tuple[Attachment, ...]) -> str:
    """A message's attachments as stored: a JSON list of ``{"kind", "name", "url"}``, or
    ``""`` when it has none (migration 5)."""
    if not attachments:
        return ""
    return json.dumps(
        [{"kind": a.kind.value, "name": a.name, "url": a.url} for a in attachments],
        ensure_ascii=False,
    )


def attachments_from_json(text: str) -> tuple[Attachment, ...]:
    """The attachments stored by :func:`attachments_json`."""
    if not text:
        return ()
    return tuple(
        Attachment(str(a.get("name", "")), str(a.get("url", "")), AttachmentKind(a["kind"]))
        for a in json.loads(text)
    )


RAW_COLUMN = 18
"""Where :func:`message_row` puts the raw payload."""


def message_row(m: CapturedMessage, raw_text: str, now: str) -> tuple[object, ...]:
    """The parameters of ``UPSERT_MESSAGE`` for ``m``, captured at ``now`` (as :func:`iso`)."""
    return row_of(
        m.chat_id,
        m.platform,
        m.platform_id,
        m.channel,
        m.author_id,
        m.author_name,
        m.author_handle,
        m.text,
        m.created_at,
        m.kind,
        m.question_keys,
        m.late,
        m.reply_to,
        m.permalink,
        m.edited_at,
        m.deleted_at,
        m.mentions,
        m.reactions,
        raw_text,
        now,
        m.attachments,
    )


def row_of(
    chat_id: str,
    platform: str,
    platform_id: str,
    channel: str,
    author_id: str,
    author_name: str,
    author_handle: str,
    text: str,
    created_at: datetime | str,
    kind: MessageKind,
    question_keys: tuple[str, ...],
    late: bool,
    reply_to: str,
    permalink: str,
    edited_at: datetime | None,
    deleted_at: datetime | None,
    mentions: tuple[str, ...],
    reactions: int,
    raw_text: str,
    now: str,
    attachments: tuple[Attachment, ...],
) -> tuple[object, ...]:
    """:func:`message_row` from the fields of a :class:`CapturedMessage` (in the columns'
    order), for a bulk load that has them without the message (an import: building ~95k
    frozen dataclasses costs it ~0.5 s). ``created_at`` may be given as :func:`iso` text
    already."""
    return (
        chat_id,
        platform,
        platform_id,
        channel,
        author_id,
        author_name,
        author_handle,
        text,
        created_at if isinstance(created_at, str) else iso(created_at),
        str(kind),
        " ".join(question_keys),
        int(late),
        reply_to,
        permalink,
        None if edited_at is None else iso(edited_at),
        None if deleted_at is None else iso(deleted_at),
        " ".join(mentions),
        reactions,
        raw_text,
        now,
        attachments_json(attachments) if attachments else "",
    )


def message_from_tuple(r: SQLRow) -> CapturedMessage:
    """A message from a plain row of ``STREAM_COLUMNS`` (positional: a quarter of the cost
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
        opt_parse(r[13]),  # edited_at
        opt_parse(r[14]),  # deleted_at
        tuple(r[15].split()) if r[15] else (),  # mentions
        r[16],  # reactions
        r[17],  # channel
        attachments_from_json(r[18]) if r[18] else (),  # attachments
    )


class MessageTables(Connection):
    """The ``messages`` table and its search index ``messages_fts``."""

    def _opened(self) -> None:
        super()._opened()
        # Rows an import left unindexed when it was stopped before its thread could index
        # them (index_search); nothing to do, the usual case, costs two look-ups.
        if not self._versioned:
            return
        pending = self.conn.execute(f"SELECT {_MAX_ID} > ({_SEARCH_CURSOR})").fetchone()[0]
        if pending:
            try:
                index_search(self.conn)
            except sqlite3.OperationalError as e:  # busy: another process is writing
                logger.warning("%s: messages left to index for search (%s)", self.path, e)
            # Not changes for the generation to count (see index_search).
            self._counted = self.conn.total_changes

    def save_messages(
        self, messages: Iterable[CapturedMessage], raws: Iterable[Raw] | None = None
    ) -> int:
        """Insert or update captured messages in one transaction; returns rows written.

        Idempotent per (platform, platform_id): a redelivery changes nothing, an edit (a newer
        `edited_at`) updates the text, and a deleted message stays deleted. ``raws`` pairs a
        raw payload with each message (missing ones are stored as ``{}``); ``captured_at``
        is the store's clock.
        """
        now = iso(self.now())
        if raws is None:
            rows = [message_row(m, "{}", now) for m in messages]
        else:
            padded = itertools.chain(raws, itertools.repeat(_NO_RAW))  # missing raws: {}
            rows = [
                message_row(m, raw_json(raw), now) for m, raw in zip(messages, padded, strict=False)
            ]
        if not rows:
            return 0
        with self.transaction():
            indexed = _search_cursor(self.conn)
            cur = self.conn.executemany(UPSERT_MESSAGE, rows)
            written = max(cur.rowcount, 0)
            _index_past(self.conn, indexed)
            return written

    def save_encoded_messages(
        self, messages: Sequence[CapturedMessage], raw_texts: Sequence[str], *, index: bool = True
    ) -> int:
        """:meth:`save_messages` for a bulk load whose raw payloads are already JSON text (as
        :func:`raw_json` writes them, one per message, same order); returns rows written.

        ``index=False`` leaves the new rows out of the search index for now: the caller
        then indexes them all at once with :meth:`index_new_messages` before its enclosing
        transaction commits (an import does; one statement for every row is cheaper than one
        per batch). Rows left unindexed stay correct meanwhile: an update of a row above the
        search cursor touches no index entry, and the final indexing reads its final text.
        """
        if len(raw_texts) != len(messages):
            raise ValueError("save_encoded_messages: one raw text per message")
        if not messages:
            return 0
        now = iso(self.now())
        rows = [message_row(m, raw, now) for m, raw in zip(messages, raw_texts, strict=True)]
        return self.save_message_rows(rows, index=index)

    def save_message_rows(
        self, rows: Sequence[SQLRow], *, index: bool = True, all_new: bool = False
    ) -> int:
        """:meth:`save_encoded_messages` for rows already made by :func:`message_row` (an
        import makes them in its reader process); returns rows written. ``index`` as there.
        ``all_new``: the rows are likely not stored yet (an import into a new chat): they
        are inserted, and upserted only from the first one found stored. The result is the
        same either way."""
        if not rows:
            return 0
        written = 0
        with self.transaction():
            # Clamped before every insert, indexed or not (see _search_cursor): rows the
            # deferred indexing must find are exactly those above it.
            indexed = _search_cursor(self.conn)
            upsert = True
            if all_new:
                # Rows never seen before, the usual case of an import: a plain INSERT is
                # ~15% cheaper than the upsert. At the first row already stored, the rows
                # before it are in, and the batch is upserted from its start (which leaves
                # those rows as they are: same text, same edit time, same ids).
                before = self.conn.total_changes
                try:
                    self.conn.executemany(INSERT_MESSAGE, rows)
                    written, upsert = len(rows), False
                except sqlite3.IntegrityError:
                    written = self.conn.total_changes - before  # no trigger fires on INSERT
            if upsert:
                cur = self.conn.executemany(UPSERT_MESSAGE, rows)
                written += max(cur.rowcount, 0)
            if index:
                _index_past(self.conn, indexed)
            return written

    def index_new_messages(self) -> int:
        """Add rows written to ``messages`` other than by :meth:`save_messages` (a bulk
        load in SQL, or :meth:`save_encoded_messages` with ``index=False``) to the search
        index; returns how many. Saves index their own rows."""
        with self.transaction():
            return _index_past(self.conn, _search_cursor(self.conn))

    def platform_ids(self, chat_id: str, platform: str) -> set[str]:
        """Platform ids of every stored message of the chat on ``platform``, deleted too."""
        rows = self.conn.execute(
            "SELECT platform_id FROM messages WHERE chat_id = ? AND platform = ?",
            (chat_id, platform),
        )
        return {r[0] for r in rows}

    def recapture_messages(
        self, chat_id: str, platform: str, verdicts: Sequence[tuple[str, str, int, str]]
    ) -> int:
        """Give the chat's stored messages on ``platform`` the verdicts of a new capture of
        them under other rules (an import made again with other hosts or labels):
        ``(kind, question keys, late, platform id)`` each, as :func:`message_row` writes
        them; the chat's messages on ``platform`` that ``verdicts`` do not name no longer
        belong to it and are deleted. Returns how many were deleted.

        The upsert of a save leaves a stored message's kind as it was (only a newer edit
        changes a row), so a capture under new rules needs this to take effect. A message
        stored under another chat is left alone, as a save leaves it."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE messages SET kind = ?, question_keys = ?, late = ?"
                " WHERE chat_id = ? AND platform = ? AND platform_id = ?"
                # Only rows whose verdict moves: an unchanged row is no write.
                " AND NOT (kind = ? AND question_keys = ? AND late = ?)",
                [
                    (kind, keys, late, chat_id, platform, pid, kind, keys, late)
                    for kind, keys, late, pid in verdicts
                ],
            )
            kept = {pid for *_verdict, pid in verdicts}
            gone = [(chat_id, platform, pid) for pid in self.platform_ids(chat_id, platform) - kept]
            self.conn.executemany(
                "DELETE FROM messages WHERE chat_id = ? AND platform = ? AND platform_id = ?",
                gone,
            )
            return len(gone)

    def chat_of_message(self, platform: str, platform_id: str) -> str | None:
        """The id of the chat a stored message belongs to, or None."""
        row = self.conn.execute(
            "SELECT chat_id FROM messages WHERE platform = ? AND platform_id = ?",
            (platform, platform_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def mark_deleted(self, platform: str, platform_id: str, at: datetime) -> bool:
        """Mark a message deleted (it leaves every output; a published chat's files are
        flagged to be written again, ``flag_if_published``). Returns whether it was known."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT chat_id, deleted_at FROM messages WHERE platform = ? AND platform_id = ?",
                (platform, platform_id),
            ).fetchone()
            if row is None:
                return False
            if row["deleted_at"] is None:
                self.conn.execute(
                    "UPDATE messages SET deleted_at = ? WHERE platform = ? AND platform_id = ?",
                    (iso(at), platform, platform_id),
                )
                with self.bookkeeping():  # the files are behind: written again
                    flag_republish(self.conn, str(row["chat_id"]))
            return True

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
            cur = self.conn.execute(
                "UPDATE messages SET text=?, edited_at=? WHERE platform=? AND platform_id=?"
                " AND (text IS NOT ? OR edited_at IS NOT ?)",
                (text, iso(edited_at), platform, platform_id, text, iso(edited_at)),
            )
            if cur.rowcount:  # (the same edit met again, a backfill's, changes nothing)
                with self.bookkeeping():  # a published chat's files are written again
                    flag_republish(self.conn, str(row["chat_id"]))
            return str(row["chat_id"])

    def add_reactions(self, platform: str, platform_id: str, delta: int) -> None:
        """Add ``delta`` (may be negative) to a message's reaction count, never below 0."""
        with self.transaction():
            self.conn.execute(
                "UPDATE messages SET reactions = MAX(0, reactions + ?)"
                " WHERE platform=? AND platform_id=?",
                (delta, platform, platform_id),
            )

    def message_chat(self, platform: str, platform_id: str) -> str | None:
        """The id of the chat a stored message belongs to, if it is stored."""
        row = self.conn.execute(
            "SELECT chat_id FROM messages WHERE platform=? AND platform_id=?",
            (platform, platform_id),
        ).fetchone()
        return None if row is None else str(row["chat_id"])

    def _stream_messages(
        self, where: str, params: Sequence[object], batch: int = 5000
    ) -> Iterator[CapturedMessage]:
        """Messages matching ``where``, in time order, built from plain tuples (a quarter
        of the cost of ``sqlite3.Row`` look-ups by name at transcript scale)."""
        for rows in self._stream_rows(STREAM_COLUMNS, where, params, batch):
            for r in rows:
                yield message_from_tuple(r)

    def _stream_rows(
        self, columns: str, where: str, params: Sequence[object], batch: int
    ) -> Iterator[list[SQLRow]]:
        """Plain tuples of ``columns`` of the messages matching ``where``, in time order,
        ``batch`` rows at a time."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(f"SELECT {columns} FROM messages WHERE {where} ORDER BY created_at, id", params)
        while rows := cur.fetchmany(batch):
            yield rows

    def iter_messages(
        self, chat_id: str, *, include_deleted: bool = True, batch: int = 5000
    ) -> Iterator[CapturedMessage]:
        """The chat's messages in time order, streamed in batches (memory stays flat)."""
        where = "chat_id = ?" + ("" if include_deleted else " AND deleted_at IS NULL")
        return self._stream_messages(where, (chat_id,), batch)

    def iter_message_rows(self, chat_id: str, *, batch: int = 5000) -> Iterator[list[SQLRow]]:
        """The chat's messages, deleted ones too, in time order, as lists of up to
        ``batch`` plain tuples of :data:`TRANSCRIPT_COLUMNS` as stored (instants as
        :func:`iso` text, ``question_keys`` and ``mentions`` space-separated, ``late`` 0 or 1,
        ``attachments`` as :func:`attachments_json`): what a publication reads, without
        building a :class:`CapturedMessage` per row (memory stays flat)."""
        return self._stream_rows(TRANSCRIPT_COLUMNS, "chat_id = ?", (chat_id,), batch)

    def messages(self, chat_id: str, *, include_deleted: bool = True) -> list[CapturedMessage]:
        """The chat's messages in time order."""
        return list(self.iter_messages(chat_id, include_deleted=include_deleted))

    def message_ids(self, chat_id: str, platform: str) -> list[str]:
        """Platform ids of the chat's undeleted messages on ``platform``."""
        rows = self.conn.execute(
            "SELECT platform_id FROM messages WHERE chat_id=? AND platform=? AND deleted_at IS NULL",
            (chat_id, platform),
        ).fetchall()
        return [r[0] for r in rows]

    def follow_up_posts(self, chat_id: str) -> list[tuple[str, tuple[str, ...]]]:
        """``(platform_id, question keys)`` of the chat's undeleted host posts about its
        questions (kind ``host`` with question keys, a host's "Q1 follow-up: ...": see
        ``archive.capture``), in time order: a reply to one answers those questions, as a
        reply to a question's own post does."""
        rows = self.conn.execute(
            "SELECT platform_id, question_keys FROM messages WHERE chat_id = ?"
            " AND kind = 'host' AND question_keys != '' AND deleted_at IS NULL"
            " ORDER BY created_at, id",
            (chat_id,),
        ).fetchall()
        return [(str(pid), tuple(str(keys).split())) for pid, keys in rows]

    def count_messages(self, chat_id: str) -> int:
        """The chat's undeleted messages."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM messages WHERE chat_id = ? AND deleted_at IS NULL", (chat_id,)
        ).fetchone()
        return int(row[0])

    def has_attachments(self, chat_id: str) -> bool:
        """Whether any undeleted message of the chat carries files or stickers."""
        row = self.conn.execute(
            "SELECT 1 FROM messages WHERE chat_id = ? AND attachments != ''"
            " AND deleted_at IS NULL LIMIT 1",
            (chat_id,),
        ).fetchone()
        return row is not None

    def chat_platforms(self, chat_id: str) -> set[str]:
        """The platforms of the chat's undeleted messages."""
        rows = self.conn.execute(
            "SELECT DISTINCT platform FROM messages WHERE chat_id = ? AND deleted_at IS NULL",
            (chat_id,),
        ).fetchall()
        return {str(r[0]) for r in rows}
