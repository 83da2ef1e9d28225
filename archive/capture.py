"""Capture rules: does an incoming message belong to a chat, what does it answer, what is it.

Everything here is pure (no clock, no I/O): a function of the message and a
:class:`CaptureContext`, so the rules can be tested exhaustively. What a hashtag is and
whether a text carries the chat's is decided by :mod:`archive.hashtags`.

Label grammar (:class:`LabelGrammar`, used by ``parse_answer_labels`` /
``parse_question_labels``), one grammar built from the letter of the chat's convention
(:mod:`archive.labels`: ``A`` answers and ``Q`` questions by default, ``R`` answers in a
French chat, ``C`` questions in a Welsh one, ``T`` for both in a topic chat), read at the
start of the text after any leading run of @mentions (``@alice``, ``@a@host.social``, Discord
``<@123>``), hashtags (``#WeDocs A1: ...`` is common on X), whitespace, and punctuation or
symbols (anything that is not a letter, digit or ``_``): the X-era "dot mention"
``.@ann A3 ...`` that made a reply public, a bullet ``• A1``, an emoji ``👉 A2``:

- a label is the letter in either case (``A``/``a``; another letter is no label: in a
  ``Q``/``R`` chat ``A1`` answers nothing), an optional single space or tab
  after an upper-case letter only (``A 1``), a number 1..99 (leading zero allowed:
  ``A01``), an optional sub-part letter (``A1a``, ``A1B`` -> ``1b``), and then the end of
  the text or any character that is not a letter, digit or ``_`` (``A1st`` is no label);
- more labels may follow, each with its own letter, after ``/``, ``&``, ``,``, ``+``,
  ``and`` or plain whitespace: ``A1/A2``, ``A1 & A2``, ``A1, A2``, ``A1+A2``, ``A1 A2``;
- a range written tight, ``A1-3`` or ``A1-A3`` (hyphen or en dash, no spaces), gives
  every key from the first to the last when the last is greater; ``A1 - 3 ways`` (spaced)
  is the single label ``1`` followed by text;
- keys are returned in order, without duplicates; ``RT @x: A1`` gives nothing.
"""

from __future__ import annotations

import functools
import logging
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, Protocol, TypeGuard, TypeVar, cast

from archive.hashtags import HASH_CHARS, URL_RE, WORD_CHAR, ascii_tag, has_tag, wanted_tag
from archive.hosts import author_is_host, host_idents
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import (
    EARLY_WINDOW,
    CapturedMessage,
    Chat,
    ChatStatus,
    IncomingMessage,
    MessageKind,
)

__all__ = [
    "CaptureContext",
    "LabelGrammar",
    "Message",
    "Verdict",
    "capture",
    "host_idents",
    "is_host",
    "judge",
    "label_grammar",
    "mentions_in",
    "parse_answer_labels",
    "parse_question_labels",
]

logger = logging.getLogger(__name__)

_K = TypeVar("_K")

MAX_LABEL_NUMBER = 99


# '@' first, then the look-behind at the character before it: a pattern that starts with
# a literal lets the regex engine jump between '@'s instead of trying every position
# (6x faster on a typical message, same matches as ``(?<![\w@<])@``).
_MENTION_RE = re.compile(r"@(?<![\w@<]@)(\w+(?:[.-]\w+)*(?:@\w+(?:[.-]\w+)+)?)")

# What may precede a label: a run of @mentions, Discord mentions, hashtags, whitespace and
# single characters that are neither word characters nor whitespace (punctuation, symbols,
# emoji: ".@ann A3", "• A1"). A mention or hashtag is tried before its first character
# alone, so "#WeDocs" is skipped whole and never leaves "WeDocs" behind.
_PREFIX_RE = re.compile(
    rf"(?:@[\w.-]+(?:@[\w.-]+)?|<@!?\d+>|[{HASH_CHARS}]{WORD_CHAR}+|[^\w\s]|\s)*"
)


def _letter_re(letter: str) -> str:
    """The letter of a label: upper case with an optional space or tab after it, or lower case."""
    return rf"(?:{re.escape(letter.upper())}[ \t]?|{re.escape(letter.lower())})"


