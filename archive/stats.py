"""Participation statistics of one chat, computed in a single pass over its messages.

Definitions (documented here because organisers compare them across chats):

- A **participant** is any author with at least one non-deleted message of any kind
  (reposts included), hosts included, except the bot itself. The bot is recognised as an
  author who posted question or host messages without being one of ``chat.hosts``
  (:func:`counts_as_participant`). Every figure uses this one rule: the chat's totals, the
  first-time / returning split, and participation over time on a hashtag's page.
- **messages** counts every non-deleted message, including question posts and reposts, so
  that ``hosts_share`` (hosts' and bot's messages / messages) is a share of the whole chat.
- An answer to several questions (``A1/A2``) is one message in ``answers`` and counts once
  under each question in ``answers_per_question``.
- Deleted messages count only in ``deletions``; opted-out participants stay in every count,
  but appear anonymised ("Opted-out participant") wherever a person is named.
- **first_time / returning** split the participants by ``history`` (earlier chats with the
  same hashtag); the bot is excluded, hosts are not.
- **median_first_answer** is, per question, the median over its answering participants of
  the delay from the question going out to that participant's first answer to it;
  ``first_answer`` is the delay to the very first answer. An answer seen before the
  question went out (a post delayed by the platform) counts as an immediate answer.
- Mentions and link domains are taken from non-repost messages, so a repost does not
  count its original's mentions twice, and not from an opted-out participant's messages
  (nor are the opted-out among the most mentioned). Impressions and reach are not available.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from archive.hosts import author_is_host, host_idents
from archive.models import CapturedMessage, Chat, MessageKind

TOP_N = 10
OPTED_OUT_NAME = "Opted-out participant"

_URL_RE = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def participant_key(message: CapturedMessage) -> str:
    """The stable key of a message's author: ``"platform:author_id"``."""
    return f"{message.platform}:{message.author_id}"


def _norm_handle(value: str) -> str:
    return value.strip().lstrip("@").casefold()


def counts_as_participant(
    chat: Chat, platform: str, handle: str, author_id: str, host_side: bool
) -> bool:
    """The one definition of a participant (see the module docstring): an author of a
    non-deleted message in ``chat`` (on ``platform``), unless it is the bot, i.e. someone
    who posted question or host messages (``host_side``) without being one of the chat's
    hosts (:func:`archive.hosts.author_is_host`)."""
    if not host_side:
        return True
    return author_is_host(host_idents(chat.hosts), platform, handle, author_id)


def domains_in(text: str) -> list[str]:
    """The host names of the http(s) URLs in ``text``, lower-cased, without ``www.``."""
    found = []
    for url in _URL_RE.findall(text):
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            continue
        host = host.rstrip(".").removeprefix("www.")
        if host:
            found.append(host)
    return found


def question_times(
    chat: Chat,
    question_posted_at: Mapping[str, datetime],
    question_posts: Mapping[str, datetime] | None = None,
    not_posted: Mapping[str, str] | None = None,
) -> dict[str, datetime]:
    """When each question went out: the recorded post time, else the captured question
    message, else (a chat with no record of its posts: imported, or built by hand) the
    scheduled time. Questions in ``not_posted`` (the post ledger says they never went out)
    have no time at all."""
    posts = question_posts or {}
    gone = not_posted or {}
    times = {}
    for q in chat.questions:
        if q.key in gone and q.key not in question_posted_at:
            continue
        times[q.key] = question_posted_at.get(q.key) or posts.get(q.key) or chat.question_time(q)
    return times


@dataclass(frozen=True, slots=True)
class Contributor:
    """One participant's figures; anonymised when the participant opted out."""

    key: str
    name: str
    handle: str
    platform: str
    messages: int
    answers: int
    host: bool
    earlier_chats: int  # chats with the same hashtag before this one
    hidden: bool = False  # opted out: name, handle and key are anonymised

    @property
    def first_time(self) -> bool:
        return self.earlier_chats == 0


