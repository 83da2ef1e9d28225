"""A participant's opt-out and opt-in commands: the one rule the live bot
(``bot/facilitator.py``) and the importer read.

``!optout`` / ``!optin`` (also ``optout``, ``opt out``, ``opt-in``, in any case), alone in a
post, or after @mentions of the bot (``@tweetchat !optout``, as a reply on Mastodon).
"""

from __future__ import annotations

import re

__all__ = ["OPT_COMMAND", "opt_command"]

OPT_COMMAND = re.compile(r"^\s*(?:@\w+\s+)*!?(opt[\s-]?out|opt[\s-]?in)\s*$", re.IGNORECASE)


def opt_command(text: str) -> str | None:
    """``"optout"`` or ``"optin"`` when ``text`` is an opt command, else None."""
    match = OPT_COMMAND.match(text)
    if match is None:
        return None
    return re.sub(r"[\s-]", "", match.group(1).lower())