# What a range or a further label must start with, right after a label ("A1-3", "A1/A2",
# "A1 & A2", "A1 A2"); a label is never followed by a word character.
_LIST_CHARS = frozenset(" \t/&,+-\u2013")


@dataclass(frozen=True, slots=True)
class LabelGrammar:
    """The label grammar (see the module docstring) for one letter: ``A`` reads ``A1``,
    ``R`` reads ``R1``. One grammar, built from the letter (:func:`label_grammar`)."""

    letter: str  # upper-case
    leads: frozenset[str]  # the letter in both cases (a text that starts with a label)
    first: re.Pattern[str]  # a label
    following: re.Pattern[str]  # a further label after a separator ("/A2", " & A2", " A2")
    span: re.Pattern[str]  # the end of a tight range ("-3", "-A3")

    def parse(self, text: str) -> tuple[str, ...]:
        """Question keys named by this letter's labels at the start of ``text``, in order,
        without duplicates: ``("1",)``, ``("1", "2a")``; ``()`` when it starts with none."""
        # Most texts start with a label or with a word: decide those without the prefix regex
        # (str.lstrip and the regex's \s strip the same characters; a word character is what
        # str.isalnum() or "_" says, as for the regex's \w).
        body = text.lstrip()
        lead = body[:1]
        if lead in self.leads:
            pos = len(text) - len(body)  # nothing before the label
        elif lead and not lead.isalnum() and lead != "_":
            prefix = _PREFIX_RE.match(text)
            pos = prefix.end() if prefix else 0
        else:
            return ()
        match = self.first.match(text, pos)
        if match is None:
            return ()
        end = match.end()
        if end == len(text) or text[end] not in _LIST_CHARS:
            # Nothing can follow this label (no range, no second label): the common "A1: ...".
            number, part = int(match.group(1)), match.group(2)
            if not 1 <= number <= MAX_LABEL_NUMBER:
                return ()
            return (f"{number}{part.lower()}" if part else str(number),)
        keys: list[str] = []
        while match is not None:
            number, part = int(match.group(1)), (match.group(2) or "").lower()
            if not 1 <= number <= MAX_LABEL_NUMBER:
                break
            keys.append(f"{number}{part}")
            pos = match.end()
            if not part and (upto := self.span.match(text, pos)) is not None:
                last = int(upto.group(1))
                if last > number:
                    keys.extend(str(n) for n in range(number + 1, last + 1))
                    pos = upto.end()
            match = self.following.match(text, pos)
        if len(keys) < 2:
            return tuple(keys)
        return tuple(dict.fromkeys(keys))


@functools.lru_cache(maxsize=64)
def label_grammar(letter: str) -> LabelGrammar:
    """The grammar of labels with ``letter`` (one letter, :func:`archive.labels.label_letter`),
    built once per letter."""
    up, low = letter.upper(), letter.lower()
    head = _letter_re(letter)
    return LabelGrammar(
        letter=up,
        leads=frozenset((up, low)),
        first=re.compile(rf"{head}(\d{{1,2}})([a-zA-Z])?(?!{WORD_CHAR})"),
        following=re.compile(
            rf"(?:[ \t]*(?:[/&,+]|(?i:and)(?=[ \t]))[ \t]*|[ \t]+)"
            rf"{head}(\d{{1,2}})([a-zA-Z])?(?!{WORD_CHAR})"
        ),
        span=re.compile(
            rf"[-\u2013](?:[{re.escape(up)}{re.escape(low)}])?(\d{{1,2}})(?!{WORD_CHAR})"
        ),
    )


def parse_answer_labels(text: str, labels: Labels = DEFAULT_LABELS) -> tuple[str, ...]:
    """Question keys answered by explicit answer labels (``A1``; ``R1`` in a ``Q``/``R``
    chat) at the start of ``text``."""
    return label_grammar(labels.answer).parse(text)


def parse_question_labels(text: str, labels: Labels = DEFAULT_LABELS) -> tuple[str, ...]:
    """Question keys named by explicit question labels (``Q1``; ``C1`` in a ``C``/``A``
    chat) at the start of ``text``."""
    return label_grammar(labels.question).parse(text)


