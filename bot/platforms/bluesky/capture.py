"""Bluesky capture: the Jetstream subscription, its events, the stored cursor, and the reads
that fill gaps (backfill after a refused or stale cursor, the sweep before publishing).

While a Bluesky chat is inside its capture window, `JetstreamCapture` keeps one subscription
open (atproto ``AsyncJetstreamClient``, Jetstream v2, ``kinds=commit`` and
``collections=app.bsky.feed.post``) and keeps only what matters: posts carrying a live
chat's hashtag (tag facet, ``tags`` field or text), replies to and quotes of the bot's posts,
posts to the bot (opt-out), the bot's own posts except its host alerts, and updates and
deletions of captured posts. The cursor (Jetstream's ``seq``) is stored after each committed
message, and at least every `CURSOR_SAVE_INTERVAL` seconds otherwise, so a restart resumes
where it stopped; when Jetstream refuses the cursor (``CursorTooOld``) or it is older than
``replay_window``, the chat window is backfilled from ``searchPosts`` and the question posts'
threads (``getPostThread``). The same reads run once more just before publishing (`sweep`).

Calls to the AppView, profiles and delivery to the sink go through the adapter, the
`CaptureHost`: capture does not log in, post or retry on its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from atproto import AsyncClient
from atproto_jetstream import AsyncJetstreamClient
from atproto_jetstream.exceptions import JetstreamCursorTooOldError

from archive.hashtags import wanted_tag
from archive.models import EARLY_WINDOW, OPEN_STATUSES, Chat, IncomingMessage
from bot.config import BlueskyConfig
from bot.platforms.base import ALERT_PREFIX, Event, EventSink, MessageDeleted
from bot.platforms.bluesky import records
from bot.platforms.bluesky.xrpc import BlueskyPostError, plain
from scheduler.clock import Clock

if TYPE_CHECKING:  # a heavy module, needed here for annotations only
    from archive.store import AsyncStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

CURSOR_SAVE_INTERVAL = 2.0  # seconds between cursor saves while nothing is captured
IDLE_CHECK = 1.0  # seconds between checks for a chat entering its capture window
THREAD_DEPTH = 10

CURSOR_KEY = "bluesky:jetstream:seq"
CURSOR_TIME_KEY = "bluesky:jetstream:time"


class CaptureHost(Protocol):
    """What capture needs of the adapter (`BlueskyPlatform`): the store, the sink, the bot's
    DID, XRPC calls with Bluesky's failure rules, profiles, and the bot's posts' CIDs."""

    sink: EventSink | None
    bot_user_id: str

    @property
    def store(self) -> AsyncStore | None: ...

    def api(self) -> AsyncClient:
        """The logged-in client; raises BlueskyPostError before the adapter is started."""
        ...

    async def call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One XRPC call, retried as `xrpc.call` does; raises BlueskyPostError."""
        ...

    async def profiles(self, dids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(handle, display name) by DID."""
        ...

    async def emit(self, event: Event) -> None:
        """Hand one event to the sink."""
        ...

    async def remember_post(self, uri: str, cid: str) -> None:
        """Note a post of the bot (its URI and the CID of its version)."""
        ...


@dataclass(frozen=True, slots=True)
class Watch:
    """What the live feed keeps, for the chats inside their capture window."""

    chats: tuple[Chat, ...]
    tags: frozenset[str]  # case-folded hashtag bodies

    @property
    def active(self) -> bool:
        return bool(self.chats)


