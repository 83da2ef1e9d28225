"""The Discord adapter: discord.py's gateway and REST client behind the `Platform` contract.

Capture: every guild message someone wrote becomes an `IncomingMessage` through the
conversion the importer shares (``payloads.py``, ``archive/discord_messages.py``); edits,
deletions and reactions come from the *raw* gateway events, so messages that are not in
discord.py's cache count too. A message in a thread is reported with its parent channel's id
as ``channel``, so capture's channel check (the chat's `Target` names the channel) passes for
the chat's thread. After a disconnect (``on_resumed``, or ``on_ready`` after a new session)
and at start the facilitator backfills the live window through `history`.

Thread mode (``capture_mode = "thread"``): the intro goes to the channel, the bot opens a
thread on it, and every later post of the chat goes into that thread. A thread's id is its
starter message's id, so the thread of a chat is always the intro post recorded in the store:
nothing else needs remembering across restarts.

Posting: discord.py retries 429s itself; 5xx answers and dropped connections are retried here
with bounded back-off (looking for the post first, so a lost answer never double-posts), and
anything else fails at once with `DiscordPostError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route

from archive.highlights import Engagement
from archive.models import EARLY_WINDOW, OPEN_STATUSES, Chat, IncomingMessage, PostStatus
from archive.publish import PublishResult
from archive.store import Store
from bot.config import ConfigError, DiscordConfig, secret
from bot.platforms.base import (
    ALERT_PREFIX,
    Capabilities,
    MessageDeleted,
    Platform,
    PostError,
    ReactionChanged,
    SentPost,
)
from bot.platforms.discord.commands import HostCommands
from bot.platforms.discord.embeds import clip, summary_embed
from bot.platforms.discord.limits import POST_LIMIT
from bot.platforms.discord.payloads import sent_post, to_incoming
from bot.retry import GiveUp, RetryError, retry
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit

logger = logging.getLogger(__name__)
SWEEP_SPAN = timedelta(minutes=5)
"""How much of a chat's window the last sweep before publishing reads again (the gateway
delivered the rest as it happened)."""

T = TypeVar("T")

API_PATH = "/api/v10"


class DiscordPostError(PostError, GiveUp):
    """A Discord call failed for good; retrying more (as the facilitator would) cannot help."""


class _Transient(Exception):
    """A failure worth retrying: a 5xx answer or a dropped connection."""


def api_base(url: str) -> str:
    """discord.py's ``Route.BASE`` for a configured ``api_base_url`` (with or without /api/vN)."""
    url = url.rstrip("/")
    path = urlsplit(url).path
    if path.rstrip("/").split("/")[-2:-1] == ["api"] and path.rsplit("/", 1)[-1].startswith("v"):
        return url
    return url + API_PATH


def redirect_http(http: HTTPClient, api: str, gateway: str) -> None:
    """Send this HTTP client's REST calls to ``api`` (a full base such as
    ``http://127.0.0.1:8080/api/v10``) and its gateway connections to ``gateway`` (a ws(s)
    URL), leaving discord.py's class-wide defaults alone; "" keeps Discord's."""
    request, ws_connect = http.request, http.ws_connect
    default_gateway = str(DiscordWebSocket.DEFAULT_GATEWAY)

    async def rebased_request(route: Route, **options: Any) -> Any:
        if api and route.url.startswith(Route.BASE):
            route.url = api + route.url[len(Route.BASE) :]
        return await request(route, **options)

    async def rebased_ws_connect(url: str, *, compress: int = 0) -> Any:
        if gateway and url.startswith(default_gateway):
            url = str(yarl.URL(gateway).with_query(yarl.URL(url).query))
        return await ws_connect(url, compress=compress)

    # Per instance, on purpose: discord.py builds every URL from class attributes.
    http.request = rebased_request  # type: ignore[method-assign]
    http.ws_connect = rebased_ws_connect  # type: ignore[method-assign]


def intents() -> discord.Intents:
    """Exactly what the adapter needs; message_content is privileged (see the README)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True
    wanted.guild_scheduled_events = True
    return wanted


class _NoVoiceNotice(logging.Filter):
    """discord.py warns at start-up that voice needs PyNaCl / davey: this bot never speaks in
    voice channels, so the warning only worries the host who reads the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


_VOICE_FILTER = _NoVoiceNotice()
logging.getLogger("discord.client").addFilter(_VOICE_FILTER)


