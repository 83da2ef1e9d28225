"""Discord's message limit (imports nothing of discord.py, so chat files check cheaply)."""

from __future__ import annotations

from scheduler.limits import PostLimit, count_characters

MESSAGE_LIMIT = 2000
"""Characters in a message's content (embeds and attachments aside)."""

POST_LIMIT = PostLimit("Discord", MESSAGE_LIMIT, "characters", count_characters)
