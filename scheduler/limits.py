"""How long a post may be on each network, and how that network counts.

Every post the bot makes is checked against each target network's limit when the chat is
scheduled, never first when it is posted. The scheduler checks chat files with these values;
each platform adapter declares its own (`Platform.post_limit`) and refuses a longer post with
a clear error. Networks count differently: X weighs characters (links 23, most non-Latin
characters 2), Discord counts characters, Bluesky graphemes, some APIs bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def count_characters(text: str) -> int:
    """Unicode code points (Discord and the local platform count so)."""
    return len(text)


def count_utf8_bytes(text: str) -> int:
    """Bytes of the UTF-8 encoding (for APIs that limit the encoded size)."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class PostLimit:
    """The longest post a network takes, and how it counts a post's length.

    ``network`` is the name people know ("X", "Discord"); ``unit`` says what is counted, as
    shown to hosts ("characters", "characters as X counts them (...)"); ``count`` maps a
    post's text to that count. ``number_parts`` says how a post split into a thread
    (`scheduler.threads`) reads there: each part numbered `` (1/3)`` where each is read on
    its own (X, Bluesky, Mastodon), not where consecutive messages read as one (Discord,
    the local platform).
    """

    network: str
    max_length: int
    unit: str
    count: Callable[[str], int]
    number_parts: bool = True

    def excess(self, text: str) -> int | None:
        """The post's length in this network's unit when it is over the limit, else None."""
        size = self.count(text)
        return size if size > self.max_length else None

    def problem(self, text: str, *, what: str = "") -> str | None:
        """A host-readable sentence when ``text`` does not fit, else None.

        ``what`` names what was counted beyond the host's text (``"with the label and
        hashtag"``); the sentence reads "too long for X: 301 characters as X counts them
        (...) with the label and hashtag; at most 280".
        """
        size = self.excess(text)
        if size is None:
            return None
        extra = f" {what}" if what else ""
        return f"too long for {self.network}: {size} {self.unit}{extra}; at most {self.max_length}"
