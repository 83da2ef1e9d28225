"""The gateway half of the fake Discord server: one websocket per connected client.

Implements HELLO / heartbeat ACK / IDENTIFY -> READY + GUILD_CREATE / RESUME -> replay +
RESUMED (or INVALID_SESSION) / REQUEST_GUILD_MEMBERS, with per-session sequence numbers,
intent filtering (including the privileged MESSAGE_CONTENT rule) and optional zlib-stream
compression, as documented at https://discord.com/developers/docs/events/gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import secrets
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord

log = logging.getLogger(__name__)

# Opcodes.
DISPATCH = 0
HEARTBEAT = 1
IDENTIFY = 2
PRESENCE_UPDATE = 3
VOICE_STATE_UPDATE = 4
RESUME = 6
RECONNECT = 7
REQUEST_GUILD_MEMBERS = 8
INVALID_SESSION = 9
HELLO = 10
HEARTBEAT_ACK = 11

# Intents.
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

_EVENT_INTENTS: dict[str, tuple[int, int]] = {
    # event: (intent in a guild, intent in a DM)
    "GUILD_CREATE": (GUILDS, GUILDS),
    "GUILD_UPDATE": (GUILDS, GUILDS),
    "GUILD_DELETE": (GUILDS, GUILDS),
    "GUILD_ROLE_CREATE": (GUILDS, GUILDS),
    "GUILD_ROLE_UPDATE": (GUILDS, GUILDS),
    "GUILD_ROLE_DELETE": (GUILDS, GUILDS),
    "CHANNEL_CREATE": (GUILDS, GUILDS),
    "CHANNEL_UPDATE": (GUILDS, GUILDS),
    "CHANNEL_DELETE": (GUILDS, GUILDS),
    "THREAD_CREATE": (GUILDS, GUILDS),
    "THREAD_UPDATE": (GUILDS, GUILDS),
    "THREAD_DELETE": (GUILDS, GUILDS),
    "GUILD_MEMBER_ADD": (GUILD_MEMBERS, GUILD_MEMBERS),
    "GUILD_MEMBER_UPDATE": (GUILD_MEMBERS, GUILD_MEMBERS),
    "GUILD_MEMBER_REMOVE": (GUILD_MEMBERS, GUILD_MEMBERS),
    "MESSAGE_CREATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_UPDATE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_DELETE_BULK": (GUILD_MESSAGES, DIRECT_MESSAGES),
    "MESSAGE_REACTION_ADD": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "MESSAGE_REACTION_REMOVE": (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    "GUILD_SCHEDULED_EVENT_CREATE": (GUILD_SCHEDULED_EVENTS, GUILD_SCHEDULED_EVENTS),
    "GUILD_SCHEDULED_EVENT_UPDATE": (GUILD_SCHEDULED_EVENTS, GUILD_SCHEDULED_EVENTS),
    "GUILD_SCHEDULED_EVENT_DELETE": (GUILD_SCHEDULED_EVENTS, GUILD_SCHEDULED_EVENTS),
}
_CONTENT_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE"})
_BACKLOG = 5000
_CLOSE = object()


@dataclass(eq=False)
class GatewaySession:
    """An identified gateway session; it outlives its websocket so that it can be resumed."""

    session_id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    backlog: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_BACKLOG))
    connection: GatewayConnection | None = None
    invalid: bool = False
    resumes: int = 0


class GatewayConnection:
    """One websocket: an ordered outgoing queue drained by a single writer task."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")
        self.session: GatewaySession | None = None
        self.closing = False

    def send(self, payload: dict[str, Any]) -> None:
        if not self.closing:
            self._queue.put_nowait(payload)

    def close(self, code: int, message: str = "") -> None:
        """Send everything queued so far, then close with ``code``."""
        if not self.closing:
            self.closing = True
            self._queue.put_nowait((_CLOSE, code, message))

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, tuple) and item and item[0] is _CLOSE:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=item[1], message=item[2].encode())
                return
            text = json.dumps(item, separators=(",", ":"))
            try:
                if self._compressor is not None:
                    data = self._compressor.compress(text.encode())
                    data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("fake gateway: send failed (%s); dropping connection", exc)
                return

    async def finish(self, grace: float = 0.0) -> None:
        """Stop the writer, after at most ``grace`` seconds for queued frames and the close."""
        if grace > 0:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._writer), grace)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


