"""Small named state: cursors and marks that must survive a restart (``since_id`` of a
search, a stream's cursor, the search index's cursor...)."""

from __future__ import annotations

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
