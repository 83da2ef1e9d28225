"""What the command line prints about chats: local times and the one-screen summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from archive.models import Chat

if TYPE_CHECKING:
    from archive.groups import GroupMix
    from archive.highlights import Highlight
    from archive.stats import ChatStats


def local_time(chat: Chat, at: datetime) -> str:
    return at.astimezone(chat.zone).strftime("%a %d %b %Y %H:%M %Z")


def headline(chat: Chat) -> str:
    """The chat's title and hashtag, the hashtag once: an imported chat's title ("#WeDocs
    in #qi-chat") carries it already."""
    from archive.hashtags import has_hashtag  # here: every command imports this module

    return chat.title if has_hashtag(chat.title, chat.hashtag) else f"{chat.title} {chat.hashtag}"


def format_stats(chat: Chat, stats: ChatStats, groups: GroupMix | None = None) -> str:
    """A one-screen summary of a chat's statistics (and its stakeholder mix, if any)."""
    lines = [
        f"{headline(chat)} — {local_time(chat, chat.start)}",
        f"  participants {stats.participants}  messages {stats.messages}  answers {stats.answers}"
        f"  late {stats.late_answers}  first-timers {stats.first_time}  returning {stats.returning}",
        f"  edits {stats.edits}  deletions {stats.deletions}  hosts' share {stats.hosts_share:.0%}",
    ]
    for q in chat.questions:
        n = stats.answers_per_question.get(q.key, 0)
        answers = "answer " if n == 1 else "answers"
        lines.append(f"  {chat.label(q):<4} {n:>4} {answers}  {q.text[:60]}")
    if stats.top_contributors:
        top = ", ".join(f"{c.name} ({c.messages})" for c in stats.top_contributors[:5])
        lines.append(f"  top contributors: {top}")
    if groups is not None:
        from archive.i18n import translator
        from archive.transcripts.groupsfmt import groups_summary

        lines.append(groups_summary(groups, translator(chat.language)))
    return "\n".join(lines)


def format_highlights(chat: Chat, highlights: Mapping[str, Sequence[Highlight]]) -> str:
    """The top answer of each question, a line each (``Highlights: none`` when no answer
    drew any reaction, like or repost)."""
    from archive.transcripts.highlights import counts_label

    if not highlights:
        return "Highlights: none (no answer drew a reaction, like or repost)"
    labels = {q.key: chat.label(q) for q in chat.questions}
    lines = ["Highlights (the top answer of each question):"]
    for key, found in highlights.items():
        top = found[0].message
        who = top.author_name or top.author_handle
        lines.append(f"  {labels[key]:<4} {counts_label(found[0]):<14} {who}: {top.text[:50]}")
    return "\n".join(lines)
