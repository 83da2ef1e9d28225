"""Snowflakes, a controllable clock and Discord-shaped JSON payload builders for the fake.

The shapes follow the Discord API documentation closely enough that discord.py 2.7 parses
them without warnings; each builder returns a fresh plain ``dict`` so callers may mutate it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits used by the fake (see the Discord "Permissions" documentation).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_GUILD = 1 << 5
MANAGE_EVENTS = 1 << 33
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
USE_APPLICATION_COMMANDS = 1 << 31
DEFAULT_EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
    | USE_APPLICATION_COMMANDS
)

# Channel types.
GUILD_TEXT = 0
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12

_MENTION_RE = re.compile(r"<@!?(\d+)>")


def iso(moment: datetime) -> str:
    """Format an aware datetime the way Discord does (microseconds, explicit +00:00)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the fake Discord server")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def snowflake_time(snowflake: int) -> datetime:
    """The creation instant encoded in a snowflake."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class SnowflakeFactory:
    """Unique, time-ordered snowflakes whose timestamps come from a controllable clock."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._increment = 0
        self._issued: set[int] = set()

    def next(self, at: datetime | None = None) -> int:
        """A new snowflake for ``at`` (default: the clock's now)."""
        moment = at if at is not None else self.clock()
        ms = int(moment.timestamp() * 1000) - DISCORD_EPOCH_MS
        if ms < 0:
            raise ValueError(f"{moment!r} is before the Discord epoch")
        while True:
            self._increment = (self._increment + 1) & 0xFFF
            value = (ms << 22) | (1 << 17) | (1 << 12) | self._increment
            if value not in self._issued:
                self._issued.add(value)
                return value


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A Discord user known to the fake."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            payload["bot"] = True
        return payload


def role_payload(role_id: int, name: str, permissions: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "description": None,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member_payload(
    user: FakeUser, role_ids: Iterable[int], joined_at: datetime, *, nick: str | None = None
) -> dict[str, Any]:
    return {
        "user": user.to_payload(),
        "nick": nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in role_ids],
        "joined_at": iso(joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def text_channel_payload(
    channel_id: int, guild_id: int, name: str, position: int, parent_id: int | None = None
) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "position": position,
        "permission_overwrites": [],
        "name": name,
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": str(parent_id) if parent_id else None,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread_payload(
    thread_id: int,
    guild_id: int,
    parent_id: int,
    owner_id: int,
    name: str,
    created_at: datetime,
    *,
    private: bool = False,
    auto_archive_duration: int = 1440,
) -> dict[str, Any]:
    return {
        "id": str(thread_id),
        "type": PRIVATE_THREAD if private else PUBLIC_THREAD,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": iso(created_at),
            "locked": False,
            "invitable": True,
            "create_timestamp": iso(created_at),
        },
    }


def mentioned_user_ids(content: str) -> list[int]:
    """User ids mentioned as ``<@id>`` / ``<@!id>`` in message content, in order, unique."""
    seen: list[int] = []
    for match in _MENTION_RE.finditer(content):
        uid = int(match.group(1))
        if uid not in seen:
            seen.append(uid)
    return seen


def message_payload(
    message_id: int,
    channel_id: int,
    author: FakeUser,
    content: str,
    created_at: datetime,
    *,
    mentions: list[dict[str, Any]] | None = None,
    reference: dict[str, Any] | None = None,
    referenced_message: dict[str, Any] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    flags: int = 0,
    webhook_id: int | None = None,
    interaction_metadata: dict[str, Any] | None = None,
    application_id: int | None = None,
    message_type: int | None = None,
    sticker_items: list[dict[str, Any]] | None = None,
    message_snapshots: list[dict[str, Any]] | None = None,
    poll: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message object as the REST API returns it (no guild_id / member: events add them).

    A reference makes a reply (type 19) unless ``message_type`` says otherwise (a forward
    is type 0 with a reference of type 1 and ``message_snapshots``)."""
    payload: dict[str, Any] = {
        "id": str(message_id),
        "type": message_type if message_type is not None else (19 if reference else 0),
        "channel_id": str(channel_id),
        "author": author.to_payload(),
        "content": content,
        "timestamp": iso(created_at),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": "@everyone" in content,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "pinned": False,
        "flags": flags,
        "components": components or [],
    }
    if reference is not None:
        payload["message_reference"] = reference
        payload["referenced_message"] = referenced_message
    if sticker_items is not None:
        payload["sticker_items"] = sticker_items
    if message_snapshots is not None:
        payload["message_snapshots"] = message_snapshots
    if poll is not None:
        payload["poll"] = poll
    if webhook_id is not None:
        payload["webhook_id"] = str(webhook_id)
    if interaction_metadata is not None:
        payload["interaction_metadata"] = interaction_metadata
    if application_id is not None:
        payload["application_id"] = str(application_id)
    return payload


def sticker_item_payload(sticker_id: int, name: str, format_type: int = 1) -> dict[str, Any]:
    """A sticker item of a message (Discord API "Sticker Item Object"; 1 is PNG)."""
    return {"id": str(sticker_id), "name": name, "format_type": format_type}


def snapshot_payload(message: dict[str, Any]) -> dict[str, Any]:
    """The ``message_snapshots`` entry of a forward of ``message`` (Discord API "Message
    Snapshot Object": a subset of the message's fields, no author, no id)."""
    fields = (
        "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags",
        "mentions", "mention_roles", "components",
    )  # fmt: skip
    snapshot = {k: message[k] for k in fields if k in message}
    if "sticker_items" in message:
        snapshot["sticker_items"] = message["sticker_items"]
    return {"message": snapshot}


def poll_payload(question: str, answers: list[str], expiry: datetime) -> dict[str, Any]:
    """A message's poll (Discord API "Poll Object")."""
    return {
        "question": {"text": question},
        "answers": [
            {"answer_id": i, "poll_media": {"text": text}} for i, text in enumerate(answers, 1)
        ],
        "expiry": iso(expiry),
        "allow_multiselect": False,
        "layout_type": 1,
    }


def attachment_payload(
    attachment_id: int,
    filename: str,
    size: int,
    url: str,
    content_type: str | None,
    description: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "flags": 0,
    }
    if content_type:
        payload["content_type"] = content_type
    if description:
        payload["description"] = description
    return payload


def scheduled_event_payload(
    event_id: int, guild_id: int, creator: FakeUser, body: dict[str, Any]
) -> dict[str, Any]:
    """A guild scheduled event built from a create request body (validated by the caller)."""
    return {
        "id": str(event_id),
        "guild_id": str(guild_id),
        "channel_id": body.get("channel_id"),
        "creator_id": str(creator.id),
        "creator": creator.to_payload(),
        "name": body["name"],
        "description": body.get("description"),
        "scheduled_start_time": body["scheduled_start_time"],
        "scheduled_end_time": body.get("scheduled_end_time"),
        "privacy_level": body.get("privacy_level", 2),
        "status": body.get("status", 1),
        "entity_type": body["entity_type"],
        "entity_id": None,
        "entity_metadata": body.get("entity_metadata"),
        "user_count": 0,
        "image": body.get("image"),
        "recurrence_rule": body.get("recurrence_rule"),
    }
