"""Hashtag rules, in one place: what a hashtag is, how it is written, how to find it in text.

Every layer that asks "is this a hashtag?" or "does this text carry the chat's hashtag?"
(capture, the timeline's post texts, chat files, importers, every platform adapter) asks
here, so a post the bot routes to a chat is the same post capture files under it.

The rules (pure; no clock, no I/O):

- a hashtag is ``#`` or the full-width ``＃`` (which X also accepts) followed by a body of
  letters, digits, ``_`` (or a compatibility form of it, such as the full-width ``＿``) and
  combining marks, at least one of them not a decimal digit;
- tags are found in the text as written (NFC), and compared by :func:`tag_key`: Unicode
  compatibility normalisation (NFKC) and case folding, as X and Mastodon treat tags
  (``#ＷｅＤｏｃｓ`` typed with an East Asian input method carries ``#WeDocs``, and
  ``#STRASSE`` carries ``#straße``);
- a tag counts only as a whole token: not preceded by a word character (``a#WeDocs``),
  not continued by one (``#WeDocsChat``, ``#WeDocś`` with a combining accent);
- a ``#`` inside a link (``https://e.com/#WeDocs``, ``www.e.com/#x``) is no hashtag.
"""

from __future__ import annotations

import re
import string
import unicodedata

from archive.unicode_classes import combining_marks

__all__ = [
    "HASHTAG_RE",
    "HASH_CHARS",
    "MAX_HASHTAG_LEN",
    "URL_RE",
    "WORD_CHAR",
    "HashtagError",
    "ascii_tag",
    "find_hashtags",
    "has_hashtag",
    "has_tag",
    "hashtag_bodies",
    "normalise_hashtag",
    "tag_key",
    "wanted_tag",
]

MAX_HASHTAG_LEN = 100


# Combining marks: ``\w`` does not include them, yet many scripts (Devanagari, Thai,
# decomposed Latin) need them inside a word; without them ``#हिंदी`` would be cut short.
_MARKS = combining_marks()
# The compatibility forms of '_' (NFKC makes them '_'), such as the full-width '＿' of East
# Asian input methods; ``\w`` does not include them, so '#WeDocs＿2024' would be cut short.
_UNDERSCORES = "\ufe33\ufe34\ufe4d-\ufe4f\uff3f"
WORD_CHAR = rf"[\w{_MARKS}{_UNDERSCORES}]"
"""A regex class for one "word" character: a letter, digit, underscore or combining mark."""
_NOT_W = rf"[^\w{_MARKS}{_UNDERSCORES}]"
# A tag body: word characters, at least one of them not a decimal digit.
_TAG_BODY = rf"(?=(?:{WORD_CHAR})*?(?:[^\W\d]|[{_MARKS}{_UNDERSCORES}])){WORD_CHAR}+"

HASHTAG_RE: re.Pattern[str] = re.compile(rf"\A{_TAG_BODY}\Z")
"""What may follow '#': letters, digits, '_' and combining marks, not all digits (anchored)."""

HASH_CHARS = "#\uff03"
"""The characters that start a hashtag: '#' and the full-width '＃' that X also accepts."""

URL_RE: re.Pattern[str] = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
"""A link in text; a '#' inside it starts no hashtag."""

# The '#' first and the look-behind after it: a pattern that starts with a literal class
# lets the regex engine jump between '#'s instead of trying every position.
_HASHTAG_IN_TEXT_RE = re.compile(rf"[{HASH_CHARS}](?<!{WORD_CHAR}[{HASH_CHARS}])({_TAG_BODY})")
_ASCII_WORD = frozenset(string.ascii_letters + string.digits + "_")


class HashtagError(ValueError):
    """A hashtag that cannot be used: the message says why."""


def normalise_hashtag(tag: str) -> str:
    """Return ``tag`` as ``#Body`` (NFC, case kept; '#', '＃' or none accepted in front).

    Raises :class:`HashtagError` naming the problem: empty, too long (more than
    ``MAX_HASHTAG_LEN`` characters with the '#'), a character that may not be in a tag, or
    all digits.
    """
    cleaned = unicodedata.normalize("NFC", tag.strip())
    if not cleaned:
        raise HashtagError("hashtag is empty")
    body = cleaned[1:] if cleaned[0] in HASH_CHARS else cleaned
    shown = f"#{body}"
    if not body:
        raise HashtagError("hashtag has nothing after '#'")
    if len(shown) > MAX_HASHTAG_LEN:
        raise HashtagError(
            f"hashtag {shown[:20]!r}... is {len(shown)} characters; at most {MAX_HASHTAG_LEN}"
        )
    if HASHTAG_RE.fullmatch(body):
        return shown
    bad = re.search(_NOT_W, body)
    if bad is not None:
        char = bad.group()
        what = "a space" if char.isspace() else repr(char)
        raise HashtagError(
            f"hashtag {shown!r} contains {what}; only letters, digits and '_' may follow '#'"
        )
    raise HashtagError(f"hashtag {shown!r} is all digits; it needs at least one letter")


