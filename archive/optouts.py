"""A participant's opt-out and opt-in commands: the one rule the live bot
(``bot/facilitator.py``) and the importer read.

``!optout`` / ``!optin`` (also ``optout``, ``opt out``, ``opt-in``, in any case), alone in a
post, or after @mentions of the bot (``@tweetchat !optout``, as a reply on Mastodon), or
followed by hashtags (``!optout #WeDocs``).
"""

from __future__ import annotations

import re

__all__ = ["OPT_COMMAND", "opt_command"]

# A hashtag may follow (``!optout #WeDocs``): on X only posts with the chat's hashtag reach
# the bot, unless they reply to it.
OPT_COMMAND = re.compile(
    r"^\s*(?:@\w+\s+)*!?(opt[\s-]?out|opt[\s-]?in)(?:\s+[#＃]\w+)*\s*$", re.IGNORECASE
)


_FIRST = frozenset("@!oO")  # what an opt command starts with, after blanks


def opt_command(text: str) -> str | None:
    """``"optout"`` or ``"optin"`` when ``text`` is an opt command, else None."""
    first = text[:1]
    if first not in _FIRST and not first.isspace():
        return None  # most messages: no regex (an import asks this of every message)
    match = OPT_COMMAND.match(text)
    if match is None:
        return None
    return re.sub(r"[\s-]", "", match.group(1).lower())
