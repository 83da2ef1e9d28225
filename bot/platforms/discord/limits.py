"""Discord's message limit (imports nothing of discord.py, so chat files check cheaply)."""

from __future__ import annotations

from scheduler.limits import PostLimit, count_characters

MESSAGE_LIMIT = 2000
"""Characters in a message's content (embeds and attachments aside)."""

# A split intro or closing goes out as consecutive messages, which Discord shows as one
# block under the bot's name: no part numbers.
POST_LIMIT = PostLimit("Discord", MESSAGE_LIMIT, "characters", count_characters, number_parts=False)
