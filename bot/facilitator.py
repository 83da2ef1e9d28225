"""The facilitator: scheduled actions become posts, platform events become captured messages.

It implements the runner's `Performer` (post the intro, questions, wrap-up and close on every
platform of a chat, exactly once each; publish at the end) and every adapter's `EventSink`
(capture, edits, deletions, reactions, opt-outs, backfill after a reconnect).

Store first: a captured message is committed before anything else happens with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.capture import CaptureContext, capture
from archive.models import (
    DONE_POST_STATUSES,
    EARLY_WINDOW,
    OPEN_STATUSES,
    Chat,
    ChatStatus,
    IncomingMessage,
    PostStatus,
    Target,
)
from archive.publish import PublishResult
from archive.store import AsyncStore, NotFoundError
from bot.platforms.base import (
    Event,
    MessageDeleted,
    Platform,
    PostError,
    ReactionChanged,
    SentPost,
)
from bot.retry import RetryError, retry
from scheduler.clock import Clock, SystemClock
from scheduler.timeline import Action, ActionKind

logger = logging.getLogger(__name__)


_OPTOUT_RE = re.compile(r"^\s*(?:@\w+\s+)*!?(opt[\s-]?out|opt[\s-]?in)\s*$", re.IGNORECASE)

Publisher = Callable[[Chat], Awaitable[PublishResult]]
Notifier = Callable[[Chat, str], Awaitable[None]]


@dataclass
class _ChatCache:
    chat: Chat
    ctx: CaptureContext


class Facilitator:
    def __init__(
        self,
        store: AsyncStore,
        platforms: dict[str, Platform],
        *,
        publisher: Publisher,
        clock: Clock | None = None,
        post_attempts: int = 4,
        post_backoff: float = 0.5,
    ) -> None:
        self.store = store
        self.platforms = platforms
        self.publisher = publisher
        self.clock: Clock = clock or SystemClock()
        self.post_attempts = post_attempts
        self.post_backoff = post_backoff
        self._open: list[_ChatCache] | None = None
        self._open_loaded_at: datetime | None = None
        self._cache_lock = asyncio.Lock()
        # Listeners told of host alerts besides every platform's `notify_hosts`.
        self.notifiers: list[Notifier] = []
        for platform in platforms.values():
            platform.attach(self)

    # ---- Performer ---------------------------------------------------------------------

    async def done_actions(self, chat: Chat) -> set[str]:
        posts = await self.store.posts(chat.id)
        by_key: dict[str, dict[tuple[str, str], str]] = {}
        for p in posts:
            by_key.setdefault(p.action_key, {})[(p.platform, p.channel)] = p.status
        done = set()
        targets = {(t.platform, t.channel) for t in chat.targets}
        for key, statuses in by_key.items():
            if all(statuses.get(t) in DONE_POST_STATUSES for t in targets):
                done.add(key)
        if chat.status == ChatStatus.PUBLISHED:
            done.add("publish")
        return done

    async def perform(self, chat: Chat, action: Action, *, note: str = "") -> None:
        if action.kind == ActionKind.PUBLISH:
            await self.publish(chat)
            return
        if (
            action.kind in (ActionKind.INTRO, ActionKind.QUESTION)
            and chat.status == ChatStatus.SCHEDULED
        ):
            await self.store.set_status(chat.id, ChatStatus.LIVE)
        for target in chat.targets:
            await self.post(chat, action.key, target, self._with_note(action.text, note, target))
        if action.kind == ActionKind.CLOSE:
            await self.store.set_status(chat.id, ChatStatus.ENDED)
        self.invalidate()

    def _with_note(self, text: str, note: str, target: Target) -> str:
        """``text`` with the runner's note ("(posted late)") when it fits the network: the
        post itself was checked against the limit when scheduled, the note was not."""
        if not note:
            return text
        noted = f"{text} {note}"
        platform = self.platforms.get(target.platform)
        if platform is not None and platform.post_limit.excess(noted) is not None:
            return text
        return noted

    async def skip(self, chat: Chat, action: Action, reason: str) -> None:
        for target in chat.targets:
            if await self.store.record_intent(
                chat.id, action.key, target.platform, target.channel, ""
            ):
                await self.store.mark_skipped(
                    chat.id, action.key, target.platform, target.channel, reason
                )
        if action.kind != ActionKind.REMIND:
            label = action.key.upper() if action.kind == ActionKind.QUESTION else action.key
            await self.store.record_control(
                chat.id, self.clock.now(), "skipped", f"{label}: {reason}", "bot"
            )
        logger.info("chat %s: %s skipped (%s)", chat.id, action.key, reason)

    async def post(self, chat: Chat, action_key: str, target: Target, text: str) -> SentPost | None:
        """Post once per (chat, action, platform, channel), whatever crashes in between."""
        platform = self.platforms.get(target.platform)
        intent = await self.store.record_intent(
            chat.id, action_key, target.platform, target.channel, text
        )
        if intent is None:
            existing = [
                p
                for p in await self.store.posts(chat.id)
                if p.action_key == action_key
                and (p.platform, p.channel) == (target.platform, target.channel)
            ]
            if not existing or existing[0].status != PostStatus.INTENT:
                return None  # already sent, failed for good, or skipped
            # A previous run recorded the intent and died: did the post go out?
            if platform is not None and platform.capabilities.find_posts:
                # Look for the text recorded with the intent: this attempt's text may differ
                # (a caught-up question carries a "posted late" note).
                found = await platform.find_post(
                    target.channel, existing[0].text or text, self.clock.now() - timedelta(days=1)
                )
                if found is not None:
                    await self.store.mark_sent(
                        chat.id,
                        action_key,
                        target.platform,
                        target.channel,
                        found.platform_message_id,
                        found.posted_at,
                    )
                    logger.info(
                        "chat %s: %s on %s was already posted (reconciled)",
                        chat.id,
                        action_key,
                        target.platform,
                    )
                    self.invalidate()
                    return found
            elif platform is not None:
                # The platform cannot tell us; never risk a duplicate post.
                await self.store.mark_failed(
                    chat.id,
                    action_key,
                    target.platform,
                    target.channel,
                    "outcome unknown after a restart; not reposted to avoid a duplicate",
                )
                return None
        if platform is None:
            await self.store.mark_failed(
                chat.id,
                action_key,
                target.platform,
                target.channel,
                f"platform {target.platform!r} is not enabled in the config",
            )
            logger.error(
                "chat %s: cannot post %s: platform %r is not enabled",
                chat.id,
                action_key,
                target.platform,
            )
            return None
        try:
            sent = await retry(
                lambda: platform.post_action(chat, action_key, target.channel, text),
                what=f"posting {action_key} of {chat.id} on {target.platform}",
                attempts=self.post_attempts,
                base=self.post_backoff,
                retry_on=(PostError, OSError, TimeoutError),
            )
        except (RetryError, PostError) as exc:
            await self.store.mark_failed(
                chat.id, action_key, target.platform, target.channel, str(exc)
            )
            logger.error(
                "chat %s: %s could not be posted on %s: %s",
                chat.id,
                action_key,
                target.platform,
                exc,
            )
            await self.notify_hosts(
                chat, f"Could not post {action_key} on {target.platform}: {exc}"
            )
            return None
        _fault_point(f"crash-after-send:{action_key}")
        await self.store.mark_sent(
            chat.id,
            action_key,
            target.platform,
            target.channel,
            sent.platform_message_id,
            sent.posted_at,
        )
        self.invalidate()
        return sent

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """Tell the hosts: every platform's `notify_hosts` (Discord alerts its hosts even
        for a chat that runs elsewhere), then any extra listeners."""
        listeners = [p.notify_hosts for p in self.platforms.values()] + self.notifiers
        for notify in listeners:
            try:
                await notify(chat, text)
            except Exception:
                logger.exception("notifying the host failed")

    async def publish(self, chat: Chat, *, announce: bool = True) -> PublishResult:
        """Write the transcripts, mark the chat published, announce it on its platforms.

        Deletions are re-checked first on every platform that can tell, so a message deleted
        while we were not listening never reaches a published transcript.
        """
        for name in {t.platform for t in chat.targets}:
            platform = self.platforms.get(name)
            if platform is None:
                continue
            try:
                await platform.sweep(chat)  # the window's last posts, before anything else
                await self._sweep_deletions(chat, platform)
            except Exception as exc:
                logger.warning(
                    "chat %s: re-checking deletions on %s failed: %s", chat.id, name, exc
                )
        result = await self.publisher(chat)
        await self.store.set_status(chat.id, ChatStatus.PUBLISHED)
        self.invalidate()
        announcement = result.announcement if announce else ""
        if announcement:
            for target in chat.targets:
                platform = self.platforms.get(target.platform)
                if platform is None:
                    continue
                if (
                    await self.store.record_intent(
                        chat.id, "announce", target.platform, target.channel, announcement
                    )
                    is None
                ):
                    continue
                try:
                    sent = await platform.announce(chat, target.channel, result)
                except Exception as exc:
                    await self.store.mark_failed(
                        chat.id, "announce", target.platform, target.channel, str(exc)
                    )
                    logger.error(
                        "chat %s: announcing the transcript on %s failed: %s",
                        chat.id,
                        target.platform,
                        exc,
                    )
                    continue
                await self.store.mark_sent(
                    chat.id,
                    "announce",
                    target.platform,
                    target.channel,
                    sent.platform_message_id,
                    sent.posted_at,
                )
        return result

    # ---- EventSink ---------------------------------------------------------------------

    async def chats_changed(self, chat_ids: Sequence[str]) -> None:
        """Chats were scheduled, moved, controlled, ended or cancelled (from any process):
        platforms that mirror chats (`Platform.chats_changed`, which must not block) follow."""
        chats = []
        for chat_id in chat_ids:
            try:
                chats.append(await self.store.get_chat(chat_id))
            except NotFoundError:  # deleted
                continue
        for platform in self.platforms.values():
            platform.chats_changed(chats)

    def invalidate(self) -> None:
        """Forget cached chats and capture contexts (posts or statuses changed)."""
        self._open = None

    async def _open_chats(self) -> list[_ChatCache]:
        now = self.clock.now()
        if (
            self._open is not None
            and self._open_loaded_at is not None
            and abs((now - self._open_loaded_at).total_seconds()) < 60
        ):
            return self._open
        async with self._cache_lock:
            if self._open is not None and self._open_loaded_at is not None:
                if abs((now - self._open_loaded_at).total_seconds()) < 60:
                    return self._open
            chats = await self.store.list_chats(OPEN_STATUSES)
            caches = [_ChatCache(c, await self._context(c)) for c in chats]
            self._open = caches
            self._open_loaded_at = now
            return caches

    async def _context(self, chat: Chat) -> CaptureContext:
        posts = await self.store.posts(chat.id)
        question_posts: dict[str, str] = {}
        chat_posts: set[str] = set()
        first_time: dict[str, datetime] = {}
        for p in posts:
            if p.status != PostStatus.SENT or not p.platform_message_id:
                continue
            chat_posts.add(p.platform_message_id)
            if p.action_key.startswith("q") and p.action_key[1:2].isdigit():
                key = p.action_key[1:]
                question_posts[p.platform_message_id] = key
                if p.posted_at is not None and (
                    key not in first_time or p.posted_at < first_time[key]
                ):
                    first_time[key] = p.posted_at
        times = tuple(sorted((t, k) for k, t in first_time.items()))
        bot_ids = frozenset(p.bot_user_id for p in self.platforms.values() if p.bot_user_id)
        return CaptureContext(
            chat=chat,
            question_posts=question_posts,
            chat_posts=frozenset(chat_posts),
            question_times=times,
            bot_ids=bot_ids,
        )

    async def handle(self, event: Event) -> None:
        if isinstance(event, IncomingMessage):
            await self.capture_messages([event])
        elif isinstance(event, MessageDeleted):
            await self.store.mark_deleted(event.platform, event.platform_id, event.at)
        elif isinstance(event, ReactionChanged):
            await self.store.add_reactions(event.platform, event.platform_id, event.delta)

    async def capture_messages(self, messages: Sequence[IncomingMessage]) -> int:
        """Capture a batch (live events or backfill) in one transaction; returns rows written."""
        caches = await self._open_chats()
        captured = []
        raws = []
        edits = []
        for msg in messages:
            if not msg.is_bot and _OPTOUT_RE.match(msg.text):
                await self._opt(msg)
                continue
            for cache in caches:
                got = capture(msg, cache.ctx)
                if got is not None:
                    captured.append(got)
                    raws.append(msg.raw)
                    break
            else:
                if msg.edited_at is not None:
                    edits.append(msg)
        written = await self.store.save_messages(captured, raws) if captured else 0
        for msg in edits:
            # An edit that no longer matches a chat still updates a message we hold.
            assert msg.edited_at is not None
            await self.store.edit_message(msg.platform, msg.platform_id, msg.text, msg.edited_at)
        return written

    async def _opt(self, msg: IncomingMessage) -> None:
        match = _OPTOUT_RE.match(msg.text)
        assert match is not None
        word = re.sub(r"[\s-]", "", match.group(1).lower())
        if word == "optout":
            await self.store.opt_out(msg.platform, msg.author_id, msg.author_handle)
            logger.info("%s:%s opted out", msg.platform, msg.author_handle)
        else:
            await self.store.opt_in(msg.platform, msg.author_id)
            logger.info("%s:%s opted back in", msg.platform, msg.author_handle)

    async def reconnected(self, platform: Platform) -> None:
        """Backfill every open chat on this platform from its history."""
        await self.backfill(platform)

    async def backfill(self, platform: Platform) -> int:
        self.invalidate()
        now = self.clock.now()
        total = 0
        for cache in await self._open_chats():
            chat = cache.chat
            if now < chat.start - EARLY_WINDOW:
                continue
            for target in chat.targets:
                if target.platform != platform.name:
                    continue
                after = chat.start - EARLY_WINDOW
                before = min(now, chat.grace_end)
                history = await platform.history(target.channel, after, before)
                total += await self.capture_messages(list(history))
                await self._sweep_deletions(chat, platform)
        if total:
            logger.info("%s: backfilled %d messages", platform.name, total)
        return total

    async def _sweep_deletions(self, chat: Chat, platform: Platform) -> int:
        """Mark deleted what the platform no longer has (deletions we missed while away)."""
        ids = await self.store.message_ids(chat.id, platform.name)
        if not ids:
            return 0
        still = await platform.existing(ids)
        if still is None:
            return 0
        gone = [i for i in ids if i not in still]
        for platform_id in gone:
            await self.store.mark_deleted(platform.name, platform_id, self.clock.now())
        return len(gone)


def _fault_point(name: str) -> None:
    """Die here, as a crash would, when TWEETCHAT_FAULT names this point (restart tests only).

    It lets a test kill the bot at the one instant that matters for "never post twice":
    after the platform accepted a post and before the store recorded it.
    """
    if os.environ.get("TWEETCHAT_FAULT") == name:
        logger.warning("fault injection: %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
