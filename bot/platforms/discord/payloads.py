"""Discord payloads as neutral values: pure functions, used by every path that meets them
(the live gateway, backfill from history, finding our own posts).

A gateway message is mapped to the shape :class:`archive.discord_messages.DiscordMessage`,
and :func:`archive.discord_messages.to_incoming` decides what it is, the same conversion
the DiscordChatExporter importer uses, so a message reads the same live and imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import discord

from archive.discord_messages import DiscordMessage, Forwarded, ReferenceKind
from archive.discord_messages import to_incoming as shape_to_incoming
from archive.models import Attachment, AttachmentKind, IncomingMessage
from bot.platforms.base import SentPost


def channel_key(channel: object) -> str:
    """The channel a message counts for: a thread's parent, else the channel itself."""
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return str(channel.parent_id)
    return str(getattr(channel, "id", ""))


def role_group(author: object, group_roles: Sequence[tuple[str, str]]) -> str:
    """The stakeholder group of the first entry of ``group_roles`` (role id or name ->
    group, ``[discord] group_roles``) that the author, a guild member, has; "" for none.
    The gateway sends the member's role ids with every guild message (``member.roles``);
    names are matched case-insensitively, through the guild's role cache."""
    roles = getattr(author, "roles", None) if isinstance(author, discord.Member) else None
    if not roles or not group_roles:
        return ""
    ids = {str(r.id) for r in roles}
    names = {r.name.casefold() for r in roles}
    for role, group in group_roles:
        if role in ids or role.casefold() in names:
            return group
    return ""


def _attachments(
    files: Iterable[discord.Attachment], stickers: Iterable[discord.StickerItem]
) -> tuple[Attachment, ...]:
    return tuple(Attachment(a.filename, a.url) for a in files) + tuple(
        Attachment(s.name, "", AttachmentKind.STICKER) for s in stickers
    )


def message_shape(message: discord.Message) -> DiscordMessage:
    """What the capture rules need of a gateway message (Discord API "Message Object":
    ``type``, ``message_reference`` with its ``type``, ``message_snapshots``,
    ``attachments``, ``sticker_items``)."""
    reference = message.reference
    kind, target = ReferenceKind.NONE, ""
    if reference is not None and reference.message_id is not None:
        target = str(reference.message_id)
        forward = reference.type == discord.MessageReferenceType.forward
        kind = ReferenceKind.FORWARD if forward else ReferenceKind.REPLY
    forwarded = None
    if kind is ReferenceKind.FORWARD and message.message_snapshots:
        snapshot = message.message_snapshots[0]
        forwarded = Forwarded(
            snapshot.content, _attachments(snapshot.attachments, snapshot.stickers)
        )
    author = message.author
    return DiscordMessage(
        id=str(message.id),
        author_id=str(author.id),
        author_name=author.display_name,
        author_handle=author.name,
        author_bot=author.bot,
        content=message.content,
        created_at=message.created_at,
        type=message.type.value,
        reference=kind,
        reference_id=target,
        forwarded=forwarded,
        attachments=_attachments(message.attachments, message.stickers),
        channel=channel_key(message.channel),
        permalink=message.jump_url,
        edited_at=message.edited_at,
        mentions=tuple(u.name for u in message.mentions),
    )


def to_incoming(
    message: discord.Message,
    *,
    bot_id: int | None,
    group_roles: Sequence[tuple[str, str]] = (),
) -> IncomingMessage | None:
    """The neutral form of a Discord message; None when it is never captured (a system
    notice, or a message with nothing of its own: see :mod:`archive.discord_messages`).
    ``group_roles``: the author's stakeholder group from their roles (:func:`role_group`)."""
    shape = message_shape(message)
    author = message.author
    raw = {
        "id": shape.id,
        "type": shape.type,
        "channel_id": str(message.channel.id),
        "guild_id": str(message.guild.id) if message.guild else "",
        "author": {"id": shape.author_id, "username": author.name, "bot": author.bot},
        "content": message.content,
        "timestamp": message.created_at.isoformat(),
        "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
        "reference": {"type": shape.reference.value, "message_id": shape.reference_id}
        if shape.reference_id
        else None,
    }
    incoming = shape_to_incoming(shape, bot_id="" if bot_id is None else str(bot_id), raw=raw)
    group = role_group(author, group_roles)
    if incoming is None or not group:
        return incoming
    return dataclasses.replace(incoming, role_group=group)


def sent_post(message: discord.Message) -> SentPost:
    """What we keep of a message the bot posted."""
    return SentPost(str(message.id), message.created_at, message.jump_url)
