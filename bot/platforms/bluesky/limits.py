"""How Bluesky counts a post's length (graphemes), and its post limit.

Bluesky's lexicon (``app.bsky.feed.post``) caps ``text`` at 300 graphemes (and 3000 bytes of
UTF-8). A grapheme is an extended grapheme cluster (UAX #29): "é" written as e + combining
accent is one, a family emoji joined by ZWJs is one. Counted with the ``regex`` module's
``\\X``, which follows the current Unicode release. Imports nothing of ``atproto``, so
checking a chat file stays cheap.
"""

from __future__ import annotations

import regex

from scheduler.limits import PostLimit

BLUESKY_POST_LIMIT = 300
"""Bluesky's limit for a post's text, in graphemes."""

MAX_TEXT_BYTES = 3000
"""The lexicon's second bound on a post's text: bytes of its UTF-8 encoding."""

UNIT = "graphemes (characters as Bluesky counts them)"

_GRAPHEME = regex.compile(r"\X")


def count_graphemes(text: str) -> int:
    """Extended grapheme clusters in ``text`` (what Bluesky counts against its limit)."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def post_limit(max_length: int = BLUESKY_POST_LIMIT) -> PostLimit:
    """Bluesky's limit (the config's ``bluesky.max_post_length``), counted in graphemes."""
    return PostLimit("Bluesky", max_length, UNIT, count_graphemes)
