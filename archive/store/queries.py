"""The web archive's read queries: pages of chats, hashtags, counts, search, and the
fingerprints its render cache is keyed on. Read-only; used by ``archive/web``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from archive.models import CapturedMessage, Chat, ChatStatus
from archive.store.chats import chat_from_row
from archive.store.connection import Connection, parse_iso
from archive.store.messages import STREAM_COLUMNS_OF_M, message_from_tuple
from archive.store.participants import chat_participants

_PLAIN_SNIPPET_CHARS = 280


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class WebQueries(Connection):
    """Reads across tables, shaped for the web archive's pages."""

    def schema_version(self) -> int:
        """The newest migration applied to the database (0 for none)."""
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
        params: list[str | int] = list(wanted)
        if hashtag_key is not None:
            sql += " AND hashtag_key = ?"
            params.append(hashtag_key)
        order = "DESC" if newest_first else "ASC"
        sql += f" ORDER BY start {order}, id {order} LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [chat_from_row(self.conn, r) for r in self.conn.execute(sql, params).fetchall()]

    def count_chats(self, statuses: Iterable[ChatStatus], *, hashtag_key: str | None = None) -> int:
        """How many chats :meth:`chats_page` pages through."""
        wanted = [str(s) for s in statuses]
        sql = f"SELECT COUNT(*) FROM chats WHERE status IN ({','.join('?' * len(wanted))})"
        params: list[str] = list(wanted)
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
        first; participants by the one definition every figure uses (`participants_of`,
        as the chat's own statistics count them)."""
        chats = self.conn.execute(
            "SELECT * FROM chats WHERE hashtag_key = ? AND status != 'cancelled'"
            " ORDER BY start, id",
            (hashtag_key,),
        ).fetchall()
        return [(c["id"], chat_participants(self.conn, chat_from_row(self.conn, c))) for c in chats]

    def search_messages(
        self,
        match: str,
        *,
        exclude: str = "",
        authors: Sequence[str] = (),
        hashtag_keys: Sequence[str] = (),
        limit: int,
        offset: int = 0,
        marks: tuple[str, str] = ("[", "]"),
    ) -> list[tuple[CapturedMessage, str]]:
        """Shown messages (not deleted, not reposts, not by opted-out participants), newest
        first, with a snippet highlighted by ``marks``: those whose text matches the FTS5
        query ``match`` ("" for any text) and not ``exclude`` (""), by one of ``authors``
        (handles, case-insensitive; ``ann`` is also ``ann@any.instance``) and in a chat of
        one of ``hashtag_keys`` (casefolded ``#tag``), when given. Without ``match`` the
        snippet is the start of the text. Raises ``sqlite3.OperationalError`` for a query
        FTS5 cannot parse."""
        self.wait_for_background()  # an import's rows are indexed on a thread
        where = [
            "m.deleted_at IS NULL AND m.kind != 'repost'",
            "NOT EXISTS (SELECT 1 FROM optouts o"
            " WHERE o.platform = m.platform AND o.author_id = m.author_id)",
        ]
        params: list[object] = []
        if match:
            source = "messages_fts JOIN messages m ON m.id = messages_fts.rowid"
            snippet = "snippet(messages_fts, 0, ?, ?, '…', 24)"
            order = "messages_fts.rowid"  # FTS5 walks its index newest first, and stops
            where.insert(0, "messages_fts MATCH ?")
            params += [marks[0], marks[1], match]
        else:
            source, order = "messages m", "m.id"
            n = _PLAIN_SNIPPET_CHARS
            snippet = (
                f"CASE WHEN length(m.text) > {n} THEN substr(m.text, 1, {n}) || '…' ELSE m.text END"
            )
        if exclude:
            where.append("m.id NOT IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
            params.append(exclude)
        if authors:
            # LIKE folds ASCII case; a Mastodon handle is user@instance.
            where.append(
                "("
                + " OR ".join(["ltrim(m.author_handle, '@') LIKE ? ESCAPE '\\'"] * 2 * len(authors))
                + ")"
            )
            for author in authors:
                handle = _like_escape(author.lstrip("@"))
                params += [handle, handle + "@%"]
        if hashtag_keys:
            marks_ = ",".join("?" * len(hashtag_keys))
            where.append(f"m.chat_id IN (SELECT id FROM chats WHERE hashtag_key IN ({marks_}))")
            params += list(hashtag_keys)
        cur = self.conn.cursor()
        cur.row_factory = None
        rows = cur.execute(
            f"SELECT {STREAM_COLUMNS_OF_M}, {snippet} FROM {source}"
            f" WHERE {' AND '.join(where)} ORDER BY {order} DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [(message_from_tuple(r), str(r[-1])) for r in rows]

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

    def chat_fingerprint(self, chat_id: str) -> tuple[object, ...]:
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
