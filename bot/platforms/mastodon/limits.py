"""How a Mastodon instance counts a status's length, and the post limit built from it.

Mastodon's ``StatusLengthValidator`` counts grapheme clusters of the text after two
concessions: every link (with its ``http(s)://``) counts as 23 characters whatever its length,
and a mention counts only its ``@username`` part (``@ann@other.example`` counts as ``@ann``).
Each instance sets its own limit (``configuration.statuses.max_characters`` of
``/api/v2/instance``, 500 on a stock instance); the config's ``mastodon.max_post_length`` is the
limit chat files are checked against before the adapter has asked the instance.

Python has no grapheme segmentation in the standard library; `mastodon_length` folds the
common multi-code-point clusters (combining marks, variation selectors, skin tones, emoji
joined by zero-width joiners, flag pairs) and otherwise counts code points, so it never
counts less than Mastodon does. Imports nothing of Mastodon.py.
"""

from __future__ import annotations

import re
import unicodedata

from scheduler.limits import PostLimit

DEFAULT_MAX_CHARACTERS = 500
"""A stock Mastodon instance's limit (``configuration.statuses.max_characters``)."""

URL_WEIGHT = 23  # characters_reserved_per_url of the instance configuration
URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
# Mastodon's Account::MENTION_RE: @user or @user@domain, not inside a word, URL or e-mail.
MENTION_RE = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w)?", re.IGNORECASE
)
UNIT = "characters as Mastodon counts them (a link 23, a mention without its domain)"

_ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """Whether `ch` joins the grapheme cluster before it instead of starting one."""
    cp = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Me", "Mn")
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def graphemes(text: str) -> int:
    """An upper bound of the grapheme clusters in `text` (exact for the common cases)."""
    count = 0
    joined = False  # the previous character was a zero-width joiner
    regional = 0  # regional indicators in the current run (two make one flag)
    for ch in text:
        cp = ord(ch)
        if ch == _ZWJ:
            joined = count > 0
            continue
        if 0x1F1E6 <= cp <= 0x1F1FF:
            regional += 1
            if regional % 2 == 0:
                continue
        else:
            regional = 0
        if joined or (count and _extends(ch)):
            joined = False
            continue
        count += 1
    return count


def mastodon_length(text: str) -> int:
    """The length Mastodon counts against its limit: links 23, mentions without their domain."""
    text = unicodedata.normalize("NFC", text)
    links = len(URL_RE.findall(text))
    rest = URL_RE.sub(" ", text)  # a separator, so a mention cannot run into the next word
    rest = MENTION_RE.sub(lambda m: "@" + m.group(1), rest)
    return URL_WEIGHT * links + graphemes(rest) - links


def post_limit(max_length: int = DEFAULT_MAX_CHARACTERS) -> PostLimit:
    """A Mastodon instance's limit (``mastodon.max_post_length``, or what the instance says)."""
    return PostLimit("Mastodon", max_length, UNIT, mastodon_length)