class TweetchatClient(discord.Client):
    """discord.py's client, forwarding the events the adapter needs to it."""

    def __init__(self, platform: DiscordPlatform, **options: Any) -> None:
        super().__init__(intents=intents(), **options)
        self.platform = platform
        self.tree: app_commands.CommandTree[TweetchatClient] = app_commands.CommandTree(self)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s; discord.py waits that long before a repeat one.
        if not initial:
            await asyncio.sleep(self.platform.identify_delay)

    async def on_ready(self) -> None:
        await self.platform.on_ready()

    async def on_resumed(self) -> None:
        await self.platform.on_resumed()

    async def on_message(self, message: discord.Message) -> None:
        with self.platform.handling():
            await self.platform.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        with self.platform.handling():
            await self.platform.on_raw_message_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        with self.platform.handling():
            await self.platform.on_deleted([payload.message_id])

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        with self.platform.handling():
            await self.platform.on_deleted(sorted(payload.message_ids))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        with self.platform.handling():
            await self.platform.emit(ReactionChanged("discord", str(payload.message_id), 1))

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        with self.platform.handling():
            await self.platform.emit(ReactionChanged("discord", str(payload.message_id), -1))


class DiscordPlatform(Platform):
    """Runs the gateway connection in a background task; posts and reads over REST."""

    name: ClassVar[str] = "discord"
    capabilities: ClassVar[Capabilities] = Capabilities(
        history=True,
        find_posts=True,
        existence=True,
        edits=True,
        reactions=True,
        attachments=True,
        engagement=True,
    )

    def __init__(
        self,
        config: DiscordConfig,
        *,
        environ: Mapping[str, str],
        clock: Clock | None = None,
        attempts: int = 4,
        backoff: float = 0.5,
        ready_timeout: float = 60.0,
        guild_ready_timeout: float = 2.0,
        identify_delay: float = 5.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.environ = environ
        self.clock: Clock = clock or SystemClock()
        self.attempts = attempts
        self.backoff = backoff
        self.ready_timeout = ready_timeout
        self.identify_delay = identify_delay
        self.client = TweetchatClient(self, guild_ready_timeout=guild_ready_timeout)
        self.commands: HostCommands | None = None  # once installed
        self._token = ""
        self._logged_in = False
        self._ready = asyncio.Event()
        self._starting = False
        self._fatal: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._redirected = False
        self._backfills: set[asyncio.Task[None]] = set()
        self._event_syncs: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()  # gateway events being handled
        # The last deletion re-check: the ids it asked for, and the reactions of those it
        # found, until `engagement` takes them (publishing asks for both, one after the other).
        self._checked: tuple[frozenset[str], dict[str, int]] = (frozenset(), {})

    # ---- wiring ---------------------------------------------------------------------------

    def chats_changed(self, chats: Sequence[Chat]) -> None:
        """Bring the Scheduled Events of these chats in step, in the background (the
        facilitator calls this whenever chats change, whoever changed them)."""
        commands = self.commands
        if commands is None:
            return
        for chat in chats:
            if any(t.platform == self.name for t in chat.targets):
                self._background(commands.events.sync(chat), name=f"event-{chat.id}")

    def _background(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run ``work`` beside the bot; cancelled when the platform stops."""
        task = asyncio.create_task(work, name=name)
        self._event_syncs.add(task)
        task.add_done_callback(self._event_syncs.discard)

    # ---- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._token = secret(self.config.token_env, self.environ)
        self._point_at_configured_urls()
        if self.services is not None:
            self.commands = HostCommands(self, self.services).install(self.client.tree)
        self._stopping.clear()
        self._fatal = None
        self._starting = True
        self._task = asyncio.create_task(self._run_gateway(), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait(
                {ready, self._task}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
            self._starting = False
        if self._fatal is not None:
            await self.stop()
            raise ConfigError(str(self._fatal), source="discord")
        if not self._ready.is_set():
            logger.warning(
                "discord: not connected after %.0fs; still trying in the background",
                self.ready_timeout,
            )
            return
        await self._sync_commands()
        self._reconcile_events()
        await self._backfill("start")

    def _reconcile_events(self) -> None:
        commands = self.commands
        if commands is not None:
            self._background(commands.events.reconcile(), name="events-reconcile")

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Mark the running task as handling a gateway event, so that `stop` lets it finish
        before the bot closes its store."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def stop(self) -> None:
        self._stopping.set()
        if self._event_syncs:
            # Let an event being created record its id, or the next start would not know it.
            await asyncio.wait(set(self._event_syncs), timeout=5)
        for task in [*self._backfills, *self._event_syncs]:
            task.cancel()
        await self.client.close()
        if self._handlers:
            # discord.py runs each event handler in a task of its own, which close() does
            # not wait for: let the ones capturing a message finish before the bot closes
            # its store (what they miss is read back from history at the next start).
            await asyncio.wait(set(self._handlers), timeout=10)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    def _point_at_configured_urls(self) -> None:
        """Honour ``api_base_url`` / ``gateway_url`` (Discord-compatible servers, proxies) for
        this client only: discord.py's class-wide ``Route.BASE`` and ``DEFAULT_GATEWAY`` stay
        as they are, so another client in the process still talks to Discord."""
        if self._redirected or not (self.config.api_base_url or self.config.gateway_url):
            return
        redirect_http(
            self.client.http,
            api_base(self.config.api_base_url) if self.config.api_base_url else "",
            self.config.gateway_url,
        )
        self._redirected = True

    async def _run_gateway(self) -> None:
        async def connect_once() -> None:
            if self.client.is_closed():
                # discord.py closes itself on some gateway errors; start afresh.
                self.client.clear()
                self._logged_in = False
            try:
                if not self._logged_in:
                    await self.client.login(self._token)
                    self._logged_in = True
                await self.client.connect(reconnect=True)
            except (discord.LoginFailure, discord.PrivilegedIntentsRequired) as exc:
                self._fatal = exc
                if isinstance(exc, discord.LoginFailure):
                    self._fatal = Exception(
                        f"the token in ${self.config.token_env} was refused by Discord"
                    )
                logger.error("discord: cannot connect: %s", self._fatal)
                self._stopping.set()

        await self.supervised(connect_once, "gateway connection")

    async def _sync_commands(self) -> None:
        if self.commands is None:
            return
        tree = self.client.tree
        try:
            if self.config.guilds:
                for guild_id in self.config.guilds:
                    await tree.sync(guild=discord.Object(int(guild_id)))
            else:
                await tree.sync()
        except discord.HTTPException as exc:
            logger.warning("discord: registering the /tweetchat commands failed: %s", exc)

    # ---- gateway events -------------------------------------------------------------------

    async def on_ready(self) -> None:
        user = self.client.user
        self.bot_user_id = str(user.id) if user is not None else ""
        first = not self._ready.is_set()
        self._ready.set()
        logger.info("discord: connected as %s", user)
        if first and self._starting:
            return  # start() registers the commands and reconciles the events
        if first:  # connected only after start() stopped waiting
            await self._sync_commands()
        # Chats may have changed while there was no connection (event syncs failed then).
        self._reconcile_events()
        await self._backfill("a new session")

    async def on_resumed(self) -> None:
        logger.info("discord: session resumed")
        await self._backfill("resuming")

    async def _backfill(self, why: str) -> None:
        if self.sink is None:
            return
        try:
            await self.sink.reconnected(self)
        except Exception as exc:  # the next reconnect or the publish re-check tries again
            logger.warning("discord: backfill after %s failed: %s", why, exc)

    def _accepts(self, message: discord.Message) -> bool:
        if message.guild is None:
            return False
        guilds = self.config.guilds
        if guilds and str(message.guild.id) not in guilds:
            return False
        # Host alerts are for the hosts, not for the transcript.
        return not (self._is_me(message.author.id) and message.content.startswith(ALERT_PREFIX))

    def _is_me(self, user_id: int) -> bool:
        user = self.client.user
        return user is not None and user.id == user_id

    def _incoming(self, message: discord.Message) -> IncomingMessage | None:
        """The neutral message, if ``message`` is one capture may take."""
        if not self._accepts(message):
            return None
        user = self.client.user
        return to_incoming(
            message,
            bot_id=user.id if user is not None else None,
            group_roles=self.config.group_roles,
        )

    async def on_message(self, message: discord.Message) -> None:
        incoming = self._incoming(message)
        if incoming is not None:
            await self.emit(incoming)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        # Updates without an edit time are embeds unfurling, not the author's edit.
        if message.edited_at is not None and (incoming := self._incoming(message)) is not None:
            await self.emit(incoming)

    async def on_deleted(self, message_ids: Sequence[int]) -> None:
        at = self.clock.now()
        for message_id in message_ids:
            await self.emit(MessageDeleted("discord", str(message_id), at))

    # ---- REST with bounded retries ---------------------------------------------------------

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn` with retries for 5xx and connection errors; DiscordPostError when it fails."""

        async def once() -> T:
            try:
                return await fn()
            except discord.DiscordServerError as exc:
                raise _Transient(f"{exc.status} {exc.text}".strip()) from exc
            except discord.HTTPException as exc:
                raise DiscordPostError(
                    f"discord: {what} failed: {exc.status} {exc.text}".strip()
                ) from exc
            except discord.ClientException as exc:
                raise DiscordPostError(f"discord: {what} failed: {exc}") from exc

        try:
            return await retry(
                once,
                what=f"discord: {what}",
                attempts=self.attempts,
                base=self.backoff,
                retry_on=(_Transient, aiohttp.ClientError, OSError, TimeoutError),
            )
        except RetryError as exc:
            # Discord kept failing (5xx, connection): it may pass, so the facilitator keeps
            # the intent and the runner tries the step again later.
            raise DiscordPostError(str(exc), transient=True) from exc

    async def channel(self, channel_id: str | int) -> discord.abc.Messageable:
        """A text channel or thread by id, from the cache or over REST."""
        try:
            cid = int(channel_id)
        except ValueError:
            raise DiscordPostError(f"discord: {channel_id!r} is not a channel id") from None
        found = self.client.get_channel(cid)
        if found is None:
            found = await self.call(
                f"finding channel {cid}", lambda: self.client.fetch_channel(cid)
            )
        if not isinstance(found, discord.abc.Messageable):
            raise DiscordPostError(f"discord: channel {cid} cannot hold messages")
        return found

    async def _post(
        self,
        target: discord.abc.Messageable,
        text: str,
        *,
        embed: discord.Embed | None = None,
        file: tuple[str, bytes] | None = None,
    ) -> discord.Message:
        """Send once: a retry after a lost answer first looks for the message it may have made."""
        self.check_length(text)
        started = self.clock.now() - timedelta(seconds=5)
        attempt = 0

        async def send() -> discord.Message:
            nonlocal attempt
            attempt += 1
            if attempt > 1:
                found = await self._find_in(target, text, started)
                if found is not None:
                    return found
            options: dict[str, Any] = {}
            if embed is not None:
                options["embed"] = embed
            if file is not None:  # a File is consumed by one request: make one per attempt
                options["file"] = discord.File(io.BytesIO(file[1]), filename=file[0])
            return await target.send(text, **options)

        where = getattr(target, "id", "?")
        return await self.call(f"posting in channel {where}", send)

    @property
    def post_limit(self) -> PostLimit:
        return POST_LIMIT

    async def _send(self, channel: str, text: str) -> SentPost:
        return sent_post(await self._post(await self.channel(channel), text))

    async def send_file(self, channel: str, text: str, filename: str, data: bytes) -> SentPost:
        return sent_post(await self._post(await self.channel(channel), text, file=(filename, data)))

    async def post_action(self, chat: Chat, action_key: str, channel: str, text: str) -> SentPost:
        """Post one action of a chat; in thread mode the chat's posts after the intro go to its
        thread, which is opened on the intro post."""
        if self.config.capture_mode != "thread" or action_key.startswith("remind"):
            return await self.send(channel, text)
        if action_key == "intro":
            message = await self._post(await self.channel(channel), text)
            await self._open_thread(chat, message)
            return sent_post(message)
        thread = await self.chat_thread(chat, channel)
        if thread is None:
            return await self.send(channel, text)
        return sent_post(await self._post(thread, text))

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
        """A later part of a split intro or closing: the next message where the first part
        went, without a reply reference (consecutive messages show as one block under the
        bot's name; a reference would quote the part before above each). The intro's parts
        stay in the channel; in thread mode the thread is opened on its first part, and the
        closing's parts go to the thread."""
        if action_key == "intro":
            return await self.send(channel, text)
        return await self.post_action(chat, action_key, channel, text)

    async def announce(self, chat: Chat, channel: str, result: PublishResult) -> SentPost:
        """The close: a summary embed with the Markdown transcript attached (and the web link)."""
        base = self.services.web_base_url if self.services is not None else ""
        link = f"{base.rstrip('/')}/chats/{chat.id}" if base else ""
        embed = summary_embed(chat, result.stats, link)
        target = await self.channel(self.config.announce_channel or channel)
        text = result.announcement or f"Transcript of {chat.hashtag}"
        return sent_post(await self._post(target, text, embed=embed, file=result.attachment))

    async def reply(self, message: IncomingMessage, text: str) -> SentPost | None:
        """A reply to the message where it was written (its thread, in thread mode). The
        slash command `/tweetchat optout` answers ephemerally instead."""
        where = await self.channel(str(message.raw.get("channel_id") or message.channel))
        if not isinstance(where, discord.TextChannel | discord.Thread):
            return sent_post(await self._post(where, text))
        reference = where.get_partial_message(int(message.platform_id))
        self.check_length(text)
        replied = await self.call(
            f"replying in channel {where.id}",
            lambda: reference.reply(text, mention_author=False),
        )
        return sent_post(replied)

    def health(self) -> str | None:
        """The gateway's state besides the supervised tasks' (see `Platform.health`)."""
        problems = [p for p in (super().health(),) if p]
        if self.client.is_closed() or not self.client.is_ready() or self.client.ws is None:
            problems.insert(0, "gateway not connected")
        return "; ".join(problems) or None

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """A host alert (a post failed...) in the announce channel or the chat's channel."""
        channels = [t.channel for t in chat.targets if t.platform == "discord" and t.channel]
        where = self.config.announce_channel or (channels[0] if channels else "")
        if where and self._ready.is_set():
            await self.send(where, clip(f"{ALERT_PREFIX} {chat.id}: {text}", 2000))

    # ---- threads --------------------------------------------------------------------------

    async def _open_thread(
        self, chat: Chat, message: discord.Message | discord.PartialMessage
    ) -> discord.Thread | None:
        name = clip(f"{chat.hashtag} {chat.title}", 100)
        try:
            return await self.call(
                f"opening the thread of {chat.id}", lambda: message.create_thread(name=name)
            )
        except DiscordPostError as exc:
            logger.warning("discord: %s; the chat stays in the channel", exc)
            return None

    async def _intro_id(self, chat: Chat, channel: str) -> str:
        if self.store is None:
            return ""
        for post in await self.store.posts(chat.id):
            if (
                post.action_key == "intro"
                and post.platform == self.name
                and post.channel == channel
                and post.status == PostStatus.SENT
            ):
                return post.platform_message_id
        return ""

    async def chat_thread(
        self, chat: Chat, channel: str, *, create: bool = True
    ) -> discord.Thread | None:
        """The thread of a chat (its id is the intro post's id), opened if it is missing."""
        if self.config.capture_mode != "thread":
            return None
        intro = await self._intro_id(chat, channel)
        if not intro:
            return None
        found = self.client.get_channel(int(intro))
        if isinstance(found, discord.Thread):
            return found
        try:
            fetched = await self.client.fetch_channel(int(intro))
            if isinstance(fetched, discord.Thread):
                return fetched
        except discord.NotFound:
            pass
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            logger.warning("discord: looking up the thread of %s failed: %s", chat.id, exc)
            return None
        if not create:
            return None
        parent = await self.channel(channel)
        if not isinstance(parent, discord.TextChannel):
            return None
        return await self._open_thread(chat, parent.get_partial_message(int(intro)))

    async def _threads_of(self, channel: str) -> list[discord.Thread]:
        """The threads of the open chats that run in `channel` (thread mode only)."""
        if self.config.capture_mode != "thread" or self.store is None:
            return []
        threads = []
        for chat in await self.store.list_chats(OPEN_STATUSES):
            if any(t.platform == self.name and t.channel == channel for t in chat.targets):
                thread = await self.chat_thread(chat, channel, create=False)
                if thread is not None:
                    threads.append(thread)
        return threads

    # ---- reading history ------------------------------------------------------------------

    async def _read(
        self,
        target: discord.abc.Messageable,
        after: datetime | discord.abc.Snowflake,
        before: datetime | discord.abc.Snowflake | None,
    ) -> list[discord.Message]:
        async def read() -> list[discord.Message]:
            return [
                m
                async for m in target.history(
                    after=after, before=before, oldest_first=True, limit=None
                )
            ]

        return await self.call(f"reading channel {getattr(target, 'id', '?')}", read)

    async def sweep(self, chat: Chat) -> None:
        """Read the last `SWEEP_SPAN` of the chat's window from each of its channels (and
        their threads) once more, just before publishing: the gateway delivers as messages
        are posted, but one posted in the last seconds may still be in flight, or lost in a
        reconnect just before the close. Capture keeps one row per message, so what was
        delivered already is not counted twice. Raises `DiscordPostError` when Discord
        cannot be read."""
        if self.sink is None:
            return
        end = min(self.clock.now(), chat.grace_end)
        after = max(chat.start - EARLY_WINDOW, chat.grace_end - SWEEP_SPAN)
        for target in chat.targets:
            if target.platform != self.name or not target.channel:
                continue
            messages = await self.history(target.channel, after, end)
            if messages:
                await self.sink.capture_messages(list(messages))

    async def history(
        self, channel: str, after: datetime, before: datetime
    ) -> Sequence[IncomingMessage]:
        targets = [await self.channel(channel), *await self._threads_of(channel)]
        # Both ends inclusive, to the millisecond (a snowflake's time resolution).
        low = discord.Object(discord.utils.time_snowflake(after, high=False) - 1)
        high = discord.Object(discord.utils.time_snowflake(before, high=True) + 1)
        found: list[IncomingMessage] = []
        for target in targets:
            found += [
                incoming
                for m in await self._read(target, low, high)
                if (incoming := self._incoming(m)) is not None
            ]
        return sorted(found, key=lambda m: (m.created_at, int(m.platform_id)))

    async def _find_in(
        self, target: discord.abc.Messageable, text: str, after: datetime
    ) -> discord.Message | None:
        me = self.client.user
        if me is None:
            return None
        for message in await self._read(target, after, None):
            if message.author.id == me.id and message.content == text:
                return message
        return None

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        for target in [await self.channel(channel), *await self._threads_of(channel)]:
            found = await self._find_in(target, text, after)
            if found is not None:
                return sent_post(found)
        return None

    async def _span_messages(self, platform_ids: Sequence[str]) -> list[discord.Message] | None:
        """The messages of the ids' time span in their chats' channels (and threads): one
        history read per channel (Discord has no bulk lookup); None when there is nowhere
        to read. Raises DiscordPostError or ValueError when a read fails."""
        ids = sorted({int(i) for i in platform_ids if i.isdigit()})
        if not ids or self.store is None:
            return None
        chats = await self.store.read(_chats_of, [str(i) for i in ids])
        targets: list[discord.abc.Messageable] = []
        for chat in chats:
            for t in chat.targets:
                if t.platform == self.name and t.channel:
                    targets.append(await self.channel(t.channel))
                    thread = await self.chat_thread(chat, t.channel, create=False)
                    if thread is not None:
                        targets.append(thread)
        if not targets:
            return None
        found: list[discord.Message] = []
        low, high = discord.Object(ids[0] - 1), discord.Object(ids[-1] + 1)
        for target in targets:
            found += await self._read(target, low, high)
        return found

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which ids are still there, read from the history of their chats' channels.

        One history read of the ids' time span per channel (Discord has no bulk lookup);
        None (cannot tell) when any read fails, so an outage never looks like deletions.
        """
        self._checked = (frozenset(), {})
        try:
            messages = await self._span_messages(platform_ids)
        except (DiscordPostError, ValueError) as exc:
            logger.warning("discord: cannot check which messages still exist: %s", exc)
            return None
        if messages is None:
            return None
        seen = {str(m.id) for m in messages}
        self._checked = (frozenset(platform_ids), {str(m.id): _reactions(m) for m in messages})
        return {i for i in platform_ids if i in seen}

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """Each message's reactions now: the sum of the ``count`` of every emoji in the
        message's ``reactions`` array. The deletion re-check just before publishing
        (`existing`) read them already; otherwise the same history span is read (one read
        per 100 messages a channel). Live reaction events keep the count between."""
        wanted = set(platform_ids)
        asked, counts = self._checked
        self._checked = (frozenset(), {})
        if not wanted <= asked:
            messages = await self._span_messages(platform_ids) or []
            counts = {str(m.id): _reactions(m) for m in messages}
        return {i: Engagement(reactions=n) for i, n in counts.items() if i in wanted}


def _reactions(message: discord.Message) -> int:
    """Every reaction on a message: the sum of each emoji's ``count``."""
    return sum(r.count for r in message.reactions)


def _chats_of(store: Store, platform_ids: Sequence[str]) -> list[Chat]:
    """The chats that hold these Discord messages (runs on the store thread)."""
    chat_ids = {store.message_chat("discord", i) for i in platform_ids}
    return [store.get_chat(c) for c in sorted(i for i in chat_ids if i is not None)]
