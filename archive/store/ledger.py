"""The post ledger: what the bot posted, or is about to post, per action and target.

A row goes ``intent`` (committed before the network call) -> ``sent`` | ``failed`` |
``skipped``, so that an action is never posted twice, even across a crash. An ``intent``
whose attempt failed in a way worth retrying keeps its ``error`` until the next attempt.
"""

from __future__ import annotations

from datetime import datetime

from archive.models import Post, PostStatus
from archive.store.connection import Connection, iso, opt_parse


class PostLedger(Connection):
    """The ``posts`` table."""

    def record_intent(
        self, chat_id: str, action_key: str, platform: str, channel: str, text: str
    ) -> Post | None:
        """Record that we are about to post. Returns None when this action was already handled.

        The intent row is committed *before* the network call, so a crash between posting and
        recording leaves an `intent` row that the next start reconciles instead of posting twice.
        Its ``intent_at`` is the store's clock.
        """
        with self.transaction():
            row = self.conn.execute(
                "SELECT * FROM posts WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (chat_id, action_key, platform, channel),
            ).fetchone()
            if row is not None:
                return None
            self.conn.execute(
                "INSERT INTO posts (chat_id, action_key, platform, channel, status, text, intent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (chat_id, action_key, platform, channel, PostStatus.INTENT, text, iso(self.now())),
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
        """The platform accepted the post: record its id there and when it went out."""
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
        """The post failed for good; ``error`` says why."""
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET status=?, error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (PostStatus.FAILED, error, chat_id, action_key, platform, channel),
            )

    def note_post_error(
        self, chat_id: str, action_key: str, platform: str, channel: str, error: str
    ) -> None:
        """An attempt failed and will be tried again: the row stays ``intent`` with ``error``
        saying why (so an ``intent`` with an error is known not to have gone out). Cleared
        ('') just before the next attempt, whose outcome is then unknown until recorded."""
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=? AND status=?",
                (error, chat_id, action_key, platform, channel, PostStatus.INTENT),
            )

    def mark_skipped(
        self, chat_id: str, action_key: str, platform: str, channel: str, reason: str
    ) -> None:
        """The action will not be posted (a host skipped it, the chat ended...)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE posts SET status=?, error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (PostStatus.SKIPPED, reason, chat_id, action_key, platform, channel),
            )

    def chats_with_intents(self) -> list[str]:
        """Ids of the chats that have a post still at ``intent`` (half-done), any status."""
        rows = self.conn.execute(
            "SELECT DISTINCT chat_id FROM posts WHERE status = ? ORDER BY chat_id",
            (PostStatus.INTENT,),
        ).fetchall()
        return [r[0] for r in rows]

    def posts(self, chat_id: str) -> list[Post]:
        """The chat's ledger rows, in the order they were intended."""
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
                posted_at=opt_parse(r["posted_at"]),
                text=r["text"],
                error=r["error"],
            )
            for r in rows
        ]
