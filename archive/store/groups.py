"""Stakeholder groups: declarations per hashtag and participant, the organisers' roster,
and the configured groups (see :mod:`archive.groups`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from archive.groups import (
    DEFAULT_GROUPS,
    Group,
    GroupMix,
    GroupSources,
    RosterEntry,
    compute_mix,
    groups_of,
    hashtag_key,
)
from archive.models import Chat
from archive.store.connection import iso
from archive.store.messages import MessageTables


class GroupTables(MessageTables):
    """The ``group_declarations``, ``group_roster`` and ``group_labels`` tables."""

    def declare_group(
        self,
        hashtag: str,
        platform: str,
        author_id: str,
        group: str,
        at: datetime,
        *,
        source: str = "self",
        handle: str = "",
        message_id: str = "",
    ) -> bool:
        """Record that the participant is in ``group`` on ``hashtag``'s chats, as of ``at``
        (the declaring post's time, so a backfilled older post never overrides a newer
        declaration; the same post again, or edited, updates the group). Returns whether
        this declaration stands: False when a later one of the same source does."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT group_key, handle, message_id, at FROM group_declarations"
                " WHERE hashtag_key = ? AND platform = ? AND author_id = ? AND source = ?",
                (hashtag_key(hashtag), platform, author_id, source),
            ).fetchone()
            when = iso(at)
            if row is not None and row["at"] > when:
                if not (message_id and row["message_id"] == message_id):
                    return False
            if row is not None and tuple(row) == (group, handle, message_id, when):
                return True  # the same declaration again (a backfill, an import again)
            self.conn.execute(
                "INSERT OR REPLACE INTO group_declarations (hashtag_key, platform, author_id,"
                " source, group_key, handle, message_id, at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    hashtag_key(hashtag),
                    platform,
                    author_id,
                    source,
                    group,
                    handle,
                    message_id,
                    when,
                ),
            )
            return True

    def set_group_setup(
        self, groups: Sequence[tuple[str, str]], roster: Iterable[RosterEntry]
    ) -> int:
        """Replace the configured groups (key, label) and the roster with the config's. Nothing
        is written when the archive holds them already (every command of the CLI calls this:
        a read-only command then stays a reader). Returns how many roster entries the archive
        held that the new roster lacks (0 when nothing was dropped), so the caller can say
        so: a config without the roster clears it for every transcript published after."""
        labels = [(k, v) for k, v in groups]
        entries = sorted({(e.platform, e.ident, e.group) for e in roster})
        held_labels = [
            (r[0], r[1])
            for r in self.conn.execute(
                "SELECT group_key, label FROM group_labels ORDER BY position"
            )
        ]
        held_roster = sorted(
            (r[0], r[1], r[2])
            for r in self.conn.execute("SELECT platform, ident, group_key FROM group_roster")
        )
        if held_labels == labels and held_roster == entries:
            return 0
        dropped = len(set(held_roster) - set(entries))
        with self.transaction():
            self.conn.execute("DELETE FROM group_labels")
            self.conn.executemany(
                "INSERT INTO group_labels (position, group_key, label) VALUES (?,?,?)",
                [(i, k, v) for i, (k, v) in enumerate(labels)],
            )
            self.conn.execute("DELETE FROM group_roster")
            self.conn.executemany(
                "INSERT INTO group_roster (platform, ident, group_key) VALUES (?,?,?)",
                entries,
            )
        return dropped

    def configured_groups(self) -> tuple[Group, ...]:
        """The groups as the bot last read them from its config (the defaults before)."""
        rows = self.conn.execute(
            "SELECT group_key, label FROM group_labels ORDER BY position"
        ).fetchall()
        return groups_of((r[0], r[1]) for r in rows) if rows else groups_of(DEFAULT_GROUPS)

    def group_sources(self, hashtag: str) -> GroupSources:
        """Every declaration on ``hashtag``'s chats, and the roster."""
        own: dict[tuple[str, str], str] = {}
        roles: dict[tuple[str, str], str] = {}
        for r in self.conn.execute(
            "SELECT platform, author_id, source, group_key FROM group_declarations"
            " WHERE hashtag_key = ?",
            (hashtag_key(hashtag),),
        ):
            (own if r["source"] == "self" else roles)[(r["platform"], r["author_id"])] = r[
                "group_key"
            ]
        roster = {
            (r[0], r[1]): r[2]
            for r in self.conn.execute("SELECT platform, ident, group_key FROM group_roster")
        }
        return GroupSources(own=own, roles=roles, roster=roster)

    def group_mix(self, chat: Chat, opted_out: frozenset[str]) -> GroupMix | None:
        """The chat's stakeholder mix, or None when nobody in it has a group (no second
        read of its messages then, when no declaration or roster could apply) or when its
        small groups cannot be counted together safely (:func:`archive.groups.compute_mix`)."""
        sources = self.group_sources(chat.hashtag)
        if not sources:
            return None
        return compute_mix(
            chat,
            self.iter_messages(chat.id, include_deleted=False),
            groups=self.configured_groups(),
            group_of=sources.group_of,
            opted_out=opted_out,
        )
