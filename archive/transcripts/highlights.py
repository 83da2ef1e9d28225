"""The Highlights section of a transcript (Markdown, hence HTML; JSON; the CSV's column).

What is ranked, and how, is :mod:`archive.highlights`; this module only shows it, in the
chat's language (:mod:`archive.i18n`) and with its label letters (``Q1``, ``C1``).
A chat without highlights gets no section: its transcripts are exactly what they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any

from archive.highlights import Highlight, engagement_counts
from archive.i18n import Translator, translator
from archive.models import Chat
from archive.transcripts.items import _linked_line
from archive.transcripts.text import (
    _escape_plain,
    _lines,
    clock,
    escape_inline,
    message_anchor,
    network_name,
    redact_handles,
    safe_url,
)


def counts_label(h: Highlight, tr: Translator | None = None) -> str:
    """``4 reactions, 1 like``: an answer's non-zero counts, in ``tr``'s language (English
    by default)."""
    tr = tr or translator()
    parts = []
    for name, n in engagement_counts(h).items():
        if name == "reactions":
            parts.append(tr.counted("{n} reaction", "{n} reactions", n))
        elif name == "likes":
            parts.append(tr.counted("{n} like", "{n} likes", n))
        elif name == "reposts":
            parts.append(tr.counted("{n} repost", "{n} reposts", n))
        else:
            parts.append(tr.counted("{n} quote", "{n} quotes", n))
    return ", ".join(parts)


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
    tr = translator(chat.language)
    questions = {q.key: q for q in chat.questions}
    # Translators: how the Highlights section ranks the answers, under its heading.
    intro = tr.gettext(
        "The answers with the most reactions, likes and reposts, for each question"
        " (score: reactions + likes + reposts + quotes; ties: the earlier answer first)."
    )
    # Translators: the heading of the section that opens a transcript with the top answers.
    out = [f"## {tr.gettext('Highlights')}", "", f"*{intro}*", ""]
    for key, found in highlights.items():
        q = questions[key]
        # Translators: {label} is a question's label, "Q1"; the question's text follows.
        top = tr.gettext("Top answers to {label}:").format(label=chat.label(q))
        out += [f"### {top} {escape_inline(q.text)}", ""]
        for h in found:
            out.append(_item(chat, h, hidden, network, tr))
        out.append("")
    return out


def _item(chat: Chat, h: Highlight, hide: frozenset[str], network: bool, tr: Translator) -> str:
    m = h.message
    name = (
        escape_inline(m.author_name)
        or escape_inline(m.author_handle)
        or escape_inline(tr.gettext("Unknown"))
    )
    head = [f"**{name}**" + (f" @{escape_inline(m.author_handle)}" if m.author_handle else "")]
    if network:
        head.append(escape_inline(network_name(m.platform, tr)))
    head.append(clock(m.created_at, chat.zone, tr))
    head.append(counts_label(h, tr))
    # Translators: a link from a highlight to the same answer further down the transcript.
    answer = tr.pgettext("highlight", "answer")
    head.append(f"[{answer}](#{message_anchor(m.platform, m.platform_id)})")
    link = safe_url(m.permalink) if m.permalink else None
    if link:
        head.append(f"[{tr.gettext('link')}]({link})")
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
