"""The REST half of the fake Discord server: the /api/v10 routes discord.py 2.7 calls.

Handlers validate the way Discord does where a bot bug would otherwise go unnoticed (empty
or over-long messages, double interaction acknowledgements, late interaction responses,
events scheduled in the past) and answer with Discord's JSON error shape.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord_payloads import PRIVATE_THREAD, PUBLIC_THREAD

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscord, FakeInteraction

log = logging.getLogger(__name__)

API = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7
MAX_CONTENT = 2000


class DiscordError(Exception):
    """An API error answered as ``{"message", "code"[, "errors"]}`` with an HTTP status."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with ``Content-Type`` exactly ``application/json`` (discord.py checks)."""
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=json.dumps(data).encode(), headers=all_headers)


def no_content() -> web.Response:
    return web.Response(status=204)


def invalid_form(field: str, code: str, message: str) -> DiscordError:
    return DiscordError(
        400,
        50035,
        "Invalid Form Body",
        {field: {"_errors": [{"code": code, "message": message}]}},
    )


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise invalid_form(name, "NUMBER_TYPE_COERCE", "Value is not snowflake.") from None


async def read_body(request: web.Request) -> tuple[Any, list[tuple[int, str, bytes, str | None]]]:
    """The JSON body and any uploaded files ``(index, filename, data, content_type)``."""
    if request.content_type.startswith("multipart/"):
        payload: Any = {}
        files: list[tuple[int, str, bytes, str | None]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read()
            if name == "payload_json":
                payload = json.loads(data)
            elif name.startswith("files["):
                index = int(name[len("files[") : -1])
                content_type = part.headers.get("Content-Type")
                files.append(
                    (
                        index,
                        part.filename or f"file{index}",
                        bytes(data),
                        content_type,
                    )
                )
        return payload, files
    if request.can_read_body:
        text = await request.text()
        return (json.loads(text) if text else None), []
    return None, []


class RestApi:
    """Route handlers bound to one :class:`FakeDiscord`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        r = web
        a = API
        return [
            r.get(a + "/gateway", self.get_gateway),
            r.get(a + "/gateway/bot", self.get_gateway_bot),
            r.get(a + "/users/@me", self.get_me),
            r.get(a + "/users/{user_id}", self.get_user),
            r.get(a + "/oauth2/applications/@me", self.get_application),
            r.get(a + "/applications/@me", self.get_application),
            r.get(a + "/applications/{app_id}/commands", self.get_commands),
            r.put(a + "/applications/{app_id}/commands", self.put_commands),
            r.post(a + "/applications/{app_id}/commands", self.post_command),
            r.get(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.get_commands),
            r.put(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            r.post(a + "/applications/{app_id}/guilds/{guild_id}/commands", self.post_command),
            r.get(a + "/guilds/{guild_id}", self.get_guild),
            r.get(a + "/guilds/{guild_id}/channels", self.get_guild_channels),
            r.get(a + "/guilds/{guild_id}/roles", self.get_roles),
            r.get(a + "/guilds/{guild_id}/members", self.get_members),
            r.get(a + "/guilds/{guild_id}/members/{user_id}", self.get_member),
            r.get(a + "/guilds/{guild_id}/scheduled-events", self.get_events),
            r.post(a + "/guilds/{guild_id}/scheduled-events", self.post_event),
            r.get(a + "/guilds/{guild_id}/scheduled-events/{event_id}", self.get_event),
            r.patch(a + "/guilds/{guild_id}/scheduled-events/{event_id}", self.patch_event),
            r.delete(a + "/guilds/{guild_id}/scheduled-events/{event_id}", self.delete_event),
            r.get(a + "/channels/{channel_id}", self.get_channel),
            r.post(a + "/channels/{channel_id}/typing", self.typing),
            r.get(a + "/channels/{channel_id}/messages", self.get_history),
            r.post(a + "/channels/{channel_id}/messages", self.post_message),
            r.get(a + "/channels/{channel_id}/messages/{message_id}", self.get_message),
            r.patch(a + "/channels/{channel_id}/messages/{message_id}", self.patch_message),
            r.delete(a + "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            r.put(
                a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self.put_reaction,
            ),
            r.delete(
                a + "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self.delete_reaction,
            ),
            r.post(a + "/channels/{channel_id}/threads", self.post_thread),
            r.post(a + "/channels/{channel_id}/messages/{message_id}/threads", self.post_thread),
            r.post(
                a + "/interactions/{interaction_id}/{token}/callback", self.interaction_callback
            ),
            r.post(a + "/webhooks/{app_id}/{token}", self.post_followup),
            r.get(a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.get_webhook_message),
            r.patch(
                a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.patch_webhook_message
            ),
            r.delete(
                a + "/webhooks/{app_id}/{token}/messages/{message_id}", self.delete_webhook_message
            ),
            r.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment_file),
        ]

    # -- gateway, users, application ----------------------------------------------------

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.fake.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.fake.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - self.fake.gateway.identify_count,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(
            self.fake.bot_user.to_payload() | {"verified": True, "mfa_enabled": False}
        )

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.fake.users.get(_int(request, "user_id"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(user.to_payload())

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(self.fake.application_payload())

    # -- application commands -----------------------------------------------------------

    def _command_scope(self, request: web.Request) -> int | None:
        if _int(request, "app_id") != self.fake.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        if "guild_id" in request.match_info:
            guild_id = _int(request, "guild_id")
            self.fake.require_guild(guild_id)
            return guild_id
        return None

    async def get_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        return json_response(list(self.fake.commands.get(scope, {}).values()))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body, _ = await read_body(request)
        if not isinstance(body, list):
            raise invalid_form("_root", "LIST_TYPE_CONVERT", "Must be an array.")
        names = [(c.get("type", 1), c.get("name")) for c in body]
        if len(set(names)) != len(names):
            raise invalid_form("_root", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
        return json_response(self.fake.overwrite_commands(scope, body))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body, _ = await read_body(request)
        existing = list(self.fake.commands.get(scope, {}).values())
        kept = [
            c for c in existing if (c["type"], c["name"]) != (body.get("type", 1), body["name"])
        ]
        result = self.fake.overwrite_commands(scope, [*kept, body])
        created = next(c for c in result if c["name"] == body["name"])
        return json_response(created, status=201)

    # -- guilds -------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        return json_response(self.fake.guild_rest_payload(guild_id))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        return json_response(
            [
                c
                for c in self.fake.channels.values()
                if c["guild_id"] == str(guild_id)
                and c["type"] not in (PUBLIC_THREAD, PRIVATE_THREAD)
            ]
        )

    async def get_roles(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        return json_response(list(self.fake.roles[guild_id].values()))

    async def get_members(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        limit = int(request.query.get("limit", 1))
        after = int(request.query.get("after", 0))
        members = [m for m in self.fake.member_payloads(guild_id) if int(m["user"]["id"]) > after]
        members.sort(key=lambda m: int(m["user"]["id"]))
        return json_response(members[:limit])

    async def get_member(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        member = self.fake.members[guild_id].get(_int(request, "user_id"))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response(member)

    # -- scheduled events ---------------------------------------------------------------

    def _validate_event(self, body: dict[str, Any], *, partial: bool) -> None:
        required = ("name", "privacy_level", "scheduled_start_time", "entity_type")
        for key in required:
            if not partial and key not in body:
                raise invalid_form(key, "BASE_TYPE_REQUIRED", "This field is required")
        entity_type = body.get("entity_type")
        if entity_type == 3:
            location = (body.get("entity_metadata") or {}).get("location")
            if not partial and not location:
                raise invalid_form("entity_metadata", "BASE_TYPE_REQUIRED", "location is required")
            if not partial and not body.get("scheduled_end_time"):
                raise invalid_form(
                    "scheduled_end_time", "BASE_TYPE_REQUIRED", "This field is required"
                )
        elif entity_type in (1, 2) and not partial and not body.get("channel_id"):
            raise invalid_form("channel_id", "BASE_TYPE_REQUIRED", "This field is required")
        start = body.get("scheduled_start_time")
        if start is not None:
            when = datetime.fromisoformat(start)
            if when.tzinfo is None:
                raise invalid_form(
                    "scheduled_start_time", "DATE_TIME_TYPE_COERCE", "Could not interpret as a time"
                )
            if body.get("status") is None and when < self.fake.now():
                raise invalid_form(
                    "scheduled_start_time",
                    "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                    "Cannot schedule event in the past.",
                )
            end = body.get("scheduled_end_time")
            if end is not None and datetime.fromisoformat(end) <= when:
                raise invalid_form(
                    "scheduled_end_time",
                    "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                    "End must be after start.",
                )

    async def get_events(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        return json_response(self.fake.scheduled_events(guild_id))

    async def get_event(self, request: web.Request) -> web.Response:
        return json_response(self._event(request))

    def _event(self, request: web.Request) -> dict[str, Any]:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        event = self.fake.events[guild_id].get(_int(request, "event_id"))
        if event is None:
            raise DiscordError(404, 10070, "Unknown Guild Scheduled Event")
        return event

    async def post_event(self, request: web.Request) -> web.Response:
        guild_id = _int(request, "guild_id")
        self.fake.require_guild(guild_id)
        body, _ = await read_body(request)
        self._validate_event(body, partial=False)
        event = self.fake.create_scheduled_event(guild_id, body)
        return json_response(event)

    async def patch_event(self, request: web.Request) -> web.Response:
        event = self._event(request)
        body, _ = await read_body(request)
        merged = event | body
        if "scheduled_start_time" in body:
            self._validate_event(
                {
                    "scheduled_start_time": merged["scheduled_start_time"],
                    "scheduled_end_time": merged.get("scheduled_end_time"),
                },
                partial=True,
            )
        updated = self.fake.update_scheduled_event(int(event["guild_id"]), int(event["id"]), body)
        return json_response(updated)

    async def delete_event(self, request: web.Request) -> web.Response:
        event = self._event(request)
        self.fake.delete_scheduled_event(int(event["guild_id"]), int(event["id"]))
        return no_content()

    # -- channels and messages ----------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.fake.require_channel(_int(request, "channel_id")))

    async def typing(self, request: web.Request) -> web.Response:
        self.fake.require_channel(_int(request, "channel_id"))
        return no_content()

    async def get_history(self, request: web.Request) -> web.Response:
        channel_id = _int(request, "channel_id")
        self.fake.require_channel(channel_id)
        limit = int(request.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100")
        messages = self.fake.messages(channel_id)  # oldest first
        if "around" in request.query:
            around = int(request.query["around"])
            centre = next(
                (i for i, m in enumerate(messages) if int(m["id"]) >= around), len(messages)
            )
            start = max(0, centre - limit // 2)
            chosen = messages[start : start + limit]
        elif "after" in request.query:
            after = int(request.query["after"])
            chosen = [m for m in messages if int(m["id"]) > after][:limit]
        else:
            before = int(request.query.get("before", 0)) or None
            eligible = [m for m in messages if before is None or int(m["id"]) < before]
            chosen = eligible[-limit:]
        return json_response([self.fake.rest_view(m) for m in reversed(chosen)])

    async def get_message(self, request: web.Request) -> web.Response:
        channel_id = _int(request, "channel_id")
        message = self.fake.require_message(channel_id, _int(request, "message_id"))
        return json_response(self.fake.rest_view(message))

    def _check_message_body(
        self, body: dict[str, Any], has_files: bool, *, edit: bool = False
    ) -> None:
        content = body.get("content")
        if content is not None and len(content) > MAX_CONTENT:
            raise invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        if edit:
            return
        if not (
            content
            or body.get("embeds")
            or has_files
            or body.get("sticker_ids")
            or body.get("components")
            or body.get("poll")
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")

    async def post_message(self, request: web.Request) -> web.Response:
        channel_id = _int(request, "channel_id")
        self.fake.require_channel(channel_id)
        body, files = await read_body(request)
        body = body or {}
        self._check_message_body(body, bool(files))
        reply_to = None
        reference = body.get("message_reference")
        if reference and reference.get("message_id"):
            ref_channel = int(reference.get("channel_id") or channel_id)
            ref_id = int(reference["message_id"])
            if self.fake.find_message(ref_channel, ref_id) is None:
                if reference.get("fail_if_not_exists", True):
                    raise invalid_form(
                        "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message"
                    )
            else:
                reply_to = ref_id
        attachments = self._attachments(channel_id, body, files)
        message = self.fake.store_message(
            channel_id,
            self.fake.bot_user,
            body.get("content") or "",
            reply_to=reply_to,
            attachments=attachments,
            embeds=body.get("embeds"),
            components=body.get("components"),
            flags=int(body.get("flags") or 0),
        )
        return json_response(self.fake.rest_view(message))

    def _attachments(
        self, channel_id: int, body: dict[str, Any], files: list[tuple[int, str, bytes, str | None]]
    ) -> list[dict[str, Any]]:
        described = {
            int(a["id"]): a
            for a in body.get("attachments") or []
            if str(a.get("id", "")).isdigit() and int(a["id"]) < 10
        }
        result: list[dict[str, Any]] = []
        for index, filename, data, content_type in sorted(files):
            meta = described.get(index, {})
            result.append(
                self.fake.store_attachment(
                    channel_id,
                    meta.get("filename") or filename,
                    data,
                    content_type,
                    description=meta.get("description"),
                )
            )
        return result

    def _own_message(self, request: web.Request) -> tuple[int, dict[str, Any]]:
        channel_id = _int(request, "channel_id")
        message = self.fake.require_message(channel_id, _int(request, "message_id"))
        return channel_id, message

    async def patch_message(self, request: web.Request) -> web.Response:
        channel_id, message = self._own_message(request)
        if message["author"]["id"] != str(self.fake.bot_user.id):
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await read_body(request)
        body = body or {}
        self._check_message_body(body, bool(files), edit=True)
        changes = self._edit_changes(channel_id, message, body, files)
        updated = self.fake.apply_edit(channel_id, int(message["id"]), changes)
        return json_response(self.fake.rest_view(updated))

    def _edit_changes(
        self,
        channel_id: int,
        message: dict[str, Any],
        body: dict[str, Any],
        files: list[tuple[int, str, bytes, str | None]],
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {
            k: body[k] for k in ("content", "embeds", "components", "flags") if k in body
        }
        if "content" in changes and changes["content"] is None:
            changes["content"] = ""
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            changes["attachments"] = kept + self._attachments(channel_id, body, files)
        return changes

    async def delete_message(self, request: web.Request) -> web.Response:
        channel_id, message = self._own_message(request)
        self.fake.delete_message(channel_id, int(message["id"]))
        return no_content()

    async def put_reaction(self, request: web.Request) -> web.Response:
        channel_id, message = self._own_message(request)
        self.fake.add_reaction(
            channel_id, int(message["id"]), self.fake.bot_user, request.match_info["emoji"]
        )
        return no_content()

    async def delete_reaction(self, request: web.Request) -> web.Response:
        channel_id, message = self._own_message(request)
        self.fake.remove_reaction(
            channel_id, int(message["id"]), self.fake.bot_user, request.match_info["emoji"]
        )
        return no_content()

    async def post_thread(self, request: web.Request) -> web.Response:
        channel_id = _int(request, "channel_id")
        parent = self.fake.require_channel(channel_id)
        if parent["type"] in (PUBLIC_THREAD, PRIVATE_THREAD):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body, _ = await read_body(request)
        body = body or {}
        if not body.get("name"):
            raise invalid_form("name", "BASE_TYPE_REQUIRED", "This field is required")
        message_id = (
            int(request.match_info["message_id"]) if "message_id" in request.match_info else None
        )
        if message_id is not None:
            self.fake.require_message(channel_id, message_id)
        thread = self.fake.create_thread(
            channel_id,
            body["name"],
            owner=self.fake.bot_user,
            message_id=message_id,
            private=body.get("type") == PRIVATE_THREAD,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        return json_response(thread, status=201)

    async def get_attachment_file(self, request: web.Request) -> web.Response:
        stored = self.fake.attachment_bytes.get(_int(request, "attachment_id"))
        if stored is None:
            raise DiscordError(404, 0, "Not Found")
        return web.Response(body=stored, content_type="application/octet-stream")

    # -- interactions -------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> web.Response:
        interaction = self.fake.interactions.get(_int(request, "interaction_id"))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.is_expired():
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.response is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        body, files = await read_body(request)
        body = body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in (1, 4, 5, 6, 7, 8, 9, 12):
            raise invalid_form(
                "type", "BASE_TYPE_CHOICES", f"Value must be one of ... (got {kind})"
            )
        resource: dict[str, Any] = {"type": kind}
        if kind == 4:
            self._check_message_body(data, bool(files))
            attachments = self._attachments(interaction.channel_id, data, files)
            message = self.fake.interaction_message(interaction, data, attachments=attachments)
            interaction.original = message
            resource["message"] = self.fake.rest_view(message)
        elif kind == 5:
            flags = int(data.get("flags") or 0) | LOADING
            message = self.fake.interaction_message(
                interaction, {"content": "", "flags": flags}, attachments=[]
            )
            interaction.original = message
            resource["message"] = self.fake.rest_view(message)
        elif kind == 7:
            if interaction.message is None:
                raise DiscordError(400, 40004, "Interaction has no message to update")
            changes = self._edit_changes(interaction.channel_id, interaction.message, data, files)
            updated = self.fake.apply_edit(
                interaction.channel_id, int(interaction.message["id"]), changes
            )
            resource["message"] = self.fake.rest_view(updated)
        elif kind == 9:
            if not data.get("custom_id") or not data.get("title") or not data.get("components"):
                raise invalid_form(
                    "data", "BASE_TYPE_REQUIRED", "custom_id, title and components are required"
                )
            interaction.modal = data
        self.fake.record_interaction_response(interaction, body)
        if request.query.get("with_response") in ("1", "true", "True"):
            message_payload = resource.get("message")
            info: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(
                    message_payload and int(message_payload.get("flags", 0)) & EPHEMERAL
                ),
            }
            if message_payload is not None:
                info["response_message_id"] = message_payload["id"]
            return json_response({"interaction": info, "resource": resource})
        return no_content()

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        if _int(request, "app_id") != self.fake.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        interaction = self.fake.interaction_by_token(request.match_info["token"])
        if interaction is None or interaction.response is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(
        self, request: web.Request, interaction: FakeInteraction
    ) -> dict[str, Any]:
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            if interaction.original is None:
                raise DiscordError(404, 10008, "Unknown Message")
            return interaction.original
        for message in [interaction.original, *interaction.followups]:
            if message is not None and message["id"] == wanted:
                return message
        raise DiscordError(404, 10008, "Unknown Message")

    async def post_followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        body, files = await read_body(request)
        body = body or {}
        self._check_message_body(body, bool(files))
        attachments = self._attachments(interaction.channel_id, body, files)
        message = self.fake.interaction_message(interaction, body, attachments=attachments)
        interaction.followups.append(message)
        self.fake.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(self.fake.rest_view(message))
        return no_content()

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return json_response(self.fake.rest_view(self._webhook_message(request, interaction)))

    async def patch_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        body, files = await read_body(request)
        body = body or {}
        self._check_message_body(body, bool(files), edit=True)
        changes = self._edit_changes(interaction.channel_id, message, body, files)
        flags = int(message.get("flags", 0))
        if flags & LOADING:
            changes["flags"] = flags & ~LOADING
        updated = self.fake.edit_interaction_message(interaction, message, changes)
        return json_response(self.fake.rest_view(updated))

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request, interaction)
        self.fake.delete_interaction_message(interaction, message)
        return no_content()