def hashtag_bodies(text: str) -> list[str]:
    """Tag bodies (without '#') in ``text`` (NFC), in order, ignoring '#' inside links."""
    text = URL_RE.sub(" ", unicodedata.normalize("NFC", text))
    return _HASHTAG_IN_TEXT_RE.findall(text)


def find_hashtags(text: str) -> list[str]:
    """All hashtags in ``text`` as written (NFC), with '#', in order; links are skipped."""
    text = URL_RE.sub(" ", unicodedata.normalize("NFC", text))
    return [m.group() for m in _HASHTAG_IN_TEXT_RE.finditer(text)]


def tag_key(body: str) -> str:
    """The form in which two tag bodies are compared: NFKC, case-folded, NFKC again.

    ``ＷｅＤｏｃｓ`` (full-width), ``WEDOCS`` and ``wedocs`` have the same key; ``WeDocś``
    (with an accent) does not. ASCII needs only lower-casing, so it skips normalisation.
    """
    if body.isascii():
        return body.lower()  # NFKC leaves ASCII alone, and casefold() on ASCII is lower()
    folded = unicodedata.normalize("NFKC", body).casefold()
    # Case folding can undo the normal form (a folded character that decomposes again).
    return unicodedata.normalize("NFKC", folded)


def wanted_tag(hashtag: str) -> str:
    """The :func:`tag_key` of a hashtag's body, which :func:`has_tag` looks for ("" matches
    nothing)."""
    want = hashtag.strip()
    if want[:1] in HASH_CHARS:
        want = want[1:]
    return tag_key(want)


def ascii_tag(want: str) -> bool:
    """Whether the ASCII fast path of :func:`has_tag` may decide for ``want``."""
    return want.isascii() and HASHTAG_RE.fullmatch(want) is not None


def has_tag(text: str, want: str, ascii_fast: bool) -> bool:
    """:func:`has_hashtag` with the tag prepared once: ``want = wanted_tag(hashtag)`` and
    ``ascii_fast = ascii_tag(want)`` (capture runs this for every message of a live chat)."""
    if not want:
        return False
    if text.isascii():
        low = text.lower()  # casefold() on ASCII
        # A tag body is a substring of the text, so its folded form is one of the folded text.
        if want not in low:
            return False
        if ascii_fast and "://" not in low and "www." not in low:
            # No link to skip and no '＃': a match is '#' + want, not preceded or followed
            # by a word character (ASCII: letters, digits, '_').
            needle = "#" + want
            start = low.find(needle)
            while start >= 0:
                end = start + len(needle)
                if (start == 0 or low[start - 1] not in _ASCII_WORD) and (
                    end == len(low) or low[end] not in _ASCII_WORD
                ):
                    return True
                start = low.find(needle, start + 1)
            return False
    elif "#" not in text and "\uff03" not in text:
        return False  # no tag at all (NFC never makes a '#' of another character)
    return any(tag_key(body) == want for body in hashtag_bodies(text))


def has_hashtag(text: str, hashtag: str) -> bool:
    """Whether ``text`` carries ``hashtag`` (with or without '#') as a whole token, compared
    by :func:`tag_key` (compatibility forms and case do not matter).

    ``#WeDocsChat``, ``#WeDocś`` and ``https://e.com/#WeDocs`` do not carry ``#WeDocs``;
    ``＃WeDocs``, ``#ＷｅＤｏｃｓ`` and ``#wedocs`` do.
    """
    want = wanted_tag(hashtag)
    return has_tag(text, want, ascii_tag(want))


def with_hashtag(title: str, hashtag: str) -> str:
    """``"Title (#Tag)"``, or the title alone when it carries the hashtag already (an
    imported chat's default title, ``"#WeDocs in #qi-chat"``): the name of a chat in page
    titles, feeds and calendars."""
    return title if has_hashtag(title, hashtag) else f"{title} ({hashtag})"
