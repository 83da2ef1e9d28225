"""The post ledger: what the bot posted, or is about to post, per action and target.

A row goes ``intent`` (committed before the network call) -> ``sent`` | ``failed`` |
``skipped``, so that an action is never posted twice, even across a crash. An ``intent``
whose attempt failed in a way worth retrying keeps its ``error`` until the next attempt.

An action that may be split into a thread (a long intro or closing) also has its *plan*
(``post_plans``, migration 12): the texts of the posts it is to go out as on a target,
written once, before the first of them, so that a run that resumes it posts exactly the
parts first planned (never a re-split with the limit of the day).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from archive.models import Post, PostStatus, is_question_action
from archive.store.connection import Connection, iso, opt_parse


class PostLedger(Connection):
    """The ``posts`` table."""

    @contextmanager
    def _recording(self, action_key: str) -> Iterator[None]:
        """A write transaction for a row of ``action_key``: only question posts' rows
        move the archive's generation (transcripts read when each question went out, or
        why not); the others (intro, reminders, closing, announcement, digest) are
        bookkeeping, so the transcripts recorded before an announcement stay current."""
        with self.transaction():
            if is_question_action(action_key):
                yield
            else:
                with self.bookkeeping():
                    yield

    def record_intent(
        self, chat_id: str, action_key: str, platform: str, channel: str, text: str
    ) -> Post | None:
        """Record that we are about to post. Returns None when this action was already handled.

        The intent row is committed *before* the network call, so a crash between posting and
        recording leaves an `intent` row that the next start reconciles instead of posting twice.
        Its ``intent_at`` is the store's clock.
        """
        with self._recording(action_key):
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
        with self._recording(action_key):
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
        with self._recording(action_key):
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
        with self._recording(action_key):
            self.conn.execute(
                "UPDATE posts SET error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=? AND status=?",
                (error, chat_id, action_key, platform, channel, PostStatus.INTENT),
            )

    def mark_skipped(
        self, chat_id: str, action_key: str, platform: str, channel: str, reason: str
    ) -> None:
        """The action will not be posted (a host skipped it, the chat ended...)."""
        with self._recording(action_key):
            self.conn.execute(
                "UPDATE posts SET status=?, error=?"
                " WHERE chat_id=? AND action_key=? AND platform=? AND channel=?",
                (PostStatus.SKIPPED, reason, chat_id, action_key, platform, channel),
            )

    def plan_posts(
        self,
        chat_id: str,
        action_key: str,
        platform: str,
        channel: str,
        parts: list[str],
        *,
        thread: bool,
    ) -> list[tuple[int, str]]:
        """The posts the action goes out as on this target: the plan recorded first, if any,
        else ``parts``, recorded now (in one transaction, so the first plan always wins).

        ``parts`` is the thread's parts in order when ``thread`` (stored as 1..n, the numbers
        of the ``intro#1``... keys), else one text, one post under the action's own key
        (stored as 0). Returns the plan that stands as ``(number, text)`` in order (see
        `post_plan`). Raises ValueError for no parts, or several that are not a thread.
        """
        if not parts or (len(parts) > 1 and not thread):
            raise ValueError(f"not a plan: {len(parts)} posts, thread={thread}")
        if not parts:
            raise ValueError("a plan needs at least one post")
        with self.transaction():
            found = self._plan(chat_id, action_key, platform, channel)
            if found:
                return found
            first = 1 if thread else 0
            self.conn.executemany(
                "INSERT INTO post_plans (chat_id, action_key, platform, channel, number, text)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (chat_id, action_key, platform, channel, n, text)
                    for n, text in enumerate(parts, first)
                ],
            )
        return list(enumerate(parts, first))

    def post_plan(
        self, chat_id: str, action_key: str, platform: str, channel: str
    ) -> list[tuple[int, str]]:
        """The recorded plan of an action on a target: ``(number, text)`` in order, number 0
        for one post under the action's own key, 1..n for a thread's parts; ``[]`` when the
        action was never planned (not begun, or begun before migration 12)."""
        return self._plan(chat_id, action_key, platform, channel)

    def _plan(
        self, chat_id: str, action_key: str, platform: str, channel: str
    ) -> list[tuple[int, str]]:
        rows = self.conn.execute(
            "SELECT number, text FROM post_plans"
            " WHERE chat_id=? AND action_key=? AND platform=? AND channel=? ORDER BY number",
            (chat_id, action_key, platform, channel),
        ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

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
