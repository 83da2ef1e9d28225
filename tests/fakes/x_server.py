"""A loopback fake of the X (Twitter) API v2 that the real tweepy ``AsyncClient`` talks to.

tweepy 4.17 hard-codes ``https://api.twitter.com`` in ``AsyncBaseClient.request`` (there is no
host attribute to override), so the redirect happens one layer down: an aiohttp client middleware
(:func:`loopback_middleware`) rewrites requests for api.twitter.com / api.x.com to this server.
Give tweepy such a session through its ``session`` attribute (``FakeX.client()`` does it), and
production code needs nothing more than a way to accept an injected ``aiohttp.ClientSession``.

The fake keeps what matters to the bot close to the real service: OAuth 1.0a signatures are
verified, ids are snowflakes of the creation time, recent search covers 7 days of the fake's
clock and never returns retweets, errors use X's problem-details bodies, and every response
carries the ``x-rate-limit-*`` headers of a 15-minute window.

Worth knowing when writing tests against it:

- aiohttp silently retries an idempotent request (GET, DELETE) once when the server drops the
  connection, so ``drop_next(path)`` is invisible to a GET; use ``times=2`` to make tweepy raise
  ``aiohttp.ServerDisconnectedError`` (tweepy does not wrap aiohttp's connection errors).
- tweepy parses every error body as JSON; a non-JSON error body (``fail_next(..., body="<html>")``)
  escapes as ``aiohttp.ContentTypeError`` instead of a tweepy exception. X's own 429 is such a
  body: ``text/plain`` "Rate limit exceeded" (as recorded in X's published API collection),
  with the ``x-rate-limit-*`` headers, the reset in whole epoch seconds; the fake answers so.
- With ``wait_on_rate_limit=True`` tweepy sleeps until ``x-rate-limit-reset`` by the *real*
  clock; inject a 429 with a past reset header rather than relying on the fake's clock.
- Edits make a new id; search returns only the latest version, lookup returns any version.
- ``users_left_out`` holds users X leaves out of ``includes`` (an account suspended after
  it posted): their posts still come back, with a ``resource-not-found`` user error.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import http
import itertools
import json
import logging
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NamedTuple

import aiohttp
import tweepy.asynchronous
from aiohttp import web
from oauthlib.oauth1.rfc5849 import signature as oauth_sig
from oauthlib.oauth1.rfc5849.utils import escape, parse_authorization_header, unescape
from yarl import URL

log = logging.getLogger(__name__)

X_API_HOSTS = frozenset({"api.twitter.com", "api.x.com"})
TWEPOCH_MS = 1288834974657  # the epoch of X's snowflake ids
RECENT_WINDOW = timedelta(days=7)
PROBLEMS = "https://api.twitter.com/2/problems/"

DEFAULT_RATE_LIMITS: Mapping[str, int] = {
    "GET /2/tweets/search/recent": 450,
    "GET /2/tweets": 300,
    "GET /2/tweets/{id}": 450,
    "POST /2/tweets": 100,
    "DELETE /2/tweets/{id}": 50,
    "GET /2/users/me": 75,
    "GET /2/users/{id}/tweets": 1500,
}
TWEET_FIELDS = frozenset(
    "article attachments author_id card_uri community_id context_annotations conversation_id "
    "created_at display_text_range edit_controls edit_history_tweet_ids entities geo id "
    "in_reply_to_user_id lang media_metadata non_public_metrics note_tweet organic_metrics "
    "possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings scopes "
    "source text withheld".split()
)
USER_FIELDS = frozenset(
    "affiliation confirmed_email connection_status created_at description entities id "
    "is_identity_verified location most_recent_tweet_id name parody pinned_tweet_id "
    "profile_banner_url profile_image_url protected public_metrics receives_your_dm subscription "
    "subscription_type url username verified verified_followers_count verified_type "
    "withheld".split()
)
TWEET_EXPANSIONS = frozenset(
    {
        "author_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
        "in_reply_to_user_id",
        "entities.mentions.username",
        "attachments.media_keys",
        "attachments.poll_ids",
        "geo.place_id",
        "edit_history_tweet_ids",
    }
)
OTHER_FIELD_PARAMS = ("media.fields", "place.fields", "poll.fields")
SEARCH_PARAMS = frozenset(
    {"query", "start_time", "end_time", "since_id", "until_id", "max_results", "next_token"}
    | {"pagination_token", "sort_order", "expansions", "tweet.fields", "user.fields"}
    | set(OTHER_FIELD_PARAMS)
)
LOOKUP_PARAMS = frozenset({"ids", "expansions", "tweet.fields", "user.fields", *OTHER_FIELD_PARAMS})
TIMELINE_PARAMS = frozenset(
    {"start_time", "end_time", "since_id", "until_id", "max_results", "pagination_token"}
    | {"exclude", "expansions", "tweet.fields", "user.fields"}
    | set(OTHER_FIELD_PARAMS)
)
HASHTAG_RE = re.compile(r"(?<![\w&/#])[#＃](\w+)")
MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")
URL_RE = re.compile(r"https?://\S+")
_NEXT_TOKEN_PREFIX = "b26v89c19zqg8o3f"
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
GONE_PARENT = "You attempted to reply to a Tweet that is deleted or not visible to you."
UNSUMMONED = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise "
    "engaged by the author of the post you are replying to."
)
APP_ONLY_FORBIDDEN = {
    "title": "Unsupported Authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "type": PROBLEMS + "unsupported-authentication",
    "status": 403,
}
USER_CONTEXT_ONLY = frozenset({"POST /2/tweets", "DELETE /2/tweets/{id}", "GET /2/users/me"})


def snowflake_time(tweet_id: int | str) -> datetime:
    """The creation instant encoded in an X snowflake id."""
    ms = (int(tweet_id) >> 22) + TWEPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def x_time(at: datetime) -> str:
    """Format an instant the way X does: ``2026-01-02T03:04:05.000Z``."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def loopback_middleware(base_url: str) -> aiohttp.ClientMiddlewareType:
    """An aiohttp client middleware that sends X API requests to ``base_url`` instead."""
    target = URL(base_url)
    host = target.host
    if host is None:
        raise ValueError(f"base_url needs a host: {base_url!r}")

    async def redirect(
        req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if req.url.host in X_API_HOSTS:
            # The Host header stays api.twitter.com, as the OAuth 1.0a signature needs.
            req.url = req.url.with_scheme(target.scheme).with_host(host).with_port(target.port)
        return await handler(req)

    return redirect


class FakeClock:
    """The fake's notion of now: follows real time until ``set``, then stays put unless advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self._frozen: datetime | None = None
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now(UTC)

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._frozen = self.now() + delta


class RecordedRequest(NamedTuple):
    """One request as the fake saw it; ``status`` is 0 for a dropped connection."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    auth: str  # "bearer", "oauth1" or "" (missing or invalid)
    json: Any = None


@dataclass
class FakeTweet:
    """A stored post; ``deleted`` and ``superseded_by`` change as the test story goes on."""

    id: str
    author_id: str
    text: str
    created_at: datetime
    conversation_id: str
    reply_to: str | None = None
    quote_of: str | None = None
    retweet_of: str | None = None
    in_reply_to_user_id: str | None = None
    edit_history: list[str] = field(default_factory=list)
    deleted: bool = False
    superseded_by: str | None = None
    likes: int = 0  # like_count in public_metrics (`FakeX.like`)


@dataclass
class Usage:
    """What a pay-per-use account would be billed for."""

    posts_read: int = 0
    users_read: int = 0
    posts_created: int = 0


@dataclass
class _Injection:
    path: str
    method: str | None
    status: int  # 0 means: close the connection without a response
    times: int
    headers: Mapping[str, str] | None = None
    body: Any = None
    content_type: str = ""


@dataclass
class _Bucket:
    limit: int
    remaining: int
    reset: datetime


class XProblem(Exception):
    """Raised inside a handler to answer with an X problem-details error."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def problem(status: int, detail: str | None = None, title: str | None = None) -> dict[str, Any]:
    """X's generic ``about:blank`` problem body for ``status``."""
    phrase = http.HTTPStatus(status).phrase
    return {
        "title": title or phrase,
        "detail": detail or phrase,
        "type": "about:blank",
        "status": status,
    }


def forbidden(detail: str) -> XProblem:
    """The 403 X returns when it refuses an action."""
    return XProblem(403, problem(403, detail))


def invalid_request(parameter: str, value: str, message: str) -> XProblem:
    """The 400 body X returns when a query parameter is invalid."""
    return XProblem(
        400,
        {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEMS + "invalid-request",
        },
    )


def not_found_error(tweet_id: str, parameter: str) -> dict[str, Any]:
    """A partial error for a missing tweet, as X puts it in ``errors``."""
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with {parameter}: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": parameter,
        "resource_id": tweet_id,
        "type": PROBLEMS + "resource-not-found",
    }