class Gateway:
    """All gateway sessions of one fake server."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.identify_count = 0
        self.resume_count = 0

    # -- dispatching -------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH to every live session (buffered while a session is disconnected)."""
        for session in list(self.sessions.values()):
            if session.invalid:
                continue
            self._dispatch_to(session, event, data)

    def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        payload = self._filter(session, event, data)
        if payload is None:
            return
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": payload}
        session.backlog.append(frame)
        if session.connection is not None:
            session.connection.send(frame)

    def _filter(
        self, session: GatewaySession, event: str, data: dict[str, Any]
    ) -> dict[str, Any] | None:
        in_guild = "guild_id" in data or event.startswith("GUILD_")
        needed = _EVENT_INTENTS.get(event)
        if needed is not None and not session.intents & needed[0 if in_guild else 1]:
            return None
        payload = copy.deepcopy(data)
        if event in _CONTENT_EVENTS and not session.intents & MESSAGE_CONTENT and in_guild:
            bot_id = str(self.fake.bot_user.id)
            author_id = payload.get("author", {}).get("id")
            mentioned = any(u.get("id") == bot_id for u in payload.get("mentions", []))
            if author_id != bot_id and not mentioned:
                payload.update(content="", embeds=[], attachments=[], components=[])
                payload.pop("poll", None)
        return payload

    # -- connection handling -----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.fake.refuse_connections:
            return web.Response(status=503, text="gateway unavailable (refuse_connections)")
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        conn = GatewayConnection(ws, compress=compress)
        self.connections.add(conn)
        conn.send({"op": HELLO, "d": {"heartbeat_interval": self.fake.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        conn.close(4002, "Decode error")
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    conn.close(4002, "Decode error")
                    continue
                self._on_frame(conn, frame)
        finally:
            self.connections.discard(conn)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            await conn.finish()
        return ws

    def _on_frame(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            conn.send({"op": HEARTBEAT_ACK, "d": None})
        elif op == IDENTIFY:
            self._identify(conn, data or {})
        elif op == RESUME:
            self._resume(conn, data or {})
        elif conn.session is None:
            conn.close(4003, "Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS:
            self._request_members(conn, data or {})
        elif op in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            pass
        else:
            conn.close(4001, "Unknown opcode.")

    def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return
        if data.get("token") != self.fake.token:
            conn.close(4004, "Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.fake.privileged_intents:
            conn.close(4014, "Disallowed intent(s).")
            return
        self.identify_count += 1
        session = GatewaySession(
            session_id=secrets.token_hex(16), intents=intents, shard=data.get("shard")
        )
        self.sessions[session.session_id] = session
        session.connection = conn
        conn.session = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.fake.bot_user.to_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self.fake.guild_ids()],
            "session_id": session.session_id,
            "resume_gateway_url": self.fake.gateway_url,
            "application": {"id": str(self.fake.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        self._dispatch_to(session, "READY", ready)
        for gid in self.fake.guild_ids():
            self._dispatch_to(session, "GUILD_CREATE", self.fake.guild_create_payload(gid))
        self.fake.notify()

    def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        resumable = (
            session is not None
            and not session.invalid
            and data.get("token") == self.fake.token
            and isinstance(seq, int)
            and (not session.backlog or session.backlog[0]["s"] <= seq + 1)
        )
        if session is None or not resumable:
            conn.send({"op": INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not conn:
            session.connection.close(4000, "Session resumed elsewhere")
        self.resume_count += 1
        session.resumes += 1
        session.connection = conn
        conn.session = session
        for frame in session.backlog:
            if frame["s"] > seq:
                conn.send(frame)
        self._dispatch_to(session, "RESUMED", {"_trace": ["fake-discord"]})
        self.fake.notify()

    def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = conn.session
        assert session is not None
        guild_id = int(data.get("guild_id", 0))
        members = self.fake.member_payloads(guild_id)
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m["user"]["id"] in wanted]
        query = data.get("query")
        if query:
            members = [m for m in members if m["user"]["username"].startswith(query)]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild_id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)

    # -- control -----------------------------------------------------------------------

    def disconnect_all(self, code: int = 4000, *, reconnect_op: bool = False) -> int:
        """Drop every websocket (sessions stay resumable); returns how many were dropped."""
        dropped = 0
        for conn in list(self.connections):
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            if reconnect_op:
                conn.send({"op": RECONNECT, "d": None})
            conn.close(code, "fake disconnect")
            dropped += 1
        return dropped

    def invalidate_sessions(self) -> None:
        """Make every existing session non-resumable (the next RESUME gets INVALID_SESSION)."""
        for session in self.sessions.values():
            session.invalid = True

    async def shutdown(self) -> None:
        for conn in list(self.connections):
            conn.close(1001, "fake server shutting down")
        for conn in list(self.connections):
            await conn.finish(grace=1.0)
