"""The Bluesky adapter: posts through the account's PDS, capture from Jetstream.

Posting (atproto ``AsyncClient``): every post is an ``app.bsky.feed.post`` record with tag
and link facets. The intro stands alone; the questions, wrap-up and closing are replies in
its thread (``reply.root`` = the intro, ``reply.parent`` = the chat's previous post), so the
chat reads as one thread. Reminders and announcements stand alone. Each post's at:// URI is
the ledger's message id; its CID is kept in the store's state table (replies need both).
After a crash the facilitator's `find_post` finds our post in the author feed.

Session: the session string (``export_session_string``) is stored and reused across restarts,
because ``createSession`` is rate-limited per account per day; the client refreshes the
access token ahead of expiry and every change is stored again. The app password is read only
when no stored session works.

Capture (atproto ``AsyncJetstreamClient``, Jetstream v2, ``kinds=commit`` and
``collections=app.bsky.feed.post``): while a Bluesky chat is inside its capture window the
adapter keeps one subscription open and keeps only what matters - posts carrying a live
chat's hashtag (tag facet, ``tags`` field or text), replies to and quotes of the bot's posts,
posts to the bot (opt-out), the bot's own posts, and updates and deletions of captured
posts. The cursor (Jetstream's ``seq``) is stored after each committed message, and at least
every few seconds otherwise, so a restart resumes where it stopped; when Jetstream refuses
the cursor (``CursorTooOld``) or it is older than ``replay_window``, the chat window is
backfilled from ``searchPosts`` and the question posts' threads (``getPostThread``).

Events carry DIDs only: handles and display names come from ``getProfiles`` (25 a call),
cached for ``profile_cache``. Failures: 429 waits for ``RateLimit-Reset`` (capped); network
errors and 5xx are retried with bounded back-off and jitter; a refused app password gives up
with a message for the host. If Bluesky fails, the facilitator carries on with the chat's
other networks and tells the hosts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from atproto import AsyncClient, SessionEvent, models
from atproto_client.client.session import Session
from atproto_client.exceptions import (
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.models.utils import get_model_as_dict
from atproto_core.exceptions import AtProtocolError
from atproto_jetstream import AsyncJetstreamClient
from atproto_jetstream.exceptions import JetstreamCursorTooOldError

from archive.hashtags import wanted_tag
from archive.highlights import Engagement
from archive.models import EARLY_WINDOW, OPEN_STATUSES, Chat, IncomingMessage
from bot.config import BlueskyConfig, ConfigError, secret
from bot.platforms.base import (
    ALERT_PREFIX,
    Capabilities,
    MessageDeleted,
    Platform,
    PostError,
    PostTooLong,
    SentPost,
    hosts_on,
)
from bot.platforms.bluesky import records
from bot.platforms.bluesky.limits import MAX_TEXT_BYTES, post_limit
from bot.retry import GiveUp, RetryError, retry
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit
from scheduler.threads import action_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A handle (atproto's syntax: a domain name) or a DID.
_ACTOR_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"|did:[a-z]+:[a-zA-Z0-9._:%-]+",
    re.IGNORECASE,
)
THREAD_ACTIONS = ("q", "wrapup", "close", "digest")  # posted as replies under the intro
PROFILE_BATCH = 25  # app.bsky.actor.getProfiles takes at most 25 actors
POSTS_BATCH = 25  # app.bsky.feed.getPosts takes at most 25 URIs
CURSOR_SAVE_INTERVAL = 2.0  # seconds between cursor saves while nothing is captured
IDLE_CHECK = 1.0  # seconds between checks for a chat entering its capture window
THREAD_DEPTH = 10

CURSOR_KEY = "bluesky:jetstream:seq"
CURSOR_TIME_KEY = "bluesky:jetstream:time"


def _session_key(handle: str) -> str:
    return f"bluesky:session:{handle}"


def _cid_key(uri: str) -> str:
    return f"bluesky:cid:{uri}"


class BlueskyPostError(PostError, GiveUp):
    """A Bluesky call failed for good; retrying more cannot help."""


class _Transient(Exception):
    """A failure worth retrying; `wait` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True, slots=True)
class _Profile:
    handle: str
    name: str
    until: float  # monotonic expiry


@dataclass(frozen=True, slots=True)
class _Watch:
    """What the live feed keeps, for the chats inside their capture window."""

    chats: tuple[Chat, ...]
    tags: frozenset[str]  # case-folded hashtag bodies

    @property
    def active(self) -> bool:
        return bool(self.chats)


