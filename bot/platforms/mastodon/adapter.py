"""The Mastodon adapter: statuses from the bot's account, capture from the hashtag.

Posting: intro, questions, wrap-up, closing and reminders are statuses carrying the hashtag;
questions reply to the intro, so a chat reads as one thread. Every post of a chat action
carries an ``Idempotency-Key`` made from the chat, the action and the target, so a retry
(after a timeout, or after a crash and restart) gets back the status already made instead of
a second one. Each status's URL is kept in the store's state beside its id.

Capture: the hashtag stream (server-sent events, read with aiohttp) brings new statuses,
edits (``status.update``) and deletions (``delete``) at once. The source of truth after any
gap (start, reconnect, a dropped stream) is the tag timeline read forward with ``min_id``
from a cursor kept in the store, plus the replies to the bot's posts of the chat
(``/statuses/:id/context``) and mentions of the bot (notifications): answers that reply to a
question without the hashtag, and ``!optout`` / ``!optin``, arrive there. The timeline is
read every ``poll_interval`` during a chat's capture window; the cursor moves only past
messages the store has committed, and capture is idempotent, so what the stream and the
timeline both bring is stored once.

Mastodon.py is synchronous: every call runs in a worker thread (`asyncio.to_thread`), one at a
time, with ``ratelimit_method="throw"``: a 429 waits until ``X-RateLimit-Reset`` (capped),
server errors and dropped connections are retried with bounded back-off; bad credentials give
up at once with a message naming the token's variable. If the instance cannot be reached at
start the adapter keeps trying in the background, so a chat goes on on its other networks.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import aiohttp
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from archive.hashtags import wanted_tag
from archive.highlights import Engagement
from archive.models import EARLY_WINDOW, OPEN_STATUSES, Chat, IncomingMessage
from bot.config import MastodonConfig, secret
from bot.platforms.base import (
    ALERT_PREFIX,
    Capabilities,
    MessageDeleted,
    Platform,
    PostError,
    SentPost,
    hosts_on,
)
from bot.platforms.mastodon.content import html_to_text
from bot.platforms.mastodon.limits import post_limit
from bot.platforms.mastodon.payloads import (
    NOTIFICATIONS_KEY,
    as_datetime,
    cursor_key,
    id_key,
    idempotency_key,
    is_public,
    max_characters,
    snowflake_at,
    status_message,
    streaming_base,
    tag_body,
    url_key,
)
from bot.platforms.mastodon.stream import HEARTBEAT, EventParser, StreamEvent
from bot.retry import GiveUp, RetryError, retry
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit
from scheduler.threads import action_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 40  # the most a timeline page gives
MAX_PAGES = 25  # per hashtag per read: 1,000 statuses; the rest comes on the next read
STATUSES_BATCH = 20  # ids per GET /api/v1/statuses (Mastodon's DEFAULT_STATUSES_LIMIT)
EXISTENCE_BUDGET = 100  # status lookups per `existing` call (300 requests per 5 minutes)
USER_AGENT = "tweetchat-bot (Mastodon.py)"
# A followers-only or direct status is never captured into a transcript; it is passed on only
# when it is an opt-out / opt-in command to the bot (the facilitator's rule decides the rest).
_OPT_COMMAND = re.compile(r"^\s*(?:@\S+\s+)*!?opt[\s-]?(?:out|in)\s*$", re.IGNORECASE)


class MastodonPostError(PostError, GiveUp):
    """A Mastodon call failed for good; retrying (as the facilitator would) cannot help."""


class _Transient(Exception):
    """Worth retrying; `wait` is the server's hint in seconds (rate limit reset), if any."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class MastodonPlatform(Platform):
    """The bot's Mastodon account on one instance (``mastodon.api_base_url``)."""

    name: ClassVar[str] = "mastodon"
    capabilities: ClassVar[Capabilities] = Capabilities(
        find_posts=True, existence=True, edits=True, engagement=True
    )

    def __init__(
        self,
        config: MastodonConfig,
        *,
        environ: Mapping[str, str],
        clock: Clock | None = None,
        attempts: int = 4,
        backoff: float = 1.0,
        rate_wait_cap: float = 300.0,
        request_timeout: float = 30.0,
        stream_timeout: float = 90.0,
    ) -> None:
        super().__init__()
        self.config = config
        self.environ = environ
        self.clock: Clock = clock or SystemClock()
        self.attempts = attempts
        self.backoff = backoff
        self.rate_wait_cap = rate_wait_cap
        self.request_timeout = request_timeout
        self.stream_timeout = stream_timeout  # no byte (not even a heartbeat) for this long
        self.api: Mastodon | None = None
        self.domain = ""
        self.streaming_url = ""
        self._token = ""
        self._limit = post_limit(config.max_post_length)
        self._connected = False
        self._api_lock = asyncio.Lock()
        # One timeline read at a time: the poll and a stream's catch-up each start from the
        # stored cursor, so two at once would both deliver everything after it.
        self._timeline_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: dict[str, asyncio.Task[None]] = {}  # hashtag (folded) -> stream task
        self._followed: set[str] = set()

    # ---- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Make the client (a missing token is a ConfigError now), then connect; an instance
        that cannot be reached is retried in the background."""
        self._token = secret(self.config.access_token_env, self.environ)
        self.api = Mastodon(
            access_token=self._token,
            api_base_url=self.config.api_base_url,
            ratelimit_method="throw",
            request_timeout=self.request_timeout,
            user_agent=USER_AGENT,
        )
        self._session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
        self._stopping.clear()
        try:
            await self._connect()
        except (PostError, MastodonError) as exc:
            self.report_failure(f"mastodon: cannot connect; retrying in the background: {exc}")
        if self.store is not None:
            self._tasks = [
                asyncio.create_task(
                    self.supervised(self._poll_loop, "capture"), name="mastodon-poll"
                )
            ]
        else:
            logger.warning("mastodon: no store given; capture is off")

    async def stop(self) -> None:
        self._stopping.set()
        tasks = [*self._tasks, *self._streams.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks, self._streams = [], {}
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.api is not None:
            self.api.session.close()
            self.api = None

    async def _connect(self) -> None:
        """Who the bot is, and what the instance allows (its limit, its streaming server)."""
        api = self._api()
        me = await self._call("verifying the access token", api.account_verify_credentials)
        instance = await self._call("reading the instance", api.instance_v2)
        self.bot_user_id = str(me["id"])
        self.domain = str(instance.get("domain") or "")
        self.streaming_url = streaming_base(instance, self.config.api_base_url)
        allowed = max_characters(instance)
        if allowed is not None and allowed < self.config.max_post_length:
            logger.warning(
                "mastodon: %s allows statuses of at most %d characters, fewer than "
                "mastodon.max_post_length = %d in the config; using %d. Set max_post_length "
                "to %d so chat files are checked against the instance's limit when scheduled",
                self.domain or self.config.api_base_url,
                allowed,
                self.config.max_post_length,
                allowed,
                allowed,
            )
            self._limit = post_limit(allowed)
        self._connected = True
        logger.info("mastodon: connected to %s as %s", self.domain, me.get("acct"))

    # ---- requests -------------------------------------------------------------------------

    def _api(self) -> Mastodon:
        if self.api is None:
            raise MastodonPostError("the Mastodon platform is not started")
        return self.api

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One Mastodon.py call in a worker thread, with Mastodon's failure rules."""
        api = self._api()

        async def once() -> T:
            try:
                async with self._api_lock:
                    return await asyncio.to_thread(fn, *args, **kwargs)
            except MastodonRatelimitError as exc:
                wait = max(0.0, float(api.ratelimit_reset) - time.time())
                raise _Transient("rate limited by the instance (429)", wait) from exc
            except MastodonUnauthorizedError as exc:
                raise MastodonPostError(
                    f"the instance refused the access token while {what}; check "
                    f"{self.config.access_token_env}"
                ) from exc
            except MastodonNotFoundError:
                raise
            except (MastodonServerError, MastodonNetworkError) as exc:
                raise _Transient(f"the instance failed while {what}: {_one_line(exc)}") from exc
            except MastodonAPIError as exc:
                raise MastodonPostError(f"the instance refused {what}: {_one_line(exc)}") from exc

        try:
            return await retry(
                once,
                what=f"mastodon: {what}",
                attempts=self.attempts,
                base=self.backoff,
                cap=self.rate_wait_cap,
                retry_on=(_Transient,),
                delay_hint=lambda exc: exc.wait if isinstance(exc, _Transient) else None,
            )
        except RetryError as exc:
            raise PostError(
                f"{what} failed after {self.attempts} attempts: {exc.__cause__}"
            ) from exc

    # ---- posting --------------------------------------------------------------------------

    @property
    def post_limit(self) -> PostLimit:
        """The configured limit, or the instance's when it allows less (known once started)."""
        return self._limit

    async def _status(
        self,
        text: str,
        *,
        reply_to: str | None = None,
        key: str | None = None,
        visibility: str = "",
    ) -> SentPost:
        api = self._api()
        status = await self._call(
            "posting",
            functools.partial(
                api.status_post,
                text,
                in_reply_to_id=reply_to,
                visibility=visibility or self.config.visibility,
                idempotency_key=key,
            ),
        )
        status_id = str(status["id"])
        url = str(status.get("url") or status.get("uri") or "")
        if self.store is not None and url:
            await self.store.set_state(url_key(status_id), url)
        posted = as_datetime(status.get("created_at")) or self.clock.now()
        return SentPost(status_id, posted, url)

    async def _send(self, channel: str, text: str) -> SentPost:
        """A standalone status (announcements, alerts)."""
        return await self._status(text)

    async def post_action(self, chat: Chat, action_key: str, channel: str, text: str) -> SentPost:
        """A chat's status, with its idempotency key; questions and the digest's posts reply
        to the intro."""
        self.check_length(text)
        reply_to = None
        if (action_key.startswith("q") and action_key[1:2].isdigit()) or action_key.startswith(
            "digest"
        ):
            reply_to = await self._intro_id(chat) or None
        key = idempotency_key(chat.id, action_key, f"{self.name}:{channel}")
        return await self._status(text, reply_to=reply_to, key=key)

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
        """A later part of a split intro or closing: a reply to the part before
        (``in_reply_to_id``), with an idempotency key of its own (the action and the part it
        follows), so a retry returns it instead of posting it twice."""
        self.check_length(text)
        key = idempotency_key(
            chat.id, f"{action_key}>{previous.platform_message_id}", f"{self.name}:{channel}"
        )
        return await self._status(text, reply_to=previous.platform_message_id, key=key)

    async def reply(self, message: IncomingMessage, text: str) -> SentPost | None:
        """A reply to the participant's status. It starts with their @mention: on Mastodon
        only a mention notifies them (a reply alone does not)."""
        mention = f"@{message.author_handle} " if message.author_handle else ""
        text = text if text.startswith(mention) else f"{mention}{text}"
        self.check_length(text)
        return await self._status(text, reply_to=message.platform_id)

    async def notify_hosts(self, chat: Chat, text: str) -> None:
        """A host alert as a direct status (``visibility = "direct"``: only the accounts it
        mentions, and the bot, can see it) that mentions each of the chat's hosts who may
        have a Mastodon account (`hosts_on`: ``mastodon:ann@example.social``, or a handle
        given for no network); the instance notifies each of them. Mastodon resolves the
        mentions itself; a handle that names no account there mentions nobody. Nothing is
        posted when no host may be on Mastodon. Direct statuses are never captured."""
        hosts = hosts_on(chat, self.name)
        if not hosts:
            return
        head = f"{ALERT_PREFIX} {' '.join('@' + h for h in hosts)} {chat.id}: "
        await self._status(_clip_to(self.post_limit, head, text), visibility="direct")

    async def _intro_id(self, chat: Chat) -> str:
        """The intro's status that questions reply to: its last part when it went out as a
        thread (``intro#3``), so the chat reads as one thread."""
        if self.store is None:
            return ""
        found = ""
        for post in await self.store.posts(chat.id):  # in the ledger's order
            if (
                action_of(post.action_key) == "intro"
                and post.platform == self.name
                and post.status == "sent"
            ):
                found = post.platform_message_id
        return found

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our status with this text since `after` (the bot's latest statuses, compared as
        plain text), for reconciling a post whose outcome a crash hid. None when not found,
        or when the instance cannot be asked: posting again is then still safe, since the
        retry carries the same idempotency key."""
        try:
            if not self.bot_user_id:
                await self._connect()
            api = self._api()
            statuses = await self._call(
                "looking for our post", api.account_statuses, self.bot_user_id, limit=PAGE_SIZE
            )
        except (PostError, MastodonError) as exc:
            logger.warning("mastodon: cannot look for our earlier post: %s", exc)
            return None
        wanted = _comparable(text)
        for status in statuses:
            created = as_datetime(status.get("created_at"))
            if created is None or created < after:
                continue
            if _comparable(html_to_text(str(status.get("content") or ""))) == wanted:
                url = str(status.get("url") or "")
                return SentPost(str(status["id"]), created, url)
        return None

    # ---- reading back ---------------------------------------------------------------------

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which statuses the instance still has (404 = deleted). At most `EXISTENCE_BUDGET`
        lookups, newest first; ids not looked up are reported as existing."""
        ids = list(dict.fromkeys(platform_ids))
        checked = sorted(ids, key=id_key, reverse=True)[:EXISTENCE_BUDGET]
        found = set(ids) - set(checked)
        api = self._api()
        for status_id in checked:
            try:
                await self._call("looking up a status", api.status, status_id)
            except MastodonNotFoundError:
                continue
            except (PostError, MastodonError) as exc:
                logger.warning("mastodon: cannot tell which statuses still exist: %s", exc)
                return None
            found.add(status_id)
        return found

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """Favourites, boosts and replies of each status (``favourites_count``,
        ``reblogs_count``, ``replies_count``), read with ``GET /api/v1/statuses?id[]=`` (Mastodon
        4.3; 20 ids a request), or one ``GET /api/v1/statuses/:id`` each, at most
        `EXISTENCE_BUDGET` of the newest, on an older instance. Raises PostError or
        MastodonError when the instance cannot be read."""
        ids = list(dict.fromkeys(platform_ids))
        api = self._api()
        statuses: list[Mapping[str, Any]] = []
        try:
            for start in range(0, len(ids), STATUSES_BATCH):
                batch = ids[start : start + STATUSES_BATCH]
                statuses += await self._call("reading favourites and boosts", api.statuses, batch)
        except (MastodonVersionError, MastodonNotFoundError):
            statuses = []
            for status_id in sorted(ids, key=id_key, reverse=True)[:EXISTENCE_BUDGET]:
                try:
                    statuses.append(
                        await self._call("reading favourites and boosts", api.status, status_id)
                    )
                except MastodonNotFoundError:
                    continue
        return {
            str(st["id"]): Engagement(
                likes=int(st.get("favourites_count") or 0),
                reposts=int(st.get("reblogs_count") or 0),
                replies=int(st.get("replies_count") or 0),
            )
            for st in statuses
        }

    # ---- capture: the timeline, replies and mentions -------------------------------------

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self._connected:
                    await self._connect()
                await self.poll_once()
            except (PostError, MastodonError) as exc:
                self.report_failure(f"mastodon: capture failed: {exc}")
            except Exception:
                logger.warning("mastodon: capture failed unexpectedly; retrying", exc_info=True)
            await self._pause(self.config.poll_interval)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    async def _capture_chats(self) -> dict[str, list[Chat]]:
        """Chats inside their capture window (start - 15 min .. grace end), by hashtag."""
        assert self.store is not None
        now = self.clock.now()
        margin = timedelta(seconds=self.config.poll_interval)  # one last read after grace
        groups: dict[str, list[Chat]] = {}
        for chat in await self.store.list_chats(OPEN_STATUSES):
            if not any(t.platform == self.name for t in chat.targets):
                continue
            if chat.start - EARLY_WINDOW <= now <= chat.grace_end + margin:
                groups.setdefault(wanted_tag(chat.hashtag), []).append(chat)
        return groups

    async def poll_once(self) -> int:
        """Read the timeline, replies and mentions once; follow the live hashtags' streams.
        Returns the number of rows captured."""
        groups = await self._capture_chats()
        self._follow_streams(groups)
        total = 0
        for chats in groups.values():
            ordered = sorted(chats, key=lambda c: c.start)
            await self._follow_tag(ordered[0].hashtag)
            total += await self.read_timeline(ordered)
            total += await self._read_replies(ordered)
        total += await self._read_mentions()
        return total

    async def sweep(self, chat: Chat) -> None:
        """Read the hashtag's timeline from the stored cursor and the replies to the chat's
        posts once more, just before publishing: the stream delivers as statuses are posted,
        but one of the last seconds may still be in flight (or federated late). Raises
        `PostError` when the instance cannot be read."""
        if self.store is None or self.api is None:
            return
        group = (await self._capture_chats()).get(wanted_tag(chat.hashtag), [])
        chats = sorted({c.id: c for c in [*group, chat]}.values(), key=lambda c: c.start)
        await self.read_timeline(chats)
        await self._read_replies(chats)

    async def read_timeline(self, chats: Sequence[Chat]) -> int:
        """The hashtag's statuses after the stored cursor (``min_id``), page by page, oldest
        page first; the cursor moves once each page is committed. Reads run one at a time,
        each from the cursor the one before it left."""
        async with self._timeline_lock:
            return await self._read_timeline(chats)

    async def _read_timeline(self, chats: Sequence[Chat]) -> int:
        assert self.store is not None
        api = self._api()
        hashtag = chats[0].hashtag
        key = cursor_key(hashtag)
        floor = snowflake_at(chats[0].start - EARLY_WINDOW)
        cursor = await self.store.get_state(key) or ""
        if not cursor.isdigit() or id_key(cursor) < id_key(floor):
            cursor = floor  # no cursor yet, or one left by an earlier chat of the hashtag
        total = 0
        for _ in range(MAX_PAGES):
            page = await self._call(
                f"reading the {hashtag} timeline",
                api.timeline_hashtag,
                tag_body(hashtag),
                min_id=cursor,
                limit=PAGE_SIZE,
            )
            if not page:
                break
            total += await self._capture(page)
            cursor = max((str(s["id"]) for s in page), key=id_key)
            await self.store.set_state(key, cursor)
            if len(page) < PAGE_SIZE:
                break
        return total

    async def _read_replies(self, chats: Sequence[Chat]) -> int:
        """Replies to the bot's posts of these chats (they may lack the hashtag)."""
        assert self.store is not None
        api = self._api()
        total = 0
        for chat in chats:
            for post in await self.store.posts(chat.id):
                if post.platform != self.name or post.status != "sent":
                    continue
                if not post.platform_message_id or post.action_key.startswith("remind"):
                    continue
                try:
                    context = await self._call(
                        "reading replies", api.status_context, post.platform_message_id
                    )
                except MastodonNotFoundError:
                    continue  # the post was deleted
                total += await self._capture(context.get("descendants") or [])
        return total

    async def _read_mentions(self) -> int:
        """Statuses mentioning the bot (or replying to it) since the notification cursor."""
        assert self.store is not None
        api = self._api()
        cursor = await self.store.get_state(NOTIFICATIONS_KEY)
        total = 0
        for _ in range(MAX_PAGES):
            notes = await self._call(
                "reading mentions",
                api.notifications,
                types=["mention"],
                min_id=cursor,
                limit=PAGE_SIZE,
            )
            if not notes:
                break
            statuses = [n["status"] for n in notes if n.get("status")]
            total += await self._capture(statuses)
            cursor = max((str(n["id"]) for n in notes), key=id_key)
            await self.store.set_state(NOTIFICATIONS_KEY, cursor)
            if len(notes) < PAGE_SIZE:
                break
        return total

    def messages(self, statuses: Sequence[Mapping[str, Any]]) -> list[IncomingMessage]:
        """Statuses as neutral messages, oldest first; malformed ones are skipped."""
        found: list[IncomingMessage] = []
        for status in statuses:
            try:
                found.append(status_message(status, bot_id=self.bot_user_id, domain=self.domain))
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("mastodon: skipping a malformed status: %r", exc)
        return sorted(found, key=lambda m: id_key(m.platform_id))

    async def _capture(self, statuses: Sequence[Mapping[str, Any]]) -> int:
        if self.sink is None:
            return 0
        messages = [
            m
            for m in self.messages(statuses)
            if is_public(m.raw) or (self._mentions_bot(m.raw) and _OPT_COMMAND.match(m.text))
        ]
        return await self.sink.capture_messages(messages) if messages else 0

    def _mentions_bot(self, status: Mapping[str, Any]) -> bool:
        return any(str(m.get("id")) == self.bot_user_id for m in status.get("mentions") or ())

    async def _follow_tag(self, hashtag: str) -> None:
        """The bot's account follows the hashtag, so its instance fetches more of it."""
        body = wanted_tag(hashtag)
        if body in self._followed:
            return
        try:
            await self._call(f"following {hashtag}", self._api().tag_follow, tag_body(hashtag))
        except (PostError, MastodonError) as exc:
            logger.warning("mastodon: could not follow %s: %s", hashtag, exc)
            return
        self._followed.add(body)

    # ---- capture: the live stream ---------------------------------------------------------

    def _follow_streams(self, groups: Mapping[str, Sequence[Chat]]) -> None:
        """One stream per live hashtag: open the new ones, close the ones no longer live."""
        if not self.config.stream:
            return
        for folded in list(self._streams):
            if folded not in groups:
                self._streams.pop(folded).cancel()
        for folded, chats in groups.items():
            task = self._streams.get(folded)
            if task is None or task.done():
                hashtag = chats[0].hashtag
                self._streams[folded] = asyncio.create_task(
                    self._stream_forever(hashtag), name=f"mastodon-stream-{folded}"
                )

    async def _stream_forever(self, hashtag: str) -> None:
        await self.supervised(
            functools.partial(self._stream_once, hashtag),
            f"the {hashtag} stream",
            base=self.backoff,
        )

    async def _stream_once(self, hashtag: str) -> None:
        """Read the hashtag's stream until it ends; fill the gap from the timeline first.

        Raises when the stream could not be read (so the reconnect backs off); a stream
        that ran for a while and was closed by the server returns, and is reopened at once.
        """
        assert self._session is not None
        if not self._connected:
            await self._connect()
        url = f"{self.streaming_url}/api/v1/streaming/hashtag"
        headers = {"Authorization": f"Bearer {self._token}"}
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.request_timeout, sock_read=self.stream_timeout
        )
        opened = time.monotonic()
        async with self._session.get(
            url, params={"tag": tag_body(hashtag)}, headers=headers, timeout=timeout
        ) as response:
            if response.status == 401:
                self.report_failure(
                    f"mastodon: the streaming server refused {self.config.access_token_env}"
                )
            if response.status != 200:
                raise ConnectionError(f"the streaming server answered {response.status}")
            await self._catch_up(hashtag)
            parser = EventParser()
            async for raw in response.content:
                event = parser.feed(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if event is not None and event is not HEARTBEAT:
                    await self._on_event(event)
        if time.monotonic() - opened < 10:
            raise ConnectionError("the stream closed at once")
        logger.info("mastodon: the %s stream closed; reopening", hashtag)

    async def _catch_up(self, hashtag: str) -> None:
        """On every (re)connect: read what the timeline has since the cursor, then let the
        facilitator sweep deletions."""
        groups = await self._capture_chats()
        chats = groups.get(wanted_tag(hashtag))
        if chats:
            try:
                await self.read_timeline(sorted(chats, key=lambda c: c.start))
                await self._read_replies(chats)
            except (PostError, MastodonError) as exc:
                logger.warning("mastodon: catching up after a reconnect failed: %s", exc)
        if self.sink is not None:
            await self.sink.reconnected(self)

    async def _on_event(self, event: StreamEvent) -> None:
        """A stream event (Status JSON for ``update`` / ``status.update``; an id for
        ``delete``)."""
        if event.event == "delete":
            await self.emit(MessageDeleted(self.name, event.data.strip(), self.clock.now()))
            return
        if event.event not in ("update", "status.update"):
            return
        try:
            status = json.loads(event.data)
        except ValueError:
            logger.warning("mastodon: a %s event without JSON; ignored", event.event)
            return
        if isinstance(status, dict):
            await self._capture([status])


def _comparable(text: str) -> str:
    return " ".join(text.split()).casefold()


def _clip_to(limit: PostLimit, head: str, text: str) -> str:
    """``head + text``, the text cut (with an ellipsis) until it fits ``limit``."""
    message = head + text
    while text and limit.count(message) > limit.max_length:
        text = text[: max(0, len(text) - max(1, limit.count(message) - limit.max_length) - 1)]
        message = f"{head}{text}\u2026"
    return message


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
