"""What DiscordChatExporter writes for a channel of the fake Discord: its JSON export.

A port of the fields of ``JsonMessageWriter`` (Tyrrrz/DiscordChatExporter,
``DiscordChatExporter.Core/Exporting/JsonMessageWriter.cs``) that tweetchat reads, applied
to the Discord API message objects the fake holds, so that a test can import "the same
channel" the live adapter saw:

- ``type`` is the name in DiscordChatExporter's ``MessageKind`` enum, or the number for a
  type the enum does not name (``Enum.ToString()`` of an undefined value);
- system notifications (types 1 to 18) carry DiscordChatExporter's fallback text as
  ``content`` ("Pinned a message.", "Joined the server.", "Started a thread.");
- ``reference.type`` is ``Default`` or ``Forward``; a forward has ``forwardedMessage``;
- stickers are ``{"id", "name", "format", "sourceUrl"}``; polls are not exported at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.discord_server import FakeDiscord

_KINDS = {
    0: "Default",
    1: "RecipientAdd",
    2: "RecipientRemove",
    3: "Call",
    4: "ChannelNameChange",
    5: "ChannelIconChange",
    6: "ChannelPinnedMessage",
    7: "GuildMemberJoin",
    18: "ThreadCreated",
    19: "Reply",
}
# Message.GetFallbackContent() for the notifications DiscordChatExporter names.
_FALLBACK = {
    6: "Pinned a message.",
    7: "Joined the server.",
    18: "Started a thread.",
}
_STICKER_FORMATS = {1: "Png", 2: "Apng", 3: "Lottie", 4: "Gif"}


def _user(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": payload["id"],
        "name": payload["username"],
        "discriminator": "0000",
        "nickname": payload.get("global_name") or payload["username"],
        "color": None,
        "isBot": bool(payload.get("bot")),
        "roles": [],
        "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png",
    }


def _attachment(a: dict[str, Any]) -> dict[str, Any]:
    return {"id": a["id"], "url": a["url"], "fileName": a["filename"], "fileSizeBytes": a["size"]}


def _sticker(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "name": s["name"],
        "format": _STICKER_FORMATS.get(s.get("format_type", 1), "Png"),
        "sourceUrl": f"https://cdn.discordapp.com/stickers/{s['id']}.png",
    }


def _stamp(value: str | None) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")


def export_message(m: dict[str, Any]) -> dict[str, Any]:
    """One message object of the fake as DiscordChatExporter writes it."""
    kind = int(m["type"])
    entry: dict[str, Any] = {
        "id": m["id"],
        "type": _KINDS.get(kind, str(kind)),
        "timestamp": _stamp(m["timestamp"]),
        "timestampEdited": _stamp(m.get("edited_timestamp")),
        "callEndedTimestamp": None,
        "isPinned": bool(m.get("pinned")),
        "content": _FALLBACK.get(kind, "") if 1 <= kind <= 18 else m["content"],
        "author": _user(m["author"]),
        "attachments": [_attachment(a) for a in m.get("attachments", [])],
        "embeds": [],
        "stickers": [_sticker(s) for s in m.get("sticker_items", [])],
        "reactions": [],
        "mentions": [_user(u) for u in m.get("mentions", [])],
    }
    reference = m.get("message_reference")
    if reference is not None:
        entry["reference"] = {
            "type": "Forward" if reference.get("type") == 1 else "Default",
            "messageId": reference.get("message_id"),
            "channelId": reference.get("channel_id"),
            "guildId": reference.get("guild_id"),
        }
    snapshots = m.get("message_snapshots")
    if entry.get("reference", {}).get("type") == "Forward" and snapshots:
        snapshot = snapshots[0]["message"]
        entry["forwardedMessage"] = {
            "timestamp": _stamp(snapshot["timestamp"]),
            "timestampEdited": _stamp(snapshot.get("edited_timestamp")),
            "content": snapshot.get("content", ""),
            "attachments": [_attachment(a) for a in snapshot.get("attachments", [])],
            "embeds": [],
            "stickers": [_sticker(s) for s in snapshot.get("sticker_items", [])],
        }
    entry["inlineEmojis"] = []
    return entry


def write_export(fake: FakeDiscord, channel_id: int, path: Path) -> Path:
    """The channel's history exported as DiscordChatExporter's JSON, written to ``path``."""
    channel = fake.require_channel(channel_id)
    guild = fake.guilds[int(channel["guild_id"])]
    messages = [export_message(m) for m in fake.messages(channel_id)]
    document = {
        "guild": {"id": guild["id"], "name": guild["name"], "iconUrl": ""},
        "channel": {
            "id": str(channel_id),
            "type": "GuildTextChat",
            "categoryId": None,
            "category": None,
            "name": channel["name"],
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "messages": messages,
        "messageCount": len(messages),
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