def user_not_found_error(user_id: str, parameter: str) -> dict[str, Any]:
    """The partial error X puts in ``errors`` for a user it leaves out of ``includes``."""
    return {
        "value": user_id,
        "detail": f"Could not find user with {parameter}: [{user_id}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": user_id,
        "type": PROBLEMS + "resource-not-found",
    }


RATE_LIMITED = "Rate limit exceeded\n"
"""X's 429 body: plain text, not a problem-details JSON."""


def default_failure_body(status: int, host_id: str) -> dict[str, Any] | str:
    """The body X sends with an error ``status`` (402 is the pay-per-use CreditsDepleted;
    429 is plain text)."""
    if status == 429:
        return RATE_LIMITED
    if status == 402:
        return {
            "title": "CreditsDepleted",
            "detail": f"Your enrolled account [{host_id}] does not have any credits to fulfill this request.",
            "type": PROBLEMS + "credits",
        }
    if status == 400:
        return invalid_request("query", "", "Invalid request").body
    return problem(status)


class FakeX:
    """The fake X API v2 on 127.0.0.1 and an ephemeral port; use as an async context manager."""

    def __init__(
        self,
        *,
        host: Mapping[str, str] | None = None,
        bearer_token: str = "fake-bearer-token",
        consumer_key: str = "fake-consumer-key",
        consumer_secret: str = "fake-consumer-secret",
        access_token_secret: str = "fake-access-token-secret",
        clock: FakeClock | None = None,
        rate_limits: Mapping[str, int] | None = None,
        rate_window: timedelta = timedelta(minutes=15),
        block_unsummoned_replies: bool = True,
    ) -> None:
        self.host_user = dict(
            host
            or {"id": "1500000000000000001", "username": "tweetchat_host", "name": "Tweetchat Host"}
        )
        self.bearer_token = bearer_token
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        # tweepy reads the user id from the access token's prefix, as X issues them.
        self.access_token = f"{self.host_user['id']}-fakeaccesstoken"
        self.access_token_secret = access_token_secret
        self.clock = clock or FakeClock()
        self.rate_limits = {**DEFAULT_RATE_LIMITS, **(rate_limits or {})}
        self.rate_window = rate_window
        self.block_unsummoned_replies = block_unsummoned_replies
        self.users: dict[str, dict[str, str]] = {self.host_user["id"]: self.host_user}
        # Users X leaves out of ``includes`` (an account suspended or deactivated after it
        # posted): their posts still come back, with a partial error in place of the user.
        self.users_left_out: set[str] = set()
        self.tweets: dict[str, FakeTweet] = {}
        self.requests: list[RecordedRequest] = []
        self.usage = Usage()
        self._injections: list[_Injection] = []
        self._buckets: dict[str, _Bucket] = {}
        self._sequence = itertools.count()
        self._runner: web.AppRunner | None = None
        self._sessions: list[aiohttp.ClientSession] = []
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeX:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/2/tweets", self._create_tweet)
        app.router.add_get("/2/tweets", self._lookup)
        app.router.add_get("/2/tweets/search/recent", self._search)
        app.router.add_get("/2/tweets/{id}", self._lookup_one)
        app.router.add_delete("/2/tweets/{id}", self._delete)
        app.router.add_get("/2/users/me", self._me)
        app.router.add_get("/2/users/{id}/tweets", self._user_tweets)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()
        self._sessions.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        """Keyword arguments for ``tweepy.asynchronous.AsyncClient`` that this fake accepts."""
        return {
            "bearer_token": self.bearer_token,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
        }

    def session(self) -> aiohttp.ClientSession:
        """A client session whose X API requests reach this fake; closed with the fake."""
        session = aiohttp.ClientSession(middlewares=(loopback_middleware(self.base_url),))
        self._sessions.append(session)
        return session

    def client(self, **kwargs: Any) -> tweepy.asynchronous.AsyncClient:
        """A real tweepy ``AsyncClient`` wired to this fake (``kwargs`` override credentials)."""
        client = tweepy.asynchronous.AsyncClient(**{**self.credentials, **kwargs})
        client.session = self.session()
        return client

    # -- test helpers ------------------------------------------------------------------------

    def add_tweet(
        self,
        author: Mapping[str, str],
        text: str,
        *,
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Store a post by ``author`` (a dict with id, username, name) and return its id."""
        for name, ref in (
            ("reply_to", reply_to),
            ("quote_of", quote_of),
            ("retweet_of", retweet_of),
        ):
            if ref is not None and ref not in self.tweets:
                raise KeyError(f"{name}: no tweet {ref}")
        self.users.setdefault(str(author["id"]), {k: str(v) for k, v in author.items()})
        tweet_id = self._new_id(at or self.clock.now())
        parent = self.tweets[reply_to] if reply_to else None
        if retweet_of:
            original = self.tweets[retweet_of]
            text = f"RT @{self.users[original.author_id]['username']}: {original.text}"
        self.tweets[tweet_id] = FakeTweet(
            id=tweet_id,
            author_id=str(author["id"]),
            text=text,
            created_at=snowflake_time(tweet_id),
            conversation_id=parent.conversation_id if parent else tweet_id,
            reply_to=reply_to,
            quote_of=quote_of,
            retweet_of=retweet_of,
            in_reply_to_user_id=parent.author_id if parent else None,
            edit_history=[tweet_id],
        )
        return tweet_id

    def edit_tweet(self, tweet_id: str, text: str, *, at: datetime | None = None) -> str:
        """Edit a post as X does: a new id that shares (and extends) the edit history."""
        old = self.tweets[tweet_id]
        new_id = self._new_id(at or self.clock.now())
        history = [*old.edit_history, new_id]
        self.tweets[new_id] = FakeTweet(
            id=new_id,
            author_id=old.author_id,
            text=text,
            created_at=snowflake_time(new_id),
            conversation_id=old.conversation_id,
            reply_to=old.reply_to,
            quote_of=old.quote_of,
            in_reply_to_user_id=old.in_reply_to_user_id,
            edit_history=history,
        )
        for version_id in old.edit_history:
            self.tweets[version_id].edit_history = history
            self.tweets[version_id].superseded_by = new_id
        return new_id

    def like(self, tweet_id: str, times: int = 1) -> None:
        """``times`` accounts like the post (its ``public_metrics.like_count``)."""
        self.tweets[tweet_id].likes += times

    def delete_tweet(self, tweet_id: str) -> None:
        """Delete a post as its author would (every version of an edited post goes)."""
        for version_id in self.tweets[tweet_id].edit_history:
            self.tweets[version_id].deleted = True

    def posts_by_host(self) -> list[FakeTweet]:
        """The host account's live posts, oldest first."""
        host_id = self.host_user["id"]
        return sorted(
            (t for t in self.tweets.values() if t.author_id == host_id and not t.deleted),
            key=lambda t: int(t.id),
        )

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Logged requests for ``path`` (optionally one method only)."""
        return [r for r in self.requests if r.path == path and method in (None, r.method)]

    def fail_next(
        self,
        path: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        method: str | None = None,
        content_type: str = "",
    ) -> None:
        """Answer the next ``times`` requests for ``path`` with ``status``.

        ``path`` is concrete (``/2/tweets/123``) or a route (``/2/tweets/{id}``). With ``headers``
        None a 429 carries the rate-limit headers, reset included; pass ``{}`` for none at all.
        ``body`` None gives X's body for the status; a dict is sent as JSON, str/bytes verbatim
        as ``content_type`` (X's 429 is text/plain; an error page of a proxy, text/html).
        """
        self._injections.append(
            _Injection(path, method, status, times, headers, body, content_type)
        )

    def drop_next(self, path: str, times: int = 1, *, method: str | None = None) -> None:
        """Close the connection of the next ``times`` requests for ``path`` without answering."""
        self._injections.append(_Injection(path, method, 0, times))

    # -- plumbing ----------------------------------------------------------------------------

    def _new_id(self, at: datetime) -> str:
        ms = int(at.timestamp() * 1000) - TWEPOCH_MS
        # Snowflakes sort by time; the low bits keep ids unique within one millisecond.
        candidate = (ms << 22) | (next(self._sequence) & 0x3FFFFF)
        while str(candidate) in self.tweets:
            candidate += 1
        return str(candidate)

    def _take_injection(self, request: web.Request, route: str) -> _Injection | None:
        for injection in self._injections:
            if injection.path in (request.path, route) and injection.method in (
                None,
                request.method,
            ):
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock.now()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset:
            limit = self.rate_limits.get(key, 300)
            bucket = self._buckets[key] = _Bucket(limit, limit, now + self.rate_window)
        return bucket

    @staticmethod
    def _rate_headers(bucket: _Bucket) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(bucket.limit),
            "x-rate-limit-remaining": str(bucket.remaining),
            "x-rate-limit-reset": str(int(bucket.reset.timestamp())),
        }

    def _auth_kind(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return "bearer" if hmac.compare_digest(header[7:], self.bearer_token) else ""
        if header.startswith("OAuth ") and self._oauth1_valid(request, header):
            return "oauth1"
        return ""

    def _oauth1_valid(self, request: web.Request, header: str) -> bool:
        try:
            params = {k: unescape(v) for k, v in parse_authorization_header(header)}
        except ValueError:
            return False
        if (
            params.get("oauth_consumer_key") != self.consumer_key
            or params.get("oauth_token") != self.access_token
            or params.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return False
        # The client signed the URL it meant to reach: https unless it spoke to us directly.
        scheme = "http" if request.host == f"127.0.0.1:{self.port}" else "https"
        uri = f"{scheme}://{request.host}{request.rel_url.raw_path}"
        collected = oauth_sig.collect_parameters(
            uri_query=request.rel_url.raw_query_string, headers={"Authorization": header}
        )
        base = oauth_sig.signature_base_string(
            request.method,
            oauth_sig.base_string_uri(uri),
            oauth_sig.normalize_parameters(collected),
        )
        key = f"{escape(self.consumer_secret)}&{escape(self.access_token_secret)}"
        digest = hmac.digest(key.encode(), base.encode(), "sha1")
        expected = base64.b64encode(digest).decode()
        return hmac.compare_digest(expected, params.get("oauth_signature", ""))

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        route = (
            request.match_info.route.resource.canonical
            if request.match_info.route.resource
            else request.path
        )
        key = f"{request.method} {route}"
        payload = await request.text() if request.can_read_body else None
        with contextlib.suppress(ValueError, TypeError):
            payload = json.loads(payload)  # type: ignore[arg-type]
        query = dict(request.query.items())
        auth = self._auth_kind(request)
        injection = self._take_injection(request, route)
        if injection is not None and injection.status == 0:
            log.debug("dropping the connection of %s %s", request.method, request.path)
            self.requests.append(
                RecordedRequest(request.method, request.path, query, 0, auth, payload)
            )
            assert request.transport is not None
            request.transport.abort()
            return web.Response()  # never sent; aiohttp ignores the broken pipe quietly
        if injection is not None:
            response = self._injected_response(injection, key)
        else:
            response = await self._answer(request, handler, key, auth)
        self.requests.append(
            RecordedRequest(request.method, request.path, query, response.status, auth, payload)
        )
        return response

    def _injected_response(self, injection: _Injection, key: str) -> web.Response:
        bucket = self._bucket(key)
        if injection.headers is not None:
            headers = dict(injection.headers)
        elif injection.status == 429:
            headers = {**self._rate_headers(bucket), "x-rate-limit-remaining": "0"}
        else:
            headers = self._rate_headers(bucket)
        body = (
            injection.body
            if injection.body is not None
            else default_failure_body(injection.status, self.host_user["id"])
        )
        if isinstance(body, dict):
            return web.json_response(body, status=injection.status, headers=headers)
        if isinstance(body, str):
            body = body.encode()
        kind = injection.content_type or ("text/plain" if injection.status == 429 else "text/html")
        return web.Response(body=body, status=injection.status, headers=headers, content_type=kind)

    async def _answer(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        key: str,
        auth: str,
    ) -> web.Response:
        if key not in self.rate_limits:  # an endpoint the fake does not implement
            return web.json_response(problem(404, "Sorry, that page does not exist"), status=404)
        bucket = self._bucket(key)
        try:
            if not auth:
                raise XProblem(401, problem(401))
            if key in USER_CONTEXT_ONLY and auth == "bearer":
                raise XProblem(403, APP_ONLY_FORBIDDEN)
            if bucket.remaining <= 0:
                return web.Response(
                    text=RATE_LIMITED,
                    status=429,
                    headers=self._rate_headers(bucket),
                    content_type="text/plain",
                )
            bucket.remaining -= 1
            response = await handler(request)
        except XProblem as exc:
            response = web.json_response(exc.body, status=exc.status)
        assert isinstance(response, web.Response)
        response.headers.update(self._rate_headers(bucket))
        return response

    # -- endpoints ---------------------------------------------------------------------------

    async def _create_tweet(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise XProblem(400, problem(400, "The request body is not valid JSON."))
        text = str(body.get("text", ""))
        if not text:
            raise XProblem(400, problem(400, "Post text must not be empty."))
        if weighted_length(text) > 280:
            raise forbidden(TOO_LONG)
        if any(t.text == text for t in self.posts_by_host()):
            raise forbidden(DUPLICATE)
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        quote_of = body.get("quote_tweet_id")
        for ref in filter(None, (reply_to, quote_of)):
            if ref not in self.tweets or self.tweets[ref].deleted:
                raise forbidden(GONE_PARENT)
        if reply_to and self.block_unsummoned_replies and not self._summoned(self.tweets[reply_to]):
            raise forbidden(UNSUMMONED)
        tweet_id = self.add_tweet(self.host_user, text, reply_to=reply_to, quote_of=quote_of)
        self.usage.posts_created += 1
        return web.json_response(
            {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
            status=201,
        )

    def _summoned(self, target: FakeTweet) -> bool:
        host = self.host_user
        if target.author_id == host["id"] or target.in_reply_to_user_id == host["id"]:
            return True
        if target.quote_of and self.tweets[target.quote_of].author_id == host["id"]:
            return True
        return host["username"].lower() in (m.lower() for m in MENTION_RE.findall(target.text))

    async def _delete(self, request: web.Request) -> web.Response:
        tweet_id = request.match_info["id"]
        tweet = self.tweets.get(tweet_id)
        if tweet is None or tweet.deleted:
            raise XProblem(404, {**not_found_error(tweet_id, "id"), "status": 404})
        if tweet.author_id != self.host_user["id"]:
            raise forbidden("You are not allowed to delete a Tweet that is not yours.")
        self.delete_tweet(tweet_id)
        return web.json_response({"data": {"deleted": True}})

    async def _me(self, request: web.Request) -> web.Response:
        fields = self._fields(request, "user.fields", USER_FIELDS)
        self.usage.users_read += 1
        return web.json_response({"data": self._render_user(self.host_user["id"], fields)})

    async def _user_tweets(self, request: web.Request) -> web.Response:
        """GET /2/users/:id/tweets: a user's posts, newest first (docs.x.com, "User Posts
        timeline"): ``max_results`` 5..100, ``exclude`` retweets and/or replies,
        ``start_time`` / ``end_time`` inclusive, ``pagination_token``; ``meta`` as search's."""
        self._check_params(request, TIMELINE_PARAMS)
        q = request.query
        user_id = request.match_info["id"]
        if user_id not in self.users:
            return web.json_response({"errors": [user_not_found_error(user_id, "id")]})
        max_results = self._int_param(request, "max_results", "10")
        if not 5 <= max_results <= 100:
            raise invalid_request(
                "max_results",
                str(max_results),
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
            )
        exclude = {e for e in q.get("exclude", "").split(",") if e}
        for kind in exclude - {"retweets", "replies"}:
            raise invalid_request(
                "exclude",
                kind,
                f"The `exclude` query parameter value [{kind}] is not one of [replies,retweets]",
            )
        start = self._time_param(request, "start_time")
        end = self._time_param(request, "end_time")
        token = q.get("pagination_token")
        older_than = self._decode_token(token) if token else None
        hits = [
            t
            for t in self.tweets.values()
            if t.author_id == user_id
            and not (t.deleted or t.superseded_by)
            and not ("retweets" in exclude and t.retweet_of)
            and not ("replies" in exclude and t.reply_to)
            and (older_than is None or int(t.id) < older_than)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at <= end)
        ]
        hits.sort(key=lambda t: int(t.id), reverse=True)
        page = hits[:max_results]
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        payload = self._tweets_payload(request, page, [])
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if len(hits) > max_results:
            meta["next_token"] = _NEXT_TOKEN_PREFIX + _base36(int(page[-1].id))
        payload["meta"] = meta
        return web.json_response(payload)

    async def _lookup(self, request: web.Request) -> web.Response:
        self._check_params(request, LOOKUP_PARAMS)
        raw = request.query.get("ids", "")
        ids = [i for i in raw.split(",") if i]
        if not ids:
            raise invalid_request("ids", raw, "The `ids` query parameter can not be empty")
        if len(ids) > 100:
            raise invalid_request(
                "ids",
                raw,
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not between 1 and 100",
            )
        for i in ids:
            if not re.fullmatch(r"[0-9]{1,19}", i):
                raise invalid_request(
                    "ids",
                    i,
                    f"The `ids` query parameter value [{i}] does not match ^[0-9]{{1,19}}$",
                )
        found = [self.tweets[i] for i in ids if i in self.tweets and not self.tweets[i].deleted]
        errors = [
            not_found_error(i, "ids") for i in ids if i not in self.tweets or self.tweets[i].deleted
        ]
        return web.json_response(self._tweets_payload(request, found, errors))

    async def _lookup_one(self, request: web.Request) -> web.Response:
        self._check_params(request, LOOKUP_PARAMS - {"ids"})
        tweet_id = request.match_info["id"]
        tweet = self.tweets.get(tweet_id)
        if tweet is None or tweet.deleted:
            return web.json_response({"errors": [not_found_error(tweet_id, "id")]})
        payload = self._tweets_payload(request, [tweet], [])
        payload["data"] = payload["data"][0]
        return web.json_response(payload)

    async def _search(self, request: web.Request) -> web.Response:
        self._check_params(request, SEARCH_PARAMS)
        q = request.query
        now = self.clock.now()
        oldest_allowed = now - RECENT_WINDOW
        query = q.get("query", "")
        if not query:
            raise invalid_request("query", query, "The `query` query parameter can not be empty")
        try:
            matcher = parse_query(query)
        except QueryError as exc:
            raise invalid_request(
                "query", query, f"There were errors processing your request: {exc}"
            ) from None
        max_results = self._int_param(request, "max_results", "10")
        if not 10 <= max_results <= 100:
            raise invalid_request(
                "max_results",
                str(max_results),
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100",
            )
        since_id = self._id_param(request, "since_id", oldest_allowed)
        until_id = self._id_param(request, "until_id", oldest_allowed)
        start = self._time_param(request, "start_time")
        end = self._time_param(request, "end_time")
        if start is not None and start < oldest_allowed:
            raise invalid_request(
                "start_time",
                q["start_time"],
                f"Invalid 'start_time':'{q['start_time']}'. 'start_time' must be on or after {oldest_allowed.strftime('%Y-%m-%dT%H:%MZ')}",
            )
        if end is not None and end > now - timedelta(seconds=10):
            raise invalid_request(
                "end_time",
                q["end_time"],
                f"Invalid 'end_time':'{q['end_time']}'. 'end_time' must be a minimum of 10 seconds prior to the request time.",
            )
        token = q.get("next_token") or q.get("pagination_token")
        older_than = self._decode_token(token) if token else None
        hits = [
            t
            for t in self.tweets.values()
            if not (t.deleted or t.retweet_of or t.superseded_by)
            and oldest_allowed <= t.created_at <= now
            and (since_id is None or int(t.id) > since_id)
            and (until_id is None or int(t.id) < until_id)
            and (older_than is None or int(t.id) < older_than)
            and (start is None or t.created_at >= start)
            and (end is None or t.created_at < end)
            and matcher(self._search_view(t))
        ]
        hits.sort(key=lambda t: int(t.id), reverse=True)
        page = hits[:max_results]
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        payload = self._tweets_payload(request, page, [])
        meta: dict[str, Any] = {
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
            "result_count": len(page),
        }
        if len(hits) > max_results:
            meta["next_token"] = _NEXT_TOKEN_PREFIX + _base36(int(page[-1].id))
        payload["meta"] = meta
        return web.json_response(payload)

    # -- request parsing ---------------------------------------------------------------------

    @staticmethod
    def _check_params(request: web.Request, allowed: frozenset[str]) -> None:
        for name in request.query:
            if name not in allowed:
                raise invalid_request(
                    name,
                    request.query[name],
                    f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]",
                )

    @staticmethod
    def _int_param(request: web.Request, name: str, default: str) -> int:
        raw = request.query.get(name, default)
        if not raw.isdigit():
            raise invalid_request(
                name, raw, f"The `{name}` query parameter value [{raw}] is not a number"
            )
        return int(raw)

    @staticmethod
    def _id_param(request: web.Request, name: str, oldest_allowed: datetime) -> int | None:
        raw = request.query.get(name)
        if raw is None:
            return None
        if not re.fullmatch(r"[0-9]{1,19}", raw):
            raise invalid_request(
                name,
                raw,
                f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$",
            )
        if snowflake_time(raw) < oldest_allowed:
            floor = (int(oldest_allowed.timestamp() * 1000) - TWEPOCH_MS) << 22
            raise invalid_request(
                name,
                raw,
                f"Invalid '{name}':'{raw}'. '{name}' must be a tweet id created after {oldest_allowed.strftime('%Y-%m-%dT%H:%MZ')}. Please use a '{name}' that is larger than {floor}",
            )
        return int(raw)

    @staticmethod
    def _time_param(request: web.Request, name: str) -> datetime | None:
        raw = request.query.get(name)
        if raw is None:
            return None
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise invalid_request(
                name,
                raw,
                f"Invalid '{name}':'{raw}'. Expected a date in RFC3339 format (YYYY-MM-DDTHH:mm:ssZ)",
            )
        return at.astimezone(UTC)

    @staticmethod
    def _decode_token(token: str) -> int:
        if token.startswith(_NEXT_TOKEN_PREFIX):
            try:
                return int(token[len(_NEXT_TOKEN_PREFIX) :], 36)
            except ValueError:
                pass
        raise invalid_request(
            "next_token", token, f"The `next_token` query parameter value [{token}] is not valid"
        )

    @staticmethod
    def _fields(request: web.Request, param: str, allowed: frozenset[str]) -> set[str]:
        raw = request.query.get(param, "")
        names = {n for n in raw.split(",") if n}
        for name in names:
            if name not in allowed:
                raise invalid_request(
                    param,
                    raw,
                    f"The `{param}` query parameter value [{name}] is not one of [{','.join(sorted(allowed))}]",
                )
        return names

    # -- rendering ---------------------------------------------------------------------------

    def _search_view(self, tweet: FakeTweet) -> TweetView:
        author = self.users[tweet.author_id]["username"]
        reply_user = (
            self.users[tweet.in_reply_to_user_id]["username"] if tweet.in_reply_to_user_id else ""
        )
        return TweetView(
            text=tweet.text,
            author=author,
            in_reply_to=reply_user,
            conversation_id=tweet.conversation_id,
            is_reply=tweet.reply_to is not None,
            is_quote=tweet.quote_of is not None,
            is_retweet=tweet.retweet_of is not None,
            quote_of=tweet.quote_of or "",
        )

    def _tweets_payload(
        self, request: web.Request, tweets: list[FakeTweet], errors: list[dict[str, Any]]
    ) -> dict[str, Any]:
        tweet_fields = self._fields(request, "tweet.fields", TWEET_FIELDS)
        user_fields = self._fields(request, "user.fields", USER_FIELDS)
        expansions = self._fields(request, "expansions", TWEET_EXPANSIONS)
        user_ids: list[str] = []
        ref_tweets: list[FakeTweet] = []
        for tweet in tweets:
            if "author_id" in expansions:
                user_ids.append(tweet.author_id)
            if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
                user_ids.append(tweet.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                user_ids.extend(m["id"] for m in self._mentions(tweet.text) if "id" in m)
            if "referenced_tweets.id" in expansions:
                for _kind, ref_id in self._references(tweet):
                    ref = self.tweets.get(ref_id)
                    if ref is None or ref.deleted:
                        errors.append(not_found_error(ref_id, "referenced_tweets.id"))
                    elif ref not in ref_tweets:
                        ref_tweets.append(ref)
        if "referenced_tweets.id.author_id" in expansions:
            user_ids.extend(t.author_id for t in ref_tweets)
        payload: dict[str, Any] = {"data": [self._render_tweet(t, tweet_fields) for t in tweets]}
        includes: dict[str, Any] = {}
        unique_users = [u for u in dict.fromkeys(user_ids) if u not in self.users_left_out]
        errors.extend(
            user_not_found_error(u, "author_id")
            for u in dict.fromkeys(user_ids)
            if u in self.users_left_out
        )
        if unique_users:
            includes["users"] = [self._render_user(u, user_fields) for u in unique_users]
        if ref_tweets:
            includes["tweets"] = [self._render_tweet(t, tweet_fields) for t in ref_tweets]
        if includes:
            payload["includes"] = includes
        if errors:
            payload["errors"] = errors
        if not tweets:
            del payload["data"]
        self.usage.posts_read += len(tweets) + len(ref_tweets)
        self.usage.users_read += len(unique_users)
        return payload

    def _references(self, tweet: FakeTweet) -> Iterator[tuple[str, str]]:
        if tweet.retweet_of:
            yield "retweeted", tweet.retweet_of
        if tweet.quote_of:
            yield "quoted", tweet.quote_of
        if tweet.reply_to:
            yield "replied_to", tweet.reply_to

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        by_name = {u["username"].lower(): uid for uid, u in self.users.items()}
        found = []
        for m in MENTION_RE.finditer(text):
            entity: dict[str, Any] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            if m.group(1).lower() in by_name:
                entity["id"] = by_name[m.group(1).lower()]
            found.append(entity)
        return found

    @staticmethod
    def _returned_text(text: str) -> tuple[str, list[dict[str, Any]]]:
        """A post's text as X's API returns it, and its ``entities.urls``: every link
        rewritten to a t.co link (``expanded_url`` keeps the original) and ``&``, ``<``, ``>``
        as HTML entities (X escapes them in ``text``, v1.1 and v2 alike)."""
        out: list[str] = []
        urls: list[dict[str, Any]] = []
        pos = 0
        for m in URL_RE.finditer(text):
            out.append(html.escape(text[pos : m.start()], quote=False))
            short = "https://t.co/" + hashlib.sha1(m.group(0).encode()).hexdigest()[:10]
            start = sum(len(part) for part in out)
            out.append(short)
            urls.append(
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": m.group(0),
                    "display_url": m.group(0).split("://", 1)[1][:26],
                }
            )
            pos = m.end()
        out.append(html.escape(text[pos:], quote=False))
        return "".join(out), urls

    def _entities(self, text: str) -> dict[str, Any]:
        """``entities`` of a post, with indices into its text as returned (see
        `_returned_text`)."""
        entities: dict[str, Any] = {}
        text, urls = self._returned_text(text)
        hashtags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in HASHTAG_RE.finditer(text)
            if not m.group(1).isdigit()
        ]
        if hashtags:
            entities["hashtags"] = hashtags
        if mentions := self._mentions(text):
            entities["mentions"] = mentions
        if urls:
            entities["urls"] = urls
        return entities

    def _render_tweet(self, tweet: FakeTweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": tweet.id,
            "text": self._returned_text(tweet.text)[0],
            "edit_history_tweet_ids": list(tweet.edit_history),
        }
        if "author_id" in fields:
            out["author_id"] = tweet.author_id
        if "created_at" in fields:
            out["created_at"] = x_time(tweet.created_at)
        if "conversation_id" in fields:
            out["conversation_id"] = tweet.conversation_id
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if "referenced_tweets" in fields and (refs := list(self._references(tweet))):
            out["referenced_tweets"] = [{"type": kind, "id": ref_id} for kind, ref_id in refs]
        if "entities" in fields and (entities := self._entities(tweet.text)):
            out["entities"] = entities
        if "lang" in fields:
            out["lang"] = "en"
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        if "public_metrics" in fields:
            live = [t for t in self.tweets.values() if not t.deleted]
            out["public_metrics"] = {
                "retweet_count": sum(t.retweet_of == tweet.id for t in live),
                "reply_count": sum(t.reply_to == tweet.id for t in live),
                "like_count": tweet.likes,
                "quote_count": sum(t.quote_of == tweet.id for t in live),
                "bookmark_count": 0,
                "impression_count": 0,
            }
        if "edit_controls" in fields:
            out["edit_controls"] = {
                "edits_remaining": max(0, 6 - len(tweet.edit_history)),
                "is_edit_eligible": not tweet.retweet_of,
                "editable_until": x_time(
                    snowflake_time(tweet.edit_history[0]) + timedelta(hours=1)
                ),
            }
        return out

    def _render_user(self, user_id: str, fields: set[str]) -> dict[str, Any]:
        user = self.users[user_id]
        out = {
            "id": user_id,
            "name": user.get("name", user["username"]),
            "username": user["username"],
        }
        out.update({k: v for k, v in user.items() if k in fields and k not in out})
        return out


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


