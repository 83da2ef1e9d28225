"""Discord Scheduled Events kept in step with chats, so a chat shows under the server's Events.

An event is created when a chat with a Discord target is scheduled, edited when the chat's
start or end moves, and deleted when the chat is cancelled, whether the change came from a
Discord command or from elsewhere (the CLI, another process: the runner notices every change
to the stored chats; and at start-up). The event of a
chat is remembered in the store's state table (``discord:event:<chat id>`` =
``<guild id>:<event id>``). Failures are logged as warnings: an event is a courtesy, never a
reason for a host command to fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

import discord

from archive.i18n import translator
from archive.models import Chat, ChatStatus
from archive.store import AsyncStore, NotFoundError
from bot.platforms.base import PostError
from scheduler.clock import Clock

T = TypeVar("T")


class EventsHost(Protocol):
    """What the Scheduled Events need of the adapter: its client, clock and retrying calls
    (a protocol, so this module does not import the adapter that uses it)."""

    @property
    def client(self) -> discord.Client: ...

    @property
    def clock(self) -> Clock: ...

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` with the adapter's bounded retries; a PostError when it fails for good."""
        ...


logger = logging.getLogger(__name__)

MIN_LEAD = timedelta(seconds=1)  # Discord refuses events that start in the past


def state_key(chat_id: str) -> str:
    return f"discord:event:{chat_id}"


def event_name(chat: Chat) -> str:
    return f"{chat.title} {chat.hashtag}"[:100]


def event_description(chat: Chat) -> str:
    lines = [chat.intro] if chat.intro else []
    tr = translator(chat.language)
    lines.append(
        tr.ngettext(
            "A hashtag chat: {n} question, answer with {hashtag}.",
            "A hashtag chat: {n} questions, answer with {hashtag}.",
            len(chat.questions),
        ).format(n=tr.number(len(chat.questions)), hashtag=chat.hashtag)
    )
    lines += [f"{chat.label(q)}: {q.text}" for q in chat.questions]
    return "\n".join(lines)[:1000]


class ChatEvents:
    """Creates, edits and deletes the Scheduled Event of each chat."""

    def __init__(self, platform: EventsHost, store: AsyncStore) -> None:
        self.platform = platform
        self.store = store
        # One sync of a chat at a time: two at once could both find no event and create two.
        self._locks: dict[str, asyncio.Lock] = {}

    def location(self, chat: Chat) -> str:
        """Where the event says the chat happens: its Discord channel, by name."""
        for target in chat.targets:
            if target.platform == "discord":
                channel = self.platform.client.get_channel(int(target.channel))
                name = getattr(channel, "name", "")
                if name:
                    return f"#{name} on Discord"
        return f"{chat.hashtag} on Discord"

    def _guild(self, chat: Chat) -> discord.Guild | None:
        for target in chat.targets:
            if target.platform == "discord" and target.channel.isdigit():
                guild = getattr(
                    self.platform.client.get_channel(int(target.channel)), "guild", None
                )
                if isinstance(guild, discord.Guild):
                    return guild
        return None

    async def create(self, chat: Chat, guild: discord.Guild, location: str) -> None:
        """Create the chat's event in `guild` (nothing when the chat has already started)."""
        if chat.start - self.platform.clock.now() < MIN_LEAD:
            return
        try:
            event = await self.platform.call(
                f"creating the event of {chat.id}",
                lambda: guild.create_scheduled_event(
                    name=event_name(chat),
                    description=event_description(chat),
                    start_time=chat.start,
                    end_time=chat.end,
                    entity_type=discord.EntityType.external,
                    location=location[:100],
                    privacy_level=discord.PrivacyLevel.guild_only,
                ),
            )
        except PostError as exc:
            logger.warning("%s", exc)
            return
        await self.store.set_state(state_key(chat.id), f"{guild.id}:{event.id}")
        logger.info("chat %s: scheduled event %s created", chat.id, event.id)

    async def _event(self, chat: Chat) -> discord.ScheduledEvent | None:
        value = await self.store.get_state(state_key(chat.id), "")
        if not value:
            return None
        guild_id, event_id = (int(part) for part in value.split(":", 1))
        guild = self.platform.client.get_guild(guild_id)
        if guild is None:
            return None
        found = guild.get_scheduled_event(event_id)
        if found is not None:
            return found
        try:
            return await guild.fetch_scheduled_event(event_id)
        except discord.NotFound:
            await self.store.set_state(state_key(chat.id), "")
            return None

    async def reconcile(self) -> None:
        """Sync every chat that has an event (at start-up: chats may have been cancelled or
        moved while the bot was not running)."""
        prefix = state_key("")
        for key in await self.store.states(prefix):
            chat_id = key.removeprefix(prefix)
            try:
                chat = await self.store.get_chat(chat_id)
            except NotFoundError:  # the chat was deleted; its event is an orphan
                chat = None
            if chat is None:
                await self.store.set_state(key, "")
                continue
            await self.sync(chat)

    async def sync(self, chat: Chat) -> None:
        """Bring the chat's event in line with the chat: created for a scheduled chat that
        never had one (wherever it was scheduled), deleted if cancelled, else its times."""
        async with self._locks.setdefault(chat.id, asyncio.Lock()):
            if await self.store.get_state(state_key(chat.id)) is None:
                # Never had an event ("" is one deleted, by us or by a host: not recreated).
                guild = self._guild(chat)
                if chat.status == ChatStatus.SCHEDULED and guild is not None:
                    await self.create(chat, guild, self.location(chat))
                return
            await self._sync(chat)

    async def _sync(self, chat: Chat) -> None:
        try:
            event = await self._event(chat)
            if event is None:
                return
            if chat.status == ChatStatus.CANCELLED:
                await self.platform.call(f"deleting the event of {chat.id}", event.delete)
                await self.store.set_state(state_key(chat.id), "")
                logger.info("chat %s: scheduled event deleted", chat.id)
                return
            now = self.platform.clock.now()
            if chat.start - now >= MIN_LEAD:
                wanted = (event_name(chat), chat.start, chat.end)
                if (event.name, event.start_time, event.end_time) == wanted:
                    return  # in step already (the bot reconciles every chat at start-up)
                await self.platform.call(
                    f"moving the event of {chat.id}",
                    lambda: event.edit(
                        name=event_name(chat), start_time=chat.start, end_time=chat.end
                    ),
                )
            elif chat.end > now:
                if event.end_time == chat.end and event.status != discord.EventStatus.scheduled:
                    return
                # A started event's start cannot move; it goes live and keeps the new end.
                status = (
                    discord.EventStatus.active
                    if event.status == discord.EventStatus.scheduled
                    else discord.utils.MISSING
                )
                await self.platform.call(
                    f"updating the event of {chat.id}",
                    lambda: event.edit(end_time=chat.end, status=status),
                )
        except (PostError, discord.HTTPException, ValueError) as exc:
            logger.warning("chat %s: keeping the scheduled event in step failed: %s", chat.id, exc)
