"""The X (Twitter) adapter: standalone posts from the host account, capture by recent search.

Designed for X's 2026 rules: every post and every read is billed (the running estimate is kept
per chat in the store's state table), automated replies are refused (so every post stands
alone, with the hashtag), keyword search no longer returns retweets, and deleted posts must
leave the archive within 24 hours (captured ids are looked up again before publishing and
daily for ``recheck_days`` after a chat).

Failures: bad credentials (401/403) and exhausted credits (402) give up at once with a message
for the host; 429 waits until ``x-rate-limit-reset`` (capped); 5xx and dropped connections are
retried with bounded back-off and jitter. tweepy's own unbounded ``wait_on_rate_limit`` is off.
"""

from __future__ import annotations

import asyncio
import functools
import http
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient
from yarl import URL

from archive.hashtags import has_hashtag, wanted_tag
from archive.highlights import Engagement
from archive.models import EARLY_WINDOW, OPEN_STATUSES, Chat, ChatStatus, PostStatus
from archive.store import iso, parse_iso
from bot.config import XConfig, secret
from bot.platforms.base import Capabilities, Platform, PostError, SentPost
from bot.platforms.x.cost import XUsage, bump_usage, has_url, stored_cost_note
from bot.platforms.x.length import post_limit
from bot.platforms.x.search import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    page_messages,
    parse_x_time,
    posts_read,
    public_metrics,
    search_queries,
    since_key,
    snowflake_time,
    tweet_text,
)
from bot.retry import GiveUp, RetryError, retry
from scheduler.clock import Clock, SystemClock
from scheduler.limits import PostLimit

logger = logging.getLogger(__name__)

TWEEPY_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
_T = TypeVar("_T")
SEARCH_WINDOW = timedelta(days=7)  # how far back recent search reaches
LOOKUP_BATCH = 100
SWEEP_SETTLE = 10.0
"""Seconds after a chat's window ends before its last search: X's search may not return
posts of the last seconds at once (it refuses an ``end_time`` less than 10 s ago)."""


class XPostError(PostError, GiveUp):
    """An X call failed for good; retrying more (as the facilitator would) cannot help."""


class _Transient(Exception):
    """A failure worth retrying; `wait` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def redirect_middleware(base_url: str) -> aiohttp.ClientMiddlewareType:
    """Send tweepy's requests (it hard-codes api.twitter.com) to `base_url` instead.

    The Host header and the OAuth 1.0a signature keep the original URL, so a transparent proxy
    (or a test fake) sees exactly what X would.
    """
    target = URL(base_url)

    async def redirect(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if req.url.host in TWEEPY_HOSTS and target.host is not None:
            req.url = req.url.with_scheme(target.scheme).with_host(target.host)
            req.url = req.url.with_port(target.explicit_port)
        return await handler(req)

    return redirect


_LINK = re.compile(r"https?://\S+")


def comparable_text(text: str) -> str:
    """A post's text reduced for comparing what we posted with what X returns (after
    `tweet_text` restored it): every link one placeholder (X may normalise a link it expands),
    whitespace runs one space, ends trimmed."""
    return " ".join(_LINK.sub("\x00", text).split())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "error"


def reset_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until X's rate-limit window resets, rounded up: ``x-rate-limit-reset`` is in
    whole epoch seconds, so the window is only sure to be open a second after it."""
    reset = headers.get("x-rate-limit-reset", "")
    if not reset.isdigit():
        return None
    now = time.time() if now is None else now
    return float(max(0, math.ceil(int(reset) + 1 - now)))


