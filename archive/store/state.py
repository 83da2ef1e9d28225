"""Small named state: cursors and marks that must survive a restart (``since_id`` of a
search, a stream's cursor, the search index's cursor...)."""

from __future__ import annotations

import sqlite3

from archive.store.connection import Connection


class StateTable(Connection):
    """The ``state`` table: text values by key."""

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """The value stored under ``key``, or ``default``."""
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
        """Store ``value`` under ``key``, replacing any earlier value."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value)
            )

    def mark_once(self, key: str, value: str) -> bool:
        """Store ``value`` under ``key`` unless a non-empty value is there already; True
        when this call stored it (the one caller, across threads and processes, that may
        go on: a mark such as "this message was answered"). Clear a mark with
        ``set_state(key, "")``."""
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                " SET value = excluded.value WHERE state.value = ''",
                (key, value),
            )
        return cursor.rowcount == 1

    # -- published chats whose files are behind a change to their messages -------------

    def flag_if_published(self, chat_id: str) -> bool:
        """Note, as bookkeeping (no transcript reads it), that the published files of chat
        ``chat_id`` are behind a change to its messages (a deletion, an edit after it was
        published), if it is published; kept until :meth:`clear_republish_flag`, so that a
        bot stopped before it wrote them again still does at its next start. Returns
        whether the chat is published."""
        with self.transaction(), self.bookkeeping():
            return flag_republish(self.conn, chat_id)

    def republish_flags(self) -> dict[str, str]:
        """The flags of :meth:`flag_if_published`: chat id -> a counter of the changes."""
        return {key[len(REPUBLISH) :]: value for key, value in self.states(REPUBLISH).items()}

    def clear_republish_flag(self, chat_id: str, seen: str) -> None:
        """The chat's files were written again after the changes counted ``seen``: its
        flag goes, unless a change came meanwhile (then it stays, for the next round)."""
        with self.transaction(), self.bookkeeping():
            self.conn.execute(
                "DELETE FROM state WHERE key = ? AND value = ?", (REPUBLISH + chat_id, seen)
            )


REPUBLISH = "republish:"
"""The state keys of :meth:`StateTable.flag_if_published` (``republish:<chat id>``)."""


def flag_republish(conn: sqlite3.Connection, chat_id: str) -> bool:
    """:meth:`StateTable.flag_if_published` on ``conn``, inside a write transaction the
    caller holds (in ``bookkeeping()``)."""
    row = conn.execute("SELECT status FROM chats WHERE id = ?", (chat_id,)).fetchone()
    if row is None or row[0] != "published":
        return False
    conn.execute(
        "INSERT INTO state (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE"
        " SET value = CAST(CAST(state.value AS INTEGER) + 1 AS TEXT)",
        (REPUBLISH + chat_id,),
    )
    return True
