"""The Highlights section of a transcript (Markdown, hence HTML; JSON; the CSV's column).

What is ranked, and how, is :mod:`archive.highlights`; this module only shows it. Every
sentence a reader sees is in ``TEXT`` (one place, ready to be wrapped for translation).
A chat without highlights gets no section: its transcripts are exactly what they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

from archive.highlights import Highlight, engagement_counts
from archive.models import Chat
from archive.transcripts.items import _linked_line
from archive.transcripts.text import (
    NETWORK_NAMES,
    _escape_plain,
    _lines,
    clock,
    escape_inline,
    message_anchor,
    redact_handles,
    safe_url,
)

TEXT: Mapping[str, str] = {
    "heading": "Highlights",
    "intro": (
        "The answers with the most reactions, likes and reposts, for each question"
        " (score: reactions + likes + reposts + quotes; ties: the earlier answer first)."
    ),
    "question": "Top answers to {label}:",
    "in_transcript": "answer",
    "link": "link",
    "reactions": "reaction|reactions",
    "likes": "like|likes",
    "reposts": "repost|reposts",
    "quotes": "quote|quotes",
    "unknown": "Unknown",
}
"""The section's user-facing strings; ``one|many`` pairs are counted forms."""


def _count(name: str, n: int) -> str:
    one, many = TEXT[name].split("|")
    return f"{n} {one if n == 1 else many}"


def counts_label(h: Highlight) -> str:
    """``4 reactions, 1 like``: an answer's non-zero counts."""
    return ", ".join(_count(name, n) for name, n in engagement_counts(h).items())


def markdown_lines(
    chat: Chat,
    highlights: Mapping[str, Sequence[Highlight]],
    *,
    hide: Iterable[str] = (),
    network: bool = False,
) -> list[str]:
    """The section's Markdown lines (each without its newline, ending with a blank line),
    or none when there are no highlights. ``hide``: handles to redact in texts (opted-out
    participants); ``network``: name each answer's network (a chat on several)."""
    if not highlights:
        return []
    hidden = frozenset(hide)
    labels = {q.key: q for q in chat.questions}
    out = [f"## {TEXT['heading']}", "", f"*{TEXT['intro']}*", ""]
    for key, found in highlights.items():
        q = labels[key]
        out += [f"### {TEXT['question'].format(label=q.label)} {escape_inline(q.text)}", ""]
        for h in found:
            out.append(_item(chat, h, hidden, network))
        out.append("")
    return out


def _item(chat: Chat, h: Highlight, hide: frozenset[str], network: bool) -> str:
    m = h.message
    name = escape_inline(m.author_name) or escape_inline(m.author_handle) or TEXT["unknown"]
    head = [f"**{name}**" + (f" @{escape_inline(m.author_handle)}" if m.author_handle else "")]
    if network:
        head.append(escape_inline(NETWORK_NAMES.get(m.platform, m.platform)))
    head.append(clock(m.created_at, chat.zone))
    head.append(counts_label(h))
    head.append(f"[{TEXT['in_transcript']}](#{message_anchor(m.platform, m.platform_id)})")
    link = safe_url(m.permalink) if m.permalink else None
    if link:
        head.append(f"[{TEXT['link']}]({link})")
    item = "- " + " · ".join(head)
    text = redact_handles(m.text, hide) if hide else m.text
    for line in _lines(text):
        # As in the answer lists: URLs become safe links, the rest is escaped text.
        item += "  \n  " + (
            _linked_line(line, html=False)[0] if "://" in line else _escape_plain(line)
        )
    return item


def json_entries(
    highlights: Mapping[str, Sequence[Highlight]], *, hide: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The JSON document's ``highlights``: per question (in the chat's order) its answers,
    best first, each with the message's network and id (to find it in ``messages``), its
    counts and score. Texts are not repeated; authors are, redacted as in ``messages``."""
    hidden = frozenset(hide)
    out = []
    for key, found in highlights.items():
        answers = []
        for h in found:
            m = h.message
            answers.append(
                {
                    "platform": m.platform,
                    "id": m.platform_id,
                    "author_handle": m.author_handle if m.author_handle not in hidden else "",
                    "created_at": m.created_at.astimezone(UTC).isoformat(),
                    "reactions": h.reactions,
                    "likes": h.likes,
                    "reposts": h.reposts,
                    "quotes": h.quotes,
                    "replies": h.replies,
                    "score": h.score,
                }
            )
        out.append({"question": key, "answers": answers})
    return out


CSV_COLUMN = "engagement"
"""The CSV's extra last column, present only for a chat with engagement: each message's
score (see :mod:`archive.highlights`)."""
