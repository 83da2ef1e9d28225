"""How X counts a post's length (twitter-text v3), and X's post limit.

The scheduler checks chat files against `post_limit` when a chat is scheduled (through
`bot.platforms.registry.post_limits`); the X adapter uses the same limit before it posts.
Imports nothing of tweepy, so checking a chat file stays cheap.
"""

from __future__ import annotations

import re
import unicodedata

from scheduler.limits import PostLimit

X_POST_LIMIT = 280
"""X's limit for a post, as it counts (accounts with X Premium may post more)."""

URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
URL_WEIGHT = 23  # every link counts as a t.co link, whatever its length
UNIT = "characters as X counts them (a link 23, most non-Latin characters 2)"


def weighted_length(text: str) -> int:
    """The length X counts against its limit (twitter-text v3: links 23, most non-Latin 2)."""
    text = unicodedata.normalize("NFC", text)
    length = URL_WEIGHT * len(URL_RE.findall(text))
    for ch in URL_RE.sub("", text):
        cp = ord(ch)
        light = cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247
        length += 1 if light else 2
    return length


def post_limit(max_length: int = X_POST_LIMIT) -> PostLimit:
    """X's limit (the config's ``x.max_post_length``), counted as X counts."""
    return PostLimit("X", max_length, UNIT, weighted_length)
