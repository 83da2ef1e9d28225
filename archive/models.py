"""The neutral vocabulary shared by every layer: chats, questions, posts and messages.

Plain frozen dataclasses with no behaviour beyond small derived properties, so that pure
functions (capture, timeline, statistics, rendering) can take and return them freely.
All datetimes are timezone-aware and stored in UTC; the chat's IANA zone is kept beside
them for display.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from archive.labels import DEFAULT_LABELS, Labels


class ChatStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"  # closed; may still be inside the late-answer grace window
    PUBLISHED = "published"
    CANCELLED = "cancelled"


OPEN_STATUSES: tuple[ChatStatus, ...] = (ChatStatus.SCHEDULED, ChatStatus.LIVE, ChatStatus.ENDED)
"""Chats the bot still works on: actions to run, messages to capture, a transcript to publish."""

IMPORTED_SOURCE = "discord-export:"
"""How the ``source`` of a chat imported from an export starts (a scheduled chat's is its
chat file): the bot never runs such a chat (``Store.list_chats(imported=False)``)."""

EARLY_WINDOW = timedelta(minutes=15)
"""How long before a chat's start its messages already count (people say hello early):
capture, backfill and every adapter's search start this long before the start."""


def is_question_action(action_key: str) -> bool:
    """Whether a post ledger's action is a question's post (``q1``, ``q2a``; the parts of
    a thread ``q1#2``), the only posts a transcript reads (when each question went out)."""
    return action_key[:1] == "q" and action_key[1:2].isdigit()


class PostStatus(enum.StrEnum):
    """Where one post of the bot (one action on one platform and channel) stands.

    ``intent`` is written before the network call, then becomes ``sent``, ``failed`` or
    ``skipped``; an ``intent`` left by a crash is reconciled at the next start.
    """

    INTENT = "intent"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


DONE_POST_STATUSES = frozenset({PostStatus.SENT, PostStatus.FAILED, PostStatus.SKIPPED})
"""Post statuses after which an action is never attempted again on that platform."""


class MessageKind(enum.StrEnum):
    ANSWER = "answer"  # a participant's answer to one or more questions
    COMMENT = "comment"  # a participant's message that answers no question
    HOST = "host"  # a host's (or the bot's) message that is not a question
    QUESTION = "question"  # a question (or topic) post (Q1, Q2a...), by the bot or a host
    REPOST = "repost"  # a retweet / re-share: counted, not shown as an answer


@dataclass(frozen=True, slots=True)
class Target:
    """Where a chat runs: a platform and, where the platform has them, a channel."""

    platform: str  # "local", "discord", "x"
    channel: str = ""  # Discord channel id, local room name; empty for X (hashtag search)


@dataclass(frozen=True, slots=True)
class Question:
    """One numbered question, or one sub-part of it (Q1a, Q1b)."""

    number: int  # 1-based
    text: str
    offset: timedelta  # from the chat's start
    part: str = ""  # "" or a lower-case letter for sub-parts

    @property
    def key(self) -> str:
        """The answer key that capture attributes answers to: ``1``, ``2a``."""
        return f"{self.number}{self.part}"


@dataclass(frozen=True, slots=True)
class Chat:
    """A scheduled chat: the validated form of a host's chat file."""

    id: str  # short stable slug, e.g. "wedocs-2026-12-01"
    title: str
    hashtag: str  # normalised, with '#': "#WeDocs"
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC; when the chat closes
    timezone: str  # IANA zone name, e.g. "Europe/London"
    questions: tuple[Question, ...]
    intro: str = ""
    closing: str = ""
    grace: timedelta = timedelta(minutes=30)  # late answers accepted after `end`
    targets: tuple[Target, ...] = (Target("local", "main"),)
    hosts: tuple[str, ...] = ()  # author handles/ids treated as hosts, on any platform
    status: ChatStatus = ChatStatus.SCHEDULED
    series_id: str = ""  # set when the chat is one occurrence of a recurring series
    language: str = "en"  # BCP 47 tag of the bot's words for the chat (archive.i18n)
    created_at: datetime | None = None
    digest: bool = False  # post the top answer of each question at publishing (chat file)
    # The chat file's `split_long_posts`: a too-long intro or closing goes out as a thread.
    split_long_posts: bool = False
    labels: Labels = DEFAULT_LABELS  # the letters of its questions and answers (Q1, A1)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def grace_end(self) -> datetime:
        return self.end + self.grace

    def question_time(self, q: Question) -> datetime:
        return self.start + q.offset

    def label(self, q: Question) -> str:
        """The question's label as posted, in the chat's convention: ``Q1``, ``R2a``, ``T3``."""
        return self.labels.question_label(q.key)


class AttachmentKind(enum.StrEnum):
    FILE = "file"  # an uploaded file (image, document...): its name and link
    STICKER = "sticker"  # a sticker: its name (its picture belongs to the network)


@dataclass(frozen=True, slots=True)
class Attachment:
    """Something attached to a message besides its text, as transcripts show it."""

    name: str  # the file's name, or the sticker's
    url: str = ""  # where the file is (as the network or export gave it); "" for none
    kind: AttachmentKind = AttachmentKind.FILE


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A platform event turned into a neutral value by an adapter, before capture."""

    platform: str
    platform_id: str  # unique within the platform
    channel: str  # where it was posted ("" when the platform has no channels, e.g. X)
    author_id: str
    author_name: str  # display name
    author_handle: str  # @handle / username, without '@'
    text: str
    created_at: datetime  # aware
    reply_to: str = ""  # platform id of the message this one replies to / quotes / forwards
    is_repost: bool = False
    is_bot: bool = False  # sent by this bot itself
    permalink: str = ""
    edited_at: datetime | None = None
    mentions: tuple[str, ...] = ()  # handles mentioned, without '@'
    raw: dict[str, Any] = field(default_factory=dict)  # the platform payload, kept verbatim
    attachments: tuple[Attachment, ...] = ()  # files and stickers, in the message's order
    # The stakeholder group the author's network roles map to (Discord: [discord]
    # group_roles); "" elsewhere. See archive/groups.py.
    role_group: str = ""


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """A message that belongs to a chat, as stored and as shown in transcripts."""

    chat_id: str
    platform: str
    platform_id: str
    author_id: str
    author_name: str
    author_handle: str
    text: str
    created_at: datetime  # aware, UTC
    kind: MessageKind
    question_keys: tuple[str, ...] = ()  # "1", "2a"... answered (or asked, for QUESTION)
    late: bool = False  # an answer after the chat's end, within the grace window
    reply_to: str = ""
    permalink: str = ""
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    mentions: tuple[str, ...] = ()
    reactions: int = 0
    channel: str = ""
    attachments: tuple[Attachment, ...] = ()

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class Post:
    """Something the bot posted (or is about to post) for one action on one platform."""

    chat_id: str
    action_key: str  # "intro", "q1", "q2a", "wrapup", "close", "publish", "remind-60"
    platform: str
    channel: str
    platform_message_id: str = ""  # "" while only the intent is recorded
    status: PostStatus = PostStatus.INTENT
    posted_at: datetime | None = None
    text: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Participant:
    """A participant as the statistics see one (a stable key across a chat's messages)."""

    key: str  # "platform:author_id"
    name: str
    handle: str
    platform: str


def chat_id_for(hashtag: str, start_local: datetime) -> str:
    """A chat's id from its hashtag and local start date: ``wedocs-2026-12-01``.

    One rule for chats scheduled from a file, a series or Discord, and for imported ones.
    """
    return f"{hashtag.lstrip('#').lower()}-{start_local:%Y-%m-%d}"
