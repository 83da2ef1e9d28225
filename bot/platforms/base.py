"""The adapter contract every platform implements, and the neutral events it emits.

An adapter connects, turns its network's events into neutral values (`IncomingMessage`,
`MessageDeleted`, `ReactionChanged`) handed to an `EventSink`, posts text and files, and,
where the network allows, reads channel history (for backfill after downtime) and tells
which of our posts exist (for reconciling a post whose outcome a crash hid).
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from archive.models import IncomingMessage
from bot.retry import backoff_delay

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SentPost:
    """What the platform answered when we posted."""

    platform_message_id: str
    posted_at: datetime
    permalink: str = ""


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    platform: str
    platform_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReactionChanged:
    platform: str
    platform_id: str
    delta: int  # +1 added, -1 removed


Event = IncomingMessage | MessageDeleted | ReactionChanged


class EventSink(Protocol):
    async def handle(self, event: Event) -> None:
        """Take one event. Returns once a captured message is committed."""
        ...

    async def reconnected(self, platform: Platform) -> None:
        """Called after a reconnect: the time to backfill what was missed."""
        ...


class PostError(Exception):
    """A post failed for good (after retries, or for a reason retrying cannot fix)."""


class Platform(abc.ABC):
    """Base class of every adapter. Subclasses implement the abstract methods."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.sink: EventSink | None = None
        self.bot_user_id = ""  # this bot's author id on the platform, once known

    def attach(self, sink: EventSink) -> None:
        self.sink = sink

    async def emit(self, event: Event) -> None:
        if self.sink is None:
            logger.warning("%s: event dropped before a sink was attached: %r", self.name, event)
            return
        await self.sink.handle(event)

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and begin delivering events; returns once connected."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect and release resources. Safe to call twice."""

    @abc.abstractmethod
    async def send(self, channel: str, text: str) -> SentPost:
        """Post `text`; raise PostError when it cannot be posted."""

    async def send_file(self, channel: str, text: str, filename: str, data: bytes) -> SentPost:
        """Post a file with a message; platforms without attachments post the text only."""
        return await self.send(channel, text)

    async def history(
        self, channel: str, after: datetime, before: datetime
    ) -> Sequence[IncomingMessage]:
        """Messages posted in `channel` between two instants, oldest first (for backfill)."""
        return ()

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our own post with this text since `after`, if the platform can tell; else None."""
        return None

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which of these message ids still exist; None when the platform cannot tell."""
        return None

    @property
    def can_find_posts(self) -> bool:
        """Whether `find_post` really looks (used to reconcile intents after a crash)."""
        return False


async def reconnect_forever(
    connect_once: ConnectOnce,
    *,
    name: str,
    stop: asyncio.Event,
    base: float = 1.0,
    cap: float = 60.0,
) -> None:
    """Run `connect_once` until `stop` is set, reconnecting with back-off and jitter.

    Written once here (the errbot habit) so adapters only say how to connect once.
    """
    attempt = 0
    while not stop.is_set():
        try:
            await connect_once()
            attempt = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempt += 1
            delay = backoff_delay(attempt, base=base, cap=cap)
            logger.warning("%s: connection lost (%s); reconnecting in %.1fs", name, exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass


class ConnectOnce(Protocol):
    async def __call__(self) -> None: ...