class JetstreamCapture:
    """The capture side of one Bluesky adapter: `stream_once` is its supervised task,
    `sweep` and `backfill` its reads of a chat's window; `stopping` is the adapter's stop."""

    def __init__(
        self,
        host: CaptureHost,
        config: BlueskyConfig,
        *,
        clock: Clock,
        stopping: asyncio.Event,
    ) -> None:
        self.host = host
        self.config = config
        self.clock = clock
        self._stopping = stopping
        self._jetstream: AsyncJetstreamClient | None = None
        self._stream_error: BaseException | None = None
        self._seq = 0  # the last event handled
        self._seq_time = ""
        self._saved_at = 0.0
        self._watch = Watch((), frozenset())
        self.bot_posts: set[str] = set()  # URIs of the bot's posts (replies to them belong)
        self.connected = asyncio.Event()  # set while the live feed is subscribed

    @property
    def store(self) -> AsyncStore | None:
        return self.host.store

    async def stop(self) -> None:
        """End the subscription, if one is open (the supervised task then returns)."""
        if self._jetstream is not None:
            await self._jetstream.stop()

    # ---- which chats are live --------------------------------------------------------------

    async def _watching(self) -> Watch:
        """The Bluesky chats inside their capture window now, and their hashtags."""
        assert self.store is not None
        now = self.clock.now()
        chats = []
        for chat in await self.store.list_chats(OPEN_STATUSES):
            if not any(t.platform == records.PLATFORM for t in chat.targets):
                continue
            if chat.start - EARLY_WINDOW <= now <= chat.grace_end + timedelta(seconds=5):
                chats.append(chat)
        tags = frozenset(wanted_tag(c.hashtag) for c in chats)
        watch = Watch(tuple(chats), tags)
        for chat in chats:  # the bot's posts of these chats (replies to them belong)
            for post in await self.store.posts(chat.id):
                if post.platform == records.PLATFORM and post.platform_message_id:
                    self.bot_posts.add(post.platform_message_id)
        return watch

    # ---- the live feed ---------------------------------------------------------------------

    async def stream_once(self) -> None:
        """One Jetstream subscription, for as long as a Bluesky chat is in its window."""
        assert self.store is not None
        self._watch = await self._watching()
        if not self._watch.active:
            await self._pause(IDLE_CHECK)
            return
        stored = await self.store.get_state(CURSOR_KEY)
        stored_time = records.parse_time(await self.store.get_state(CURSOR_TIME_KEY))
        now = self.clock.now()
        # Resume only from a cursor inside this window: one left by an earlier chat would
        # replay every post on the network since then (the window is backfilled instead).
        opens = min(c.start - EARLY_WINDOW for c in self._watch.chats)
        resume = (
            stored is not None
            and stored.isdigit()
            and stored_time is not None
            and now - stored_time < self.config.replay_window
            and stored_time >= opens - timedelta(minutes=1)
        )
        cursor = int(stored) + 1 if resume and stored is not None else None
        self._seq = int(stored) if resume and stored is not None else 0
        try:
            await self._subscribe(cursor, backfill=not resume)
        except JetstreamCursorTooOldError:
            logger.warning(
                "bluesky: Jetstream no longer has events after seq %s; backfilling from search",
                stored,
            )
            self._seq = 0
            await self._subscribe(None, backfill=True)

    async def _subscribe(self, cursor: int | None, *, backfill: bool) -> None:
        params: dict[str, Any] = {"kinds": ["commit"], "collections": [records.POST]}
        if cursor is not None:
            params["cursor"] = cursor
        client = AsyncJetstreamClient(
            params=params,
            base_uri=f"{self.config.jetstream}/xrpc",
            recv_timeout=self.config.idle_reconnect,
        )
        self._jetstream = client
        self._stream_error = None
        watcher = asyncio.create_task(self._watch_window(client, backfill=backfill))
        try:
            await client.start(self._on_event, self._on_callback_error)
        finally:
            watcher.cancel()
            self.connected.clear()
            self._jetstream = None
            await self.save_cursor(force=True)
        if self._stream_error is not None:
            raise self._stream_error

    async def _watch_window(self, client: AsyncJetstreamClient, *, backfill: bool) -> None:
        """While subscribed: backfill once connected (when asked), then follow the chats and
        leave when none is in its window."""
        try:
            # The SDK has no "connected" hook; its websocket is set once the upgrade is done.
            while client._client is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            self.connected.set()
            if backfill:
                await self.backfill(self._watch.chats)
            while True:
                await self._pause(IDLE_CHECK)
                if self._stopping.is_set():
                    break
                self._watch = await self._watching()
                await self.save_cursor()
                if not self._watch.active:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stream_error = exc
        await client.stop()

    async def _on_callback_error(self, exc: BaseException) -> None:
        """A captured event could not be committed: stop, and resume from the stored cursor."""
        logger.warning("bluesky: handling a Jetstream event failed: %r", exc)
        self._stream_error = exc
        if self._jetstream is not None:
            await self._jetstream.stop()

    async def _on_event(self, event: Any) -> None:
        """One Jetstream v2 message (``network.bsky.jetstream.subscribeEvents#commit``...)."""
        if self._stream_error is not None:
            return  # stopping after a failure: do not move the cursor past it
        seq = getattr(event, "seq", None)
        if getattr(event, "collection", None) == records.POST and seq is not None:
            if seq <= self._seq:
                return
            captured = await self._handle_commit(event)
            self._seq, self._seq_time = seq, str(event.time)
            await self.save_cursor(force=captured)
        elif seq is not None:
            self._seq, self._seq_time = seq, str(getattr(event, "time", ""))

    async def _handle_commit(self, event: Any) -> bool:
        """Emit what this commit means for a chat; True when something was stored."""
        assert self.store is not None
        uri = records.at_uri(event.did, event.rkey)
        if event.operation == "delete":
            if await self.store.message_chat(records.PLATFORM, uri) is None:
                return False
            seen = records.parse_time(str(event.time)) or self.clock.now()
            await self.host.emit(MessageDeleted(records.PLATFORM, uri, seen))
            return True
        record = plain(event.record)
        if not isinstance(record, dict) or record.get("$type") != records.POST:
            return False
        held = False
        if not self.wanted(event.did, uri, record):
            if event.operation != "update":
                return False
            held = await self.store.message_chat(records.PLATFORM, uri) is not None
            if not held:
                return False
        seen = records.parse_time(str(event.time)) or self.clock.now()
        handle, name = (await self.host.profiles([event.did]))[event.did]
        msg = records.message(
            did=event.did,
            uri=uri,
            record=record,
            handle=handle,
            name=name,
            bot_did=self.host.bot_user_id,
            seen_at=seen,
            edited_at=seen if event.operation == "update" else None,
            raw={"did": event.did, "seq": event.seq, "cid": event.cid, "record": record},
        )
        if msg.is_bot and event.cid:
            await self.host.remember_post(uri, str(event.cid))
        if self.host.sink is None:
            return False
        await self.host.sink.capture_messages([msg])
        return True

    def wanted(self, did: str, uri: str, record: Mapping[str, Any]) -> bool:
        """Whether a post may belong to a live chat: its hashtag, a reply to or quote of the
        bot's posts, a mention of the bot, or the bot's own."""
        if did == self.host.bot_user_id and self.host.bot_user_id:
            return not str(record.get("text", "")).startswith(ALERT_PREFIX)  # a host alert
        if records.carries_tag(record, self._watch.tags):
            return True
        for target in (records.reply_parent(record), records.quoted(record)):
            if target and (
                target in self.bot_posts or records.uri_parts(target)[0] == self.host.bot_user_id
            ):
                return True
        return bool(self.host.bot_user_id) and self.host.bot_user_id in records.mentioned_dids(
            record
        )

    async def save_cursor(self, *, force: bool = False) -> None:
        if self.store is None or not self._seq:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < CURSOR_SAVE_INTERVAL:
            return
        self._saved_at = now
        await self.store.set_state(CURSOR_KEY, str(self._seq))
        if self._seq_time:
            await self.store.set_state(CURSOR_TIME_KEY, self._seq_time)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    # ---- reads of a window: the sweep before publishing, the backfill ----------------------

    async def sweep(self, chat: Chat) -> None:
        """Read `chat`'s window once more just before it is published, as `backfill` does
        (``searchPosts`` of the hashtag, up to the end of the window, and ``getPostThread`` of
        each question post), and return once what was found is delivered to the sink:
        Jetstream delivers as posts are made, but an event of the window's last seconds may
        be lost in flight or in a reconnect. Capture keeps one row per post, so what came
        live is not counted twice. Raises `BlueskyPostError` (``transient`` after the
        retries of 5xx, connection failures and 429s) when Bluesky cannot be read; a
        question post that is gone (its thread refused) is skipped. Does nothing without a
        store (the adapter checks that it is started)."""
        if self.store is None:
            return
        await self._read_back((chat,), strict=True)

    async def backfill(self, chats: Sequence[Chat]) -> int:
        """Posts of these chats' windows from ``searchPosts`` (the hashtag) and the question
        posts' threads (``getPostThread``); returns how many were stored. A thread that
        cannot be read is logged and skipped; a search that fails raises BlueskyPostError."""
        return await self._read_back(chats, strict=False)

    async def _read_back(self, chats: Sequence[Chat], *, strict: bool) -> int:
        """`backfill`'s reads; with `strict`, a thread that cannot be read for a reason that
        may pass (``transient``) raises instead of being skipped."""
        assert self.store is not None
        client = self.host.api()
        now = self.clock.now()
        found: dict[str, IncomingMessage] = {}
        for chat in chats:
            since = records.atproto_time(chat.start - EARLY_WINDOW)
            until = records.atproto_time(min(now, chat.grace_end) + timedelta(seconds=1))
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {
                    "q": chat.hashtag,
                    "since": since,
                    "until": until,
                    "sort": "latest",
                    "limit": self.config.search_page_size,
                }
                if cursor:
                    params["cursor"] = cursor
                page = await self.host.call(
                    f"searching {chat.hashtag}",
                    functools.partial(client.app.bsky.feed.search_posts, params),
                )
                for view in page.posts:
                    msg = records.view_message(plain(view), self.host.bot_user_id)
                    if msg is not None and not _is_alert(msg):
                        found[msg.platform_id] = msg
                cursor = page.cursor
                if not cursor or not page.posts:
                    break
            for post in await self.store.posts(chat.id):
                if post.platform != records.PLATFORM or not post.platform_message_id:
                    continue
                if not post.action_key.startswith("q"):
                    continue
                uri = post.platform_message_id
                try:
                    thread = await self.host.call(
                        "reading a question's thread",
                        functools.partial(client.get_post_thread, uri, depth=THREAD_DEPTH),
                    )
                except BlueskyPostError as exc:
                    if strict and exc.transient:
                        raise
                    logger.warning("bluesky: cannot read the thread of %s: %s", uri, exc)
                    continue
                for view in records.thread_views(plain(thread.thread)):
                    msg = records.view_message(view, self.host.bot_user_id)
                    if msg is not None and not _is_alert(msg):
                        found[msg.platform_id] = msg
        messages = sorted(found.values(), key=lambda m: m.created_at)
        if not messages or self.host.sink is None:
            return 0
        written = await self.host.sink.capture_messages(messages)
        logger.info("bluesky: backfilled %d posts", written)
        return written


def _is_alert(msg: IncomingMessage) -> bool:
    """A host alert of the bot (never captured, as on the live feed)."""
    return msg.is_bot and msg.text.startswith(ALERT_PREFIX)
