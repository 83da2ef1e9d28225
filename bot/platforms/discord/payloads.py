"""Discord payloads as neutral values: pure functions, used by every path that meets them
(the live gateway, backfill from history, finding our own posts)."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from archive.models import IncomingMessage
from bot.platforms.base import SentPost

CAPTURED_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})
"""Message types that can be answers (joins, pins and system messages are not)."""


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


def to_incoming(
    message: discord.Message,
    *,
    bot_id: int | None,
    group_roles: Sequence[tuple[str, str]] = (),
) -> IncomingMessage:
    """The neutral form of a Discord message; ``group_roles`` as :func:`role_group`."""
    reference = message.reference
    reply_to = ""
    if (
        reference is not None
        and reference.message_id is not None
        and getattr(reference, "type", discord.MessageReferenceType.reply)
        == discord.MessageReferenceType.reply
    ):
        reply_to = str(reference.message_id)
    author = message.author
    return IncomingMessage(
        platform="discord",
        platform_id=str(message.id),
        channel=channel_key(message.channel),
        author_id=str(author.id),
        author_name=author.display_name,
        author_handle=author.name,
        text=message.content,
        created_at=message.created_at,
        reply_to=reply_to,
        is_bot=bot_id is not None and author.id == bot_id,
        permalink=message.jump_url,
        edited_at=message.edited_at,
        mentions=tuple(dict.fromkeys(u.name for u in message.mentions)),
        role_group=role_group(author, group_roles),
        raw={
            "id": str(message.id),
            "channel_id": str(message.channel.id),
            "guild_id": str(message.guild.id) if message.guild else "",
            "author": {"id": str(author.id), "username": author.name, "bot": author.bot},
            "content": message.content,
            "timestamp": message.created_at.isoformat(),
            "edited_timestamp": message.edited_at.isoformat() if message.edited_at else None,
            "reference": reply_to or None,
        },
    )


def sent_post(message: discord.Message) -> SentPost:
    """What we keep of a message the bot posted."""
    return SentPost(str(message.id), message.created_at, message.jump_url)
