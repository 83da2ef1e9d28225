"""Participants: opt-outs (excluded from transcripts) and participation across a series."""

from __future__ import annotations

from archive.models import Chat
from archive.store.connection import Connection, iso


def participant_key(platform: str, author_id: str) -> str:
    """``platform:author_id``: one participant, across chats."""
    return f"{platform}:{author_id}"


class Participants(Connection):
    """The ``optouts`` table, and the participants of stored messages."""

    def opt_out(self, platform: str, author_id: str, handle: str = "") -> None:
        """Exclude the participant from transcripts from now on (``at`` is the store's clock)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO optouts (platform, author_id, handle, at) VALUES (?,?,?,?)",
                (platform, author_id, handle, iso(self.now())),
            )

    def opt_in(self, platform: str, author_id: str) -> bool:
        """Undo an opt-out; returns whether the participant had opted out."""
        with self.transaction():
            cur = self.conn.execute(
                "DELETE FROM optouts WHERE platform=? AND author_id=?", (platform, author_id)
            )
            return cur.rowcount > 0

    def opted_out(self) -> frozenset[str]:
        """Participant keys (:func:`participant_key`) of everyone who opted out."""
        rows = self.conn.execute("SELECT platform, author_id FROM optouts").fetchall()
        return frozenset(participant_key(r[0], r[1]) for r in rows)

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