class XPlatform(Platform):
    """Posts as the host (OAuth 1.0a user context); reads with the app's bearer token."""

    name: ClassVar[str] = "x"
    # An edit is a new version that recent search returns (reported under the first id);
    # search has no reactions of the kind we count; lookups tell deletions, and their
    # public_metrics the likes and reposts of the highlights; the account's own timeline
    # finds a post whose outcome a crash hid.
    capabilities: ClassVar[Capabilities] = Capabilities(
        edits=True, existence=True, find_posts=True, engagement=True
    )

    def __init__(
        self,
        config: XConfig,
        *,
        environ: Mapping[str, str],
        clock: Clock | None = None,
        attempts: int = 4,
        backoff: float = 1.0,
        rate_wait_cap: float = 900.0,
        recheck_interval: float = 24 * 3600.0,
        sweep_settle: float = SWEEP_SETTLE,
    ) -> None:
        super().__init__()
        self.config = config
        self.environ = environ
        self.clock: Clock = clock or SystemClock()
        self.attempts = attempts
        self.backoff = backoff
        self.rate_wait_cap = rate_wait_cap
        self.recheck_interval = recheck_interval
        self.sweep_settle = sweep_settle
        self.client: AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._search_limit: tuple[int, float] | None = None  # (remaining, reset epoch)
        # One search of a hashtag at a time (the poll loop, a sweep before publishing): both
        # read and move the same since_id.
        self._searching = asyncio.Lock()
        # public_metrics read by the last deletion re-check, until `engagement` takes them.
        self._metrics: dict[str, Engagement] = {}

    # ---- wiring ---------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        access_token = secret(cfg.access_token_env, self.environ)
        self.client = AsyncClient(
            bearer_token=secret(cfg.bearer_token_env, self.environ),
            consumer_key=secret(cfg.consumer_key_env, self.environ),
            consumer_secret=secret(cfg.consumer_secret_env, self.environ),
            access_token=access_token,
            access_token_secret=secret(cfg.access_token_secret_env, self.environ),
            return_type=aiohttp.ClientResponse,  # keeps the x-rate-limit-* headers
            wait_on_rate_limit=False,
        )
        middlewares = (redirect_middleware(cfg.api_base_url),) if cfg.api_base_url else ()
        self._session = aiohttp.ClientSession(
            middlewares=middlewares, timeout=aiohttp.ClientTimeout(total=30)
        )
        self.client.session = self._session
        # X issues user-context access tokens as "<user id>-<secret part>".
        user_id = access_token.split("-", 1)[0]
        self.bot_user_id = user_id if user_id.isdigit() else ""
        self._stopping.clear()
        if self.store is not None:
            self._tasks = [
                asyncio.create_task(self.supervised(self._poll_loop, "capture"), name="x-poll"),
                asyncio.create_task(
                    self.supervised(self._recheck_loop, "deletion re-checks"), name="x-recheck"
                ),
            ]
        else:
            logger.warning("x: no store given; capture and deletion re-checks are off")

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.client = None

    # ---- requests -------------------------------------------------------------------------

    def _api(self) -> AsyncClient:
        if self.client is None:
            raise XPostError("the X platform is not started")
        return self.client

    async def _request(
        self, what: str, call: Callable[[], Awaitable[aiohttp.ClientResponse]]
    ) -> dict[str, Any]:
        """One API call with X's failure rules and bounded retries; returns the JSON body or
        raises XPostError (``transient`` when the retries ran out)."""
        return await self._retrying(what, lambda: self._call(what, call))

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """``attempt()`` until it succeeds, waiting out rate limits (the reset X gives, capped)
        and backing off on server and connection failures; XPostError when it gives up."""
        try:
            return await retry(
                attempt,
                what=f"x: {what}",
                attempts=self.attempts,
                base=self.backoff,
                cap=self.rate_wait_cap,
                retry_on=(_Transient,),
                delay_hint=lambda exc: exc.wait if isinstance(exc, _Transient) else None,
            )
        except RetryError as exc:
            raise XPostError(
                f"{what} failed after {self.attempts} attempts: {exc.__cause__}", transient=True
            ) from exc

    async def _call(
        self, what: str, call: Callable[[], Awaitable[aiohttp.ClientResponse]]
    ) -> dict[str, Any]:
        """One attempt: the JSON body, or `_Transient` / `XPostError` by the status code,
        whatever the body (X's 429 is text/plain, which tweepy cannot parse)."""
        try:
            response = await call()
        except tweepy.HTTPException as exc:
            self._note_limits(exc.response.url.path, exc.response.headers)
            raise self._failure(what, exc.response.status, exc.response.headers, exc) from exc
        except aiohttp.ContentTypeError as exc:  # an error body that is not X's JSON
            headers: Mapping[str, str] = exc.headers or {}
            self._note_limits(exc.request_info.url.path, headers)
            raise self._failure(what, exc.status, headers, None) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise _Transient(f"connection to X failed: {exc!r}") from exc
        except TimeoutError as exc:
            raise _Transient("X did not answer in time") from exc
        self._note_limits(response.url.path, response.headers)
        body = await response.json()
        return body if isinstance(body, dict) else {}

    def _failure(
        self,
        what: str,
        status: int,
        headers: Mapping[str, str],
        exc: tweepy.HTTPException | None,
    ) -> Exception:
        """The error for an answer with this status: what to retry, what to give up on."""
        messages = [_one_line(m) for m in exc.api_messages if m] if exc is not None else []
        detail = "; ".join(messages) or f"{status} {_phrase(status)}"
        if status == 429:
            return _Transient("rate limited by X (429)", reset_wait(headers))
        if status >= 500:
            return _Transient(f"X server error: {status} {_phrase(status)}")
        if status == 401:
            return XPostError(
                f"X rejected the credentials while {what} (401); check the keys in "
                f"{self.config.consumer_key_env}, {self.config.access_token_env} "
                f"and {self.config.bearer_token_env}"
            )
        if status == 402:
            return XPostError(
                f"X credits are exhausted: {what} was refused (402); "
                "top up the account's credits to resume"
            )
        if status == 403:
            return XPostError(f"X refused {what} (403 forbidden): {detail}")
        return XPostError(f"X refused {what}: {detail}")

    def _note_limits(self, path: str, headers: Mapping[str, str]) -> None:
        """Remember recent search's rate limit from any answer that carries it (errors too)."""
        if path.endswith("/search/recent"):
            remaining = headers.get("x-rate-limit-remaining", "")
            reset = headers.get("x-rate-limit-reset", "")
            if remaining.isdigit() and reset.isdigit():
                self._search_limit = (int(remaining), float(reset))

    async def _add_usage(self, chat_id: str | None, delta: XUsage) -> None:
        if self.store is None or chat_id is None:
            return
        await self.store.write(bump_usage, chat_id, delta, self.config)

    # ---- posting --------------------------------------------------------------------------

    @property
    def post_limit(self) -> PostLimit:
        return post_limit(self.config.max_post_length)

    async def _send(self, channel: str, text: str) -> SentPost:
        """Post `text` as a standalone post from the host account."""
        return await self._tweet(text)

    async def post_action(self, chat: Chat, action_key: str, channel: str, text: str) -> SentPost:
        """A chat's post, standalone; its cost goes to that chat (the first part of a split
        intro may not carry the hashtag the cost is otherwise attributed by)."""
        self.check_length(text)
        return await self._tweet(text, chat_id=chat.id)

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
        (``reply.in_reply_to_tweet_id``), the host account replying to itself, which X
        allows (only replies nobody summoned are refused)."""
        self.check_length(text)
        return await self._tweet(text, reply_to=previous.platform_message_id, chat_id=chat.id)

    async def _tweet(
        self, text: str, *, reply_to: str = "", chat_id: str | None = None
    ) -> SentPost:
        """Create a post (a reply to ``reply_to`` when given); its cost goes to ``chat_id``,
        or to the chat whose hashtag it carries."""
        client = self._api()
        options: dict[str, object] = {"text": text, "user_auth": True}
        if reply_to:
            options["in_reply_to_tweet_id"] = reply_to
        payload = await self._request("posting", functools.partial(client.create_tweet, **options))
        tweet_id = str((payload.get("data") or {}).get("id", ""))
        if not tweet_id:
            raise XPostError(f"X accepted the post but returned no id: {payload!r:.200}")
        url_post = has_url(text)
        await self._add_usage(
            chat_id or await self._chat_for_post(text),
            XUsage(posts=0 if url_post else 1, posts_with_url=1 if url_post else 0),
        )
        # When X made the post, by X's clock: the one its search reports answers by (an answer
        # posted right after the question must not seem older than it).
        posted_at = snowflake_time(tweet_id) if tweet_id.isdigit() else self.clock.now()
        return SentPost(tweet_id, posted_at, f"https://x.com/i/status/{tweet_id}")

    async def _chat_for_post(self, text: str) -> str | None:
        """The chat a post belongs to: the X chat nearest in time whose hashtag it carries."""
        if self.store is None:
            return None
        now = self.clock.now()
        chats = [
            c
            for c in await self.store.list_chats()
            if c.status != ChatStatus.CANCELLED
            and any(t.platform == self.name for t in c.targets)
            and has_hashtag(text, c.hashtag)
        ]
        if not chats:
            return None
        return min(chats, key=lambda c: abs((c.start - now).total_seconds())).id

    async def cost_note(self, chat: Chat) -> str:
        """The running cost line of a chat ('' when it has used nothing on X)."""
        if self.store is None:
            return ""
        return await self.store.read(stored_cost_note, chat.id, self.config)

    # ---- capture --------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.poll_once()
            except XPostError as exc:
                self.report_failure(f"x: capture failed: {exc}")
            except Exception:
                logger.warning("x: capture failed unexpectedly; retrying next poll", exc_info=True)
            await self._pause(self._poll_delay())

    def _poll_delay(self) -> float:
        delay = self.config.poll_interval
        if self._search_limit is not None:
            remaining, reset = self._search_limit
            if remaining <= 0:
                wait = reset_wait({"x-rate-limit-reset": str(int(reset))}) or 0.0
                delay = max(delay, min(self.rate_wait_cap, wait))
        return delay

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            pass

    async def _capture_chats(self) -> dict[str, list[Chat]]:
        """Chats inside their capture window (start - 15 min .. grace end), by hashtag (compared
        as `archive.hashtags` compares tags)."""
        assert self.store is not None
        now = self.clock.now()
        margin = timedelta(seconds=self.config.poll_interval)  # one last poll after grace
        groups: dict[str, list[Chat]] = {}
        for chat in await self.store.list_chats(OPEN_STATUSES):
            if not any(t.platform == self.name for t in chat.targets):
                continue
            if chat.start - EARLY_WINDOW <= now <= chat.grace_end + margin:
                groups.setdefault(wanted_tag(chat.hashtag), []).append(chat)
        return groups

    async def poll_once(self) -> int:
        """Search once for every live X chat's hashtag; returns the number of posts emitted."""
        total = 0
        for chats in (await self._capture_chats()).values():
            async with self._searching:
                total += await self._poll_hashtag(sorted(chats, key=lambda c: c.start))
        return total

    async def sweep(self, chat: Chat) -> None:
        """Search once more for `chat`, up to now, just before it is published: the poll
        loop may have searched last a whole interval before the window's end. Waits first
        until `sweep_settle` seconds after the window's end (at most that long), so X's
        search has the last seconds' posts. Does nothing before the adapter is started or
        for a chat whose window is out of recent search's 7-day reach."""
        if self.store is None or self.client is None:
            return
        wait = min(self.clock.seconds_until(chat.grace_end) + self.sweep_settle, self.sweep_settle)
        if wait > 0:
            await self._pause(wait)
        if chat.grace_end <= self.clock.now() - SEARCH_WINDOW:
            return
        async with self._searching:
            same_tag = (await self._capture_chats()).get(wanted_tag(chat.hashtag), [])
            chats = {c.id: c for c in [*same_tag, chat]}
            await self._poll_hashtag(sorted(chats.values(), key=lambda c: c.start))

    async def _poll_hashtag(self, chats: list[Chat]) -> int:
        assert self.store is not None
        hashtag = chats[0].hashtag
        key = since_key(hashtag)
        # Retried as a whole: after any wait (a long rate-limit reset) the request is built
        # again from the store (since_id, the question posts to follow), never replayed.
        pages = await self._retrying(
            f"searching {hashtag}", functools.partial(self._search_pages, chats)
        )
        # The newest post any query saw (each query's first page says its newest_id).
        tops = [str((page.get("meta") or {}).get("newest_id") or "") for page in pages]
        newest = max((t for t in tops if t.isdigit()), key=int, default="")
        messages = page_messages(pages, bot_user_id=self.bot_user_id)
        for message in messages:
            await self.emit(message)  # returns once the message is committed
        if newest:
            await self.store.set_state(key, newest)
        await self._add_usage(chats[0].id, XUsage(reads=sum(posts_read(p) for p in pages)))
        if messages:
            logger.debug("x: %d posts for %s", len(messages), hashtag)
        return len(messages)

    async def _search_pages(self, chats: list[Chat]) -> list[dict[str, Any]]:
        """Every page of one search for these chats, built from the store as it is now."""
        assert self.store is not None
        client = self._api()
        hashtag = chats[0].hashtag
        since_id = await self.store.get_state(since_key(hashtag))
        params: dict[str, Any] = {
            "max_results": self.config.max_results,
            "expansions": list(EXPANSIONS),
            "tweet_fields": list(TWEET_FIELDS),
            "user_fields": list(USER_FIELDS),
        }
        window_start = chats[0].start - EARLY_WINDOW
        oldest = self.clock.now() - SEARCH_WINDOW + timedelta(minutes=1)
        if (
            since_id
            and since_id.isdigit()
            and snowflake_time(since_id) >= max(window_start, oldest)
        ):
            params["since_id"] = since_id
        else:
            # No since_id yet, or one left by an earlier chat of the hashtag, or one older
            # than X's 7-day window (which X refuses; older posts are out of reach anyway).
            params["start_time"] = max(window_start, oldest)
        pages: list[dict[str, Any]] = []
        for query in search_queries(hashtag, await self._conversations(chats)):
            token: str | None = None
            while True:
                # Walk every page of every query before emitting, so since_id only moves
                # past a complete batch.
                call = functools.partial(
                    client.search_recent_tweets, query, next_token=token, **params
                )
                payload = await self._call(f"searching {hashtag}", call)
                pages.append(payload)
                token = (payload.get("meta") or {}).get("next_token")
                if not token:
                    break
        return pages

    async def _conversations(self, chats: Sequence[Chat]) -> list[str]:
        """Ids of the bot's X posts for these chats, newest first (replies and quotes of them
        may lack the tag)."""
        assert self.store is not None
        sent: list[tuple[datetime, str]] = []
        for chat in chats:
            for post in await self.store.posts(chat.id):
                if post.platform == self.name and post.status == PostStatus.SENT and post.posted_at:
                    sent.append((post.posted_at, post.platform_message_id))
        return [post_id for _, post_id in sorted(sent, reverse=True) if post_id.isdigit()]

    # ---- deletions ------------------------------------------------------------------------

    async def find_post(self, channel: str, text: str, after: datetime) -> SentPost | None:
        """Our own post with this text since `after`, from the account's timeline
        (GET /2/users/:id/tweets, newest first, retweets excluded; docs.x.com "User Posts
        timeline"), so a crash between posting and recording never posts twice.

        Texts are compared once X's escaping and t.co links are undone (`tweet_text`),
        links and whitespace normalised (`comparable_text`). One
        page of 100 posts (a chat's own posts are the newest); the reads are billed to the
        chat. None when nothing matches; raises `XPostError` when X cannot be asked, so the
        facilitator keeps the step pending instead of posting again blindly.
        """
        client = self._api()
        if not self.bot_user_id:
            me = await self._request(
                "finding our account", functools.partial(client.get_me, user_auth=True)
            )
            self.bot_user_id = str((me.get("data") or {}).get("id", ""))
        since = max(after, self.clock.now() - SEARCH_WINDOW)
        call = functools.partial(
            client.get_users_tweets,
            self.bot_user_id,
            start_time=since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            exclude=["retweets"],
            max_results=100,
            tweet_fields=["created_at", "entities"],
        )
        payload = await self._request("looking for our earlier post", call)
        await self._add_usage(await self._chat_for_post(text), XUsage(reads=posts_read(payload)))
        wanted = comparable_text(text)
        for tweet in payload.get("data") or ():
            if comparable_text(tweet_text(tweet)) != wanted:
                continue
            tweet_id = str(tweet["id"])
            if tweet.get("created_at"):
                posted_at = parse_x_time(str(tweet["created_at"]))
            else:
                posted_at = snowflake_time(tweet_id) if tweet_id.isdigit() else since
            return SentPost(tweet_id, posted_at, f"https://x.com/i/status/{tweet_id}")
        return None

    async def existing(self, platform_ids: Sequence[str]) -> set[str] | None:
        """Which captured posts X still returns (100 per lookup); None if X cannot be asked."""
        ids = list(dict.fromkeys(i for i in platform_ids if i.isdigit()))
        if not ids:
            return set()
        client = self._api()
        found: set[str] = set()
        reads = 0
        self._metrics.clear()  # only the latest re-check's counts wait for `engagement`
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            call = functools.partial(
                client.get_tweets, batch, tweet_fields=["edit_history_tweet_ids", "public_metrics"]
            )
            try:
                payload = await self._request("looking up captured posts", call)
            except XPostError as exc:
                logger.warning("x: cannot tell which posts still exist: %s", exc)
                return None
            reads += posts_read(payload)
            self._metrics.update(public_metrics(payload))
            for tweet in payload.get("data") or ():
                found.add(str(tweet["id"]))
                found.update(str(i) for i in tweet.get("edit_history_tweet_ids") or ())
            for error in payload.get("errors") or ():
                # Only "not found" means deleted; a post we may not see (protected) stays.
                if "resource-not-found" not in str(error.get("type", "")):
                    found.add(str(error.get("resource_id") or error.get("value") or ""))
        if self.store is not None:
            await self._add_usage(await self.store.message_chat(self.name, ids[0]), XUsage(reads))
        return found & set(ids)

    async def engagement(self, platform_ids: Sequence[str]) -> Mapping[str, Engagement]:
        """Likes, reposts, quotes and replies of each post (``public_metrics``). The
        deletion re-check just before publishing (`existing`) already read them in the same
        lookups, so they cost nothing more; only posts it did not read are looked up (100
        a call, counted in the chat's cost estimate). Raises XPostError when X cannot be
        asked."""
        ids = list(dict.fromkeys(i for i in platform_ids if i.isdigit()))
        counts = {i: self._metrics.pop(i) for i in ids if i in self._metrics}
        missing = [i for i in ids if i not in counts]
        reads = 0
        for start in range(0, len(missing), LOOKUP_BATCH):
            batch = missing[start : start + LOOKUP_BATCH]
            call = functools.partial(
                self._api().get_tweets,
                batch,
                tweet_fields=["edit_history_tweet_ids", "public_metrics"],
            )
            payload = await self._request("reading likes and reposts", call)
            reads += posts_read(payload)
            found = public_metrics(payload)
            counts.update((i, found[i]) for i in batch if i in found)
        if reads and self.store is not None:
            await self._add_usage(await self.store.message_chat(self.name, ids[0]), XUsage(reads))
        return counts

    async def _recheck_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.recheck_deletions()
            except Exception:
                logger.warning("x: re-checking deletions failed", exc_info=True)
            await self._pause(self.recheck_interval)

    async def recheck_deletions(self) -> int:
        """Look up the posts of chats published in the last `recheck_days` again; returns gone."""
        assert self.store is not None
        now = self.clock.now()
        total = 0
        for chat in await self.store.list_chats([ChatStatus.PUBLISHED]):
            if not any(t.platform == self.name for t in chat.targets):
                continue
            if now > chat.grace_end + timedelta(days=self.config.recheck_days):
                continue
            key = f"x:rechecked:{chat.id}"
            last = await self.store.get_state(key)
            if last is None:  # publishing has just swept it
                await self.store.set_state(key, iso(now))
                continue
            if (now - parse_iso(last)).total_seconds() < self.recheck_interval:
                continue
            total += await self._recheck_chat(chat, now)
            await self.store.set_state(key, iso(now))
        return total

    async def _recheck_chat(self, chat: Chat, now: datetime) -> int:
        assert self.store is not None
        ids = await self.store.message_ids(chat.id, self.name)
        still = await self.existing(ids)
        if still is None:
            return 0
        gone = [i for i in ids if i not in still]
        for platform_id in gone:
            await self.store.mark_deleted(self.name, platform_id, now)
        if gone:
            logger.info("x: %d posts of %s were deleted; regenerating", len(gone), chat.id)
            if self.services is not None:
                await self.services.republish(chat)
        return len(gone)
