"""Participants: opt-outs (excluded from transcripts) and participation across a series."""

from __future__ import annotations

import sqlite3

from archive.hosts import author_is_host, host_idents
from archive.models import Chat
from archive.stats import counts_as_participant
from archive.store.chats import chat_from_row
from archive.store.connection import Connection, iso


def participant_key(platform: str, author_id: str) -> str:
    """``platform:author_id``: one participant, across chats."""
    return f"{platform}:{author_id}"


def chat_participants(conn: sqlite3.Connection, chat: Chat) -> set[str]:
    """:meth:`Participants.participants_of`, on a connection (the web's queries use it too)."""
    rows = conn.execute(
        "SELECT platform || ':' || author_id AS key, platform, author_id, MAX(author_handle) AS handle,"
        " MAX(kind IN ('question', 'host')) AS host_side"
        " FROM messages WHERE chat_id = ? AND deleted_at IS NULL"
        " GROUP BY platform, author_id",
        (chat.id,),
    ).fetchall()
    return {
        r["key"]
        for r in rows
        if counts_as_participant(
            chat, r["platform"], r["handle"], r["author_id"], bool(r["host_side"])
        )
    }


class Participants(Connection):
    """The ``optouts`` table, and the participants of stored messages."""

    def opt_out(self, platform: str, author_id: str, handle: str = "") -> None:
        """Exclude the participant from transcripts from now on (``at`` is the store's clock)."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO optouts (platform, author_id, handle, at) VALUES (?,?,?,?)",
                (platform, author_id, handle, iso(self.now())),
            )
            # The generation the opt-out commits at (it changed a row): transcript files
            # recorded before it show the participant (chats_showing_opted_out).
            generation = self.generation_at_commit()
            with self.bookkeeping():
                self.conn.execute(
                    "UPDATE optouts SET generation = ? WHERE platform = ? AND author_id = ?",
                    (generation, platform, author_id),
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
        # Nobody opted out (the usual archive): no scan of the chat's messages (~0.1 s for
        # 100k, on every publication).
        if self.conn.execute("SELECT 1 FROM optouts LIMIT 1").fetchone() is None:
            return set()
        rows = self.conn.execute(
            "SELECT DISTINCT m.author_handle FROM messages m"
            " WHERE m.chat_id = ? AND m.deleted_at IS NULL AND m.author_handle != ''"
            " AND EXISTS (SELECT 1 FROM optouts o"
            " WHERE o.platform = m.platform AND o.author_id = m.author_id)",
            (chat_id,),
        ).fetchall()
        return {str(r[0]) for r in rows}

    def participants_of(self, chat: Chat) -> set[str]:
        """Participant keys of the chat's non-deleted messages, by the one definition
        (:func:`archive.stats.counts_as_participant`) the chat's statistics use."""
        return chat_participants(self.conn, chat)

    def chats_showing_opted_out(self) -> list[Chat]:
        """The published chats whose transcript files were rendered before a participant
        of theirs opted out (a recorded file's generation below the opt-out's): the files
        still show that participant's words, and must be published again. Cheap when there
        are none (no opt-out after the oldest file)."""
        newer = self.conn.execute(
            "SELECT 1 FROM optouts WHERE generation > (SELECT MIN(generation) FROM transcripts)"
            " LIMIT 1"
        ).fetchone()
        if newer is None:
            return []
        rows = self.conn.execute(
            "SELECT * FROM chats c WHERE c.status = 'published' AND EXISTS ("
            " SELECT 1 FROM messages m JOIN optouts o"
            "  ON o.platform = m.platform AND o.author_id = m.author_id"
            " WHERE m.chat_id = c.id AND m.deleted_at IS NULL AND o.generation > ("
            "  SELECT MIN(t.generation) FROM transcripts t WHERE t.chat_id = c.id))"
            " ORDER BY c.start, c.id"
        ).fetchall()
        return [chat_from_row(self.conn, row) for row in rows]

    def hosts_not_met(self, chat: Chat) -> list[str]:
        """The chat's hosts (as given) that no author of its messages is, by the one rule
        (:func:`archive.hosts.author_is_host`): a misspelt ``--host``, or a host who did
        not post."""
        if not chat.hosts:
            return []
        authors = self.conn.execute(
            "SELECT DISTINCT platform, author_handle, author_id FROM messages WHERE chat_id = ?",
            (chat.id,),
        ).fetchall()
        missed = []
        for host in chat.hosts:
            ident = host_idents([host])
            if ident and not any(author_is_host(ident, *tuple(a)) for a in authors):
                missed.append(host)
        return missed

    def published_later_chats(self, chat: Chat) -> list[Chat]:
        """The chats of ``chat``'s hashtag that start after it (not cancelled) and have
        recorded transcripts, by start: those whose participation history (the returning
        participants in their statistics) counts ``chat`` among the earlier chats."""
        rows = self.conn.execute(
            "SELECT * FROM chats WHERE hashtag_key = ? AND start > ? AND id != ?"
            " AND status != 'cancelled'"
            " AND EXISTS (SELECT 1 FROM transcripts t WHERE t.chat_id = chats.id)"
            " ORDER BY start, id",
            (chat.hashtag.casefold(), iso(chat.start), chat.id),
        ).fetchall()
        return [chat_from_row(self.conn, row) for row in rows]

    def participation_history(self, chat: Chat) -> dict[str, int]:
        """participant key -> number of earlier chats with the same hashtag they took part
        in (participants as :meth:`participants_of` counts them)."""
        rows = self.conn.execute(
            "SELECT * FROM chats WHERE hashtag_key = ? AND start < ? AND id != ?"
            " AND status != 'cancelled'",
            (chat.hashtag.casefold(), iso(chat.start), chat.id),
        ).fetchall()
        counts: dict[str, int] = {}
        for row in rows:
            for key in self.participants_of(chat_from_row(self.conn, row)):
                counts[key] = counts.get(key, 0) + 1
        return counts
