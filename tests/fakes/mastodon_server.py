"""A loopback fake of a Mastodon instance that the real Mastodon.py client talks to.

It serves what the bot uses, with the entity shapes of docs.joinmastodon.org/entities/
(Status, Account, Notification, Context, Instance v2) and the real service's habits:

- ``GET /api/v2/instance`` advertises ``configuration.statuses.max_characters`` and the
  loopback streaming URL (``ws://127.0.0.1:PORT``, as a real instance gives ``wss://``);
- ``POST /api/v1/statuses`` honours ``Idempotency-Key`` (the same key and token give back the
  first status), checks the length as Mastodon counts it, and renders the text as Mastodon's
  HTML (paragraphs, ``<br />``, links with invisible parts, mention and hashtag links);
  ``PUT`` edits (``edited_at``), ``DELETE`` deletes;
- ``GET /api/v1/timelines/tag/:tag`` pages with ``max_id`` / ``since_id`` / ``min_id`` (the
  page just after ``min_id``) and answers with ``Link`` headers, newest first;
- ``GET /api/v1/statuses/:id/context``, ``GET /api/v1/notifications`` (mentions of the bot and
  replies to it), ``GET /api/v1/accounts/:id/statuses``, tag follows;
- ``GET /api/v1/streaming/hashtag`` is a server-sent event stream (``event: update`` /
  ``status.update`` / ``delete``, ``:thump`` heartbeats) that needs the user token;
- every response carries ``X-RateLimit-Limit/Remaining/Reset`` (300 requests per 5 minutes
  per token); ``rate_limit_next`` answers the next request(s) with 429.

Statuses made while no stream listens are only in the timeline (``post(..., stream=False)``
does the same on purpose), and ``drop_streams()`` cuts every open stream: the two ways a
gap appears that the bot must fill from the timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import regex
from aiohttp import web

TOKEN = "fake-mastodon-token"
RATE_LIMIT = 300
RATE_WINDOW = timedelta(minutes=5)
_URL_RE = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TAG_RE = re.compile(r"(?<![\w#/])#(\w+)")
_MENTION_RE = re.compile(r"(?<![=/\w])@([a-z0-9_]+)(?:@([\w.-]+\w))?", re.IGNORECASE)


def iso(at: datetime) -> str:
    """Mastodon's timestamp format: ``2026-01-08T20:00:00.000Z``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class Subscriber:
    tag: str
    queue: asyncio.Queue[tuple[str, str] | None] = field(default_factory=asyncio.Queue)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


