"""The facilitator: scheduled actions become posts, platform events become captured messages.

It implements the runner's `Performer` (post the intro, questions, wrap-up and close on every
platform of a chat, exactly once each; publish at the end) and every adapter's `EventSink`
(capture, edits, deletions, reactions, opt-outs, backfill after a reconnect).

Store first: a captured message is committed before anything else happens with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.capture import CaptureContext, capture
from archive.groups import (
    DEFAULT_GROUPS,
    Group,
    declaration_only,
    every_label,
    find_declaration,
    groups_of,
)
from archive.i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator, translator
from archive.models import (
    DONE_POST_STATUSES,
    EARLY_WINDOW,
    OPEN_STATUSES,
    CapturedMessage,
    Chat,
    ChatStatus,
    IncomingMessage,
    MessageKind,
    Post,
    PostStatus,
    Target,
)
from archive.optouts import opt_command
from archive.publish import PublishResult
from archive.store import AsyncStore, NotFoundError, Store
from bot.digest import post_digest, top_answers
from bot.engagement import refresh_engagement
from bot.groups import GroupDesk, is_group_reply
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
from scheduler.runner import StepFailed
from scheduler.standing import label_of
from scheduler.supervision import one_line
from scheduler.threads import (
    SPLIT_KINDS,
    SplitError,
    action_of,
    is_part_key,
    part_key,
    part_number,
    split_post,
)
from scheduler.timeline import Action, ActionKind

logger = logging.getLogger(__name__)


RECHECK_TRIES = 3
"""Tries of a chat's publish step whose deletion re-check failed before it publishes anyway."""

# What a participant who wrote `!optout` / `!optin` is told (`Platform.reply`). The bot's own
# messages with these texts are never captured into a chat.
OPTED_OUT_REPLY = (
    "You are opted out: your messages are left out of every transcript (they may still "
    "count, anonymously). Reply !optin to undo it."
)
OPTED_IN_REPLY = "You are opted in: transcripts include your messages again."
NOT_OPTED_OUT_REPLY = "You had not opted out: transcripts include your messages."


def opt_reply(answer: str, tr: Translator) -> str:
    """One of the English opt replies above (``OPTED_OUT_REPLY``...) in ``tr``'s language
    (the language of the chat the participant wrote in). Raises KeyError for another text."""
    return {
        OPTED_OUT_REPLY: tr.gettext(
            "You are opted out: your messages are left out of every transcript (they may still "
            "count, anonymously). Reply !optin to undo it."
        ),
        OPTED_IN_REPLY: tr.gettext("You are opted in: transcripts include your messages again."),
        NOT_OPTED_OUT_REPLY: tr.gettext(
            "You had not opted out: transcripts include your messages."
        ),
    }[answer]


# Every language's: the bot's own replies are recognised (and not captured) in any of them.
OPT_REPLIES = frozenset(
    opt_reply(a, translator(lang))
    for a in (OPTED_OUT_REPLY, OPTED_IN_REPLY, NOT_OPTED_OUT_REPLY)
    for lang in LANGUAGES
)
_LEADING_MENTIONS = re.compile(r"^\s*(?:@\S+\s+)+")


def opt_reply_key(platform: str, platform_id: str) -> str:
    """The state key that marks a participant's ``!optout`` / ``!optin`` message (by its
    network and id) as answered, so that it is answered once."""
    return f"opt-reply:{platform}:{platform_id}"


Publisher = Callable[[Chat], Awaitable[PublishResult]]
Notifier = Callable[[Chat, str], Awaitable[None]]


@dataclass
class _ChatCache:
    chat: Chat
    ctx: CaptureContext