def _plain(value: Any) -> Any:
    """A model from the SDK as plain JSON data (dicts pass through)."""
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    return get_model_as_dict(value)


class BlueskyPlatform(Platform):
    """Posts from the bot's account; captures from Jetstream."""

    name: ClassVar[str] = "bluesky"
    capabilities: ClassVar[Capabilities] = Capabilities(
        find_posts=True, existence=True, edits=True, engagement=True
    )

    def __init__(
        self,
        config: BlueskyConfig,
        *,
        environ: Mapping[str, str],
        clock: Clock | None = None,
        attempts: int = 4,
        backoff: float = 1.0,
        rate_wait_cap: float = 120.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.environ = environ
        self.clock: Clock = clock or SystemClock()
        self.attempts = attempts
        self.backoff = backoff
        self.rate_wait_cap = rate_wait_cap
        self.client: AsyncClient | None = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._jetstream: AsyncJetstreamClient | None = None
        self._stream_error: BaseException | None = None
        self._profiles: dict[str, _Profile] = {}
        # Counts read by the last deletion re-check's getPosts, until `engagement` takes them.
        self._counts: dict[str, Engagement] = {}
        self._seq = 0  # the last event handled
        self._seq_time = ""
        self._saved_at = 0.0
        self._watch = _Watch((), frozenset())
        self._bot_posts: set[str] = set()
        self.connected = asyncio.Event()  # set while the live feed is subscribed

    # ---- wiring ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.client = AsyncClient(base_url=self.config.service)
        self.client.on_session_change(self._session_changed)
        await self._login()
        self._stopping.clear()
        if self.store is not None:
            self._tasks = [
                asyncio.create_task(
                    self.supervised(self._stream_once, "Jetstream capture", base=0.5, cap=30),
                    name="bluesky-jetstream",
                )
            ]
        else:
            logger.warning("bluesky: no store given; capture is off")

    async def stop(self) -> None:
        self._stopping.set()
        if self._jetstream is not None:
            await self._jetstream.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        await self._save_cursor(force=True)
        if self.client is not None:
            await self.client.request.close()
            self.client = None

    async def _login(self) -> None:
        """Reuse the stored session when it still works; else log in with the app password."""
        client = self._api()
        stored = (
            await self.store.get_state(_session_key(self.config.handle)) if self.store else None
        )
        if stored:
            try:
                await client.login(session_string=stored, fetch_bsky_profile=False)
                self.bot_user_id = self._did()
                logger.info("bluesky: reusing the stored session of @%s", self.config.handle)
                return
            except (UnauthorizedError, BadRequestError, AtProtocolError, ValueError) as exc:
                logger.info("bluesky: the stored session no longer works (%s); logging in", exc)
        password = secret(self.config.app_password_env, self.environ)
        try:
            await self._call(
                "logging in",
                lambda: client.login(self.config.handle, password, fetch_bsky_profile=False),
            )
        except BlueskyPostError as exc:
            raise ConfigError(str(exc), source="bluesky") from exc
        self.bot_user_id = self._did()

    async def _session_changed(self, event: SessionEvent, session: Session) -> None:
        if self.store is not None and event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            await self.store.set_state(_session_key(self.config.handle), session.export())

    def _api(self) -> AsyncClient:
        if self.client is None:
            raise BlueskyPostError("the Bluesky platform is not started")
        return self.client

    def _did(self) -> str:
        session = self._api()._session
        return session.did if session is not None else ""

    # ---- requests -------------------------------------------------------------------------

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One XRPC call with Bluesky's failure rules; raises BlueskyPostError for good."""

        async def once() -> T:
            try:
                return await call()
            except RateLimitExceededError as exc:
                raise _Transient("rate limited by Bluesky (429)", self._rate_wait(exc)) from exc
            except UnauthorizedError as exc:
                raise BlueskyPostError(
                    f"Bluesky refused the credentials while {what} ({exc}); check the app "
                    f"password in {self.config.app_password_env} for @{self.config.handle}"
                ) from exc
            except BadRequestError as exc:
                raise BlueskyPostError(f"Bluesky refused {what}: {exc}") from exc
            except NetworkError as exc:
                raise _Transient(f"connection to Bluesky failed: {exc!r}") from exc
            except RequestException as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status >= 500:
                    raise _Transient(f"Bluesky server error: {exc}") from exc
                raise BlueskyPostError(f"Bluesky refused {what}: {exc}") from exc

        try:
            return await retry(
                once,
                what=f"bluesky: {what}",
                attempts=self.attempts,
                base=self.backoff,
                cap=self.rate_wait_cap,
                retry_on=(_Transient,),
                delay_hint=lambda exc: exc.wait if isinstance(exc, _Transient) else None,
            )
        except RetryError as exc:
            # The service kept failing (5xx, connection, rate limit): it may pass, so the
            # facilitator keeps the intent and the runner tries the step again later.
            raise BlueskyPostError(
                f"{what} failed after {self.attempts} attempts: {exc.__cause__}", transient=True
            ) from exc

    @staticmethod
    def _rate_wait(exc: RateLimitExceededError) -> float | None:
        """Seconds until the window resets (``RateLimit-Reset``), or ``Retry-After``."""
        if exc.retry_after is not None:
            return exc.retry_after
        reset = exc.reset_at
        return None if reset is None else max(0.0, reset.timestamp() - time.time())

    # ---- posting --------------------------------------------------------------------------

    @property
    def post_limit(self) -> PostLimit:
        return post_limit(self.config.max_post_length)

    def check_length(self, text: str) -> None:
        super().check_length(text)
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise PostTooLong(f"{self.name}: more than {MAX_TEXT_BYTES} bytes: {text[:60]!r}")

    async def _send(self, channel: str, text: str) -> SentPost:
        """A standalone post (reminders, announcements)."""
        return await self._create(text)

    async def post_action(self, chat: Chat, action_key: str, channel: str, text: str) -> SentPost:
        """The intro stands alone; questions, wrap-up and closing reply in its thread."""
        self.check_length(text)
        if not action_key.startswith(THREAD_ACTIONS) or self.store is None:
            return await self._create(text)
        root, parent = await self._thread_refs(chat)
        if root is None or parent is None:
            logger.warning(
                "bluesky: %s of %s has no intro to reply to; posting it alone", action_key, chat.id
            )
            return await self._create(text)
        return await self._create(text, root=root, parent=parent)

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
        """A later part of a split intro or closing: a reply to the part before (``parent``),
        in the thread of the chat's intro (``root``: the intro's first part; for the intro
        itself, ``first``)."""
        self.check_length(text)
        root = None
        if action_key.startswith(THREAD_ACTIONS) and self.store is not None:
            root, _parent = await self._thread_refs(chat)
        root = root or await self._strong_ref(first.platform_message_id)
        parent = await self._strong_ref(previous.platform_message_id)
        if root is None or parent is None:
            raise PostError(f"bluesky: cannot continue the thread of {action_key}: post not found")
        return await self._create(text, root=root, parent=parent)

    async def reply(self, message: IncomingMessage, text: str) -> SentPost | None:
        """A reply to the participant's post, in its thread (root: the thread's root when the
        post is itself a reply, else the post), so they are notified."""
        self.check_length(text)
        parent = await self._strong_ref(message.platform_id)
        if parent is None:
            raise PostError(f"bluesky: cannot reply: {message.platform_id} is not found")
        record = message.raw.get("record") or (message.raw.get("post") or {}).get("record") or {}
        root_ref = (
            ((record.get("reply") or {}).get("root") or {}) if isinstance(record, dict) else {}
        )
        root = parent
        if root_ref.get("uri") and root_ref.get("cid"):
            root = records.StrongRef(str(root_ref["uri"]), str(root_ref["cid"]))
        return await self._create(text, root=root, parent=parent)

    async def _thread_refs(
        self, chat: Chat
    ) -> tuple[records.StrongRef | None, records.StrongRef | None]:
        """(root, parent): the chat's intro and its latest threaded post on Bluesky (the
        last part of a post split into a thread: ``intro#3``)."""
        assert self.store is not None
        sent = [
            p
            for p in await self.store.posts(chat.id)
            if p.platform == self.name
            and p.status == "sent"
            and p.platform_message_id
            and (action_of(p.action_key) == "intro" or p.action_key.startswith(THREAD_ACTIONS))
        ]
        intro = next((p for p in sent if p.action_key == "intro"), None)
        if intro is None:
            return None, None
        # The latest by time, then by the ledger's order (parts of one thread may share it).
        order = {id(p): i for i, p in enumerate(sent)}
        latest = max(
            sent,
            key=lambda p: (p.posted_at or intro.posted_at or self.clock.now(), order[id(p)]),
        )
        root = await self._strong_ref(intro.platform_message_id)
        parent = await self._strong_ref(latest.platform_message_id)
        return root, parent

    async def _strong_ref(self, uri: str) -> records.StrongRef | None:
        """A post's URI and CID: the CID kept when we posted it, else asked of the AppView."""
        cid = await self.store.get_state(_cid_key(uri)) if self.store is not None else None
        if not cid:
            client = self._api()
            found = await self._call("looking up a post", lambda: client.get_posts([uri]))
            cid = next((p.cid for p in found.posts if p.uri == uri), None)
        return records.StrongRef(uri, cid) if cid else None

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """A host alert as a post that mentions each of the chat's hosts with a Bluesky
        account (`hosts_on`: ``bluesky:ann.bsky.social``, or a handle given for no network,
        resolved to its DID with ``getProfiles``; a handle that resolves to nobody is left
        out) through mention facets, so Bluesky notifies them. Bluesky has no private post,
        and direct messages need an app password with DM access, which the bot does not
        ask for: the alert is public, as the alerts in a Discord or local channel are.
        Nothing is posted when no host resolves. Never captured (it begins with
        `ALERT_PREFIX`)."""
        # Only what can be a Bluesky handle (a domain name) or a DID is asked about:
        # getProfiles refuses the whole call for one malformed actor ("drjane").
        wanted = [h for h in hosts_on(chat, self.name) if _ACTOR_RE.fullmatch(h)]
        if not wanted:
            return
        client = self._api()
        page = await self._call(
            "resolving the hosts", functools.partial(client.get_profiles, wanted[:PROFILE_BATCH])
        )
        found: dict[str, tuple[str, str]] = {}
        for profile in page.profiles:
            found[profile.handle.casefold()] = found[profile.did] = (profile.handle, profile.did)
        hosts: list[tuple[str, str]] = []  # (handle, DID), in the chat's order
        for host in wanted:
            hit = found.get(host) or found.get(host.casefold())
            if hit is not None and hit not in hosts:
                hosts.append(hit)
        if not hosts:
            logger.warning("bluesky: no host of %s has a Bluesky account to alert", chat.id)
            return
        head = f"{ALERT_PREFIX} {' '.join('@' + h for h, _ in hosts)} {chat.id}: "
        message = head + text
        limit = self.post_limit
        while limit.count(message) > limit.max_length and text:
            text = text[: len(text) - max(1, limit.count(message) - limit.max_length) - 1]
            message = f"{head}{text}\u2026"
        await self._create(message, mentions=dict(hosts))

    async def _create(
        self,
        text: str,
        *,
        root: records.StrongRef | None = None,
        parent: records.StrongRef | None = None,
        mentions: Mapping[str, str] | None = None,
    ) -> SentPost:
        client = self._api()
        now = self.clock.now()
        record = records.post_record(text, now, root=root, parent=parent, mentions=mentions)
        data = {"repo": self._did(), "collection": records.POST, "record": record}
        created = await self._call("posting", lambda: client.com.atproto.repo.create_record(data))
        await self._remember_post(created.uri, created.cid)
        return SentPost(created.uri, now, records.permalink(self.config.handle, created.uri))

    async def _remember_post(self, uri: str, cid: str) -> None:
        self._bot_posts.add(uri)
        if self.store is not None:
            await self.store.set_state(_cid_key(uri), cid)

    # ---- reading back ---------------------------------------------------------------------

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our post with exactly this text since `after`, from the bot's author feed."""
        client = self._api()
        cursor: str | None = None
        while True:
            page = await self._call(
                "reading the bot's author feed",
                functools.partial(client.get_author_feed, self._did(), cursor=cursor, limit=50),
            )
            for item in page.feed:
                view = _plain(item.post)
                record = view.get("record") or {}
                at = records.parse_time(record.get("createdAt")) or records.parse_time(
                    view.get("indexedAt")
                )
                if at is not None and at < after:
                    return None
                if view.get("author", {}).get("did") == self._did() and record.get("text") == text:
                    await self._remember_post(view["uri"], view["cid"])
                    return SentPost(
                        view["uri"],
                        at or self.clock.now(),
                        records.permalink(self.config.handle, view["uri"]),
                    )
            cursor = page.cursor
            if not cursor or not page.feed:
                return None

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which captured posts the AppView still returns (25 per ``getPosts``)."""
        uris = list(dict.fromkeys(i for i in platform_ids if i.startswith("at://")))
        client = self._api()
        found: set[str] = set()
        self._counts.clear()  # only the latest re-check's counts wait for `engagement`
        for start in range(0, len(uris), POSTS_BATCH):
            batch = uris[start : start + POSTS_BATCH]
            try:
                page = await self._call(
                    "looking up captured posts", functools.partial(client.get_posts, batch)
                )
            except BlueskyPostError as exc:
                logger.warning("bluesky: cannot tell which posts still exist: %s", exc)
                return None
            found.update(p.uri for p in page.posts)
            self._counts.update((p.uri, _engagement(p)) for p in page.posts)
        return found

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """Likes, reposts, quotes and replies of each post (``likeCount``, ``repostCount``,
        ``quoteCount``, ``replyCount`` of its postView). The deletion re-check just before
        publishing (`existing`) read them already with the same ``getPosts``; only posts it
        did not read are looked up (25 URIs a call). Raises BlueskyPostError."""
        uris = list(dict.fromkeys(i for i in platform_ids if i.startswith("at://")))
        counts = {u: self._counts.pop(u) for u in uris if u in self._counts}
        missing = [u for u in uris if u not in counts]
        client = self._api()
        for start in range(0, len(missing), POSTS_BATCH):
            batch = missing[start : start + POSTS_BATCH]
            page = await self._call(
                "reading likes and reposts", functools.partial(client.get_posts, batch)
            )
            counts.update((p.uri, _engagement(p)) for p in page.posts)
        return counts

    # ---- profiles -------------------------------------------------------------------------

    async def profiles(self, dids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(handle, display name) by DID, from the cache or ``getProfiles`` in batches."""
        now = time.monotonic()
        wanted = [
            d
            for d in dict.fromkeys(dids)
            if d not in self._profiles or self._profiles[d].until < now
        ]
        client = self._api()
        ttl = self.config.profile_cache.total_seconds()
        for start in range(0, len(wanted), PROFILE_BATCH):
            batch = wanted[start : start + PROFILE_BATCH]
            try:
                page = await self._call(
                    "resolving profiles", functools.partial(client.get_profiles, batch)
                )
            except BlueskyPostError as exc:
                logger.warning("bluesky: cannot resolve %d profiles: %s", len(batch), exc)
                continue
            for profile in page.profiles:
                self._profiles[profile.did] = _Profile(
                    profile.handle, profile.display_name or "", now + ttl
                )
        return {
            d: (self._profiles[d].handle, self._profiles[d].name)
            if d in self._profiles
            else (d, "")
            for d in dids
        }

    # ---- capture: which chats are live ----------------------------------------------------

    async def _watching(self) -> _Watch:
        """The Bluesky chats inside their capture window now, and their hashtags."""
        assert self.store is not None
        now = self.clock.now()
        chats = []
        for chat in await self.store.list_chats(OPEN_STATUSES):
            if not any(t.platform == self.name for t in chat.targets):
                continue
            if chat.start - EARLY_WINDOW <= now <= chat.grace_end + timedelta(seconds=5):
                chats.append(chat)
        tags = frozenset(wanted_tag(c.hashtag) for c in chats)
        watch = _Watch(tuple(chats), tags)
        for chat in chats:  # the bot's posts of these chats (replies to them belong)
            for post in await self.store.posts(chat.id):
                if post.platform == self.name and post.platform_message_id:
                    self._bot_posts.add(post.platform_message_id)
        return watch

    # ---- capture: the live feed -----------------------------------------------------------

    async def _stream_once(self) -> None:
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
            await self._save_cursor(force=True)
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
                await self._save_cursor()
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
            await self._save_cursor(force=captured)
        elif seq is not None:
            self._seq, self._seq_time = seq, str(getattr(event, "time", ""))

    async def _handle_commit(self, event: Any) -> bool:
        """Emit what this commit means for a chat; True when something was stored."""
        assert self.store is not None
        uri = records.at_uri(event.did, event.rkey)
        if event.operation == "delete":
            if await self.store.message_chat(self.name, uri) is None:
                return False
            seen = records.parse_time(str(event.time)) or self.clock.now()
            await self.emit(MessageDeleted(self.name, uri, seen))
            return True
        record = _plain(event.record)
        if not isinstance(record, dict) or record.get("$type") != records.POST:
            return False
        held = False
        if not self._wanted(event.did, uri, record):
            if event.operation != "update":
                return False
            held = await self.store.message_chat(self.name, uri) is not None
            if not held:
                return False
        seen = records.parse_time(str(event.time)) or self.clock.now()
        handle, name = (await self.profiles([event.did]))[event.did]
        msg = records.message(
            did=event.did,
            uri=uri,
            record=record,
            handle=handle,
            name=name,
            bot_did=self.bot_user_id,
            seen_at=seen,
            edited_at=seen if event.operation == "update" else None,
            raw={"did": event.did, "seq": event.seq, "cid": event.cid, "record": record},
        )
        if msg.is_bot and event.cid:
            await self._remember_post(uri, str(event.cid))
        if self.sink is None:
            return False
        await self.sink.capture_messages([msg])
        return True

    def _wanted(self, did: str, uri: str, record: Mapping[str, Any]) -> bool:
        """Whether a post may belong to a live chat: its hashtag, a reply to or quote of the
        bot's posts, a mention of the bot, or the bot's own."""
        if did == self.bot_user_id and self.bot_user_id:
            return not str(record.get("text", "")).startswith(ALERT_PREFIX)  # a host alert
        if records.carries_tag(record, self._watch.tags):
            return True
        for target in (records.reply_parent(record), records.quoted(record)):
            if target and (
                target in self._bot_posts or records.uri_parts(target)[0] == self.bot_user_id
            ):
                return True
        return bool(self.bot_user_id) and self.bot_user_id in records.mentioned_dids(record)

    async def _save_cursor(self, *, force: bool = False) -> None:
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

    # ---- capture: backfill ----------------------------------------------------------------

    async def sweep(self, chat: Chat) -> None:
        """Read `chat`'s window once more just before it is published, as `backfill` does
        (``searchPosts`` of the hashtag, up to the end of the window, and ``getPostThread`` of
        each question post), and return once what was found is delivered to the sink:
        Jetstream delivers as posts are made, but an event of the window's last seconds may
        be lost in flight or in a reconnect. Capture keeps one row per post, so what came
        live is not counted twice. Raises `BlueskyPostError` (``transient`` after the
        retries of 5xx, connection failures and 429s) when Bluesky cannot be read; a
        question post that is gone (its thread refused) is skipped. Does nothing before
        the adapter is started."""
        if self.store is None or self.client is None:
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
        client = self._api()
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
                page = await self._call(
                    f"searching {chat.hashtag}",
                    functools.partial(client.app.bsky.feed.search_posts, params),
                )
                for view in page.posts:
                    msg = records.view_message(_plain(view), self.bot_user_id)
                    if msg is not None and not _is_alert(msg):
                        found[msg.platform_id] = msg
                cursor = page.cursor
                if not cursor or not page.posts:
                    break
            for post in await self.store.posts(chat.id):
                if post.platform != self.name or not post.platform_message_id:
                    continue
                if not post.action_key.startswith("q"):
                    continue
                uri = post.platform_message_id
                try:
                    thread = await self._call(
                        "reading a question's thread",
                        functools.partial(client.get_post_thread, uri, depth=THREAD_DEPTH),
                    )
                except BlueskyPostError as exc:
                    if strict and exc.transient:
                        raise
                    logger.warning("bluesky: cannot read the thread of %s: %s", uri, exc)
                    continue
                for view in records.thread_views(_plain(thread.thread)):
                    msg = records.view_message(view, self.bot_user_id)
                    if msg is not None and not _is_alert(msg):
                        found[msg.platform_id] = msg
        messages = sorted(found.values(), key=lambda m: m.created_at)
        if not messages or self.sink is None:
            return 0
        written = await self.sink.capture_messages(messages)
        logger.info("bluesky: backfilled %d posts", written)
        return written


def _is_alert(msg: IncomingMessage) -> bool:
    """A host alert of the bot (never captured, as on the live feed)."""
    return msg.is_bot and msg.text.startswith(ALERT_PREFIX)


def _engagement(post: models.AppBskyFeedDefs.PostView) -> Engagement:
    """The counts of an ``app.bsky.feed.defs#postView`` (absent counts are 0)."""
    return Engagement(
        likes=post.like_count or 0,
        reposts=post.repost_count or 0,
        quotes=post.quote_count or 0,
        replies=post.reply_count or 0,
    )
