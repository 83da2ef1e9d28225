"""Chats and their questions, plus what hangs off a chat: host controls and the
transcripts written for it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from archive.labels import Labels
from archive.models import IMPORTED_SOURCE, Chat, ChatStatus, Question, Target
from archive.store.connection import Connection, iso, parse_iso
from archive.store.errors import DuplicateChatError, NotFoundError


@dataclass(frozen=True, slots=True)
class RecordedTranscript:
    """A transcript file as recorded when it was written: where, when (``generated_at``,
    what its footer says, or the chat's grace end when it has none), the archive's
    generation it was rendered at (None: not known), the fingerprint of the options and
    code that rendered it (``archive.published.transcript_options``; '' unknown), and the
    file's size in bytes and SHA-256 (hex) as written (None / '' unknown)."""

    chat_id: str
    format: str
    path: Path
    generated_at: datetime
    generation: int | None = None
    options: str = ""
    size: int | None = None
    sha256: str = ""


def chat_from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> Chat:
    """The chat of a ``chats`` row, with its questions read from ``conn``."""
    questions = tuple(
        Question(
            number=q["number"],
            text=q["text"],
            offset=timedelta(seconds=q["offset_seconds"]),
            part=q["part"],
        )
        for q in conn.execute(
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
        language=row["language"],
        created_at=parse_iso(row["created_at"]),
        split_long_posts=bool(row["split_long_posts"]),
        labels=Labels(row["question_label"], row["answer_label"]),
        digest=bool(row["digest"]),
    )


class ChatTables(Connection):
    """The ``chats``, ``questions``, ``controls`` and ``transcripts`` tables."""

    def add_chat(
        self,
        chat: Chat,
        *,
        reminders: Sequence[timedelta] = (),
        source: str = "",
        replace_existing: bool = False,
    ) -> Chat:
        """Store a new chat with its questions; returns it with ``created_at`` set (the
        store's clock when the chat has none). Raises DuplicateChatError if the id exists
        and ``replace_existing`` is false; replacing keeps the chat's posts and messages."""
        created = chat.created_at or self.now()
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
                "language": chat.language,
                "source": source,
                "created_at": iso(created),
                "split_long_posts": int(chat.split_long_posts),
                "question_label": chat.labels.question,
                "answer_label": chat.labels.answer,
            }
            if chat.digest or exists:
                # The column's default covers a new chat without a digest: such a row is
                # written as before migration 10 (tests build archives of older schemas
                # with this code).
                row["digest"] = int(chat.digest)
            if exists:
                # UPDATE, never INSERT OR REPLACE: a replace deletes the row first, and the
                # cascade would take the chat's posts, messages and controls with it.
                self.conn.execute("DELETE FROM questions WHERE chat_id = ?", (chat.id,))
                sets = ", ".join(f"{name} = :{name}" for name in row)
                self.conn.execute(f"UPDATE chats SET {sets} WHERE id = :id", row)
            else:
                names = ", ".join(row)
                values = ", ".join(f":{name}" for name in row)
                self.conn.execute(f"INSERT INTO chats ({names}) VALUES ({values})", row)
            self.conn.executemany(
                "INSERT INTO questions (chat_id, position, number, part, text, offset_seconds)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (chat.id, i, q.number, q.part, q.text, q.offset.total_seconds())
                    for i, q in enumerate(chat.questions)
                ],
            )
        return replace(chat, created_at=created)

    def unique_chat_id(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`... whichever is free."""
        candidate, n = base, 1
        while self.conn.execute("SELECT 1 FROM chats WHERE id = ?", (candidate,)).fetchone():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def get_chat(self, chat_id: str) -> Chat:
        """The chat with this id. Raises NotFoundError."""
        row = self.conn.execute("SELECT * FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat with id {chat_id!r}")
        return chat_from_row(self.conn, row)

    def find_chat(self, ref: str) -> Chat:
        """A chat by exact id, or by a unique id prefix (what a host types on the CLI).
        Raises NotFoundError when none or several match."""
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

    def find_chat_by_source(self, source: str) -> Chat | None:
        """The chat stored with this ``source`` (e.g. an import's), if there is one."""
        row = self.conn.execute(
            "SELECT * FROM chats WHERE source = ? ORDER BY created_at, id LIMIT 1", (source,)
        ).fetchone()
        return None if row is None else chat_from_row(self.conn, row)

    def is_imported(self, chat_id: str) -> bool:
        """Whether the chat was imported from an export (which the bot never runs)."""
        row = self.conn.execute("SELECT source FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return row is not None and str(row["source"]).startswith(IMPORTED_SOURCE)

    def chat_reminders(self, chat_id: str) -> tuple[timedelta, ...]:
        """How long before its start each reminder of the chat goes out, shortest first.
        Raises NotFoundError."""
        row = self.conn.execute("SELECT reminders FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no chat with id {chat_id!r}")
        return tuple(timedelta(seconds=s) for s in json.loads(row["reminders"]))

    def list_chats(
        self, statuses: Iterable[ChatStatus] | None = None, *, imported: bool = True
    ) -> list[Chat]:
        """Every chat (or those with one of ``statuses``), by start time then id.
        ``imported=False`` leaves out the chats imported from an export (a ``source``):
        the bot never runs them (an imported chat is ended until its transcripts are
        written: its intro, close and announcement were never the bot's to post)."""
        where = [] if imported else ["substr(source, 1, ?) != ?"]
        wanted: list[object] = [] if imported else [len(IMPORTED_SOURCE), IMPORTED_SOURCE]
        if statuses is not None:
            asked = [str(s) for s in statuses]
            where.append(f"status IN ({','.join('?' * len(asked))})")
            wanted += asked
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.conn.execute(
            f"SELECT * FROM chats{clause} ORDER BY start, id", wanted
        ).fetchall()
        return [chat_from_row(self.conn, r) for r in rows]

    def set_status(self, chat_id: str, status: ChatStatus) -> None:
        """Raises NotFoundError. A chat already in ``status`` is left alone: nothing is
        written (a republished chat's transcripts stay current)."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE chats SET status = ? WHERE id = ? AND status != ?",
                (str(status), chat_id, str(status)),
            )
            if (
                cur.rowcount == 0
                and not self.conn.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)).fetchone()
            ):
                raise NotFoundError(f"no chat with id {chat_id!r}")

    def mark_published(self, chat_id: str) -> None:
        """An ended chat becomes published (any other status is left alone), as
        bookkeeping: the archive's generation does not move, since an ended chat and a
        published one differ in no transcript (both are over), so the transcripts recorded
        in the same transaction stay current. For a publication that is not announced
        afterwards (an import's): the bot's own sets the status once it has announced."""
        with self.transaction(), self.bookkeeping():
            self.conn.execute(
                "UPDATE chats SET status = ? WHERE id = ? AND status = ?",
                (str(ChatStatus.PUBLISHED), chat_id, str(ChatStatus.ENDED)),
            )

    def set_end(self, chat_id: str, end: datetime) -> None:
        with self.transaction():
            self.conn.execute("UPDATE chats SET end = ? WHERE id = ?", (iso(end), chat_id))

    def set_wording(
        self, chat_id: str, questions: Sequence[Question], closing: str | None = None
    ) -> None:
        """Change the text of these questions (matched by label) and, when given, the
        closing words; nothing else of the chat. For a chat already under way."""
        with self.transaction():
            for q in questions:
                self.conn.execute(
                    "UPDATE questions SET text = ? WHERE chat_id = ? AND number = ? AND part = ?",
                    (q.text, chat_id, q.number, q.part),
                )
            if closing is not None:
                self.conn.execute("UPDATE chats SET closing = ? WHERE id = ?", (closing, chat_id))

    def delete_chat(self, chat_id: str) -> None:
        """Delete the chat and (by cascade) everything stored about it."""
        with self.transaction():
            self.conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # ---- controls and transcripts --------------------------------------------------------

    def record_control(self, chat_id: str, at: datetime, kind: str, detail: str, by: str) -> None:
        """Record a host's control of a live chat (``next``, ``pause``...) made at ``at``."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO controls (chat_id, at, kind, detail, by) VALUES (?,?,?,?,?)",
                (chat_id, iso(at), kind, detail, by),
            )

    def controls(self, chat_id: str) -> list[tuple[datetime, str, str, str]]:
        """(at, kind, detail, by) of the chat's controls, in the order they were made."""
        rows = self.conn.execute(
            "SELECT at, kind, detail, by FROM controls WHERE chat_id=? ORDER BY at, id", (chat_id,)
        ).fetchall()
        return [(parse_iso(r["at"]), r["kind"], r["detail"], r["by"]) for r in rows]

    def record_transcript(
        self,
        chat_id: str,
        fmt: str,
        path: str,
        generated_at: datetime,
        *,
        generation: int | None = None,
        options: str = "",
        size: int | None = None,
        sha256: str = "",
    ) -> None:
        """Record the chat's transcript in format ``fmt`` (replacing any earlier one), with
        what it was made from (see :class:`RecordedTranscript`; the defaults say "not
        known", and such a file is never taken as current).

        Bookkeeping: the record does not move the archive's generation, since no
        transcript shows it (a transcript recorded at generation N stays current at N).
        """
        with self.transaction(), self.bookkeeping():
            self.conn.execute(
                "INSERT OR REPLACE INTO transcripts (chat_id, format, path, generated_at,"
                " generation, options, size, sha256) VALUES (?,?,?,?,?,?,?,?)",
                (chat_id, fmt, path, iso(generated_at), generation, options, size, sha256),
            )

    def recorded_transcript(self, chat_id: str, fmt: str) -> RecordedTranscript | None:
        """The record of the chat's transcript in format ``fmt``, if one was written."""
        row = self.conn.execute(
            "SELECT * FROM transcripts WHERE chat_id = ? AND format = ?", (chat_id, fmt)
        ).fetchone()
        if row is None:
            return None
        return RecordedTranscript(
            chat_id=row["chat_id"],
            format=row["format"],
            path=Path(row["path"]),
            generated_at=parse_iso(row["generated_at"]),
            generation=row["generation"],
            options=row["options"],
            size=row["size"],
            sha256=row["sha256"],
        )

    def transcripts(self, chat_id: str) -> dict[str, Path]:
        """format -> file of the chat's recorded transcripts."""
        rows = self.conn.execute(
            "SELECT format, path FROM transcripts WHERE chat_id = ?", (chat_id,)
        ).fetchall()
        return {r["format"]: Path(r["path"]) for r in rows}
