"""Highlights: per question, the answers that drew the most engagement (pure).

Engagement is what each network counts on a post, read once at publishing (and, on Discord
and the local platform, also live as reactions come and go):

- ``reactions``: Discord reactions (every emoji, the sum of their ``count``), reactions on
  the local platform (``tweetchat local react``);
- ``likes``: X ``like_count``, Bluesky ``likeCount``, Mastodon ``favourites_count``;
- ``reposts``: X ``retweet_count``, Bluesky ``repostCount``, Mastodon ``reblogs_count``;
- ``quotes``: X ``quote_count`` (Bluesky ``quoteCount``);
- ``replies``: X ``reply_count``, Bluesky ``replyCount``, Mastodon ``replies_count``
  (stored, not scored: replies to an answer are mostly the chat itself).

The **score** of an answer is ``reactions + likes + reposts + quotes``: every way a reader can
say "this one" with one tap, counted alike whatever the network. Per question the answers
with a score above 0 are ranked by score, highest first, ties broken by time (earlier
first; then by network and message id, so the order never depends on the store), and the
first ``per_question`` kept. An answer to several questions (``A1/A2``) counts under each.
A chat in which no answer has a score above 0 has no highlights, and its transcripts show
no Highlights section at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from archive.models import CapturedMessage, Chat, MessageKind

HIGHLIGHTS_PER_QUESTION = 3
"""How many answers a question's highlights keep by default (config ``highlights_per_question``)."""


@dataclass(frozen=True, slots=True)
class Engagement:
    """What a network counts on one post, as read at publishing.

    ``reactions`` is None when the network reports no reactions (the live count stored with
    the message is then kept); otherwise it replaces it.
    """

    likes: int = 0
    reposts: int = 0
    quotes: int = 0
    replies: int = 0
    reactions: int | None = None


@dataclass(frozen=True, slots=True)
class Highlight:
    """One answer with its engagement, as a Highlights section shows it."""

    message: CapturedMessage
    likes: int = 0
    reposts: int = 0
    quotes: int = 0
    replies: int = 0

    @property
    def reactions(self) -> int:
        return self.message.reactions

    @property
    def score(self) -> int:
        """``reactions + likes + reposts + quotes`` (see the module's docstring)."""
        return self.message.reactions + self.likes + self.reposts + self.quotes

    def sort_key(self) -> tuple[int, datetime, str, str]:
        """Highest score first, then earlier first, then network and id."""
        m = self.message
        return (-self.score, m.created_at, m.platform, m.platform_id)


def select_highlights(
    chat: Chat, candidates: Iterable[Highlight], per_question: int = HIGHLIGHTS_PER_QUESTION
) -> dict[str, list[Highlight]]:
    """The chat's highlights: question key -> its best answers, best first, at most
    ``per_question`` each, in the order of the chat's questions; questions without any
    engaged answer are left out, and so is everything when ``per_question`` is 0.

    ``candidates`` are the chat's answers as a transcript shows them (not deleted, not by
    an opted-out participant); anything else (comments, reposts, a score of 0) is ignored.
    """
    if per_question <= 0:
        return {}
    by_question: dict[str, list[Highlight]] = {}
    for h in candidates:
        if h.message.kind != MessageKind.ANSWER or h.score <= 0:
            continue
        for key in dict.fromkeys(h.message.question_keys):
            by_question.setdefault(key, []).append(h)
    out: dict[str, list[Highlight]] = {}
    for q in chat.questions:
        found = by_question.get(q.key)
        if found:
            out[q.key] = sorted(found, key=Highlight.sort_key)[:per_question]
    return out


def engagement_counts(h: Highlight) -> Mapping[str, int]:
    """The non-zero counts of an answer, in the order transcripts list them:
    ``{"reactions": 4, "likes": 2}``."""
    counts = {
        "reactions": h.reactions,
        "likes": h.likes,
        "reposts": h.reposts,
        "quotes": h.quotes,
    }
    return {name: n for name, n in counts.items() if n}