def mentions_in(text: str) -> tuple[str, ...]:
    """The @handles in ``text``, without '@', lower-cased, in order, unique."""
    if "@" not in text:
        return ()
    if "://" in text or "www." in text.lower():  # what URL_RE needs to match at all
        text = URL_RE.sub(" ", text)
    found = _MENTION_RE.findall(text)
    if len(found) == 1:
        return (found[0].lower(),)
    return tuple(dict.fromkeys(m.lower() for m in found))


def _host_idents(chat: Chat) -> frozenset[str]:
    return host_idents(chat.hosts)


def is_host(msg: Message, chat: Chat) -> bool:
    """Whether the author of ``msg`` is one of ``chat.hosts`` (by handle or id, any platform)."""
    return _is_host(msg, _host_idents(chat))


def _is_host(msg: Message, hosts: frozenset[str]) -> bool:
    return author_is_host(hosts, msg.platform, msg.author_handle, msg.author_id)


@dataclass(frozen=True, slots=True)
class CaptureContext:
    """What capture needs to know beyond the chat: the bot's posts and when questions went out."""

    chat: Chat
    # platform message id of a question's own post -> question key ("1", "2a")
    question_posts: Mapping[str, str] = field(default_factory=dict)
    # platform ids of every post the bot made for this chat (intro, questions, ...)
    chat_posts: frozenset[str] = frozenset()
    # (time a question was actually posted, key), sorted; empty -> use the chat's plan
    question_times: tuple[tuple[datetime, str], ...] = ()
    # author ids of this bot, on any platform
    bot_ids: frozenset[str] = frozenset()
    # platform message id of a later post labelled with questions already asked (a host's
    # "Q1 follow-up: ...", an imported bot's "Q2 reminder") -> those question keys: a reply
    # to one answers them, as a reply to a question's own post does
    follow_ups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What capture derives from the fields above, computed on first use (the context is
    # frozen, and capture calls come by the thousand per context).
    _derived: dict[str, object] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )


def _edited_utc(edited: datetime) -> datetime | None:
    """An edit time in UTC; None for one that cannot be an instant (naive, or out of range
    once in UTC: an edit in the first hours of year 1 east of Greenwich)."""
    if not _is_aware(edited):
        return None
    try:
        return edited.astimezone(UTC)
    except OverflowError:
        return None


def _is_aware(value: object) -> TypeGuard[datetime]:
    return isinstance(value, datetime) and value.utcoffset() is not None


def _in_place(msg: Message, chat: Chat) -> bool:
    return any(
        msg.platform == t.platform and (not t.channel or msg.channel == t.channel)
        for t in chat.targets
    )


# Memo tables on a context stay small (a context lives about a minute, and holds one entry
# per place or author seen); this cap only guards against a flood of made-up authors.
_MEMO_LIMIT = 10_000


@dataclass(slots=True)
class _Facts:
    """What capture derives from a :class:`CaptureContext`, built on its first message.

    Capture runs once per incoming message per open chat (tens of thousands a second under
    load), so everything that depends only on the context is computed here once.
    """

    opens: datetime  # messages count from here (EARLY_WINDOW before the start)
    closes: datetime  # ... to the end of the grace window
    tag: str  # the chat's hashtag body, case-folded
    ascii_tag: bool  # whether the ASCII fast path of has_tag may decide for it
    known: frozenset[str]  # every question key of the chat
    hosts: frozenset[str]  # the hosts' identities (archive.hosts.host_idents)
    times: list[datetime]  # when each question went out (or is planned), sorted...
    keys: list[str]  # ... and its key
    ask: LabelGrammar  # how the chat's question labels are read (Q1)
    reply: LabelGrammar  # ... and its answer labels (A1)
    topics: bool  # one letter for both (T1 topic, T1 answers)
    places: dict[tuple[str, str], bool] = field(default_factory=dict)  # (platform, channel)
    host_memo: dict[tuple[str, str, str], bool] = field(default_factory=dict)


