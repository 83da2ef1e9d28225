"""Stakeholder groups in the running bot: the roster file, the configured groups in the
archive, and the declarations participants make (``!iam patient``) or their Discord roles
imply (see :mod:`archive.groups` for the rules).

A declaration is filed under the hashtag of every open chat the post belongs to (capture
says which); a post that belongs to none but names an open chat's hashtag counts for that
chat. The bot answers each declaring post once (never an edit, nor an old post met again
by a backfill), as it answers ``!optout``.
"""

from __future__ import annotations

import functools
import logging
import re
import string
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from archive.capture import CaptureContext, capture
from archive.groups import (
    TEXT,
    TEXT_CONTEXT,
    Group,
    declared_words,
    group_label,
    match_declared,
    say,
)
from archive.hashtags import has_hashtag
from archive.i18n import LANGUAGES, translator
from archive.models import CapturedMessage, IncomingMessage
from archive.store import AsyncStore
from bot.roster import roster_entries as roster_entries
from bot.roster import sync_groups as sync_groups
from scheduler.clock import Clock

if TYPE_CHECKING:
    from bot.platforms.base import Platform

logger = logging.getLogger(__name__)

_MENTIONS_RE = re.compile(r"^(?:@\S+\s+)+")

REPLY_WITHIN = timedelta(hours=1)
"""A declaring post older than this when first seen (a backfill) gets no answer."""


def group_reply_key(platform: str, platform_id: str) -> str:
    """The state key that marks a declaring post (by its network and id) as answered."""
    return f"group-reply:{platform}:{platform_id}"


_ANSWERS = ("declared", "unknown_group", "which_group", "no_chat")
"""The :data:`archive.groups.TEXT` entries the bot answers a declaration with."""


@functools.cache
def _answer_patterns() -> tuple[re.Pattern[str], ...]:
    """The bot's answers to a declaration, in every language we have: each template's
    literal text in order, anything where a placeholder is (a label, hashtags, groups)."""
    patterns = []
    for language in LANGUAGES:
        tr = translator(language)
        for name in _ANSWERS:
            template = tr.pgettext(TEXT_CONTEXT, TEXT[name])
            pieces = [literal for literal, _, _, _ in string.Formatter().parse(template)]
            patterns.append(re.compile(".*?".join(map(re.escape, pieces)), re.DOTALL))
    return tuple(patterns)


def is_group_reply(text: str) -> bool:
    """Whether ``text`` is one of the bot's answers to a declaration (never captured), in
    any of the languages (a chat's language picks the answer's), with or without the
    @mentions a network puts first (Mastodon)."""
    text = _MENTIONS_RE.sub("", text).strip()
    return any(p.match(text) for p in _answer_patterns())


