"""The embeds the bot posts on Discord."""

from __future__ import annotations

import discord

from archive.i18n import translator
from archive.models import Chat
from archive.stats import ChatStats

EMBED_FIELD_LIMIT = 1024


def clip(text: str, limit: int = EMBED_FIELD_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def summary_embed(chat: Chat, stats: ChatStats | None, link: str = "") -> discord.Embed:
    """The close-of-chat summary: participants, answers, top contributors, busiest question,
    in the chat's language (``archive.i18n``)."""
    tr = translator(chat.language)
    embed = discord.Embed(
        title=clip(f"{chat.title} {chat.hashtag}", 256),
        description=tr.gettext("Transcript of the chat on {day}.").format(
            day=tr.day(chat.start.astimezone(chat.zone))
        ),
        url=link or None,
    )
    if stats is None:
        return embed
    embed.add_field(
        name=tr.pgettext("summary table", "Participants"), value=tr.number(stats.participants)
    )
    embed.add_field(name=tr.pgettext("summary table", "Answers"), value=tr.number(stats.answers))
    embed.add_field(name=tr.pgettext("summary table", "Messages"), value=tr.number(stats.messages))
    top = [
        tr.gettext("{name}: {answers}").format(
            name=c.name or c.handle, answers=tr.counted("{n} answer", "{n} answers", c.answers)
        )
        if not c.hidden
        else tr.gettext("(opted out)")
        for c in stats.top_contributors[:5]
    ]
    if top:
        embed.add_field(
            name=tr.gettext("Top contributors"), value=clip("\n".join(top)), inline=False
        )
    if stats.busiest_question:
        key = stats.busiest_question
        question = next((q for q in chat.questions if q.key == key), None)
        label = chat.labels.question_label(key)
        count = stats.answers_per_question.get(key, 0)
        embed.add_field(
            name=tr.gettext("Busiest question"),
            value=clip(
                tr.gettext("{label}: {text} ({answers})").format(
                    label=label,
                    text=question.text if question is not None else "",
                    answers=tr.counted("{n} answer", "{n} answers", count),
                )
            ),
            inline=False,
        )
    if link:
        embed.add_field(name=tr.gettext("Web archive"), value=link, inline=False)
    return embed