def _build_facts(ctx: CaptureContext) -> _Facts:
    chat = ctx.chat
    want = wanted_tag(chat.hashtag)
    known = {q.key for q in chat.questions}
    known.update(ctx.question_posts.values())
    known.update(key for _, key in ctx.question_times)
    schedule = _schedule(ctx)
    return _Facts(
        opens=chat.start - EARLY_WINDOW,
        closes=chat.grace_end,
        tag=want,
        ascii_tag=ascii_tag(want),
        known=frozenset(known),
        hosts=_host_idents(chat),
        times=[when for when, _ in schedule],
        keys=[key for _, key in schedule],
        ask=label_grammar(chat.labels.question),
        reply=label_grammar(chat.labels.answer),
        topics=chat.labels.topics,
    )


def _facts(ctx: CaptureContext) -> _Facts:
    facts = ctx._derived.get("facts")
    if facts is None:
        facts = ctx._derived["facts"] = _build_facts(ctx)
    return cast(_Facts, facts)


def _schedule(ctx: CaptureContext) -> list[tuple[datetime, str]]:
    """(time, key) of each question, actual times when known, else the plan; sorted by time."""
    if ctx.question_times:
        times = [(when, key) for when, key in ctx.question_times if _is_aware(when)]
    else:
        times = [(ctx.chat.question_time(q), q.key) for q in ctx.chat.questions]
    return sorted(times, key=lambda pair: pair[0])


def _open_question(facts: _Facts, at: datetime) -> str | None:
    """The key of the latest question posted at or before ``at``."""
    # Sorted stably by time: the last entry at or before ``at`` wins, as in a forward scan.
    index = bisect_right(facts.times, at)
    return facts.keys[index - 1] if index else None


def _remember(memo: dict[_K, bool], key: _K, value: bool) -> bool:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


def _classify(
    msg: Message, ctx: CaptureContext, facts: _Facts, at: datetime, by_bot: bool
) -> tuple[MessageKind, tuple[str, ...]]:
    asked = ctx.question_posts.get(msg.platform_id) if msg.platform_id else None
    if by_bot:
        if asked is not None:
            return MessageKind.QUESTION, (asked,)
        if msg.platform_id and (followed := ctx.follow_ups.get(msg.platform_id)):
            return MessageKind.HOST, followed  # an imported bot's later "Q2 reminder"
        if q_keys := facts.ask.parse(msg.text):
            return MessageKind.QUESTION, q_keys
        return MessageKind.HOST, ()
    # A host's retweet is still a retweet, so reposts are recognised before hosts.
    if msg.is_repost or msg.text.lstrip().startswith("RT @"):
        return MessageKind.REPOST, ()
    a_keys = facts.reply.parse(msg.text)
    labelled = a_keys if a_keys and not facts.known.isdisjoint(a_keys) else ()
    author = (msg.platform, msg.author_id, msg.author_handle)
    hosted = facts.host_memo.get(author)
    if hosted is None:  # _hosted(), inlined: this runs for every message
        hosted = _remember(facts.host_memo, author, _is_host(msg, facts.hosts))
    if hosted:
        if asked is not None:
            return MessageKind.QUESTION, (asked,)  # the question's own post
        # Any other post of a host labelled with questions ("Q1 follow-up: ...", "Q3 in
        # five minutes") is the host taking part in those questions' threads, listed there
        # with the Host mark: taken for a question post, it was listed nowhere in the
        # Markdown/HTML (a question is its section's heading). In a topic chat (T1 topic,
        # T1 answers) such a post is the host's answer, as everyone labels their answers.
        if not facts.topics and (q_keys := facts.ask.parse(msg.text)):
            return MessageKind.HOST, q_keys
        if labelled:
            return MessageKind.ANSWER, labelled
        return MessageKind.HOST, ()
    if labelled:
        return MessageKind.ANSWER, labelled
    reply_to = msg.reply_to
    if reply_to:
        replied = ctx.question_posts.get(reply_to)
        if replied is not None:
            return MessageKind.ANSWER, (replied,)
        followed = ctx.follow_ups.get(reply_to)
        if followed and (keys := tuple(k for k in followed if k in facts.known)):
            return MessageKind.ANSWER, keys
    if at <= ctx.chat.end and (open_key := _open_question(facts, at)) is not None:
        return MessageKind.ANSWER, (open_key,)
    return MessageKind.COMMENT, ()