class GroupDesk:
    """Where declarations arrive: from posts (the facilitator) and Discord's roles."""

    def __init__(
        self,
        store: AsyncStore,
        platforms: dict[str, Platform],
        groups: Sequence[Group],
        clock: Clock,
    ) -> None:
        self.store = store
        self.platforms = platforms
        self.groups = tuple(groups)
        self.clock = clock
        # (hashtag, platform, author id) -> group: role-implied groups recorded already,
        # so a member's every message does not cost a write.
        self._roles_seen: dict[tuple[str, str, str], str] = {}

    async def declare(
        self,
        msg: IncomingMessage,
        word: str,
        contexts: Sequence[CaptureContext],
        fresh: Callable[[], Awaitable[Sequence[CaptureContext]]] | None = None,
    ) -> None:
        """Record ``msg``'s ``!iam <word>`` for the chats it belongs to, and answer it.
        ``fresh()`` reads the contexts again when ``contexts`` (a cache) place the post in
        no chat: a reply to a question may come before the cache knows the question."""
        tr = translator(_language_for(msg, contexts))
        # By key or label, the label as the config gives it or in the chat's language (one
        # of several words too: "!iam Proche aidant").
        words = declared_words(msg.text) if word else ""
        group = (
            match_declared(words, self.groups)
            or match_declared(
                words, [Group(g.key, group_label(g.key, g.label, tr)) for g in self.groups]
            )
            if word
            else None
        )
        if group is None:
            keys = ", ".join(g.key for g in self.groups)
            answer = (
                say("unknown_group", tr, group=word, groups=keys)
                if word
                else say("which_group", tr, groups=keys)
            )
        else:
            hashtags = _hashtags_for(msg, contexts)
            if not hashtags and fresh is not None:
                hashtags = _hashtags_for(msg, await fresh())
            stands = False
            for hashtag in hashtags:
                stands |= await self.store.declare_group(
                    hashtag,
                    msg.platform,
                    msg.author_id,
                    group.key,
                    msg.created_at,
                    handle=msg.author_handle,
                    message_id=msg.platform_id,
                )
            if hashtags and not stands:
                return  # a later declaration stands: this older post (a backfill) is moot
            if hashtags:
                logger.info(
                    "%s:%s declared %s in %s",
                    msg.platform,
                    msg.author_handle,
                    group.key,
                    " ".join(hashtags),
                )
            answer = (
                say(
                    "declared",
                    tr,
                    label=group_label(group.key, group.label, tr),
                    hashtag=tags_named(hashtags),
                )
                if hashtags
                else say("no_chat", tr)
            )
        if msg.edited_at is not None or self.clock.now() - msg.created_at > REPLY_WITHIN:
            return  # an edit, or an old post met again by a backfill: answered already
        await self._answer(msg, answer)

    async def role_group(
        self, msg: IncomingMessage, captured: CapturedMessage, hashtag: str
    ) -> None:
        """Record the group ``msg``'s author's network roles put them in (``role_group``)."""
        if not msg.role_group:
            return
        seen = (hashtag.casefold(), msg.platform, msg.author_id)
        if self._roles_seen.get(seen) == msg.role_group:
            return
        await self.store.declare_group(
            hashtag,
            msg.platform,
            msg.author_id,
            msg.role_group,
            captured.created_at,
            source="role",
            handle=msg.author_handle,
        )
        self._roles_seen[seen] = msg.role_group

    async def _answer(self, msg: IncomingMessage, text: str) -> None:
        platform = self.platforms.get(msg.platform)
        if platform is None:
            return
        # One answer per post, however often it is delivered (live, a backfill after a
        # reconnect or a restart, the last sweep): marked in the store first, as !optout's.
        mark = group_reply_key(msg.platform, msg.platform_id)
        if not await self.store.mark_once(mark, self.clock.now().isoformat()):
            return
        try:
            await platform.reply(msg, text)
        except Exception as exc:  # the declaration is stored; the answer is a courtesy
            logger.warning(
                "%s: could not answer %s's declaration: %s", msg.platform, msg.author_handle, exc
            )
            await self.store.set_state(mark, "")  # not answered: a later delivery may try


def tags_named(hashtags: Sequence[str]) -> str:
    """The hashtags as an answer names them: without '#', so that the bot's answer is not
    itself a post of the chat on a network that follows the hashtag."""
    return " ".join(h.lstrip("#") for h in hashtags)


def _hashtags_for(msg: IncomingMessage, contexts: Sequence[CaptureContext]) -> list[str]:
    """The hashtags of the open chats ``msg`` belongs to (capture's decision), else of
    those whose hashtag it names."""
    found = [c.chat.hashtag for c in contexts if capture(msg, c) is not None]
    if not found:
        found = [c.chat.hashtag for c in contexts if has_hashtag(msg.text, c.chat.hashtag)]
    return list(dict.fromkeys(found))


def _language_for(msg: IncomingMessage, contexts: Sequence[CaptureContext]) -> str:
    """The language to answer ``msg`` in: that of the first open chat it belongs to (or
    names the hashtag of), else of the only open chat, else English."""
    for c in contexts:
        if capture(msg, c) is not None or has_hashtag(msg.text, c.chat.hashtag):
            return c.chat.language
    languages = {c.chat.language for c in contexts}
    return languages.pop() if len(languages) == 1 else "en"