class FakeMastodon:
    """A Mastodon instance on 127.0.0.1 (``async with FakeMastodon() as fake``)."""

    def __init__(
        self,
        *,
        domain: str = "social.example",
        max_characters: int = 500,
        heartbeat: float = 0.2,
        token: str = TOKEN,
    ) -> None:
        self.domain = domain
        self.max_characters = max_characters
        self.heartbeat = heartbeat
        self.token = token
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.notifications: list[dict[str, Any]] = []
        self.followed_tags: set[str] = set()
        self.requests: list[Recorded] = []
        self.idempotency: dict[tuple[str, str], str] = {}
        self.subscribers: list[Subscriber] = []
        self.stream_connections = 0
        self._joined = asyncio.Event()
        self._ids = itertools.count(1)
        self._rate_used = 0
        self._rate_reset = datetime.now(UTC) + RATE_WINDOW
        self._rate_limited: list[tuple[str, float]] = []  # (path prefix, reset in seconds)
        self._failures: list[tuple[str, str, int]] = []  # (method, path prefix, status)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self.bot = self.add_account("tweetchatbot", display_name="Tweetchat Bot", bot=True)

    # ---- life cycle -------------------------------------------------------------------

    async def __aenter__(self) -> FakeMastodon:
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
        r = app.router
        r.add_get("/api/v2/instance", self._instance)
        r.add_get("/api/v2/instance/", self._instance)  # Mastodon.py asks with the slash
        r.add_get("/api/v1/accounts/verify_credentials", self._verify_credentials)
        r.add_get("/api/v1/accounts/{id}/statuses", self._account_statuses)
        r.add_post("/api/v1/statuses", self._post_status)
        r.add_get("/api/v1/statuses", self._get_statuses)
        r.add_get("/api/v1/statuses/{id}", self._get_status)
        r.add_put("/api/v1/statuses/{id}", self._put_status)
        r.add_delete("/api/v1/statuses/{id}", self._delete_status)
        r.add_get("/api/v1/statuses/{id}/context", self._context)
        r.add_get("/api/v1/timelines/tag/{tag}", self._tag_timeline)
        r.add_get("/api/v1/notifications", self._notifications)
        r.add_get("/api/v1/followed_tags", self._followed_tags)
        r.add_post("/api/v1/tags/{tag}/follow", self._follow_tag)
        r.add_get("/api/v1/streaming/health", self._health)
        r.add_get("/api/v1/streaming/hashtag", self._stream)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def close(self) -> None:
        self.drop_streams()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ---- the world, for tests ---------------------------------------------------------

    def add_account(
        self, username: str, *, domain: str = "", display_name: str = "", bot: bool = False
    ) -> dict[str, Any]:
        """An Account entity; ``domain`` set makes it a remote account (``acct`` user@domain)."""
        account_id = str(100 + len(self.accounts))
        host = domain or self.domain
        account = {
            "id": account_id,
            "username": username,
            "acct": f"{username}@{domain}" if domain else username,
            "display_name": display_name or username,
            "url": f"https://{host}/@{username}",
            "bot": bot,
            "locked": False,
            "created_at": iso(datetime(2024, 1, 1, tzinfo=UTC)),
            "note": "",
            "avatar": "",
            "emojis": [],
            "fields": [],
        }
        self.accounts[account_id] = account
        return account

    def post(
        self,
        account: dict[str, Any],
        text: str,
        *,
        in_reply_to_id: str | None = None,
        visibility: str = "public",
        stream: bool = True,
        content: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A status by ``account``: delivered to hashtag streams (unless ``stream`` is
        false), notified to the bot when it mentions the bot or replies to it."""
        at = at or datetime.now(UTC)
        status_id = self._new_id(at)
        parent = self.statuses.get(in_reply_to_id or "")
        mentions = self._mentions(text)
        status = {
            "id": status_id,
            "uri": f"https://{self.domain}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{self.domain}/@{account['acct']}/{status_id}",
            "created_at": iso(at),
            "edited_at": None,
            "account": account,
            "content": content if content is not None else self.render(text),
            "visibility": visibility,
            "sensitive": False,
            "spoiler_text": "",
            "in_reply_to_id": in_reply_to_id,
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "reblog": None,
            "mentions": mentions,
            "tags": [
                {"name": t.lower(), "url": f"https://{self.domain}/tags/{t.lower()}"}
                for t in dict.fromkeys(_TAG_RE.findall(text))
            ],
            "emojis": [],
            "media_attachments": [],
            "language": "en",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "card": None,
            "poll": None,
            "application": None,
        }
        self.statuses[status_id] = status
        if parent is not None:
            parent["replies_count"] += 1
        if stream:
            self._broadcast("update", status)
        bot_mentioned = any(m["id"] == self.bot["id"] for m in mentions)
        replies_to_bot = parent is not None and parent["account"]["id"] == self.bot["id"]
        if account["id"] != self.bot["id"] and (bot_mentioned or replies_to_bot):
            self.notifications.append(
                {
                    "id": str(len(self.notifications) + 1),
                    "type": "mention",
                    "created_at": iso(at),
                    "account": account,
                    "status": status,
                }
            )
        return status

    def edit(self, status_id: str, text: str) -> dict[str, Any]:
        status = self.statuses[status_id]
        status["content"] = self.render(text)
        status["edited_at"] = iso(datetime.now(UTC))
        status["mentions"] = self._mentions(text)
        self._broadcast("status.update", status)
        return status

    def favourite(self, status_id: str, times: int = 1, *, reblogs: int = 0) -> None:
        """``times`` accounts favourite the status and ``reblogs`` boost it (its
        ``favourites_count`` and ``reblogs_count``)."""
        status = self.statuses[status_id]
        status["favourites_count"] += times
        status["reblogs_count"] += reblogs

    def delete(self, status_id: str) -> None:
        status = self.statuses.pop(status_id)
        self.deleted.add(status_id)
        self._broadcast("delete", status, payload=status_id)

    def drop_streams(self) -> None:
        """Cut every open stream (as a restart of the streaming server would)."""
        for sub in list(self.subscribers):
            sub.queue.put_nowait(None)
        self.subscribers.clear()

    def rate_limit_next(self, path: str, *, times: int = 1, reset_in: float = 0.2) -> None:
        """Answer the next ``times`` requests under ``path`` with 429 (reset in ``reset_in``)."""
        self._rate_limited.extend([(path, reset_in)] * times)

    def fail_next(self, method: str, path: str, status: int = 503, *, times: int = 1) -> None:
        self._failures.extend([(method, path, status)] * times)

    def by_bot(self) -> list[dict[str, Any]]:
        """The bot's statuses, oldest first."""
        mine = [s for s in self.statuses.values() if s["account"]["id"] == self.bot["id"]]
        return sorted(mine, key=lambda s: int(s["id"]))

    def requests_to(self, path: str, method: str | None = None) -> list[Recorded]:
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method)
        ]

    async def wait_for_stream(self, count: int = 1) -> None:
        """Until ``count`` streams are open (the bot has subscribed); 5 s at most."""
        async with asyncio.timeout(5):
            while len(self.subscribers) < count:
                self._joined.clear()
                await self._joined.wait()

    # ---- rendering --------------------------------------------------------------------

    def render(self, text: str) -> str:
        """The text as Mastodon's TextFormatter renders a local status."""
        paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
        return "".join(
            "<p>" + "<br />".join(self._render_line(line) for line in p.split("\n")) + "</p>"
            for p in paragraphs
        )

    def _render_line(self, line: str) -> str:
        out: list[str] = []
        pos = 0
        token = re.compile(f"{_URL_RE.pattern}|{_TAG_RE.pattern}|{_MENTION_RE.pattern}", re.I)
        for match in token.finditer(line):
            out.append(html.escape(line[pos : match.start()], quote=False))
            word = match.group(0)
            if word.startswith("#"):
                tag = word[1:]
                out.append(
                    f'<a href="https://{self.domain}/tags/{tag.lower()}" class="mention hashtag" '
                    f'rel="tag">#<span>{html.escape(tag)}</span></a>'
                )
            elif word.startswith("@"):
                user = word[1:].split("@", 1)[0]
                out.append(
                    f'<span class="h-card" translate="no"><a href="https://{self.domain}/@'
                    f'{html.escape(user)}" class="u-url mention">@<span>{html.escape(user)}'
                    "</span></a></span>"
                )
            else:
                scheme, rest = word.split("://", 1)
                shown, tail = rest[:30], rest[30:]
                out.append(
                    f'<a href="{html.escape(word)}" target="_blank" rel="nofollow noopener" '
                    f'translate="no"><span class="invisible">{scheme}://</span>'
                    f'<span class="{"ellipsis" if tail else ""}">{html.escape(shown)}</span>'
                    f'<span class="invisible">{html.escape(tail)}</span></a>'
                )
            pos = match.end()
        out.append(html.escape(line[pos:], quote=False))
        return "".join(out)

    def _mentions(self, text: str) -> list[dict[str, Any]]:
        found = []
        for match in _MENTION_RE.finditer(text):
            user, domain = match.group(1), match.group(2) or ""
            for account in self.accounts.values():
                acct = f"{user}@{domain}" if domain and domain != self.domain else user
                if account["acct"].casefold() == acct.casefold():
                    found.append({k: account[k] for k in ("id", "username", "acct", "url")})
        return found

    def _new_id(self, at: datetime) -> str:
        # Mastodon's ids: milliseconds since the epoch shifted 16 bits, plus a sequence.
        base = int(at.timestamp() * 1000) << 16
        return str(base + next(self._ids) % 65536)

    def _length(self, text: str) -> int:
        """As Mastodon's StatusLengthValidator: grapheme clusters (``⚠️`` is one), a link
        23, a mention without its domain."""
        text = _URL_RE.sub("x" * 23, text)
        text = _MENTION_RE.sub(lambda m: "@" + m.group(1), text)
        return len(regex.findall(r"\X", text))

    def _broadcast(self, event: str, status: dict[str, Any], *, payload: str | None = None) -> None:
        if status["visibility"] != "public":
            return
        tags = {t["name"].casefold() for t in status["tags"]}
        data = payload if payload is not None else json.dumps(status)
        for sub in self.subscribers:
            if sub.tag.casefold() in tags:
                sub.queue.put_nowait((event, data))

    # ---- HTTP -------------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await self._answer(request, handler)
        if not isinstance(response, web.Response) or response.prepared:
            return response
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                response.status,
            )
        )
        return response

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        public = request.path.rstrip("/") in ("/api/v2/instance", "/api/v1/streaming/health")
        if not public and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "The access token is invalid"}, status=401)
        now = datetime.now(UTC)
        if now >= self._rate_reset:
            self._rate_used, self._rate_reset = 0, now + RATE_WINDOW
        for index, (path, reset_in) in enumerate(self._rate_limited):
            if request.path.startswith(path):
                del self._rate_limited[index]
                reset = now + timedelta(seconds=reset_in)
                return web.json_response(
                    {"error": "Too many requests"},
                    status=429,
                    headers=self._rate_headers(0, reset),
                )
        for index, (method, path, status) in enumerate(self._failures):
            if request.method == method and request.path.startswith(path):
                del self._failures[index]
                return web.json_response({"error": "Service unavailable"}, status=status)
        self._rate_used += 1
        if self._rate_used > RATE_LIMIT:
            return web.json_response(
                {"error": "Too many requests"},
                status=429,
                headers=self._rate_headers(0, self._rate_reset),
            )
        response = await handler(request)
        if isinstance(response, web.Response):
            response.headers.update(
                self._rate_headers(RATE_LIMIT - self._rate_used, self._rate_reset)
            )
        return response

    @staticmethod
    def _rate_headers(remaining: int, reset: datetime) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": reset.astimezone(UTC).isoformat(timespec="milliseconds"),
        }

    async def _instance(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "domain": self.domain,
                "title": "Fake Mastodon",
                "version": "4.3.0",
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A loopback fake for tests",
                "languages": ["en"],
                "configuration": {
                    "urls": {"streaming": f"ws://127.0.0.1:{self._port}", "status": None},
                    "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": 4,
                        "characters_reserved_per_url": 23,
                    },
                    "translation": {"enabled": False},
                },
                "registrations": {"enabled": False, "approval_required": False, "message": None},
                "contact": {"email": "admin@" + self.domain, "account": None},
                "rules": [],
            }
        )

    async def _verify_credentials(self, request: web.Request) -> web.Response:
        return web.json_response(self.bot | {"source": {"privacy": "public", "note": ""}})

    async def _account_statuses(self, request: web.Request) -> web.Response:
        account_id = request.match_info["id"]
        mine = [s for s in self.statuses.values() if s["account"]["id"] == account_id]
        return self._page(request, mine, f"/api/v1/accounts/{account_id}/statuses")

    async def _form(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        return dict(await request.post())

    async def _post_status(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        text = str(form.get("status", ""))
        key = request.headers.get("Idempotency-Key", "")
        if key and (self.token, key) in self.idempotency:
            earlier = self.statuses.get(self.idempotency[(self.token, key)])
            if earlier is not None:
                return web.json_response(earlier)
        if not text.strip():
            return web.json_response({"error": "Validation failed: Text can't be blank"}, 422)
        if self._length(text) > self.max_characters:
            return web.json_response(
                {
                    "error": "Validation failed: Text character limit of "
                    f"{self.max_characters} exceeded"
                },
                status=422,
            )
        reply_to = str(form.get("in_reply_to_id") or "") or None
        if reply_to is not None and reply_to not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        status = self.post(
            self.bot,
            text,
            in_reply_to_id=reply_to,
            visibility=str(form.get("visibility") or "public"),
        )
        if key:
            self.idempotency[(self.token, key)] = status["id"]
        return web.json_response(status)

    async def _get_statuses(self, request: web.Request) -> web.Response:
        """``GET /api/v1/statuses?id[]=...`` (Mastodon 4.3): the statuses that exist, at
        most 20 ids a request (more is a 422, as ``check_statuses_limit`` has it)."""
        ids = list(dict.fromkeys(request.query.getall("id[]", [])))
        if len(ids) > 20:
            return web.json_response({"error": "Validation failed"}, status=422)
        return web.json_response([self.statuses[i] for i in ids if i in self.statuses])

    async def _get_status(self, request: web.Request) -> web.Response:
        status = self.statuses.get(request.match_info["id"])
        if status is None:
            return web.json_response({"error": "Record not found"}, status=404)
        return web.json_response(status)

    async def _put_status(self, request: web.Request) -> web.Response:
        status_id = request.match_info["id"]
        if status_id not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        form = await self._form(request)
        return web.json_response(self.edit(status_id, str(form.get("status", ""))))

    async def _delete_status(self, request: web.Request) -> web.Response:
        status_id = request.match_info["id"]
        status = self.statuses.get(status_id)
        if status is None:
            return web.json_response({"error": "Record not found"}, status=404)
        self.delete(status_id)
        return web.json_response(status | {"text": ""})

    async def _context(self, request: web.Request) -> web.Response:
        status_id = request.match_info["id"]
        if status_id not in self.statuses:
            return web.json_response({"error": "Record not found"}, status=404)
        ancestors = []
        parent = self.statuses[status_id].get("in_reply_to_id")
        while parent and parent in self.statuses:
            ancestors.insert(0, self.statuses[parent])
            parent = self.statuses[parent].get("in_reply_to_id")
        descendants: list[dict[str, Any]] = []
        frontier = [status_id]
        while frontier:
            children = sorted(
                (s for s in self.statuses.values() if s.get("in_reply_to_id") in frontier),
                key=lambda s: int(s["id"]),
            )
            descendants.extend(children)
            frontier = [c["id"] for c in children]
        return web.json_response({"ancestors": ancestors, "descendants": descendants})

    async def _tag_timeline(self, request: web.Request) -> web.Response:
        tag = request.match_info["tag"].casefold()
        tagged = [
            s
            for s in self.statuses.values()
            if s["visibility"] == "public" and any(t["name"].casefold() == tag for t in s["tags"])
        ]
        return self._page(request, tagged, f"/api/v1/timelines/tag/{request.match_info['tag']}")

    async def _notifications(self, request: web.Request) -> web.Response:
        types = request.query.getall("types[]", [])
        found = [
            n
            for n in self.notifications
            if (not types or n["type"] in types) and n["status"]["id"] in self.statuses
        ]
        return self._page(request, found, "/api/v1/notifications")

    def _page(self, request: web.Request, items: list[dict[str, Any]], path: str) -> web.Response:
        """Mastodon's id pagination: newest first; ``min_id`` gives the page just after it."""
        q = request.query
        try:
            limit = max(1, min(int(q.get("limit", "20")), 40))
        except ValueError:
            return web.json_response({"error": "limit must be a number"}, status=400)
        ordered = sorted(items, key=lambda s: int(s["id"]))
        if "max_id" in q:
            ordered = [s for s in ordered if int(s["id"]) < int(q["max_id"])]
        if "since_id" in q:
            ordered = [s for s in ordered if int(s["id"]) > int(q["since_id"])]
        if "min_id" in q:
            ordered = [s for s in ordered if int(s["id"]) > int(q["min_id"])][:limit]
        else:
            ordered = ordered[-limit:]
        page = list(reversed(ordered))
        headers = {}
        if page:
            base = f"{self.base_url}{path}?limit={limit}"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return web.json_response(page, headers=headers)

    async def _followed_tags(self, request: web.Request) -> web.Response:
        return web.json_response([self._tag(name) for name in sorted(self.followed_tags)])

    async def _follow_tag(self, request: web.Request) -> web.Response:
        name = request.match_info["tag"].lower()
        self.followed_tags.add(name)
        return web.json_response(self._tag(name))

    def _tag(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "url": f"https://{self.domain}/tags/{name}",
            "history": [],
            "following": name in self.followed_tags,
        }

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "Missing access token"}, status=401)
        tag = request.query.get("tag", "")
        if not tag:
            return web.json_response({"error": "Unknown stream type"}, status=400)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        sub = Subscriber(tag)
        self.subscribers.append(sub)
        self.stream_connections += 1
        self._joined.set()
        try:
            await response.write(b":)\n")
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout=self.heartbeat)
                except TimeoutError:
                    await response.write(b":thump\n")
                    continue
                if item is None:
                    break
                event, data = item
                await response.write(f"event: {event}\ndata: {data}\n\n".encode())
        except ConnectionResetError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.subscribers.remove(sub)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response
