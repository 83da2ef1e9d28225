"""The adapter contract every platform implements, and the neutral events it emits.

An adapter connects, turns its network's events into neutral values (`IncomingMessage`,
`MessageDeleted`, `ReactionChanged`) handed to an `EventSink`, posts text and files within
the network's `PostLimit`, and, where its `Capabilities` say so, reads channel history (for
backfill after downtime), finds our own posts (for reconciling a post whose outcome a crash
hid) and tells which messages still exist. Every hook the facilitator, the app or the runner
may call is declared on `Platform` with a documented default: nothing is probed with
`getattr`. What an adapter needs from the running bot comes in one `PlatformServices`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol

from archive.groups import DEFAULT_GROUPS, Group, groups_of
from archive.highlights import Engagement
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import Chat, IncomingMessage
from bot.retry import GiveUp
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit
from scheduler.supervision import supervise

if TYPE_CHECKING:  # heavy modules, needed here for annotations only
    from archive.publish import PublishResult
    from archive.store import AsyncStore

logger = logging.getLogger(__name__)

ALERT_PREFIX = "\u26a0\ufe0f tweetchat:"
"""How every host alert of the bot begins (`Platform.notify_hosts`); a bot post that begins
so is never captured into a transcript."""


def hosts_on(chat: Chat, network: str) -> list[str]:
    """The handles of ``chat.hosts`` that may name an account on ``network``: those written
    for it (``mastodon:ann@example.social`` -> ``ann@example.social``) and those written
    for no network in particular (``drjane``, ``@drjane``), in the chat's order, without
    the leading ``@``; hosts written for another network (``discord:123``) are left out."""
    found = []
    for host in chat.hosts:
        prefix, sep, rest = host.strip().partition(":")
        handle = rest if sep else prefix
        if sep and prefix.strip().casefold() != network.casefold():
            continue
        handle = handle.strip().removeprefix("@")
        if handle and handle not in found:
            found.append(handle)
    return found


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
    """Where an adapter delivers what happens on its network (the facilitator)."""

    async def handle(self, event: Event) -> None:
        """Take one event. Returns once a captured message is committed."""
        ...

    async def capture_messages(self, messages: Sequence[IncomingMessage]) -> int:
        """Take a run of new messages as one batch (one transaction); returns how many rows
        were written. Returns once they are committed, so a cursor may move past them."""
        ...

    async def reconnected(self, platform: Platform) -> None:
        """Called after a reconnect: the time to backfill what was missed."""
        ...


class PostError(Exception):
    """A post failed (after the adapter's own retries, or for a reason retrying cannot fix).

    ``transient`` says the failure may pass (the service kept failing or rate-limited us):
    the facilitator keeps the post's intent and the runner tries the step again later.
    Otherwise it is a refusal for good (credentials, credits, length), told to the hosts.
    """

    def __init__(self, *args: object, transient: bool = False) -> None:
        super().__init__(*args)
        self.transient = transient


class PostTooLong(PostError, GiveUp):
    """A post longer than the network takes, counted the way that network counts."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a network lets the bot do beyond posting and receiving messages.

    history: `history()` reads a channel's past messages (backfill after downtime).
    find_posts: `find_post()` finds our own post, so a crash between posting and recording
        it never causes a double post.
    existence: `existing()` tells which captured messages still exist (deletions found late).
    edits: edited messages arrive again and update the captured row.
    reactions: reaction counts arrive as `ReactionChanged`.
    attachments: `send_file()` attaches the file (else only the text is posted).
    engagement: `engagement()` reads what the network counts on posts (reactions, likes,
        reposts) once at publishing, for the transcripts' Highlights.
    """

    history: bool = False
    find_posts: bool = False
    existence: bool = False
    edits: bool = False
    reactions: bool = False
    attachments: bool = False
    engagement: bool = False


async def _no_republish(chat: Chat) -> None:
    return None


async def _no_refresh() -> None:
    return None


async def _no_alert(message: str) -> None:
    return None


@dataclass(frozen=True)
class PlatformServices:
    """What the running bot gives an adapter at start-up (the one way in: no adapter imports
    the app).

    store: the archive (chats, the post ledger, cursors, costs).
    clock: the bot's clock (aware UTC instants).
    republish(chat): regenerate a published chat's transcripts without announcing them
        (deletions found after publishing).
    refresh(): the chats in the store changed (a host command): reload the schedule and
        forget cached capture contexts, at once.
    post_limits: every network's post limit by platform name (chat files are checked
        against the limits of their targets when scheduled).
    default_timezone, default_reminders, default_labels, default_language: defaults for
        chats scheduled from the network (the label convention: the config's ``[labels]``).
    wrapup_lead: how long before the end the wrap-up goes out (its text says so).
    alert(message): tell the hosts of the chats running now that something keeps failing
        (a supervised task's streak of failures); never raises.
    web_base_url: where the web archive is published ('' when it is not).
    groups: the stakeholder groups participants may declare (``[groups] labels``).
    """

    store: AsyncStore
    clock: Clock = field(default_factory=SystemClock)
    republish: Callable[[Chat], Awaitable[None]] = _no_republish
    refresh: Callable[[], Awaitable[None]] = _no_refresh
    post_limits: Mapping[str, PostLimit] = field(default_factory=dict)
    default_timezone: str = "UTC"
    default_reminders: tuple[timedelta, ...] = ()
    default_language: str = "en"
    default_labels: Labels = DEFAULT_LABELS
    wrapup_lead: timedelta = timedelta(minutes=5)
    web_base_url: str = ""
    alert: Callable[[str], Awaitable[None]] = _no_alert
    groups: tuple[Group, ...] = groups_of(DEFAULT_GROUPS)


class Platform(abc.ABC):
    """Base class of every adapter: the whole contract, each hook with its default.

    Adapters implement `start`, `stop`, `_send` and `post_limit`; everything else has a
    default that fits a network without the feature. The facilitator, the app and the runner
    call only what is declared here.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self) -> None:
        self.sink: EventSink | None = None
        self.services: PlatformServices | None = None
        self._stopping = asyncio.Event()  # set by `stop`; ends supervised tasks
        self._failing: dict[str, str] = {}  # supervised task -> its last error, while it waits
        self.bot_user_id = ""  # this bot's author id on the platform, once known
        self._reported: set[str] = set()  # failures already logged loudly

    # ---- wiring -----------------------------------------------------------------------

    def attach(self, sink: EventSink) -> None:
        """Deliver events to `sink` from now on (the facilitator attaches itself)."""
        self.sink = sink

    def use_services(self, services: PlatformServices) -> None:
        """Take the bot's services; the app calls this before `start`."""
        self.services = services

    @property
    def store(self) -> AsyncStore | None:
        """The archive, once the app gave its services (None in bare adapter tests)."""
        return self.services.store if self.services is not None else None

    def report_failure(self, message: str) -> None:
        """Log a failure that a loop will meet again (a network down, a refused read): at
        ERROR the first time, then at WARNING, so a long outage does not flood the log at
        ERROR every poll. `message` should name the network ("x: capture failed: ...")."""
        if message in self._reported:
            logger.warning("%s", message)
        else:
            self._reported.add(message)
            logger.error("%s", message)

    async def supervised(
        self,
        work: Callable[[], Awaitable[None]],
        what: str,
        *,
        base: float = 1.0,
        cap: float = 60.0,
    ) -> None:
        """Run a long-lived task of this adapter (a poller, a stream) under supervision until
        the adapter stops: one log line a failure, restarts with back-off, the hosts alerted
        (`PlatformServices.alert`) when it keeps failing. Adapters create it as a task."""
        await supervise(
            work,
            name=f"{self.name}: {what}",
            stop=self._stopping,
            alert=self.services.alert if self.services is not None else None,
            base=base,
            cap=cap,
            failing=self._failing,
        )

    def health(self) -> str | None:
        """What is wrong with this network's connection right now (for ``/healthz``), or None
        when it works. Default: the last error of a supervised task waiting to restart;
        adapters add what they know of their connection (Discord: the gateway)."""
        return "; ".join(f"{name}: {error}" for name, error in self._failing.items()) or None

    async def emit(self, event: Event) -> None:
        if self.sink is None:
            logger.warning("%s: event dropped before a sink was attached: %r", self.name, event)
            return
        await self.sink.handle(event)

    # ---- life cycle -------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and begin delivering events; returns once connected."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect and release resources. Safe to call twice."""

    # ---- posting ----------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def post_limit(self) -> PostLimit:
        """The longest post this network takes and how it counts (also in the registry's
        `post_limits`, so chat files are checked before chat time)."""

    def check_length(self, text: str) -> None:
        """Raise `PostTooLong` naming the network, the count and the limit when `text` does
        not fit; every posting path of an adapter calls this before the network sees it."""
        problem = self.post_limit.problem(text)
        if problem is not None:
            raise PostTooLong(f"{self.name}: {problem}: {text[:60]!r}")

    async def send(self, channel: str, text: str) -> SentPost:
        """Post `text`; raise `PostTooLong` when it does not fit and `PostError` when it
        cannot be posted."""
        self.check_length(text)
        return await self._send(channel, text)

    @abc.abstractmethod
    async def _send(self, channel: str, text: str) -> SentPost:
        """Post `text` that fits (the adapter's own posting); raise PostError on failure."""

    async def send_file(self, channel: str, text: str, filename: str, data: bytes) -> SentPost:
        """Post a file with a message; networks without attachments post the text only."""
        return await self.send(channel, text)

    async def post_action(self, chat: Chat, action_key: str, channel: str, text: str) -> SentPost:
        """Post one timed action of a chat (``intro``, ``q2``, ``close``...). Default: a post
        in the target channel; a network may place it elsewhere (Discord: the chat's thread)."""
        return await self.send(channel, text)

    async def post_part(
        self,
        chat: Chat,
        action_key: str,
        channel: str,
        text: str,
        *,
        first: SentPost,
        previous: SentPost,
    ) -> SentPost:
        """Post a later part of an action split into a thread (`scheduler.threads`: a long
        intro or closing): ``first`` is the action's first part (posted by `post_action`),
        ``previous`` the part just before this one. Networks with replies make it a reply to
        ``previous`` (X, Bluesky, Mastodon). Default: the next message in the channel, as
        Discord and the local platform do (consecutive messages read as one there)."""
        return await self.send(channel, text)

    async def announce(self, chat: Chat, channel: str, result: PublishResult) -> SentPost:
        """Announce a published transcript. Default: the announcement with the transcript
        attached where the network takes files; a network may post something richer."""
        if result.attachment is not None:
            name, data = result.attachment
            return await self.send_file(channel, result.announcement, name, data)
        return await self.send(channel, result.announcement)

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """Tell the chat's hosts something went wrong (a post failed...), in a post that
        begins with `ALERT_PREFIX`, where this network lets the bot reach them (Discord and
        local: the chat's channel; Mastodon: a direct status mentioning them; Bluesky: a
        post mentioning them). Default: nowhere (X: automated mentions are refused)."""
        return None

    async def reply(self, message: IncomingMessage, text: str) -> SentPost | None:
        """Answer a participant's own message (``!optout`` learns that it worked), as a reply
        to it. Default: None, no answer: a network that does not let the bot reply (X
        refuses automated replies nobody summoned) says nothing rather than post publicly.
        Raises PostError when the reply cannot be posted."""
        return None

    def chats_changed(self, chats: Sequence[Chat]) -> None:
        """Chats were scheduled, moved, controlled or cancelled (from anywhere). Networks that
        mirror chats (Discord's Scheduled Events) follow in the background; must not block."""
        return None

    async def cost_note(self, chat: Chat) -> str:
        """A line on what the chat cost on this network ('' where posting is free)."""
        return ""

    # ---- reading back -----------------------------------------------------------------

    async def sweep(self, chat: Chat) -> None:
        """Capture once more what was posted for `chat` up to the end of its window, and
        return once it is delivered to the sink. The facilitator calls this on each of the
        chat's platforms just before publishing, so posts of the window's last seconds (after
        the last poll) are in the transcript. Default: nothing, for a network whose events
        arrive as they happen; a network read by polling searches or reads once more.
        Raises when the network cannot be read."""
        return None

    async def history(
        self, channel: str, after: datetime, before: datetime
    ) -> Sequence[IncomingMessage]:
        """Messages posted in `channel` between two instants, oldest first (for backfill);
        empty where `capabilities.history` is false."""
        return ()

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our own post with this text since `after`; None when not found or where
        `capabilities.find_posts` is false."""
        return None

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which of these message ids still exist; None where the network cannot tell
        (`capabilities.existence` false)."""
        return None

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """What the network counts now on each of these posts (platform id -> counts; posts
        it cannot find are left out), read in as few calls as the network allows. Called
        once per chat just before publishing, for the transcripts' Highlights; empty where
        `capabilities.engagement` is false. Raises when the network cannot be read (the
        transcripts are then published with the counts already stored)."""
        return {}