# -- the search query language (the subset the bot uses, with X's precedence) ------------------


class QueryError(ValueError):
    """A search query the real API would reject."""


@dataclass(frozen=True)
class TweetView:
    """What the query matcher may look at."""

    text: str
    author: str  # username
    in_reply_to: str  # username replied to, or ""
    conversation_id: str
    is_reply: bool
    is_quote: bool
    is_retweet: bool
    quote_of: str = ""  # id of the post quoted, or ""


Matcher = Callable[[TweetView], bool]
_TOKEN_RE = re.compile(r'-?"[^"]*"|-?\(|\)|[^\s()]+')
_STANDALONE = ("from:", "to:", "conversation_id:", "quotes_of_tweet_id:")


def hashtags(text: str) -> list[str]:
    """The hashtags X would extract from ``text``, without '#'."""
    return [m.group(1) for m in HASHTAG_RE.finditer(text) if not m.group(1).isdigit()]


def _tag_form(tag: str) -> str:
    """How X compares hashtags: compatibility forms and case do not matter (``#ＷｅＤｏｃｓ``
    is ``#WeDocs``)."""
    return unicodedata.normalize("NFKC", tag).casefold()


def parse_query(query: str) -> Matcher:
    """Compile a recent-search query; AND (juxtaposition) binds tighter than OR, as on X."""
    if len(query) > 512:
        raise QueryError(f"Query length {len(query)} exceeds the maximum of 512 characters")
    tokens = _TOKEN_RE.findall(query)
    pos = 0
    positive = False

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def parse_or() -> Matcher:
        nonlocal pos
        alternatives = [parse_and()]
        while peek() == "OR":
            pos += 1
            alternatives.append(parse_and())
        return lambda t: any(m(t) for m in alternatives)

    def parse_and() -> Matcher:
        terms: list[Matcher] = []
        while peek() not in (None, ")", "OR"):
            terms.append(parse_unary())
        if not terms:
            raise QueryError(f"Ambiguous use of OR or parentheses (at position {pos + 1})")
        return lambda t: all(m(t) for m in terms)

    def parse_unary() -> Matcher:
        nonlocal pos, positive
        token = tokens[pos]
        pos += 1
        negated = token.startswith("-") and len(token) > 1
        if negated:
            token = token[1:]
        if token == "(":
            inner = parse_or()
            if peek() != ")":
                raise QueryError("Unbalanced parentheses")
            pos += 1
            matcher = inner
        else:
            matcher = _term(token)
            positive = positive or (not negated and not token.startswith(("is:", "has:")))
        return (lambda t: not matcher(t)) if negated else matcher

    result = parse_or()
    if pos != len(tokens):
        raise QueryError(f"Unexpected '{tokens[pos]}' (at position {pos + 1})")
    if not positive:
        raise QueryError("Rules must contain a non-negation term (at position 1)")
    return result