class Message(Protocol):
    """What the capture rules read of a message: an :class:`IncomingMessage`, or any value
    with these fields (an import makes named tuples: a frozen dataclass of this size costs
    ~4 µs to build, a tuple a tenth of that)."""

    @property
    def platform(self) -> str: ...
    @property
    def platform_id(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def author_id(self) -> str: ...
    @property
    def author_handle(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def reply_to(self) -> str: ...
    @property
    def is_repost(self) -> bool: ...
    @property
    def is_bot(self) -> bool: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def mentions(self) -> tuple[str, ...]: ...


class Verdict(NamedTuple):
    """What the capture rules make of a message that belongs to the chat (:func:`judge`):
    the fields of its :class:`CapturedMessage` that are not copied from the message."""

    created_at: datetime  # in UTC
    kind: MessageKind
    question_keys: tuple[str, ...]
    late: bool
    edited_at: datetime | None  # in UTC
    mentions: tuple[str, ...]


def capture(msg: IncomingMessage, ctx: CaptureContext) -> CapturedMessage | None:
    """The captured form of ``msg`` if it belongs to ``ctx.chat``, else None (the rules are
    :func:`judge`'s)."""
    verdict = judge(msg, ctx)
    if verdict is None:
        return None
    # Positional, in field order (mypy checks each type): keyword arguments cost a
    # frozen dataclass ~0.5 µs more per call, and this runs for every captured message.
    return CapturedMessage(
        ctx.chat.id,  # chat_id
        msg.platform,  # platform
        msg.platform_id,  # platform_id
        msg.author_id,  # author_id
        msg.author_name,  # author_name
        msg.author_handle,  # author_handle
        msg.text,  # text
        verdict[0],  # created_at
        verdict[1],  # kind
        verdict[2],  # question_keys
        verdict[3],  # late
        msg.reply_to,  # reply_to
        msg.permalink,  # permalink
        verdict[4],  # edited_at
        None,  # deleted_at
        verdict[5],  # mentions
        0,  # reactions
        msg.channel,  # channel
        msg.attachments,  # attachments
    )


def judge(msg: Message, ctx: CaptureContext) -> Verdict | None:
    """What ``msg`` is in ``ctx.chat`` if it belongs there, else None: the capture rules.

    A message belongs when it was posted on one of the chat's targets, between 15 minutes
    before the start and the end of the grace window, and carries the hashtag, replies to
    one of the bot's posts for the chat, or is the bot's own. Messages of a cancelled chat
    never belong. ``late`` is set on participants' (and hosts' answer) messages after the
    end; the bot's and hosts' own posts are never late.
    """
    chat = ctx.chat
    if chat.status == ChatStatus.CANCELLED:
        return None
    # _facts() and _placed(), inlined: this runs for every message, a few µs each.
    facts = ctx._derived.get("facts")
    if facts is None:
        facts = _facts(ctx)
    assert isinstance(facts, _Facts)
    place = (msg.platform, msg.channel)
    placed = facts.places.get(place)
    if placed is None:
        placed = _remember(facts.places, place, _in_place(msg, chat))
    if not placed:
        return None
    created = msg.created_at
    if not (isinstance(created, datetime) and created.utcoffset() is not None):  # _is_aware
        logger.warning(
            "Ignoring %s message %s: created_at is not an aware datetime",
            msg.platform,
            msg.platform_id,
        )
        return None
    if not facts.opens <= created <= facts.closes:
        return None
    by_bot = msg.is_bot or (bool(msg.author_id) and msg.author_id in ctx.bot_ids)
    reply_to = msg.reply_to
    replies_to_chat = bool(reply_to) and (
        reply_to in ctx.chat_posts or reply_to in ctx.question_posts or reply_to in ctx.follow_ups
    )
    if not (by_bot or replies_to_chat) and not has_tag(msg.text, facts.tag, facts.ascii_tag):
        return None

    at = created.astimezone(UTC)
    kind, keys = _classify(msg, ctx, facts, at, by_bot)
    late = at > chat.end and kind is not MessageKind.HOST and kind is not MessageKind.QUESTION
    edited = msg.edited_at
    return Verdict(
        at,
        kind,
        keys,
        late,
        _edited_utc(edited) if edited is not None else None,
        tuple(msg.mentions) or mentions_in(msg.text),
    )
