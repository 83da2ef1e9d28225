"""A loopback fake of Bluesky: a PDS + AppView over XRPC and a Jetstream v2 websocket.

The real ``atproto`` ``AsyncClient`` (``base_url=fake.base_url``) and its
``AsyncJetstreamClient`` (``base_uri=fake.jetstream_url + "/xrpc"``, ``compress=False``)
talk to it. Shapes follow the lexicons (bluesky-social/atproto ``lexicons/``) and the
Jetstream README (bluesky-social/jetstream ``docs/README.md`` §5.2):

- XRPC errors are ``{"error": "Name", "message": "..."}``; an expired access token is
  ``400 ExpiredToken``; 429s carry the ``RateLimit-*`` headers.
- Access tokens are real-looking JWTs (the client reads ``exp`` to refresh ahead of time);
  ``access_ttl`` makes them short-lived to exercise ``refreshSession``.
- Every record write (``createRecord``, ``deleteRecord``, and the test helpers ``add_post``,
  ``edit_post``, ``delete_post``) appends a Jetstream ``#commit`` event with the next
  ``seq`` (``add_post(..., stream=False)`` leaves it out: an event lost in flight). The websocket at ``/xrpc/network.bsky.jetstream.subscribeEvents`` negotiates
  ``xrpc.v1.json``, replays ``seq >= cursor`` and then tails live; a cursor below
  ``floor_seq`` is refused before the upgrade with ``400 CursorTooOld``, as the real v2
  endpoint does.
- Search (``searchPosts``) matches ``#tag`` against a post's tag facets, ``tags`` and text,
  case-insensitively; ``since``/``until`` bound ``indexedAt``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, NamedTuple

from aiohttp import WSMsgType, web

POST = "app.bsky.feed.post"
SUBSCRIBE = "/xrpc/network.bsky.jetstream.subscribeEvents"
_S32 = "234567abcdefghijklmnopqrstuvwxyz"
_TAG_RE = re.compile(r"(?:^|(?<=\s))#(\w+)")
_URL_RE = re.compile(r"https?://[^\s]+")
_JSON = web.RequestKey("json", dict[str, Any])


def iso(at: datetime) -> str:
    """An atproto datetime: UTC, milliseconds, 'Z'."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def jetstream_time(at: datetime) -> str:
    """Jetstream's event ``time``: RFC 3339 with exactly six fractional digits."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def tid(micros: int, clock_id: int = 0) -> str:
    """A record key in the TID format: 13 base32-sortable characters."""
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_S32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def fake_cid(data: object) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt(payload: dict[str, Any]) -> str:
    """An unsigned-looking JWT (the client only reads its payload)."""
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(payload)}.c2lnbmF0dXJl"


def tag_facets(text: str) -> list[dict[str, Any]]:
    """Tag and link facets as the Bluesky app writes them (byte offsets in UTF-8)."""
    facets = []
    for pattern, make in (
        (_TAG_RE, lambda m: {"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}),
        (_URL_RE, lambda m: {"$type": "app.bsky.richtext.facet#link", "uri": m.group(0)}),
    ):
        for m in pattern.finditer(text):
            start = m.start(1) - 1 if pattern is _TAG_RE else m.start()
            facets.append(
                {
                    "index": {
                        "byteStart": len(text[:start].encode()),
                        "byteEnd": len(text[: m.end()].encode()),
                    },
                    "features": [make(m)],
                }
            )
    return facets


class RecordedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]


@dataclass
class Account:
    did: str
    handle: str
    display_name: str
    password: str = ""


@dataclass
class FakePost:
    did: str
    rkey: str
    cid: str
    record: dict[str, Any]
    indexed_at: datetime
    deleted: bool = False
    likes: int = 0  # likeCount of its postView (`FakeBluesky.like`)
    reposts: int = 0  # repostCount

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{POST}/{self.rkey}"

    @property
    def text(self) -> str:
        return str(self.record.get("text", ""))


@dataclass
class _Injection:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class _Subscriber:
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    collections: tuple[str, ...] = ()


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(message or error)
        self.status = status
        self.body = {"error": error, "message": message or error}


class FakeBluesky:
    """PDS, AppView and Jetstream in one aiohttp server on 127.0.0.1."""

    def __init__(self, *, access_ttl: timedelta = timedelta(hours=2)) -> None:
        self.access_ttl = access_ttl
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, FakePost] = {}  # by uri, in creation order
        self.events: list[dict[str, Any]] = []  # Jetstream payloads, by seq - 1
        self.floor_seq = 1  # cursors below this are refused (CursorTooOld)
        self.requests: list[RecordedRequest] = []
        self.subscriptions: list[dict[str, list[str]]] = []  # query of each websocket dial
        self.sessions_created = 0
        self.sessions_refreshed = 0
        self._access: dict[str, tuple[str, float]] = {}  # token -> (did, expires epoch)
        self._refresh: dict[str, str] = {}
        self._injections: dict[str, list[_Injection]] = {}
        self._subscribers: list[_Subscriber] = []
        self._did_numbers = itertools.count(1)
        self._clock_ids = itertools.count()
        self._last_micros = 0
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.bot = self.add_account("tweetchatbot.bsky.social", "Tweetchat bot", "app-pass-1234")

    # ---- life cycle -------------------------------------------------------------------

    async def __aenter__(self) -> FakeBluesky:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get(SUBSCRIBE, self._subscribe)
        app.router.add_route("*", "/xrpc/{method}", self._xrpc)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        for sub in self._subscribers:
            sub.queue.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def jetstream_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}"

    @property
    def password(self) -> str:
        return self.bot.password

    # ---- test helpers -----------------------------------------------------------------

    def add_account(self, handle: str, display_name: str = "", password: str = "") -> Account:
        did = f"did:plc:fake{next(self._did_numbers):020d}"
        account = Account(did, handle, display_name, password)
        self.accounts[did] = account
        return account

    def add_post(
        self,
        author: Account,
        text: str,
        *,
        reply_to: str = "",
        quote_of: str = "",
        tags: Iterable[str] = (),
        facets: list[dict[str, Any]] | None = None,
        at: datetime | None = None,
        stream: bool = True,
    ) -> str:
        """A participant posts (as the Bluesky app would); returns the post's at:// URI.
        With ``stream=False`` Jetstream never carries it (an event lost in flight): only
        the AppView (search, threads, getPosts) has it."""
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": iso(at or datetime.now(UTC)),
            "langs": ["en"],
        }
        found = tag_facets(text) if facets is None else facets
        if found:
            record["facets"] = found
        if tags:
            record["tags"] = list(tags)
        if reply_to:
            parent = self.posts[reply_to]
            root = parent.record.get("reply", {}).get("root") or {"uri": parent.uri}
            record["reply"] = {
                "root": {"uri": root["uri"], "cid": self.posts[root["uri"]].cid},
                "parent": {"uri": parent.uri, "cid": parent.cid},
            }
        if quote_of:
            quoted = self.posts[quote_of]
            record["embed"] = {
                "$type": "app.bsky.embed.record",
                "record": {"uri": quoted.uri, "cid": quoted.cid},
            }
        return self._create(author.did, record, stream=stream).uri

    def edit_post(self, uri: str, text: str) -> None:
        """An edit (a putRecord on the same rkey): a new CID and an ``update`` event."""
        post = self.posts[uri]
        post.record = {**post.record, "text": text, "facets": tag_facets(text)}
        post.cid = fake_cid(post.record)
        self._emit(post, "update")

    def like(self, uri: str, times: int = 1, *, reposts: int = 0) -> None:
        """``times`` accounts like the post and ``reposts`` repost it (the counts of its
        postView: ``likeCount``, ``repostCount``)."""
        self.posts[uri].likes += times
        self.posts[uri].reposts += reposts

    def delete_post(self, uri: str) -> None:
        post = self.posts[uri]
        post.deleted = True
        self._emit(post, "delete")

    def posts_by(self, account: Account) -> list[FakePost]:
        return [p for p in self.posts.values() if p.did == account.did and not p.deleted]

    def bot_posts(self, prefix: str = "") -> list[FakePost]:
        return [p for p in self.posts_by(self.bot) if p.text.startswith(prefix)]

    def requests_to(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == f"/xrpc/{method}"]

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        error: str = "",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of an XRPC method answer `status` (429: RateLimitExceeded
        with ``RateLimit-*`` headers unless `headers` says otherwise)."""
        if status == 429 and headers is None:
            reset = int(time.time()) + 1
            headers = {
                "RateLimit-Limit": "3000",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset),
                "RateLimit-Policy": "3000;w=300",
            }
        name = error or {429: "RateLimitExceeded", 401: "AuthenticationRequired"}.get(
            status, "InternalServerError"
        )
        self._injections.setdefault(method, []).append(
            _Injection(status, {"error": name, "message": name}, headers or {}, times)
        )

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now."""
        self._access = {k: (did, 0.0) for k, (did, _) in self._access.items()}

    def forget_events_before(self, seq: int) -> None:
        """Jetstream's lookback moved past `seq`: older cursors are refused."""
        self.floor_seq = seq

    def drop_subscribers(self) -> None:
        """Close every live websocket (as a Jetstream restart would)."""
        for sub in self._subscribers:
            sub.queue.put_nowait(None)

    @property
    def last_seq(self) -> int:
        return len(self.events)

    # ---- records and events -----------------------------------------------------------

    def _now_micros(self) -> int:
        micros = max(time.time_ns() // 1000, self._last_micros + 1)
        self._last_micros = micros
        return micros

    def _create(
        self, did: str, record: dict[str, Any], rkey: str = "", *, stream: bool = True
    ) -> FakePost:
        micros = self._now_micros()
        rkey = rkey or tid(micros, next(self._clock_ids))
        post = FakePost(
            did, rkey, fake_cid(record), record, datetime.fromtimestamp(micros / 1e6, UTC)
        )
        self.posts[post.uri] = post
        if stream:
            self._emit(post, "create")
        return post

    def _emit(self, post: FakePost, operation: str) -> None:
        payload: dict[str, Any] = {
            "$type": "network.bsky.jetstream.subscribeEvents#commit",
            "seq": len(self.events) + 1,
            "did": post.did,
            "time": jetstream_time(datetime.now(UTC)),
            "rev": tid(self._now_micros()),
            "operation": operation,
            "collection": POST,
            "rkey": post.rkey,
        }
        if operation != "delete":
            payload["cid"] = post.cid
            payload["record"] = post.record
        self.events.append(payload)
        for sub in self._subscribers:
            sub.queue.put_nowait(payload)

    # ---- views ------------------------------------------------------------------------

    def _profile(self, account: Account) -> dict[str, Any]:
        return {
            "did": account.did,
            "handle": account.handle,
            "displayName": account.display_name,
            "labels": [],
            "createdAt": "2024-01-01T00:00:00.000Z",
        }

    def _post_view(self, post: FakePost) -> dict[str, Any]:
        replies = [p for p in self.posts.values() if not p.deleted and self._parent(p) == post.uri]
        return {
            "$type": "app.bsky.feed.defs#postView",
            "uri": post.uri,
            "cid": post.cid,
            "author": self._profile(self.accounts[post.did]),
            "record": post.record,
            "replyCount": len(replies),
            "repostCount": post.reposts,
            "likeCount": post.likes,
            "quoteCount": 0,
            "indexedAt": iso(post.indexed_at),
            "labels": [],
        }

    @staticmethod
    def _parent(post: FakePost) -> str:
        return str(post.record.get("reply", {}).get("parent", {}).get("uri", ""))

    def _thread(self, post: FakePost, depth: int) -> dict[str, Any]:
        view: dict[str, Any] = {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": self._post_view(post),
        }
        if depth > 0:
            view["replies"] = [
                self._thread(p, depth - 1)
                for p in self.posts.values()
                if not p.deleted and self._parent(p) == post.uri
            ]
        parent = self.posts.get(self._parent(post))
        if parent is not None and not parent.deleted:
            view["parent"] = {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": self._post_view(parent),
            }
        return view

    @staticmethod
    def _tags(post: FakePost) -> set[str]:
        tags = {t.casefold() for t in post.record.get("tags", ())}
        for facet in post.record.get("facets", ()):
            for feature in facet.get("features", ()):
                if feature.get("$type") == "app.bsky.richtext.facet#tag":
                    tags.add(str(feature["tag"]).casefold())
        tags.update(m.group(1).casefold() for m in _TAG_RE.finditer(post.text))
        return tags

    def _matches(self, post: FakePost, q: str) -> bool:
        for word in q.split():
            if word.startswith("#"):
                if word[1:].casefold() not in self._tags(post):
                    return False
            elif word.casefold() not in post.text.casefold():
                return False
        return True

    # ---- HTTP -------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: dict[str, Any] = {}
        if request.method == "POST" and request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.requests.append(RecordedRequest(request.method, request.path, query, body))
        request[_JSON] = body
        method = request.path.removeprefix("/xrpc/")
        pending = self._injections.get(method)
        if pending:
            injection = pending[0]
            injection.times -= 1
            if injection.times <= 0:
                pending.pop(0)
            return web.json_response(
                injection.body, status=injection.status, headers=injection.headers
            )
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except XrpcError as exc:
            return web.json_response(exc.body, status=exc.status)

    def _caller(self, request: web.Request) -> Account:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if token not in self._access:
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        did, expires = self._access[token]
        if expires < time.time():
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return self.accounts[did]

    def _session(self, account: Account) -> dict[str, Any]:
        now = time.time()
        access = jwt(
            {
                "scope": "com.atproto.appPass",
                "sub": account.did,
                "iat": int(now),
                "exp": int(now + self.access_ttl.total_seconds()),
                "aud": "did:web:fake.pds",
            }
        )
        refresh = jwt(
            {
                "scope": "com.atproto.refresh",
                "sub": account.did,
                "iat": int(now),
                "exp": int(now + 90 * 86400),
                "jti": f"r{len(self._refresh)}",
            }
        )
        self._access[access] = (account.did, now + self.access_ttl.total_seconds())
        self._refresh[refresh] = account.did
        return {
            "did": account.did,
            "handle": account.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }

    async def _xrpc(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        handler = getattr(self, "_x_" + method.replace(".", "_"), None)
        if handler is None:
            raise XrpcError(501, "MethodNotImplemented", f"Method Not Implemented: {method}")
        result: dict[str, Any] = await handler(request)
        return web.json_response(result)

    def _find_account(self, actor: str) -> Account | None:
        return next((a for a in self.accounts.values() if actor in (a.did, a.handle)), None)

    # com.atproto.server

    async def _x_com_atproto_server_createSession(self, request: web.Request) -> dict[str, Any]:
        body = request[_JSON]
        account = self._find_account(str(body.get("identifier", "")).lower())
        if account is None or not account.password or body.get("password") != account.password:
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        self.sessions_created += 1
        return self._session(account)

    async def _x_com_atproto_server_refreshSession(self, request: web.Request) -> dict[str, Any]:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        did = self._refresh.pop(token, None)
        if did is None:
            raise XrpcError(400, "ExpiredToken", "Token has been revoked")
        self.sessions_refreshed += 1
        return self._session(self.accounts[did])

    # com.atproto.repo

    async def _x_com_atproto_repo_createRecord(self, request: web.Request) -> dict[str, Any]:
        caller = self._caller(request)
        body = request[_JSON]
        if body.get("repo") not in (caller.did, caller.handle):
            raise XrpcError(400, "InvalidRequest", "Invalid repo")
        record = body.get("record") or {}
        if body.get("collection") != POST or record.get("$type") != POST:
            raise XrpcError(400, "InvalidRequest", "only app.bsky.feed.post in this fake")
        text = str(record.get("text", ""))
        if len(text.encode()) > 3000:
            raise XrpcError(
                400, "InvalidRecord", "Invalid app.bsky.feed.post record: text too long"
            )
        post = self._create(caller.did, record, str(body.get("rkey") or ""))
        return {
            "uri": post.uri,
            "cid": post.cid,
            "commit": {"cid": fake_cid(post.rkey), "rev": tid(self._now_micros())},
            "validationStatus": "valid",
        }

    async def _x_com_atproto_repo_deleteRecord(self, request: web.Request) -> dict[str, Any]:
        caller = self._caller(request)
        body = request[_JSON]
        uri = f"at://{caller.did}/{body.get('collection')}/{body.get('rkey')}"
        if uri in self.posts and not self.posts[uri].deleted:
            self.delete_post(uri)
        return {"commit": {"cid": fake_cid(uri), "rev": tid(self._now_micros())}}

    # app.bsky.actor

    async def _x_app_bsky_actor_getProfile(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)
        account = self._find_account(request.query.get("actor", ""))
        if account is None:
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        return {**self._profile(account), "followersCount": 0, "postsCount": 0}

    async def _x_app_bsky_actor_getProfiles(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)
        actors = request.query.getall("actors", [])
        if len(actors) > 25:
            raise XrpcError(400, "InvalidRequest", "actors must not have more than 25 elements")
        found = [self._find_account(a) for a in actors]
        return {"profiles": [self._profile(a) for a in found if a is not None]}

    # app.bsky.feed

    async def _x_app_bsky_feed_getAuthorFeed(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)
        account = self._find_account(request.query.get("actor", ""))
        if account is None:
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        limit = int(request.query.get("limit", "50"))
        posts = sorted(
            (p for p in self.posts_by(account)), key=lambda p: p.indexed_at, reverse=True
        )
        cursor = request.query.get("cursor")
        if cursor:
            posts = [p for p in posts if iso(p.indexed_at) < cursor]
        page = posts[:limit]
        result: dict[str, Any] = {"feed": [{"post": self._post_view(p)} for p in page]}
        if len(posts) > limit:
            result["cursor"] = iso(page[-1].indexed_at)
        return result

    async def _x_app_bsky_feed_getPostThread(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)
        post = self.posts.get(request.query.get("uri", ""))
        if post is None or post.deleted:
            raise XrpcError(400, "NotFound", f"Post not found: {request.query.get('uri')}")
        return {"thread": self._thread(post, int(request.query.get("depth", "6")))}

    async def _x_app_bsky_feed_getPosts(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)
        uris = request.query.getall("uris", [])
        if len(uris) > 25:
            raise XrpcError(400, "InvalidRequest", "uris must not have more than 25 elements")
        found = [self.posts.get(u) for u in uris]
        return {"posts": [self._post_view(p) for p in found if p is not None and not p.deleted]}

    async def _x_app_bsky_feed_searchPosts(self, request: web.Request) -> dict[str, Any]:
        self._caller(request)  # search needs authentication since 2025
        q = request.query.get("q", "")
        limit = int(request.query.get("limit", "25"))
        since = request.query.get("since")
        until = request.query.get("until")
        hits = [
            p
            for p in self.posts.values()
            if not p.deleted
            and self._matches(p, q)
            and (since is None or p.indexed_at >= parse_time(since))
            and (until is None or p.indexed_at < parse_time(until))
        ]
        hits.sort(key=lambda p: p.indexed_at, reverse=True)  # sort=latest
        offset = int(request.query.get("cursor", "0") or 0)
        page = hits[offset : offset + limit]
        result: dict[str, Any] = {
            "posts": [self._post_view(p) for p in page],
            "hitsTotal": len(hits),
        }
        if offset + limit < len(hits):
            result["cursor"] = str(offset + limit)
        return result

    # ---- Jetstream --------------------------------------------------------------------

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        """network.bsky.jetstream.subscribeEvents (proposal-0015 xrpc.v1.json framing)."""
        for legacy in ("wantedCollections", "wantedDids"):
            if legacy in request.query:
                raise XrpcError(400, "InvalidRequest", f"{legacy} is a v1 parameter")
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.subscriptions.append(query)
        cursor_text = request.query.get("cursor")
        cursor = int(cursor_text) if cursor_text else None
        if cursor is not None and cursor < self.floor_seq:
            raise XrpcError(
                400, "CursorTooOld", f"cursor {cursor} is below the floor seq {self.floor_seq}"
            )
        collections = tuple(request.query.getall("collections", []))
        ws = web.WebSocketResponse(protocols=("xrpc.v1.json",), heartbeat=None)
        await ws.prepare(request)
        sub = _Subscriber(collections=collections)
        # Replay and subscribe in one step (no await between): nothing is missed or doubled.
        start = self.last_seq + 1 if cursor is None else cursor
        for payload in self.events[max(0, start - 1) :]:
            sub.queue.put_nowait(payload)
        self._subscribers.append(sub)
        reader = asyncio.ensure_future(ws.receive())
        try:
            while True:
                getter = asyncio.ensure_future(sub.queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    message = reader.result()
                    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                        break
                    # Server-push only: any client data frame closes the connection.
                    break
                payload = getter.result()
                if payload is None:
                    break
                if collections and payload.get("collection") not in collections:
                    continue
                await ws.send_str(json.dumps({"$type": "message", "payload": payload}))
        finally:
            reader.cancel()
            with contextlib.suppress(ValueError):
                self._subscribers.remove(sub)
            await ws.close()
        return ws