def _term(token: str) -> Matcher:
    lowered = token.lower()
    if token.startswith('"'):
        phrase = lowered.strip('"')
        return lambda t: phrase in t.text.lower()
    if token.startswith(("#", "＃")) and len(token) > 1:
        tag = _tag_form(token[1:])
        return lambda t: tag in (_tag_form(h) for h in hashtags(t.text))
    if token.startswith("@") and len(token) > 1:
        name = lowered[1:]
        return lambda t: name in (m.lower() for m in MENTION_RE.findall(t.text))
    operator, colon, value = lowered.partition(":")
    if colon and operator.replace("_", "").isalpha() and value:
        return _operator(operator, value.lstrip("@"), token)
    words = re.findall(r"\w+", lowered)
    if len(words) == 1 and words[0] == lowered:
        return lambda t: lowered in re.findall(r"\w+", t.text.lower())
    return lambda t: lowered in t.text.lower()


def _operator(operator: str, value: str, token: str) -> Matcher:
    if operator == "from":
        return lambda t: t.author.lower() == value
    if operator == "to":
        return lambda t: t.in_reply_to.lower() == value
    if operator == "conversation_id":
        return lambda t: t.conversation_id == value
    if operator == "quotes_of_tweet_id":  # quotes of that post (a quote is its own conversation)
        return lambda t: t.quote_of == value
    if operator == "is" and value in ("retweet", "reply", "quote"):
        return lambda t: bool(getattr(t, "is_" + value))
    if operator == "has" and value in ("hashtags", "mentions", "links"):
        pattern = {"hashtags": HASHTAG_RE, "mentions": MENTION_RE, "links": URL_RE}[value]
        return lambda t: pattern.search(t.text) is not None
    raise QueryError(
        f"Reference to invalid operator '{token}'. Operator is not available in current product "
        "or product packaging. Please refer to complete available operator list at "
        "https://developer.twitter.com/en/docs/twitter-api/tweets/search/integrate/build-a-query."
    )


def weighted_length(text: str) -> int:
    """The length X counts against 280 (twitter-text v3: URLs 23, most non-Latin scripts 2)."""
    text = unicodedata.normalize("NFC", text)
    length = 23 * len(URL_RE.findall(text))
    for ch in URL_RE.sub("", text):
        cp = ord(ch)
        light = cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247
        length += 1 if light else 2
    return length
