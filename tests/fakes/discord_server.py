"""A loopback fake of Discord (gateway + REST) that the real discord.py client talks to.

Usage::

    async with FakeDiscord() as fake:          # serves on 127.0.0.1, points discord.py at it
        client = discord.Client(intents=..., guild_ready_timeout=0.05)
        await client.login(fake.token)
        task = asyncio.create_task(client.connect())
        ...
        msg = fake.post_user_message(fake.channel_id, alice, "A1: hello #WeDocs")

While the fake is entered, ``discord.http.Route.BASE`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` point at it (restored on exit), so
every REST call and gateway connection of discord.py goes to the loopback server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import yarl
from aiohttp import web

from tests.fakes.discord_gateway import GatewaySession
from tests.fakes.discord_payloads import FakeUser, iso
from tests.fakes.discord_rest import API, DiscordError, RestApi, json_response
from tests.fakes.discord_state import FakeDiscordState, FakeInteraction, StoredAttachment

if TYPE_CHECKING:
    import discord

log = logging.getLogger(__name__)

__all__ = [
    "FakeDiscord",
    "FakeInteraction",
    "FakeUser",
    "RecordedRequest",
    "StoredAttachment",
    "connected_client",
]

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
_UNAUTHENTICATED_PREFIXES = ("/interactions/", "/webhooks/", "/gateway")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One HTTP request the fake received."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    status: int = 0


@dataclass(slots=True)
class _FailureRule:
    pattern: str
    status: int
    times: int
    retry_after: float
    is_global: bool
    hits: list[str] = field(default_factory=list)


class FakeDiscord(FakeDiscordState):
    """The fake Discord server: an aiohttp app on 127.0.0.1 with an ephemeral port."""

    def __init__(self, *, patch_discord: bool = True, **options: Any) -> None:
        super().__init__(**options)
        self.patch_discord = patch_discord
        self.refuse_connections = False
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[str] = []
        self.errors: list[str] = []
        self._failures: list[_FailureRule] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._saved: tuple[str, Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_routes(RestApi(self).routes())
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self.base_url = f"http://127.0.0.1:{self._port}"
        if self.patch_discord:
            self._patch()

    async def stop(self) -> None:
        if self._saved is not None:
            self._unpatch()
        await self.gateway.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _patch(self) -> None:
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def _unpatch(self) -> None:
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        assert self._saved is not None
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        self._saved = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be: ``http://127.0.0.1:PORT/api/v10``."""
        return self.base_url + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    # -- HTTP plumbing -----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        api_path = path[len(API) :] if path.startswith(API) else path
        response = await self._respond(request, handler, api_path)
        self.requests.append(
            RecordedRequest(request.method, api_path, dict(request.query), response.status)
        )
        self.notify()
        return response

    async def _respond(
        self, request: web.Request, handler: Any, api_path: str
    ) -> web.StreamResponse:
        failure = self._take_failure(request.method, api_path)
        if failure is not None:
            return failure
        if request.path.startswith(API) and not api_path.startswith(_UNAUTHENTICATED_PREFIXES):
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        try:
            return await handler(request)
        except DiscordError as exc:
            return json_response(exc.body(), status=exc.status)
        except web.HTTPException:
            raise
        except Exception as exc:
            # A crash in the fake is a bug in the fake: make it loud (ERROR log) and fast
            # (503 is not retried by discord.py).
            log.exception("fake Discord crashed on %s %s", request.method, request.path)
            self.errors.append(f"{request.method} {api_path}: {exc!r}")
            return json_response(
                {"message": f"fake Discord crashed: {exc!r}", "code": 0}, status=503
            )

    async def _unknown_route(self, request: web.Request) -> web.Response:
        api_path = request.path[len(API) :] if request.path.startswith(API) else request.path
        self.unhandled.append(f"{request.method} {api_path}")
        log.warning("fake Discord: unhandled route %s %s", request.method, api_path)
        return json_response({"message": "Unknown route", "code": 0}, status=404)

    def fail_next(
        self,
        route_pattern: str,
        status: int = 429,
        times: int = 1,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (429 / 500 / 503 ...).

        ``route_pattern`` is an fnmatch pattern over ``"METHOD /path"`` without the
        /api/v10 prefix, e.g. ``"POST /channels/*/messages"``; a pattern that does not start
        with a method matches any method. A 429 carries Discord's JSON body and headers
        (``retry_after``, ``Retry-After``, ``X-RateLimit-*``, ``Via``) so discord.py retries.
        """
        self._failures.append(_FailureRule(route_pattern, status, times, retry_after, is_global))

    def clear_failures(self) -> None:
        self._failures.clear()

    def _take_failure(self, method: str, api_path: str) -> web.Response | None:
        for rule in self._failures:
            target = f"{method} {api_path}" if rule.pattern.split(" ", 1)[0].isupper() else api_path
            if rule.times > 0 and fnmatch.fnmatchcase(target, rule.pattern):
                rule.times -= 1
                rule.hits.append(f"{method} {api_path}")
                return self._failure_response(rule)
        return None

    def _failure_response(self, rule: _FailureRule) -> web.Response:
        if rule.status == 429:
            headers = {
                "Retry-After": str(math.ceil(rule.retry_after)),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + rule.retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{rule.retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-bucket",
                "X-RateLimit-Scope": "global" if rule.is_global else "user",
                "Via": "1.1 google",
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": rule.retry_after,
                "global": rule.is_global,
            }
            return json_response(body, status=429, headers=headers)
        return json_response(
            {"message": f"{rule.status}: injected failure", "code": 0}, status=rule.status
        )

    # -- gateway control ---------------------------------------------------------------

    def disconnect_all(self, code: int = 4000, *, send_reconnect: bool = False) -> int:
        """Drop every gateway websocket; sessions stay resumable. Returns the count dropped.

        Close code 4000 (or a RECONNECT op with ``send_reconnect``) makes discord.py resume.
        Events dispatched while the client is away are replayed when it resumes.
        """
        return self.gateway.disconnect_all(code, reconnect_op=send_reconnect)

    def invalidate_sessions(self) -> None:
        """The next RESUME gets INVALID_SESSION, so the client must IDENTIFY again."""
        self.gateway.invalidate_sessions()

    @property
    def sessions(self) -> list[GatewaySession]:
        return list(self.gateway.sessions.values())

    def connected_sessions(self) -> list[GatewaySession]:
        return [s for s in self.gateway.sessions.values() if s.connection is not None]

    async def wait_connected(self, *, within: float = 5.0) -> GatewaySession:
        """Wait until a gateway session has a live websocket."""
        sessions = await self.wait_until(
            self.connected_sessions, within=within, what="a gateway session"
        )
        return sessions[0]

    # -- test helpers: messages ---------------------------------------------------------

    def post_user_message(
        self,
        channel_id: int,
        author: FakeUser | int,
        content: str,
        *,
        reply_to: int | str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A user posts ``content``: stored in history and dispatched as MESSAGE_CREATE.

        ``at`` (an aware datetime) backdates the message; its snowflake encodes that time.
        """
        message = self.store_message(
            channel_id,
            self.user(author),
            content,
            reply_to=int(reply_to) if reply_to is not None else None,
            at=at,
        )
        return self.rest_view(message)

    def message(self, channel_id: int, message_id: int | str) -> dict[str, Any]:
        return self.rest_view(self.require_message(channel_id, int(message_id)))

    # -- test helpers: interactions ------------------------------------------------------

    def invoke_command(
        self,
        name: str,
        subcommand: str | None = None,
        options: dict[str, Any] | None = None,
        user: FakeUser | int | None = None,
        *,
        permissions: int | None = None,
        channel_id: int | None = None,
        guild_id: int | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user runs ``/name [group] [subcommand] options...``; dispatches INTERACTION_CREATE.

        The command must have been registered (synced) by the bot. ``subcommand`` may be
        ``"sub"`` or ``"group sub"``. Option values are checked and typed against the
        registered schema. ``permissions`` overrides the member's computed permissions;
        as in the Discord client, a member lacking the command's default_member_permissions
        cannot invoke it (PermissionError).
        """
        gid = guild_id or self.guild_id
        cid = channel_id or self.channel_id
        invoker = self.user(user) if user is not None else self.owner
        command = self.find_command(name, gid)
        if command is None:
            raise LookupError(
                f"/{name} is not registered with the fake (did the bot sync its tree?)"
            )
        perms = permissions if permissions is not None else self.permissions(invoker, gid)
        required = command.get("default_member_permissions")
        if required is not None and (int(required) & perms) != int(required) and not perms & 8:
            raise PermissionError(f"{invoker.username} lacks permissions {required} for /{name}")
        resolved: dict[str, dict[str, Any]] = {}
        schema = command.get("options") or []
        path = subcommand.split() if subcommand else []
        leaf = _build_options(schema, path, options or {}, resolved, self, gid)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": 1,
        }
        if leaf:
            data["options"] = leaf
        if resolved:
            data["resolved"] = resolved
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return self._send_interaction(2, data, invoker, perms, cid, gid, locale)

    def submit_modal(
        self,
        interaction: FakeInteraction | int,
        values: dict[str, str],
        *,
        user: FakeUser | int | None = None,
    ) -> FakeInteraction:
        """The user fills in and submits the modal the bot opened in answer to ``interaction``.

        ``values`` maps each text input's custom_id (or its label) to what the user typed.
        """
        source = self.interactions[interaction if isinstance(interaction, int) else interaction.id]
        if source.modal is None:
            raise LookupError(f"interaction {source.id} did not open a modal")
        components = [_submitted_component(c, values) for c in source.modal["components"]]
        data = {"custom_id": source.modal["custom_id"], "components": components}
        invoker = self.user(user) if user is not None else source.user
        perms = int(source.payload["member"]["permissions"]) if "member" in source.payload else 0
        assert source.guild_id is not None
        locale = source.payload.get("locale", "en-US")
        return self._send_interaction(
            5, data, invoker, perms, source.channel_id, source.guild_id, locale
        )

    def _send_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        invoker: FakeUser,
        perms: int,
        channel_id: int,
        guild_id: int,
        locale: str,
    ) -> FakeInteraction:
        interaction_id = self.snowflakes.next()
        token = self.new_interaction_token()
        member = self.members[guild_id].get(invoker.id)
        if member is None:
            raise LookupError(f"{invoker.username} is not a member of guild {guild_id}")
        channel = self.require_channel(channel_id)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": dict(channel) | {"permissions": str(perms)},
            "member": dict(member) | {"permissions": str(perms)},
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions(self.bot_user, guild_id)),
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        interaction = FakeInteraction(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            user=invoker,
            channel_id=channel_id,
            guild_id=guild_id,
            created=asyncio.get_running_loop().time(),
            deadline=self.interaction_deadline,
        )
        self.interactions[interaction_id] = interaction
        self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    async def wait_for_response(
        self, interaction: FakeInteraction | int, *, within: float = 5.0
    ) -> dict[str, Any]:
        """Wait for the bot's initial callback to ``interaction``; return its body {type, data}."""
        record = self.interactions[interaction if isinstance(interaction, int) else interaction.id]
        await self.wait_until(
            lambda: record.response is not None, within=within, what=f"a response to {record.id}"
        )
        assert record.response is not None
        return record.response

    async def wait_for_followups(
        self, interaction: FakeInteraction | int, count: int = 1, *, within: float = 5.0
    ) -> list[dict[str, Any]]:
        """Wait until the bot has sent ``count`` followup messages to ``interaction``."""
        record = self.interactions[interaction if isinstance(interaction, int) else interaction.id]
        await self.wait_until(
            lambda: len(record.followups) >= count,
            within=within,
            what=f"{count} followup(s) to {record.id}",
        )
        return [self.rest_view(m) for m in record.followups]

    # -- test helpers: misc ----------------------------------------------------------------

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose ``"METHOD /path"`` matches the fnmatch ``pattern``."""
        return [r for r in self.requests if fnmatch.fnmatchcase(f"{r.method} {r.path}", pattern)]

    def describe(self) -> str:
        """A short summary for assertion messages."""
        return json.dumps(
            {
                "unhandled": self.unhandled,
                "errors": self.errors,
                "sessions": len(self.gateway.sessions),
                "now": iso(self.now()),
            }
        )


def _build_options(
    schema: list[dict[str, Any]],
    path: list[str],
    given: dict[str, Any],
    resolved: dict[str, dict[str, Any]],
    fake: FakeDiscord,
    guild_id: int,
) -> list[dict[str, Any]]:
    """The interaction ``options`` tree for ``path`` (sub-command names) and ``given`` values."""
    if path:
        head = path[0]
        for option in schema:
            if option["name"] == head and option["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
                inner = _build_options(
                    option.get("options") or [], path[1:], given, resolved, fake, guild_id
                )
                node: dict[str, Any] = {"type": option["type"], "name": head}
                if inner or option["type"] == SUB_COMMAND:
                    node["options"] = inner
                return [node]
        raise LookupError(f"no sub-command {head!r}; known: {[o['name'] for o in schema]}")
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in schema):
        raise LookupError(f"a sub-command is required; known: {[o['name'] for o in schema]}")
    by_name = {o["name"]: o for o in schema}
    unknown = set(given) - set(by_name)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; known: {sorted(by_name)}")
    result: list[dict[str, Any]] = []
    for option in schema:
        name = option["name"]
        if name not in given:
            if option.get("required"):
                raise ValueError(f"option {name!r} is required")
            continue
        value = _option_value(option, given[name], resolved, fake, guild_id)
        result.append({"type": option["type"], "name": name, "value": value})
    return result


def _option_value(
    option: dict[str, Any],
    value: Any,
    resolved: dict[str, dict[str, Any]],
    fake: FakeDiscord,
    guild_id: int,
) -> Any:
    kind = option["type"]
    name = option["name"]
    choices = option.get("choices")
    if kind == STRING:
        value = str(value)
        if "max_length" in option and len(value) > option["max_length"]:
            raise ValueError(f"option {name!r} is longer than {option['max_length']}")
    elif kind == INTEGER:
        value = int(value)
    elif kind == NUMBER:
        value = float(value)
    elif kind == BOOLEAN:
        value = bool(value)
    elif kind in (USER, MENTIONABLE) and (isinstance(value, FakeUser) or int(value) in fake.users):
        user = fake.user(value)
        resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        member = fake.members[guild_id].get(user.id)
        if member is not None:
            member_view = {k: v for k, v in member.items() if k != "user"}
            member_view["permissions"] = str(fake.permissions(user, guild_id))
            resolved.setdefault("members", {})[str(user.id)] = member_view
        value = str(user.id)
    elif kind in (ROLE, MENTIONABLE):
        role = fake.roles[guild_id][int(value)]
        resolved.setdefault("roles", {})[role["id"]] = dict(role)
        value = role["id"]
    elif kind == CHANNEL:
        channel = fake.require_channel(int(value))
        resolved.setdefault("channels", {})[channel["id"]] = {
            k: channel[k]
            for k in ("id", "name", "type", "parent_id", "thread_metadata")
            if k in channel
        } | {"permissions": str(fake.permissions(fake.bot_user, guild_id))}
        value = channel["id"]
    else:
        raise ValueError(f"option type {kind} of {name!r} is not supported by the fake")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"{value!r} is not a choice of option {name!r}")
    return value


def _submitted_component(component: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """What the Discord client sends back for one top-level modal component."""
    if component["type"] == 1:  # action row of text inputs
        return {
            "type": 1,
            "components": [_submitted_input(c, None, values) for c in component["components"]],
        }
    if component["type"] == 18:  # label wrapping one component
        return {
            "type": 18,
            "id": component.get("id", 0),
            "component": _submitted_input(component["component"], component.get("label"), values),
        }
    return {"type": component["type"], "id": component.get("id", 0)}


def _submitted_input(
    item: dict[str, Any], label: str | None, values: dict[str, str]
) -> dict[str, Any]:
    custom_id = item.get("custom_id", "")
    label = label or item.get("label")
    if item["type"] != 4:
        return {"type": item["type"], "custom_id": custom_id, "values": []}
    if custom_id in values:
        value = values[custom_id]
    elif label is not None and label in values:
        value = values[label]
    else:
        value = item.get("value") or ""
    if item.get("required", True) and not value:
        raise ValueError(f"text input {label or custom_id!r} is required")
    if len(value) > item.get("max_length", 4000) or (
        value and len(value) < item.get("min_length", 0)
    ):
        raise ValueError(f"text input {label or custom_id!r}: length {len(value)} out of bounds")
    return {"type": 4, "id": item.get("id", 0), "custom_id": custom_id, "value": value}


@contextlib.asynccontextmanager
async def connected_client(
    client: discord.Client, fake: FakeDiscord, *, within: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in to ``fake``, run its gateway loop until on_ready, close it on exit.

    Build the client with ``guild_ready_timeout=0.05`` or on_ready waits 2 s for guilds.
    """
    await client.login(fake.token)
    ready = asyncio.ensure_future(client.wait_for("ready"))
    runner = asyncio.create_task(client.connect(), name="discord-client-connect")
    try:
        done, _ = await asyncio.wait(
            {ready, runner}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        if runner in done:
            runner.result()  # raises what made connect() give up
            raise RuntimeError("discord.py client stopped before it was ready")
        if ready not in done:
            raise TimeoutError(f"discord.py client not ready within {within}s: {fake.describe()}")
        yield client
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 5.0)
