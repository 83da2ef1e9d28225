"""The embeds the bot posts on Discord."""

from __future__ import annotations

import discord

from archive.models import Chat
from archive.stats import ChatStats

EMBED_FIELD_LIMIT = 1024


def clip(text: str, limit: int = EMBED_FIELD_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def summary_embed(chat: Chat, stats: ChatStats | None, link: str = "") -> discord.Embed:
    """The close-of-chat summary: participants, answers, top contributors, busiest question."""
    embed = discord.Embed(
        title=clip(f"{chat.title} {chat.hashtag}", 256),
        description=f"Transcript of the chat on {chat.start.astimezone(chat.zone):%a %d %b %Y}.",
        url=link or None,
    )
    if stats is None:
        return embed
    embed.add_field(name="Participants", value=str(stats.participants))
    embed.add_field(name="Answers", value=str(stats.answers))
    embed.add_field(name="Messages", value=str(stats.messages))
    top = [
        f"{c.name or c.handle}: {c.answers} answers" if not c.hidden else "(opted out)"
        for c in stats.top_contributors[:5]
    ]
    if top:
        embed.add_field(name="Top contributors", value=clip("\n".join(top)), inline=False)
    if stats.busiest_question:
        key = stats.busiest_question
        text = next((q.text for q in chat.questions if q.key == key), "")
        count = stats.answers_per_question.get(key, 0)
        embed.add_field(
            name="Busiest question",
            value=clip(f"{chat.labels.question_label(key)}: {text} ({count} answers)"),
            inline=False,
        )
    if link:
        embed.add_field(name="Web archive", value=link, inline=False)
    return embed