@dataclass(frozen=True)
class ChatStats:
    """The figures of one chat (see the module docstring for the definitions)."""

    participants: int
    hosts: int  # hosts (from chat.hosts) who posted
    messages: int
    answers: int
    comments: int
    reposts: int
    host_messages: int  # by hosts or the bot, any kind
    hosts_share: float
    edits: int
    deletions: int
    late_answers: int
    reactions: int
    hidden_messages: int  # non-deleted messages of opted-out participants
    first_time: int
    returning: int
    answers_per_question: dict[str, int]
    participants_per_question: dict[str, int]
    first_answer: dict[str, timedelta | None]
    median_first_answer: dict[str, timedelta | None]
    question_posted_at: dict[str, datetime]  # questions that went out, and when
    busiest_question: str | None
    per_platform: dict[str, int]
    activity_per_minute: list[tuple[int, int]]
    contributors: list[Contributor] = field(default_factory=list)  # all, ranked
    top_contributors: list[Contributor] = field(default_factory=list)
    most_mentioned: list[tuple[str, int]] = field(default_factory=list)
    top_domains: list[tuple[str, int]] = field(default_factory=list)
    not_posted: dict[str, str] = field(default_factory=dict)  # question key -> why not

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: datetimes as ISO 8601 UTC, delays as seconds."""

        def seconds(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        return {
            "participants": self.participants,
            "hosts": self.hosts,
            "messages": self.messages,
            "answers": self.answers,
            "comments": self.comments,
            "reposts": self.reposts,
            "host_messages": self.host_messages,
            "hosts_share": round(self.hosts_share, 4),
            "edits": self.edits,
            "deletions": self.deletions,
            "late_answers": self.late_answers,
            "reactions": self.reactions,
            "hidden_messages": self.hidden_messages,
            "first_time": self.first_time,
            "returning": self.returning,
            "answers_per_question": dict(self.answers_per_question),
            "participants_per_question": dict(self.participants_per_question),
            "first_answer_seconds": {k: seconds(v) for k, v in self.first_answer.items()},
            "median_first_answer_seconds": {
                k: seconds(v) for k, v in self.median_first_answer.items()
            },
            "question_posted_at": {k: v.isoformat() for k, v in self.question_posted_at.items()},
            "not_posted": dict(self.not_posted),
            "busiest_question": self.busiest_question,
            "per_platform": dict(self.per_platform),
            "activity_per_minute": [[minute, count] for minute, count in self.activity_per_minute],
            "contributors": [
                {
                    "key": c.key,
                    "name": c.name,
                    "handle": c.handle,
                    "platform": c.platform,
                    "messages": c.messages,
                    "answers": c.answers,
                    "host": c.host,
                    "earlier_chats": c.earlier_chats,
                    "hidden": c.hidden,
                }
                for c in self.contributors
            ],
            "most_mentioned": [[h, n] for h, n in self.most_mentioned],
            "top_domains": [[d, n] for d, n in self.top_domains],
        }


@dataclass(slots=True)
class _Author:
    name: str
    handle: str
    platform: str
    host: bool
    messages: int = 0
    answers: int = 0
    host_side: int = 0  # question / host-kind messages


def _shown(by_author: Mapping[str, Counter[str]], opted_out: frozenset[str]) -> Counter[str]:
    """The counts of every author's messages but the opted-out's, summed."""
    total: Counter[str] = Counter()
    for key, counts in by_author.items():
        if key not in opted_out:
            total.update(counts)
    return total


def _top(counter: Counter[str], display: Mapping[str, str]) -> list[tuple[str, int]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [(display.get(k, k), n) for k, n in ranked[:TOP_N]]


def compute_stats(
    chat: Chat,
    messages: Iterable[CapturedMessage],
    *,
    opted_out: frozenset[str] = frozenset(),
    history: Mapping[str, int] | None = None,
    question_posted_at: Mapping[str, datetime] | None = None,
    not_posted: Mapping[str, str] | None = None,
) -> ChatStats:
    """Compute the chat's statistics in one pass; memory grows with authors, not messages.
    ``not_posted`` names the questions that never went out (from the post ledger) and why."""
    counter = StatsCounter(chat)
    add = counter.add
    for m in messages:
        if m.deleted_at is not None:
            counter.deletions += 1
            continue
        add(
            f"{m.platform}:{m.author_id}",  # participant_key(m), without the call
            m.platform,
            m.author_name,
            m.author_handle,
            m.kind,
            m.created_at,
            m.question_keys,
            m.late,
            m.edited_at is not None,
            m.reactions,
            m.mentions,
            m.text,
        )
    return counter.result(
        opted_out=opted_out,
        history=history,
        question_posted_at=question_posted_at,
        not_posted=not_posted,
    )


_MINUTE = timedelta(minutes=1)


class StatsCounter:
    """:func:`compute_stats`'s one pass, fed one non-deleted message at a time by
    :meth:`add` (deleted ones only count in ``deletions``), for a reader that holds the
    messages in another shape than :class:`CapturedMessage` (the publication reads the
    store's rows). Memory grows with authors, not messages."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self._start = chat.start
        self._hosts = host_idents(chat.hosts)
        chat_keys = [q.key for q in chat.questions]
        self.per_question: dict[str, int] = dict.fromkeys(chat_keys, 0)
        # question key -> author key -> earliest answer time
        self.first_by_author: dict[str, dict[str, datetime]] = {k: {} for k in chat_keys}
        self.question_posts: dict[str, datetime] = {}
        # The totals of messages and answers, and the messages per platform, are summed
        # from the authors' figures at the end (one counter less per message).
        self.authors: dict[str, _Author] = {}
        self.per_minute: Counter[int] = Counter()
        # Mentions and link domains by author key: an opted-out participant's are left out
        # of the chat's figures (a personal domain, who they wrote to, would point at them).
        self.mentions: dict[str, Counter[str]] = {}
        self.mention_display: dict[str, str] = {}
        self.domains: dict[str, Counter[str]] = {}
        self.comments = self.reposts = 0
        self.edits = self.deletions = self.late = self.reactions = 0

    def add_question(self, key: str) -> None:
        """Count a question found after the counter was made (an import that learns the
        chat's questions as it reads); :meth:`settle` once the chat is known."""
        self.per_question.setdefault(key, 0)
        self.first_by_author.setdefault(key, {})

    def settle(self, chat: Chat) -> None:
        """Take ``chat`` (the one counted, now known whole: same start, every question
        added) for the result: its questions' counts in its order, then the other keys
        answered in the order first met, as a counter made with it would hold them."""
        keys = [q.key for q in chat.questions]
        asked = set(keys)
        counts = self.per_question
        self.per_question = {k: counts.get(k, 0) for k in keys} | {
            k: n for k, n in counts.items() if k not in asked
        }
        for k in keys:
            self.first_by_author.setdefault(k, {})
        self.chat = chat

    def add(
        self,
        key: str,
        platform: str,
        name: str,
        handle: str,
        kind: MessageKind,
        created_at: datetime,
        question_keys: Sequence[str],
        late: bool,
        edited: bool,
        reactions: int,
        mentions: Iterable[str],
        text: str,
    ) -> None:
        """Count one non-deleted message; ``key``: its author's participant key
        (``"platform:author_id"``, :func:`participant_key`), ``created_at`` aware."""
        author = self.authors.get(key)
        if author is None:
            host = author_is_host(self._hosts, platform, handle, key[len(platform) + 1 :])
            author = self.authors[key] = _Author(name, handle, platform, host)
        else:  # the latest name and handle win
            author.name = name
            author.handle = handle
        author.messages += 1
        self.per_minute[(created_at - self._start) // _MINUTE] += 1
        if reactions:
            self.reactions += reactions
        if edited:
            self.edits += 1
        if kind is _ANSWER:
            author.answers += 1
            if late:
                self.late += 1
            per_question = self.per_question
            first_by_author = self.first_by_author
            for qk in question_keys if len(question_keys) == 1 else dict.fromkeys(question_keys):
                per_question[qk] = per_question.get(qk, 0) + 1
                firsts = first_by_author.get(qk)
                if firsts is None:
                    firsts = first_by_author[qk] = {}
                first = firsts.get(key)
                if first is None or created_at < first:
                    firsts[key] = created_at
        elif kind is _COMMENT:
            self.comments += 1
        elif kind is _REPOST:
            self.reposts += 1
            return  # a repost's mentions and links are its original's
        else:  # QUESTION or HOST
            author.host_side += 1
            if kind is _QUESTION:
                posts = self.question_posts
                for qk in question_keys:
                    if qk not in posts or created_at < posts[qk]:
                        posts[qk] = created_at
        for handle_mentioned in mentions:
            norm = _norm_handle(handle_mentioned)
            if norm:
                mentioned = self.mentions.get(key)
                if mentioned is None:
                    mentioned = self.mentions[key] = Counter()
                mentioned[norm] += 1
                self.mention_display.setdefault(norm, handle_mentioned.strip().lstrip("@"))
        if "://" in text:  # no URL without it
            for domain in domains_in(text):
                linked = self.domains.get(key)
                if linked is None:
                    linked = self.domains[key] = Counter()
                linked[domain] += 1

    def result(
        self,
        *,
        opted_out: frozenset[str] = frozenset(),
        history: Mapping[str, int] | None = None,
        question_posted_at: Mapping[str, datetime] | None = None,
        not_posted: Mapping[str, str] | None = None,
    ) -> ChatStats:
        """The statistics of the messages counted so far (the arguments as
        :func:`compute_stats`'s)."""
        return _stats(
            self,
            opted_out=opted_out,
            history=history or {},
            question_posted_at=question_posted_at,
            not_posted=not_posted,
        )


_ANSWER = MessageKind.ANSWER
_COMMENT = MessageKind.COMMENT
_REPOST = MessageKind.REPOST
_QUESTION = MessageKind.QUESTION


def _stats(
    counter: StatsCounter,
    *,
    opted_out: frozenset[str],
    history: Mapping[str, int],
    question_posted_at: Mapping[str, datetime] | None,
    not_posted: Mapping[str, str] | None,
) -> ChatStats:
    chat = counter.chat
    per_question = counter.per_question
    first_by_author = counter.first_by_author
    question_posts = counter.question_posts
    authors = counter.authors
    per_platform: Counter[str] = Counter()
    for a in counter.authors.values():
        per_platform[a.platform] += a.messages
    per_minute = counter.per_minute
    mentions = _shown(counter.mentions, opted_out)
    mention_display = counter.mention_display
    domains = _shown(counter.domains, opted_out)
    total = sum(a.messages for a in authors.values())
    answers = sum(a.answers for a in authors.values())
    comments, reposts = counter.comments, counter.reposts
    edits, deletions, late, reactions = (
        counter.edits,
        counter.deletions,
        counter.late,
        counter.reactions,
    )

    posted = question_times(chat, question_posted_at or {}, question_posts, not_posted)
    first_answer: dict[str, timedelta | None] = {}
    median_first: dict[str, timedelta | None] = {}
    participants_per_question: dict[str, int] = {}
    for qk in per_question:
        times = first_by_author.get(qk, {})
        participants_per_question[qk] = len(times)
        start = posted.get(qk)
        if not times or start is None:
            first_answer[qk] = median_first[qk] = None
            continue
        delays = sorted(max(0.0, (t - start).total_seconds()) for t in times.values())
        first_answer[qk] = timedelta(seconds=delays[0])
        median_first[qk] = timedelta(seconds=statistics.median(delays))

    def is_bot(a: _Author) -> bool:
        return a.host_side > 0 and not a.host

    people = {k: a for k, a in authors.items() if not is_bot(a)}
    ranked = sorted(
        people.items(),
        key=lambda item: (-item[1].messages, -item[1].answers, item[1].name.casefold(), item[0]),
    )
    contributors = []
    hidden_handles = set()
    opted_rank = 0
    for key, a in ranked:
        earlier = history.get(key, 0)
        if key in opted_out:
            opted_rank += 1
            hidden_handles.add(_norm_handle(a.handle))
            contributors.append(
                Contributor(
                    f"opted-out-{opted_rank}",
                    OPTED_OUT_NAME,
                    "",
                    a.platform,
                    a.messages,
                    a.answers,
                    a.host,
                    earlier,
                    hidden=True,
                )
            )
        else:
            contributors.append(
                Contributor(
                    key, a.name, a.handle, a.platform, a.messages, a.answers, a.host, earlier
                )
            )
    for handle in hidden_handles:
        mentions.pop(handle, None)

    host_messages = sum(a.messages for a in authors.values() if a.host or is_bot(a))
    first_time = sum(1 for c in contributors if c.first_time)
    busiest = max(
        (k for k, n in per_question.items() if n > 0),
        key=lambda k: per_question[k],
        default=None,
    )  # max() keeps the first of equals: the earliest question wins a tie
    span = -((chat.start - chat.grace_end) // timedelta(minutes=1))  # ceil, in minutes
    first_minute = min([0, *per_minute])
    last_minute = max([span - 1, *per_minute])
    activity = [(i, per_minute.get(i, 0)) for i in range(first_minute, last_minute + 1)]

    return ChatStats(
        participants=len(people),
        hosts=sum(1 for a in authors.values() if a.host),
        messages=total,
        answers=answers,
        comments=comments,
        reposts=reposts,
        host_messages=host_messages,
        hosts_share=host_messages / total if total else 0.0,
        edits=edits,
        deletions=deletions,
        late_answers=late,
        reactions=reactions,
        hidden_messages=sum(a.messages for k, a in authors.items() if k in opted_out),
        first_time=first_time,
        returning=len(contributors) - first_time,
        answers_per_question=per_question,
        participants_per_question=participants_per_question,
        first_answer=first_answer,
        median_first_answer=median_first,
        question_posted_at=posted,
        busiest_question=busiest,
        per_platform=dict(sorted(per_platform.items())),
        activity_per_minute=activity,
        contributors=contributors,
        top_contributors=contributors[:TOP_N],
        most_mentioned=_top(mentions, mention_display),
        top_domains=_top(domains, {}),
        not_posted={k: v for k, v in (not_posted or {}).items() if k not in posted},
    )
