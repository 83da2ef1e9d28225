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

Capture (`capture.JetstreamCapture`, run by the adapter as a supervised task): the
Jetstream subscription with its stored cursor, the backfill from ``searchPosts`` and the
question posts' threads, and the sweep before publishing; it makes its XRPC calls through
the adapter (`call`, `profiles`).

Events carry DIDs only: handles and display names come from ``getProfiles`` (25 a call),
cached for ``profile_cache``. Failures (`xrpc`): 429 waits for ``RateLimit-Reset`` (capped);
network errors and 5xx are retried with bounded back-off and jitter; a refused app password
gives up with a message for the host. If Bluesky fails, the facilitator carries on with the
chat's other networks and tells the hosts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar

from atproto import AsyncClient, SessionEvent, models
from atproto_client.client.session import Session
from atproto_client.exceptions import BadRequestError, UnauthorizedError
from atproto_core.exceptions import AtProtocolError

from archive.highlights import Engagement
from archive.models import Chat, IncomingMessage
from bot.config import BlueskyConfig, ConfigError, secret
from bot.platforms.base import (
    ALERT_PREFIX,
    Capabilities,
    Platform,
    PostError,
    PostTooLong,
    SentPost,
    hosts_on,
)
from bot.platforms.bluesky import records, xrpc
from bot.platforms.bluesky.capture import JetstreamCapture
from bot.platforms.bluesky.limits import MAX_TEXT_BYTES, post_limit
from bot.platforms.bluesky.xrpc import BlueskyPostError, plain
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


def _session_key(handle: str) -> str:
    return f"bluesky:session:{handle}"


def _cid_key(uri: str) -> str:
    return f"bluesky:cid:{uri}"


@dataclass(frozen=True, slots=True)
class _Profile:
    handle: str
    name: str
    until: float  # monotonic expiry


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
        self._profiles: dict[str, _Profile] = {}
        # Counts read by the last deletion re-check's getPosts, until `engagement` takes them.
        self._counts: dict[str, Engagement] = {}
        self.capture = JetstreamCapture(self, config, clock=self.clock, stopping=self._stopping)

    @property
    def connected(self) -> asyncio.Event:
        """Set while the live feed (Jetstream) is subscribed."""
        return self.capture.connected

    # ---- wiring ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.client = AsyncClient(base_url=self.config.service)
        self.client.on_session_change(self._session_changed)
        await self._login()
        self._stopping.clear()
        if self.store is not None:
            self._tasks = [
                asyncio.create_task(
                    self.supervised(
                        self.capture.stream_once, "Jetstream capture", base=0.5, cap=30
                    ),
                    name="bluesky-jetstream",
                )
            ]
        else:
            logger.warning("bluesky: no store given; capture is off")

    async def stop(self) -> None:
        self._stopping.set()
        await self.capture.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        await self.capture.save_cursor(force=True)
        if self.client is not None:
            await self.client.request.close()
            self.client = None

    async def _login(self) -> None:
        """Reuse the stored session when it still works; else log in with the app password."""
        client = self.api()
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
            await self.call(
                "logging in",
                lambda: client.login(self.config.handle, password, fetch_bsky_profile=False),
            )
        except BlueskyPostError as exc:
            raise ConfigError(str(exc), source="bluesky") from exc
        self.bot_user_id = self._did()

    async def _session_changed(self, event: SessionEvent, session: Session) -> None:
        if self.store is not None and event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            await self.store.set_state(_session_key(self.config.handle), session.export())

    def api(self) -> AsyncClient:
        if self.client is None:
            raise BlueskyPostError("the Bluesky platform is not started")
        return self.client

    def _did(self) -> str:
        session = self.api()._session
        return session.did if session is not None else ""

    # ---- requests -------------------------------------------------------------------------

    async def call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One XRPC call with Bluesky's failure rules (`xrpc.call`); raises BlueskyPostError
        (``transient`` when the service kept failing)."""
        return await xrpc.call(
            what,
            call,
            attempts=self.attempts,
            backoff=self.backoff,
            cap=self.rate_wait_cap,
            handle=self.config.handle,
            password_env=self.config.app_password_env,
        )

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
            client = self.api()
            found = await self.call("looking up a post", lambda: client.get_posts([uri]))
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
        client = self.api()
        page = await self.call(
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
        client = self.api()
        now = self.clock.now()
        record = records.post_record(text, now, root=root, parent=parent, mentions=mentions)
        data = {"repo": self._did(), "collection": records.POST, "record": record}
        created = await self.call("posting", lambda: client.com.atproto.repo.create_record(data))
        await self.remember_post(created.uri, created.cid)
        return SentPost(created.uri, now, records.permalink(self.config.handle, created.uri))

    async def remember_post(self, uri: str, cid: str) -> None:
        """Note a post of the bot: replies to it belong to the chat, and its CID (kept in
        the store's state table) lets later posts reply to it."""
        self.capture.bot_posts.add(uri)
        if self.store is not None:
            await self.store.set_state(_cid_key(uri), cid)

    # ---- reading back ---------------------------------------------------------------------

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our post with exactly this text since `after`, from the bot's author feed."""
        client = self.api()
        cursor: str | None = None
        while True:
            page = await self.call(
                "reading the bot's author feed",
                functools.partial(client.get_author_feed, self._did(), cursor=cursor, limit=50),
            )
            for item in page.feed:
                view = plain(item.post)
                record = view.get("record") or {}
                at = records.parse_time(record.get("createdAt")) or records.parse_time(
                    view.get("indexedAt")
                )
                if at is not None and at < after:
                    return None
                if view.get("author", {}).get("did") == self._did() and record.get("text") == text:
                    await self.remember_post(view["uri"], view["cid"])
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
        client = self.api()
        found: set[str] = set()
        self._counts.clear()  # only the latest re-check's counts wait for `engagement`
        for start in range(0, len(uris), POSTS_BATCH):
            batch = uris[start : start + POSTS_BATCH]
            try:
                page = await self.call(
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
        client = self.api()
        for start in range(0, len(missing), POSTS_BATCH):
            batch = missing[start : start + POSTS_BATCH]
            page = await self.call(
                "reading likes and reposts", functools.partial(client.get_posts, batch)
            )
            counts.update((p.uri, _engagement(p)) for p in page.posts)
        return counts

    async def sweep(self, chat: Chat) -> None:
        """The hashtag's search and the question posts' threads once more, up to the end of
        the window (`JetstreamCapture.sweep`); returns once what was found is delivered.
        Raises BlueskyPostError when Bluesky cannot be read. Nothing before `start`."""
        if self.client is None:
            return
        await self.capture.sweep(chat)

    # ---- profiles -------------------------------------------------------------------------

    async def profiles(self, dids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(handle, display name) by DID, from the cache or ``getProfiles`` in batches."""
        now = time.monotonic()
        wanted = [
            d
            for d in dict.fromkeys(dids)
            if d not in self._profiles or self._profiles[d].until < now
        ]
        client = self.api()
        ttl = self.config.profile_cache.total_seconds()
        for start in range(0, len(wanted), PROFILE_BATCH):
            batch = wanted[start : start + PROFILE_BATCH]
            try:
                page = await self.call(
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


def _engagement(post: models.AppBskyFeedDefs.PostView) -> Engagement:
    """The counts of an ``app.bsky.feed.defs#postView`` (absent counts are 0)."""
    return Engagement(
        likes=post.like_count or 0,
        reposts=post.repost_count or 0,
        quotes=post.quote_count or 0,
        replies=post.reply_count or 0,
    )