def _language_of(msg: IncomingMessage, caches: Sequence[_ChatCache]) -> str:
    """The language of the open chat ``msg`` belongs to: the chat that captures it (a reply
    to one of its posts), else the chats running where it was posted when they share one
    language; English when there is none or they differ."""
    for cache in caches:
        if capture(msg, cache.ctx) is not None:
            return cache.chat.language
    here = {
        cache.chat.language
        for cache in caches
        if any(
            t.platform == msg.platform and (not t.channel or t.channel == msg.channel)
            for t in cache.chat.targets
        )
    }
    return here.pop() if len(here) == 1 else DEFAULT_LANGUAGE


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
        groups: Sequence[Group] = groups_of(DEFAULT_GROUPS),
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
        self._recheck_failures: dict[tuple[str, str], int] = {}  # (chat, platform) -> tries
        # Platforms with half-done posts not reconciled yet: reconciled before any capture.
        self._unreconciled: set[str] = set()
        self._reconcile_locks: dict[str, asyncio.Lock] = {}
        # Listeners told of host alerts besides every platform's `notify_hosts`.
        self.notifiers: list[Notifier] = []
        self.group_desk = GroupDesk(store, platforms, groups, self.clock)
        # What a declaration may name, for telling a post that is only one (a label of
        # several words, in any language the bot speaks, is all declaration).
        self._group_names = every_label(groups)
        # The parts of posts split into a thread: (platform, id or text) -> (part number,
        # the whole text). Capture keeps such a post once, whole, as its first part.
        self._part_ids: dict[tuple[str, str], tuple[int, str]] = {}
        self._part_texts: dict[tuple[str, str], tuple[int, str]] = {}
        # Set when published files are to be written again (App, `republish_stale`): a
        # participant opted out (the published chats whose files still show them), or a
        # message of a published chat was deleted or edited (the store flags the chat:
        # `Store.republish_flags`, kept across a restart).
        self.files_stale = asyncio.Event()
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
        """Carry out one action on every platform of the chat. Raises `StepFailed` when a
        post could not go out yet on some platform (the others are still tried): the runner
        tries the action again, and only what is not done yet is posted then."""
        if action.kind == ActionKind.PUBLISH:
            await self.publish(chat)
            return
        if (
            action.kind in (ActionKind.INTRO, ActionKind.QUESTION)
            and chat.status == ChatStatus.SCHEDULED
        ):
            await self.store.set_status(chat.id, ChatStatus.LIVE)
        failures: list[str] = []
        split = chat.split_long_posts and action.kind in SPLIT_KINDS
        for target in chat.targets:
            text = self._with_note(action.text, note, target, split=split)
            try:
                if split:
                    await self.post_thread(chat, action.key, target, text)
                else:
                    await self.post(chat, action.key, target, text)
            except StepFailed as exc:
                failures.append(str(exc))
        self.invalidate()
        if failures:
            raise StepFailed("; ".join(failures))
        if action.kind == ActionKind.CLOSE:
            await self.store.set_status(chat.id, ChatStatus.ENDED)
            self.invalidate()

    def _with_note(self, text: str, note: str, target: Target, *, split: bool = False) -> str:
        """``text`` with the runner's note ("(posted late)") when it fits the network: the
        post itself was checked against the limit when scheduled, the note was not. A post
        that may be split (``split``) takes the note when it can still be split."""
        if not note:
            return text
        noted = f"{text} {note}"
        platform = self.platforms.get(target.platform)
        if platform is not None and platform.post_limit.excess(noted) is not None:
            if not split:
                return text
            try:
                split_post(noted, platform.post_limit)
            except SplitError:
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
                continue
            row = await self._ledger_row(chat.id, action.key, target)
            if row is None or row.status != PostStatus.INTENT:
                continue
            # Half-done (a crash, or a failure being retried): it may have gone out.
            platform = self.platforms.get(target.platform)
            why = reason
            if platform is not None and platform.capabilities.find_posts:
                try:
                    if await self._reconcile(chat, row, platform) is not None:
                        continue
                except StepFailed:
                    why = f"{reason}; it may have gone out before a crash"
            elif not row.error:
                why = f"{reason}; it may have gone out before a crash"
            await self.store.mark_skipped(chat.id, action.key, target.platform, target.channel, why)
        if action.kind != ActionKind.REMIND:
            label = (
                label_of(action, chat.labels) if action.kind == ActionKind.QUESTION else action.key
            )
            await self.store.record_control(
                chat.id, self.clock.now(), "skipped", f"{label}: {reason}", "bot"
            )
        logger.info("chat %s: %s skipped (%s)", chat.id, action.key, reason)

    async def post(self, chat: Chat, action_key: str, target: Target, text: str) -> SentPost | None:
        """Post once per (chat, action, platform, channel), whatever crashes in between.

        Returns what was posted (or found already posted), None when there is nothing to
        post (done, failed for good, skipped). A refusal for good is recorded with its reason
        and told to the hosts; a failure worth retrying keeps the intent, with its reason,
        and raises `StepFailed` for the runner to try again later.
        """
        return await self._send_once(
            chat,
            action_key,
            target,
            text,
            lambda platform: platform.post_action(chat, action_key, target.channel, text),
        )

    async def post_thread(
        self, chat: Chat, action_key: str, target: Target, text: str
    ) -> SentPost | None:
        """Post an action that may be split (a long intro or closing, ``split_long_posts``):
        as one post (`post`) when it fits the network, else as a thread of parts at sentence
        boundaries (`scheduler.threads.split_post`), each a reply to the one before where the
        network has replies (`Platform.post_part`).

        The action's ledger row (``intro``) holds the whole text and is recorded sent, with
        the first part's id and time, once every part is; each part has its own row
        (``intro#1``, ``intro#2``...), posted once whatever crashes in between (`post`'s
        rules, part by part). Before the first post, the posts it is to go out as (one, or
        the parts) are recorded as its plan (`AsyncStore.plan_posts`); a run that resumes
        goes on with exactly those texts, whatever the post limit is by then (a changed
        ``max_post_length``, a Mastodon instance's limit read at start), so no sentence is
        repeated or lost. A planned part still to post that no longer fits the network's
        limit fails the action, with the reason, and the hosts are told; it is never cut
        or split again. Returns the first part, or None when there is nothing to post
        (done, failed, skipped); a part refused for good fails the whole action. Raises
        `StepFailed` when a part could not go out yet: the runner tries again and the parts
        already out are not posted again.
        """
        platform = self.platforms.get(target.platform)
        row = await self._ledger_row(chat.id, action_key, target)
        if row is not None and row.status != PostStatus.INTENT:
            return None
        if platform is None:
            return await self.post(chat, action_key, target, text)  # fails: not enabled
        plan = await self.store.post_plan(chat.id, action_key, target.platform, target.channel)
        if not plan:
            plan = await self._plan(chat, action_key, target, platform, row, text)
            if not plan:
                return None  # it cannot go out: failed, and the hosts were told
        if plan[0][0] == 0:  # planned as one post
            return await self.post(chat, action_key, target, plan[0][1])
        row = await self._ledger_row(chat.id, action_key, target)
        text = row.text if row is not None and row.text else text
        parts = [part for _number, part in plan]
        # Parts planned under another limit go out as planned, or not at all: never cut,
        # never split again (that would repeat or drop sentences).
        for number, part in plan:
            if await self._ledger_row(chat.id, part_key(action_key, number), target) is not None:
                continue  # out already, or its attempt is under way: its own rules apply
            problem = platform.post_limit.problem(part)
            if problem is not None:
                reason = (
                    f"part {number} of {len(plan)} of the thread begun earlier is {problem}"
                    " (the limit is lower than when the thread was split; its parts are"
                    " never split again)"
                )
                await self._fail_thread(chat, action_key, target, reason)
                await self._alert_failed(chat, action_key, target, reason)
                return None
        for number, part in enumerate(parts, 1):
            self._part_texts[(target.platform, part)] = (number, text)
        first: SentPost | None = None
        previous: SentPost | None = None
        for number, part in enumerate(parts, 1):
            key = part_key(action_key, number)
            done = await self._ledger_row(chat.id, key, target)
            sent: SentPost | None
            if done is not None and done.status == PostStatus.SENT:
                sent = SentPost(done.platform_message_id, done.posted_at or self.clock.now(), "")
            elif done is not None and done.status != PostStatus.INTENT:
                await self._fail_thread(
                    chat, action_key, target, f"part {number} of {len(parts)}: {done.error}"
                )
                return None
            else:
                try:
                    sent = await self._send_once(
                        chat,
                        key,
                        target,
                        part,
                        _part_sender(chat, action_key, target, part, first, previous),
                    )
                except StepFailed as exc:
                    await self.store.note_post_error(
                        chat.id, action_key, target.platform, target.channel, str(exc)
                    )
                    raise
                if sent is None:  # refused for good, or its outcome unknown after a crash
                    failed = await self._ledger_row(chat.id, key, target)
                    why = failed.error if failed is not None else "not posted"
                    await self._fail_thread(
                        chat, action_key, target, f"part {number} of {len(parts)}: {why}"
                    )
                    return None
                _fault_point(f"crash-after-part:{key}")
            self._part_ids[(target.platform, sent.platform_message_id)] = (number, text)
            first = first or sent
            previous = sent
        assert first is not None
        await self.store.mark_sent(
            chat.id,
            action_key,
            target.platform,
            target.channel,
            first.platform_message_id,
            first.posted_at,
        )
        logger.info(
            "chat %s: %s posted on %s as a thread of %d",
            chat.id,
            action_key,
            target.platform,
            len(parts),
        )
        self.invalidate()
        return first

    async def _plan(
        self,
        chat: Chat,
        action_key: str,
        target: Target,
        platform: Platform,
        row: Post | None,
        text: str,
    ) -> list[tuple[int, str]]:
        """Plan an action that may be split, on one target, and record the plan
        (`AsyncStore.plan_posts`): one post (part 0) when it fits, else the thread's parts
        (1..n). A thread's action row (the whole text) is recorded before its plan, so a
        run that dies in between splits that same text again, none of it out yet. Returns
        [] when it cannot be split to fit: then the action is failed and the hosts told."""
        if row is not None and row.text:
            text = row.text  # the text first intended (without a later "posted late" note)
        has_parts = await self._has_parts(chat.id, action_key, target)
        if platform.post_limit.excess(text) is None and not has_parts:
            return await self.store.plan_posts(
                chat.id, action_key, target.platform, target.channel, [text], thread=False
            )
        try:
            parts = split_post(text, platform.post_limit)
        except SplitError as exc:  # a limit lower than when the chat was checked
            reason = f"{platform.post_limit.problem(text)}, and it cannot be split: {exc}"
            await self.store.record_intent(
                chat.id, action_key, target.platform, target.channel, text
            )
            await self._fail_thread(chat, action_key, target, reason)
            await self._alert_failed(chat, action_key, target, reason)
            return []
        if has_parts:
            # A thread begun by a version that kept no plan: go on only if its parts out
            # so far are the first parts of this split.
            for post in await self.store.posts(chat.id):
                if (post.platform, post.channel) != (target.platform, target.channel):
                    continue
                number = part_number(post.action_key)
                if action_of(post.action_key) != action_key or number == 0:
                    continue
                if number > len(parts) or parts[number - 1] != post.text:
                    reason = (
                        f"part {number} of the thread begun earlier does not match the "
                        "parts the text splits into now (the post limit changed); "
                        "not posting the rest, so that nothing is repeated or lost"
                    )
                    await self._fail_thread(chat, action_key, target, reason)
                    await self._alert_failed(chat, action_key, target, reason)
                    return []
        await self.store.record_intent(chat.id, action_key, target.platform, target.channel, text)
        return await self.store.plan_posts(
            chat.id, action_key, target.platform, target.channel, parts, thread=True
        )

    async def _alert_failed(self, chat: Chat, action_key: str, target: Target, reason: str) -> None:
        """Tell the hosts that ``action_key`` failed for good on ``target``'s network."""
        # Translators: an alert to the hosts; {reason} is the network's own (English) error.
        alert = translator(chat.language).gettext("Could not post {action} on {platform}: {reason}")
        await self.notify_hosts(
            chat, alert.format(action=action_key, platform=target.platform, reason=reason)
        )

    async def _has_parts(self, chat_id: str, action_key: str, target: Target) -> bool:
        """Whether a part of ``action_key`` is in the ledger (a thread under way)."""
        return await self._ledger_row(chat_id, part_key(action_key, 1), target) is not None

    async def _fail_thread(self, chat: Chat, action_key: str, target: Target, reason: str) -> None:
        await self.store.mark_failed(chat.id, action_key, target.platform, target.channel, reason)
        logger.error(
            "chat %s: %s could not be posted on %s: %s",
            chat.id,
            action_key,
            target.platform,
            reason,
        )
        self.invalidate()

    async def _send_once(
        self,
        chat: Chat,
        action_key: str,
        target: Target,
        text: str,
        send: Callable[[Platform], Awaitable[SentPost]],
    ) -> SentPost | None:
        platform = self.platforms.get(target.platform)
        intent = await self.store.record_intent(
            chat.id, action_key, target.platform, target.channel, text
        )
        if intent is None:
            row = await self._ledger_row(chat.id, action_key, target)
            if row is None or row.status != PostStatus.INTENT:
                return None  # already sent, failed for good, or skipped
            if platform is not None:
                # A previous attempt or run recorded the intent: did the post go out?
                if platform.capabilities.find_posts:
                    found = await self._reconcile(chat, row, platform)
                    if found is not None:
                        return found
                elif not row.error:
                    # A run died after the intent, and the platform cannot tell whether
                    # its post went out; never risk a duplicate post.
                    await self.store.mark_failed(
                        chat.id,
                        action_key,
                        target.platform,
                        target.channel,
                        "outcome unknown after a restart; not reposted to avoid a duplicate",
                    )
                    return None
                if row.error:  # the last attempt failed; this one's outcome is unknown
                    await self.store.note_post_error(
                        chat.id, action_key, target.platform, target.channel, ""
                    )
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
                lambda: send(platform),
                what=f"chat {chat.id}: posting {action_key} on {target.platform}",
                attempts=self.post_attempts,
                base=self.post_backoff,
                retry_on=(PostError, OSError, TimeoutError),
            )
        except (RetryError, PostError) as exc:
            cause = exc.__cause__ if isinstance(exc, RetryError) and exc.__cause__ else exc
            reason = str(cause) if isinstance(cause, PostError) else one_line(cause)
            # Our own retries ran out (a refusal, `GiveUp`, is never retried), or the
            # adapter's did: worth trying again later. Anything else is a refusal for good.
            if isinstance(exc, RetryError) or (isinstance(cause, PostError) and cause.transient):
                await self.store.note_post_error(
                    chat.id, action_key, target.platform, target.channel, reason
                )
                raise StepFailed(f"posting {action_key} on {target.platform}: {reason}") from exc
            await self.store.mark_failed(
                chat.id, action_key, target.platform, target.channel, reason
            )
            logger.error(
                "chat %s: %s could not be posted on %s: %s",
                chat.id,
                action_key,
                target.platform,
                reason,
            )
            await self._alert_failed(chat, action_key, target, reason)
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
        logger.info(
            "chat %s: %s posted on %s (%s)",
            chat.id,
            action_key,
            target.platform,
            sent.permalink or sent.platform_message_id,
        )
        self.invalidate()
        return sent

    async def _ledger_row(self, chat_id: str, action_key: str, target: Target) -> Post | None:
        for p in await self.store.posts(chat_id):
            if p.action_key == action_key and (p.platform, p.channel) == (
                target.platform,
                target.channel,
            ):
                return p
        return None

    async def _reconcile(self, chat: Chat, row: Post, platform: Platform) -> SentPost | None:
        """Look for the post of an ``intent`` row on its platform (one that can find our own
        posts); when it went out, record it as sent. The text looked for is the one recorded
        with the intent: a later attempt's text may differ (a "posted late" note)."""
        try:
            found = await platform.find_post(
                row.channel, row.text, self.clock.now() - timedelta(days=1)
            )
        except (PostError, OSError, TimeoutError) as exc:
            # Cannot tell whether it went out: keep the intent (never post blindly twice) and
            # let the runner ask again later.
            raise StepFailed(
                f"looking for an earlier post of {row.action_key} on {row.platform}: "
                f"{one_line(exc)}"
            ) from exc
        if found is None:
            return None
        await self.store.mark_sent(
            chat.id,
            row.action_key,
            row.platform,
            row.channel,
            found.platform_message_id,
            found.posted_at,
        )
        logger.info(
            "chat %s: %s on %s was already posted (reconciled)",
            chat.id,
            row.action_key,
            row.platform,
        )
        self.invalidate()
        return found

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """Tell the hosts: every platform's `notify_hosts` (Discord alerts its hosts even
        for a chat that runs elsewhere), then any extra listeners."""
        listeners = [p.notify_hosts for p in self.platforms.values()] + self.notifiers
        for notify in listeners:
            try:
                await notify(chat, text)
            except Exception as exc:
                logger.warning("chat %s: alerting the hosts failed: %s", chat.id, one_line(exc))

    async def publish(self, chat: Chat, *, announce: bool = True) -> PublishResult:
        """Re-check deletions, write the transcripts, announce them, then mark the chat
        published: the last part, so that a crash or a failure anywhere before leaves a chat
        that is not published yet and the whole step is tried again (each part is safe to
        repeat: files are rewritten atomically, and the announcement is in the post ledger,
        posted once). A part that fails raises `StepFailed` naming it.
        """
        for name in dict.fromkeys(t.platform for t in chat.targets):
            platform = self.platforms.get(name)
            if platform is None:
                continue
            try:
                await platform.sweep(chat)  # the window's last posts, before anything else
                await self._sweep_deletions(chat, platform)
            except Exception as exc:
                tries = self._recheck_failures.get((chat.id, name), 0) + 1
                self._recheck_failures[(chat.id, name)] = tries
                if tries < RECHECK_TRIES:
                    raise StepFailed(f"re-checking deletions on {name}: {one_line(exc)}") from exc
                # Never hold the transcript back for good: the platform's own later re-checks
                # (X: daily) remove what was deleted, and republish.
                logger.warning(
                    "chat %s: publishing without re-checking deletions on %s (%s)",
                    chat.id,
                    name,
                    one_line(exc),
                )
        await refresh_engagement(self.store, chat, self.platforms)  # for the Highlights
        try:
            result = await self.publisher(chat)
        except Exception as exc:
            raise StepFailed(f"writing the transcripts: {one_line(exc)}") from exc
        announcement = result.announcement if announce else ""
        if announcement:
            _fault_point("crash-before-announce")
            failures: list[str] = []
            for target in chat.targets:
                try:
                    await self._send_once(
                        chat,
                        "announce",
                        target,
                        announcement,
                        _announcer(chat, target.channel, result),
                    )
                except StepFailed as exc:
                    failures.append(str(exc))
            if failures:
                raise StepFailed("; ".join(failures))
        if announce and chat.digest:  # the chat file's `digest = true`
            await self._post_digest(chat)
        # As bookkeeping: the archive's generation stays where the files were recorded, so
        # they stay current (`tweetchat transcript` serves them, not a render). A chat
        # published from another status (republished, say) is set so as before.
        await self.store.mark_published(chat.id)
        if (await self.store.get_chat(chat.id)).status is not ChatStatus.PUBLISHED:
            await self.store.set_status(chat.id, ChatStatus.PUBLISHED)
        logger.info(
            "chat %s: published (%s)",
            chat.id,
            ", ".join(str(path) for path in result.paths.values()) or "no files",
        )
        self.invalidate()
        return result

    async def republish_stale(self) -> int:
        """Write again, without announcing, the published files that are behind: those
        that still show a participant who opted out (:meth:`republish_opted_out`) and
        those of chats whose messages were deleted or edited since they were published.
        Returns how many chats; raises `StepFailed` naming those that could not be written
        (kept for the caller's next try)."""
        done = await self.republish_opted_out()
        failures: list[str] = []
        for chat_id, seen in sorted((await self.store.read(Store.republish_flags)).items()):
            try:
                chat = await self.store.get_chat(chat_id)
                await self.publisher(chat)
            except NotFoundError:
                continue
            except Exception as exc:
                failures.append(f"chat {chat_id}: {one_line(exc)}")
                continue
            # (A change while the files were written keeps the flag: another round.)
            await self.store.write(Store.clear_republish_flag, chat_id, seen)
            logger.info("chat %s: published again after a message was deleted or edited", chat_id)
            done += 1
        if failures:
            raise StepFailed("publishing again after changes: " + "; ".join(failures))
        return done

    async def republish_opted_out(self) -> int:
        """Write again, without announcing, the transcripts of every published chat whose
        files were written before one of its participants opted out
        (``Store.chats_showing_opted_out``): an opt-out hides the participant from what is
        rendered from then on, and the files already in ``transcripts_dir`` (those that
        organisers share) must lose their words too. Returns how many chats; raises
        `StepFailed` naming those that could not be written (the caller tries again)."""
        chats = await self.store.read(Store.chats_showing_opted_out)
        failures: list[str] = []
        for chat in chats:
            try:
                await self.publisher(chat)
            except Exception as exc:
                failures.append(f"chat {chat.id}: {one_line(exc)}")
                continue
            logger.info("chat %s: published again, without a participant who opted out", chat.id)
        if failures:
            raise StepFailed("publishing again after an opt-out: " + "; ".join(failures))
        return len(chats)

    async def _post_digest(self, chat: Chat) -> None:
        """The top answer of each question on every network of the chat (`bot.digest`);
        raises `StepFailed` when a post should be tried again."""
        highlights, hide = await self.store.read(top_answers, chat)
        limits = {name: platform.post_limit for name, platform in self.platforms.items()}
        await post_digest(chat, highlights, hide, limits, self.post)

    # ---- start-up ----------------------------------------------------------------------

    async def prepare(self) -> None:
        """Before the platforms start: note every platform that has a half-done post (an
        intent a crash left unrecorded) it can look for. Its first capture, or its
        `reconnected`, reconciles them before anything it delivers is attributed, so a reply
        to such a post is attributed to it."""
        for chat in await self.store.list_chats(OPEN_STATUSES):
            posts = await self.store.posts(chat.id)
            self._remember_parts(posts)
            for p in posts:
                platform = self.platforms.get(p.platform)
                if (
                    p.status == PostStatus.INTENT
                    and platform is not None
                    and platform.capabilities.find_posts
                ):
                    self._unreconciled.add(p.platform)

    def _remember_parts(self, posts: Sequence[Post]) -> None:
        """Note the parts of split posts already out (from the ledger), so that capture keeps
        each such post once, whole, whenever its parts arrive again (a backfill, an edit)."""
        whole = {
            (p.action_key, p.platform, p.channel): p.text
            for p in posts
            if not is_part_key(p.action_key)
        }
        for p in posts:
            if is_part_key(p.action_key) and p.status == PostStatus.SENT:
                text = whole.get((action_of(p.action_key), p.platform, p.channel), "")
                number = part_number(p.action_key)
                if text:
                    self._part_ids[(p.platform, p.platform_message_id)] = (number, text)

    def _as_whole(self, msg: IncomingMessage) -> IncomingMessage | None:
        """The bot's own post as capture keeps it: a part of a split post becomes the whole
        text under its first part's id and later parts are dropped (None), so transcripts
        show the intro or closing once, as the host wrote it; any other message unchanged."""
        found = self._part_ids.get((msg.platform, msg.platform_id)) or self._part_texts.get(
            (msg.platform, msg.text)
        )
        if found is None:
            return msg
        platform = self.platforms.get(msg.platform)
        bot_id = platform.bot_user_id if platform is not None else ""
        if not (msg.is_bot or (bot_id and msg.author_id == bot_id)):
            return msg
        number, whole = found
        return dataclasses.replace(msg, text=whole) if number == 1 else None

    async def finish_published(self) -> int:
        """Finish the announcement of every published chat that has one half-done (left by
        a version that marked a chat published before announcing it): posted once, or found
        already posted. Returns how many chats it finished; raises `StepFailed` when one
        could not be finished yet (the caller tries again later)."""
        finished = 0
        failures: list[str] = []
        for chat_id in await self.store.chats_with_intents():
            try:
                chat = await self.store.get_chat(chat_id)
            except NotFoundError:
                continue
            if chat.status != ChatStatus.PUBLISHED:
                continue  # an open chat's steps are the runner's
            posts = await self.store.posts(chat.id)
            if not any(p.action_key == "announce" and p.status == PostStatus.INTENT for p in posts):
                continue
            try:
                await self.publish(chat)
            except StepFailed as exc:
                failures.append(f"chat {chat.id}: announcing: {exc}")
                continue
            logger.info("chat %s: its half-done announcement is finished", chat.id)
            finished += 1
        if failures:
            raise StepFailed("; ".join(failures))
        return finished

    async def reconcile(self, platform: Platform) -> int:
        """Record as sent every half-done post of an open chat that went out on this platform
        (found by its text); what did not go out stays for the runner to post. Returns how
        many were found. Runs when the platform (re)connects, or first thing when it delivers
        messages before saying so, whichever comes first (see `prepare`)."""
        if not platform.capabilities.find_posts:
            self._unreconciled.discard(platform.name)
            return 0
        found = 0
        async with self._reconcile_locks.setdefault(platform.name, asyncio.Lock()):
            try:
                for chat in await self.store.list_chats(OPEN_STATUSES):
                    for row in await self.store.posts(chat.id):
                        if row.platform != platform.name or row.status != PostStatus.INTENT:
                            continue
                        try:
                            if await self._reconcile(chat, row, platform) is not None:
                                found += 1
                        except Exception as exc:
                            logger.warning(
                                "chat %s: reconciling %s on %s failed: %s",
                                chat.id,
                                row.action_key,
                                platform.name,
                                one_line(exc),
                            )
            finally:
                # Tried once: capture goes on (a post not found is the runner's to post).
                self._unreconciled.discard(platform.name)
        return found

    async def _reconciled(self, messages: Sequence[IncomingMessage]) -> None:
        """Reconcile the half-done posts of these messages' platforms first (once), so that
        replies to those posts are attributed to them, whichever order an adapter delivers
        messages and says it (re)connected in."""
        for name in {m.platform for m in messages}:
            platform = self.platforms.get(name)
            if name in self._unreconciled and platform is not None:
                await self.reconcile(platform)

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

    async def _fresh(self) -> list[CaptureContext]:
        """The open chats' capture contexts read again from the store (a reply to a post
        whose sending was recorded after the cached contexts were read)."""
        self.invalidate()
        return [c.ctx for c in await self._open_chats()]

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
            # Not an imported chat (ended until its transcripts are written): its window is
            # long past, and a backfill would read the exported channel's history again.
            chats = await self.store.list_chats(OPEN_STATUSES, imported=False)
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
            # A host's posts about questions ("Q1 follow-up: ..."): replies to them answer
            # those questions too.
            follow_ups=dict(await self.store.follow_up_posts(chat.id)),
        )

    async def handle(self, event: Event) -> None:
        if isinstance(event, IncomingMessage):
            await self.capture_messages([event])
        elif isinstance(event, MessageDeleted):
            if await self.store.mark_deleted(event.platform, event.platform_id, event.at):
                chat_id = await self.store.read(
                    Store.chat_of_message, event.platform, event.platform_id
                )
                await self._published_changed(chat_id)
        elif isinstance(event, ReactionChanged):
            await self.store.add_reactions(event.platform, event.platform_id, event.delta)

    async def capture_messages(self, messages: Sequence[IncomingMessage]) -> int:
        """Capture a batch (live events or backfill) in one transaction; returns rows written."""
        if self._unreconciled:
            await self._reconciled(messages)
        caches = await self._open_chats()
        captured = []
        raws = []
        edits = []
        # Stakeholder groups (bot/groups.py): recorded and answered once the batch is stored.
        declarations: list[tuple[IncomingMessage, str]] = []
        roles: list[tuple[IncomingMessage, CapturedMessage, str]] = []
        withdrawn: list[IncomingMessage] = []  # messages edited into a declaration
        for msg in messages:
            # A repost carries someone else's words: forwarding (or boosting) another
            # participant's "!optout" opts nobody out.
            if not msg.is_bot and not msg.is_repost and opt_command(msg.text):
                await self._opt(msg, caches)
                continue
            if msg.is_bot and (
                _LEADING_MENTIONS.sub("", msg.text) in OPT_REPLIES or is_group_reply(msg.text)
            ):
                # our answer to an opt-out or a declaration (on Mastodon after an @mention):
                # no chat's message
                continue
            if self._part_ids or self._part_texts:
                whole = self._as_whole(msg)
                if whole is None:
                    continue  # a later part of a split post: kept whole with the first
                msg = whole
            declared = None if msg.is_bot else find_declaration(msg.text)
            if declared is not None:
                declarations.append((msg, declared))
                if declaration_only(msg.text, self._group_names):
                    if msg.edited_at is not None:
                        # A message edited into a declaration is no message of the chat any
                        # more (as an import of the edited post finds): its earlier words go.
                        withdrawn.append(msg)
                    continue
            for cache in caches:
                got = capture(msg, cache.ctx)
                if got is not None:
                    captured.append(got)
                    raws.append(msg.raw)
                    if got.kind is MessageKind.HOST and got.question_keys:
                        # A host's follow-up: a reply later in this batch (a backfill, a
                        # burst) answers its questions too, as later ones will (the store).
                        follow_ups = {**cache.ctx.follow_ups, got.platform_id: got.question_keys}
                        cache.ctx = dataclasses.replace(cache.ctx, follow_ups=follow_ups)
                    if msg.role_group:
                        roles.append((msg, got, cache.chat.hashtag))
                    break
            else:
                if msg.edited_at is not None:
                    edits.append(msg)
        written = await self.store.save_messages(captured, raws) if captured else 0
        for got in captured:
            if got.edited_at is not None:
                # An edit of a message an earlier chat holds, met in this chat's window: the
                # row stays that chat's, whose published files are then behind.
                held = await self.store.read(Store.chat_of_message, got.platform, got.platform_id)
                if held is not None and held != got.chat_id:
                    await self._published_changed(held, flag=True)
        for msg, declared in declarations:
            await self.group_desk.declare(msg, declared, [c.ctx for c in caches], self._fresh)
        for msg, got, hashtag in roles:
            await self.group_desk.role_group(msg, got, hashtag)
        for msg in edits:
            # An edit that no longer matches a chat still updates a message we hold (one of a
            # chat already published, say: its files are written again).
            assert msg.edited_at is not None
            await self._published_changed(
                await self.store.edit_message(
                    msg.platform, msg.platform_id, msg.text, msg.edited_at
                )
            )
        for msg in withdrawn:
            assert msg.edited_at is not None
            chat_id = await self.store.edit_message(
                msg.platform, msg.platform_id, msg.text, msg.edited_at
            )
            if chat_id is not None:
                await self.store.mark_deleted(msg.platform, msg.platform_id, msg.edited_at)
                await self._published_changed(chat_id)
        return written

    async def _published_changed(self, chat_id: str | None, *, flag: bool = False) -> None:
        """A message of chat ``chat_id`` was deleted or edited: a published chat's files
        are written again (its transcripts must not keep deleted or earlier words). The
        store flags the chat when it records a deletion or an edit; ``flag``: flag it here
        (an edit saved as a capture, for another chat's window)."""
        if chat_id is None:
            return
        if flag:
            await self.store.write(Store.flag_if_published, chat_id)
        if chat_id in await self.store.read(Store.republish_flags):
            self.files_stale.set()

    async def _opt(self, msg: IncomingMessage, caches: Sequence[_ChatCache] = ()) -> None:
        word = opt_command(msg.text)
        assert word is not None
        if word == "optout":
            await self.store.opt_out(msg.platform, msg.author_id, msg.author_handle)
            logger.info("%s:%s opted out", msg.platform, msg.author_handle)
            self.files_stale.set()  # their words leave the files already published too
            answer = OPTED_OUT_REPLY
        else:
            was_out = await self.store.opt_in(msg.platform, msg.author_id)
            logger.info("%s:%s opted back in", msg.platform, msg.author_handle)
            answer = OPTED_IN_REPLY if was_out else NOT_OPTED_OUT_REPLY
        now = self.clock.now()
        if msg.edited_at is not None or now - msg.created_at > timedelta(hours=1):
            return  # an edit, or an old message met again by a backfill: answered already
        platform = self.platforms.get(msg.platform)
        if platform is None:
            return
        # One answer per message, however often it is delivered (live, then a backfill after
        # a reconnect or a restart, the sweep before publishing): the first delivery marks
        # it in the store, in the same writer queue as every other delivery's mark.
        mark = opt_reply_key(msg.platform, msg.platform_id)
        if not await self.store.mark_once(mark, now.isoformat()):
            return
        answer = opt_reply(answer, translator(_language_of(msg, caches)))
        try:
            await platform.reply(msg, answer)
        except Exception as exc:  # the opt-out itself is stored; the answer is a courtesy
            logger.warning(
                "%s: could not answer %s's %s: %s", msg.platform, msg.author_handle, word, exc
            )
            await self.store.set_state(mark, "")  # not answered: a later delivery may try

    async def reconnected(self, platform: Platform) -> None:
        """Reconcile the platform's half-done posts, then backfill every open chat on it
        from its history (replies to a reconciled post are then attributed to it)."""
        await self.reconcile(platform)
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


def _part_sender(
    chat: Chat,
    action_key: str,
    target: Target,
    text: str,
    first: SentPost | None,
    previous: SentPost | None,
) -> Callable[[Platform], Awaitable[SentPost]]:
    """How to post one part of a split action: the first where the action goes
    (`Platform.post_action`), the others after the part before (`Platform.post_part`)."""

    async def send(platform: Platform) -> SentPost:
        if first is None or previous is None:
            return await platform.post_action(chat, action_key, target.channel, text)
        return await platform.post_part(
            chat, action_key, target.channel, text, first=first, previous=previous
        )

    return send


def _announcer(
    chat: Chat, channel: str, result: PublishResult
) -> Callable[[Platform], Awaitable[SentPost]]:
    """How to announce ``result`` in one channel, on whichever platform posts it."""

    async def announce(platform: Platform) -> SentPost:
        return await platform.announce(chat, channel, result)

    return announce


def _fault_point(name: str) -> None:
    """Die here, as a crash would, when TWEETCHAT_FAULT names this point (restart tests only).

    It lets a test kill the bot at the one instant that matters for "never post twice":
    after the platform accepted a post and before the store recorded it.
    """
    if os.environ.get("TWEETCHAT_FAULT") == name:
        logger.warning("fault injection: %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
