"""How X counts a post's length (twitter-text v3), for checking posts before chat time.

Lives in the scheduler layer so that a chat file can be checked when it is scheduled, not
when its question fails to post; the X adapter uses the same function before it posts.
"""

from __future__ import annotations

import re
import unicodedata

X_POST_LIMIT = 280
"""X's limit for a post, as it counts (accounts with X Premium may post more)."""

URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
URL_WEIGHT = 23  # every link counts as a t.co link, whatever its length


def weighted_length(text: str) -> int:
    """The length X counts against its limit (twitter-text v3: links 23, most non-Latin 2)."""
    text = unicodedata.normalize("NFC", text)
    length = URL_WEIGHT * len(URL_RE.findall(text))
    for ch in URL_RE.sub("", text):
        cp = ord(ch)
        light = cp <= 4351 or 8192 <= cp <= 8205 or 8208 <= cp <= 8223 or 8242 <= cp <= 8247
        length += 1 if light else 2
    return length
