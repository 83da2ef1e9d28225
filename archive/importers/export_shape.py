"""One message of a DiscordChatExporter JSON export as a :class:`DiscordMessage`.

The export's message object, as DiscordChatExporter's ``JsonMessageWriter`` writes it
(Tyrrrz/DiscordChatExporter, ``DiscordChatExporter.Core/Exporting/JsonMessageWriter.cs``):

- ``type``: the message type's name in DiscordChatExporter's ``MessageKind`` enum
  (``Default``, ``RecipientAdd``, ``RecipientRemove``, ``Call``, ``ChannelNameChange``,
  ``ChannelIconChange``, ``ChannelPinnedMessage``, ``GuildMemberJoin``, ``ThreadCreated``,
  ``Reply``), or the type's number for the types that enum does not name (``"20"`` for a
  slash command's response, ``"21"`` for a thread's starter message, ``"46"``...);
- ``content``, ``author`` (``id``, ``name``, ``nickname``, ``isBot``), ``mentions``;
- ``attachments``: ``[{"id", "url", "fileName", "fileSizeBytes"}]`` (``url`` is a local
  path when the export downloaded the media); ``stickers``: ``[{"id", "name", "format",
  "sourceUrl"}]``;
- ``reference``: ``{"type": "Default" | "Forward", "messageId", "channelId", "guildId"}``
  (exports older than forwards have no ``type``: a reply then);
- ``forwardedMessage`` on a forward: ``{"timestamp", "timestampEdited", "content",
  "attachments", "embeds", "stickers"}``.

The rules (what counts, what a forward is) are :func:`archive.discord_messages.to_incoming`'s;
this module only reads the fields. The caller has validated ``id``, ``author.id`` and
``timestamp`` already.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from archive.discord_messages import DEFAULT, DiscordMessage, Forwarded, ReferenceKind
from archive.models import Attachment, AttachmentKind

__all__ = ["export_message", "message_type"]

# DiscordChatExporter's MessageKind names (and the Discord API's names of the types it
# writes as numbers, as other exporters spell them) -> the Discord message type.
_TYPES = {
    "Default": 0,
    "RecipientAdd": 1,
    "RecipientRemove": 2,
    "Call": 3,
    "ChannelNameChange": 4,
    "ChannelIconChange": 5,
    "ChannelPinnedMessage": 6,
    "GuildMemberJoin": 7,
    "UserJoin": 7,
    "ThreadCreated": 18,
    "Reply": 19,
    "ChatInputCommand": 20,
    "ThreadStarterMessage": 21,
    "ContextMenuCommand": 23,
    "PollResult": 46,
}
_UNKNOWN_TYPE = -1  # a name no exporter writes: treated as a system notice


def message_type(value: Any) -> int:
    """The Discord message type of an exported ``type`` (missing: ``Default``)."""
    if value is None:
        return DEFAULT
    known = _TYPES.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    return _TYPES.get(text, _UNKNOWN_TYPE)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _attachments(files: Any, stickers: Any) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for item in files if isinstance(files, list) else ():
        if isinstance(item, dict):
            url = _text(item.get("url"))
            name = _text(item.get("fileName")) or url.rsplit("/", 1)[-1].split("?", 1)[0]
            if name or url:
                found.append(Attachment(name or "file", url))
    for item in stickers if isinstance(stickers, list) else ():
        if isinstance(item, dict):
            found.append(
                Attachment(_text(item.get("name")) or "sticker", "", AttachmentKind.STICKER)
            )
    return tuple(found)


def export_message(raw: dict[str, Any], created_at: datetime) -> DiscordMessage:
    """The shape of one exported message (``created_at``: its parsed ``timestamp``).

    Channel, permalink and edit time are left for the importer, which knows them.
    """
    author = raw["author"]
    name = author.get("name")
    if name.__class__ is not str:
        name = _text(name)
    reference = raw.get("reference")
    kind, target = ReferenceKind.NONE, ""
    if reference and isinstance(reference, dict):
        target = _text(reference.get("messageId"))
        if target:
            forward = _text(reference.get("type")) == "Forward"
            kind = ReferenceKind.FORWARD if forward else ReferenceKind.REPLY
    forwarded = None
    if kind is ReferenceKind.FORWARD:
        snapshot = raw.get("forwardedMessage")
        if isinstance(snapshot, dict):
            forwarded = Forwarded(
                _text(snapshot.get("content")),
                _attachments(snapshot.get("attachments"), snapshot.get("stickers")),
            )
    mentions = raw.get("mentions")
    files, stickers = raw.get("attachments"), raw.get("stickers")
    # _text() and message_type() skipped for what they would return as is (the common case;
    # an import makes one of these per message).
    mid, author_id, nickname = raw["id"], author["id"], author.get("nickname")
    content, kind_name = raw.get("content"), raw.get("type")
    mtype = _TYPES.get(kind_name) if kind_name.__class__ is str else None
    # Positional, in field order (an import makes one per message; keywords cost more).
    return DiscordMessage(
        mid if mid.__class__ is str else _text(mid),  # id
        author_id if author_id.__class__ is str else _text(author_id),  # author_id
        (nickname if nickname.__class__ is str else _text(nickname)) or name,  # author_name
        name,  # author_handle
        bool(author.get("isBot")),  # author_bot
        content if content.__class__ is str else _text(content),  # content
        created_at,  # created_at
        mtype if mtype is not None else message_type(kind_name),  # type
        kind,  # reference
        target,  # reference_id
        forwarded,  # forwarded
        _attachments(files, stickers) if files or stickers else (),  # attachments
        "",  # channel: the importer's
        "",  # permalink: the importer's
        None,  # edited_at: the importer's
        tuple(_text(m.get("name")) for m in mentions if isinstance(m, dict))
        if mentions and isinstance(mentions, list)
        else (),  # mentions
    )
