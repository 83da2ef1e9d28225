"""Discord messages, however they arrive: one small shape and the one conversion of it into
the neutral :class:`~archive.models.IncomingMessage` that capture takes.

Two paths meet Discord messages: the live adapter (discord.py's ``Message`` from the
gateway or from channel history, mapped in ``bot/platforms/discord/payloads.py``) and the
importer (a DiscordChatExporter JSON export, mapped in
:mod:`archive.importers.export_shape`). Each only maps what it holds to a
:class:`DiscordMessage`; what the message *is* is decided here, once, by
:func:`to_incoming`, so a message reads the same live and imported:

- Only messages someone wrote count: the types ``DEFAULT`` (0), ``REPLY`` (19) and the
  application-command responses ``CHAT_INPUT_COMMAND`` (20) and ``CONTEXT_MENU_COMMAND``
  (23). Every other type is a system notice and is never captured: joins (7), pins (6),
  "started a thread" (18), the thread starter message at the top of a thread (21, empty,
  pointing at the message the thread was opened on, which is captured where it was
  posted), poll results (46), boosts... (Discord API, "Message Object", Message Types.)
- A forward (``message_reference.type`` 1, FORWARD, with the forwarded message in
  ``message_snapshots``; DiscordChatExporter: ``reference.type`` ``"Forward"`` and
  ``forwardedMessage``) has no text of its own. It is a repost, carrying the forwarded
  text and attachments (as a Mastodon boost carries the boosted text), and names the
  forwarded message in ``reply_to``, so a forward of a question post is captured as a
  repost of it: counted, never an answer.
- A reply (reference type 0, DEFAULT) names the message it answers in ``reply_to``.
- A message with no text of its own and nothing attached (no file, no sticker) is never
  captured: an embed-only notice, or a poll, whose question and answers are Discord's to
  show and which DiscordChatExporter does not export (counting them live would make live
  and imported chats differ). A sticker or a file alone is a message like any other: a
  reply to a question post made of one photo answers that question.
- Files and stickers become :class:`~archive.models.Attachment` values (a file's name and
  link; a sticker's name only, since its picture's address differs between the gateway
  and an export), which transcripts show under the text.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, NamedTuple

from archive.models import Attachment, IncomingMessage

__all__ = [
    "DEFAULT",
    "REPLY",
    "WRITTEN_TYPES",
    "DiscordMessage",
    "Forwarded",
    "Reading",
    "ReferenceKind",
    "read",
    "to_incoming",
]

PLATFORM = "discord"

# Message types (Discord API, "Message Object", Message Types).
DEFAULT = 0
REPLY = 19
CHAT_INPUT_COMMAND = 20
THREAD_STARTER_MESSAGE = 21
CONTEXT_MENU_COMMAND = 23

WRITTEN_TYPES = frozenset({DEFAULT, REPLY, CHAT_INPUT_COMMAND, CONTEXT_MENU_COMMAND})
"""Message types that someone (a person, an app) wrote; every other type is a system notice."""


class ReferenceKind(enum.StrEnum):
    """What a message's reference means (Discord API, Message Reference Types)."""

    NONE = ""
    REPLY = "reply"  # type 0, DEFAULT: "a standard reference used by replies"
    FORWARD = "forward"  # type 1, FORWARD: "a message at a point in time"


class Forwarded(NamedTuple):
    """The forwarded message a forward carries (its snapshot: no author, no id of its own)."""

    content: str = ""
    attachments: tuple[Attachment, ...] = ()


class DiscordMessage(NamedTuple):
    """What the capture rules need of one Discord message, from any source (a named tuple:
    an import makes one per exported message, and tuples are cheap to make).

    ``channel`` is the channel the message counts for (a thread's parent channel);
    ``type`` the Discord message type number; ``reference``/``reference_id`` the kind and
    target of its ``message_reference`` (``NONE`` and ``""`` without one); ``forwarded``
    the snapshot of a forward (None when the source had none); ``attachments`` its files
    then its stickers; ``mentions`` the usernames it mentions.
    """

    id: str
    author_id: str
    author_name: str  # display name
    author_handle: str  # username
    author_bot: bool  # a bot account (any bot)
    content: str
    created_at: datetime  # aware
    type: int = DEFAULT
    reference: ReferenceKind = ReferenceKind.NONE
    reference_id: str = ""
    forwarded: Forwarded | None = None
    attachments: tuple[Attachment, ...] = ()
    channel: str = ""
    permalink: str = ""
    edited_at: datetime | None = None
    mentions: tuple[str, ...] = ()


class Reading(NamedTuple):
    """What the rules make of a message (:func:`read`): the fields of its neutral form that
    are not copied from the shape."""

    text: str
    reply_to: str  # the message replied to, or forwarded
    is_repost: bool
    is_bot: bool
    attachments: tuple[Attachment, ...]
    mentions: tuple[str, ...]  # lower-cased, once each


def read(message: DiscordMessage, *, bot_id: str | None) -> Reading | None:
    """The rules (see the module's docstring): None when ``message`` is never captured.

    ``bot_id``: this bot's user id, whose messages are the bot's own; None when it is not
    known (an export), and then every bot account's messages are.
    """
    if message.type not in WRITTEN_TYPES:
        return None
    reply_to = ""
    repost = False
    if message.reference is ReferenceKind.FORWARD:
        forwarded = message.forwarded or _NOTHING_FORWARDED
        text, attachments = forwarded.content, forwarded.attachments
        reply_to, repost = message.reference_id, True
    else:
        text, attachments = message.content, message.attachments
        if not attachments and not text.strip():
            return None
        if message.reference is ReferenceKind.REPLY:
            reply_to = message.reference_id
    if bot_id is None:
        is_bot = message.author_bot
    else:
        is_bot = bool(bot_id) and message.author_id == bot_id
    mentions = message.mentions
    return Reading(
        text,
        reply_to,
        repost,
        is_bot,
        attachments,
        tuple(dict.fromkeys(m.lower() for m in mentions if m)) if mentions else (),
    )


def to_incoming(
    message: DiscordMessage, *, bot_id: str | None, raw: dict[str, Any] | None = None
) -> IncomingMessage | None:
    """The neutral form of ``message``, or None when it is never captured (:func:`read`
    decides; ``bot_id`` as there). ``raw`` is kept with it."""
    reading = read(message, bot_id=bot_id)
    if reading is None:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        platform_id=message.id,
        channel=message.channel,
        author_id=message.author_id,
        author_name=message.author_name,
        author_handle=message.author_handle,
        text=reading.text,
        created_at=message.created_at,
        reply_to=reading.reply_to,
        is_repost=reading.is_repost,
        is_bot=reading.is_bot,
        permalink=message.permalink,
        edited_at=message.edited_at,
        mentions=reading.mentions,
        raw=raw if raw is not None else {},
        attachments=reading.attachments,
    )


_NOTHING_FORWARDED = Forwarded()
