"""The building blocks of transcript text: user text escaped for Markdown, safe links,
redaction of opted-out handles, and the time labels every transcript format shows.

User text (messages, names, handles, the chat's title and intro) is data, never markup:
``escape_text`` neutralises everything Markdown (Python-Markdown and CommonMark/GFM
viewers alike) would otherwise interpret, and http(s) URLs become links whose destination
is percent-encoded down to a safe character set.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, tzinfo
from urllib.parse import quote, urlsplit

from archive.i18n import Translator, translator
from archive.models import CapturedMessage
from archive.stats import participant_key
from archive.unicode_classes import dropped

# Python-Markdown's backslash-escapable characters (plus '|' from the tables extension);
# '<', '>', '&' and '~' are not escapable there, so they become entities instead.
# Escaped wherever they are: each can make code, emphasis, a link, a table cell, HTML or an
# entity anywhere in a line. '(', ')' and '!' need no escape once '[' and ']' have one.
_BACKSLASH = frozenset("\\`*{}[]|")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "~": "&#126;"}
_URL_RE = re.compile(r"https?://[^\s<>\"`\\]+", re.IGNORECASE)
# Characters that may stay unencoded in an emitted URL: none of them is special inside
# a link destination, in Python-Markdown or in CommonMark.
_URL_SAFE = "-._~:/?#@!$&*+,;=%"
_TRAILING_PUNCT = ".,;:!?'\"*_"


# Every control, format, private-use and surrogate character but the tab and the
# zero-width joiners (archive.unicode_classes.compute_dropped).
_DROPPED_RE = re.compile(f"[{dropped()}]")
# Backslash escapes and entities, as one translation table (the definition) and as the
# ordered replacements escape_chars makes: a '\\' before the characters it escapes, '&'
# before the entities that hold one, '#' before the entity that holds one.
_ESCAPES = str.maketrans({**{ch: "\\" + ch for ch in _BACKSLASH}, **_ENTITIES})
_REPLACEMENTS = [(ch, "\\" + ch) for ch in sorted(_BACKSLASH, key=lambda ch: ch != "\\")] + sorted(
    _ENTITIES.items(), key=lambda item: item[0] != "&"
)


def escape_chars(text: str) -> str:
    """``text.translate(_ESCAPES)``, faster: str.translate looks every character up in a
    dict, while a test and a replace per special character are each one C scan, and user
    text holds few of them."""
    for char, escaped in _REPLACEMENTS:
        if char in text:
            text = text.replace(char, escaped)
    return text


def _clean_line(line: str) -> str:
    """Drop invisible and control characters from one line (Python-Markdown uses \\x02 and
    \\x03 as its own placeholders; bidi overrides would scramble the reading order)."""
    return _DROPPED_RE.sub("", line).replace("\t", " ").strip()


def _lines(text: str) -> list[str]:
    """The non-blank, cleaned lines of user text."""
    return [cleaned for line in text.splitlines() if (cleaned := _clean_line(line))]


# Escaped only where they mean something, so that a transcript read as plain text (a
# Discord preview, a text editor) stays readable: '_' at the edge of a word (inside one,
# as in "kofi_carer", it opens no emphasis in Python-Markdown or CommonMark), and at the
# start of a line '#' (heading), '+' and '-' (list, rule), '=' (setext underline) and the
# '.' or ')' after digits (ordered list), and a '#' or '!' that ends the text (a heading's
# closing sequence; an image, before a link). "co-design", "ihi.org" and "#WeDocs" mid-line stay as they are.
_EDGE_UNDERSCORE_RE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_LINE_START_ESCAPES = {"#": "\\#", "+": "\\+", "-": "\\-", "=": "&#61;"}
_ORDERED_RE = re.compile(r"(\d+)([.)])")


def _escape_plain(text: str, *, line_start: bool = True) -> str:
    """Escape user text for Markdown; ``line_start``: the text may begin a line (the
    safe default), else it follows other text on its line."""
    escaped = escape_chars(text)
    if "_" in escaped:
        # Escapes only add characters before special ones (never letters or digits), so
        # an underscore's neighbours here decide as they would in the original text.
        escaped = _EDGE_UNDERSCORE_RE.sub(r"\\_", escaped)
    if escaped.endswith(("#", "!")):
        # A heading's closing sequence: "# We love C#" would lose its last '#'; and a '!'
        # right before a link made from the URL that follows ("see!https://...") would
        # turn the link into an image.
        escaped = escaped[:-1] + "\\" + escaped[-1]
    if line_start and escaped:
        first = _LINE_START_ESCAPES.get(escaped[0])
        if first is not None:
            return first + escaped[1:]
        if escaped[0].isdigit() and (ordered := _ORDERED_RE.match(escaped)):
            return f"{ordered.group(1)}\\{ordered.group(2)}{escaped[ordered.end() :]}"
    return escaped


# A URL that percent-encoding leaves as it is and that is plainly http(s) with a host
# (most permalinks): safe_url returns it unchanged without the slower general path.
_PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9][A-Za-z0-9.\-]*(?:/[A-Za-z0-9\-._~/]*)?")


def safe_url(url: str) -> str | None:
    """The URL percent-encoded to a safe character set, or None unless it is http(s)."""
    if _PLAIN_URL_RE.fullmatch(url):
        return url
    return _safe_url_general(url)


def _safe_url_general(url: str) -> str | None:
    encoded = quote(url.strip(), safe=_URL_SAFE)
    try:
        parts = urlsplit(encoded)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return encoded


def _split_url(candidate: str) -> tuple[str, str]:
    """Split trailing punctuation (and unbalanced closing brackets) off a found URL."""
    url = candidate
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCT:
            url = url[:-1]
        elif last in ")]}" and url.count(last) > url.count({")": "(", "]": "[", "}": "{"}[last]):
            url = url[:-1]
        else:
            break
    return url, candidate[len(url) :]


def link_segments(line: str) -> Iterator[tuple[str, str, str]]:
    """``line`` as (text, URL as written, safe destination) pieces: each linkable http(s)
    URL with the text before it, then the rest of the line with an empty URL. A URL whose
    destination is not safe stays part of the text."""
    pos = 0
    for match in _URL_RE.finditer(line):
        url, _rest = _split_url(match.group())
        safe = safe_url(url) if url else None
        if safe is None:
            continue
        yield line[pos : match.start()], url, safe
        pos = match.start() + len(url)
    yield line[pos:], "", ""


def _escape_line(line: str) -> str:
    """Escape one line of user text, turning its http(s) URLs into safe links."""
    out: list[str] = []
    for text, url, safe in link_segments(line):
        out.append(_escape_plain(text, line_start=not out))
        if url:
            # The link shows the URL as written; only its destination is percent-encoded.
            out.append(f"[{_escape_plain(url)}]({safe})")
    return "".join(out)


def escape_text(text: str, *, line_sep: str = "  \n") -> str:
    """Escape user text for Markdown; its lines are joined with ``line_sep``
    (hard line breaks by default), blank lines dropped."""
    return line_sep.join(_escape_line(line) for line in _lines(text))


def escape_inline(text: str) -> str:
    """Escape user text for one line, after other text on it (a heading's, a table
    cell's, a label's): no links, no breaks."""
    return " ".join(_escape_plain(line, line_start=False) for line in _lines(text))


def redact_handles(text: str, handles: Iterable[str]) -> str:
    """Replace ``@handle`` mentions of opted-out participants in someone else's text."""
    if "@" not in text:
        return text
    pattern = _handles_pattern(frozenset(handles))
    return text if pattern is None else pattern.sub("@(opted out)", text)


@functools.lru_cache(maxsize=64)
def _handles_pattern(handles: frozenset[str]) -> re.Pattern[str] | None:
    names = sorted({h.strip().lstrip("@") for h in handles if h.strip().lstrip("@")}, key=len)
    if not names:
        return None
    return re.compile(
        r"@(?:" + "|".join(re.escape(n) for n in reversed(names)) + r")(?![\w])", re.IGNORECASE
    )


def hidden_handles(messages: Iterable[CapturedMessage], opted_out: frozenset[str]) -> set[str]:
    """Handles of the opted-out participants among ``messages``."""
    return {
        m.author_handle for m in messages if m.author_handle and participant_key(m) in opted_out
    }


def is_shown(m: CapturedMessage, opted_out: frozenset[str]) -> bool:
    """Whether a transcript shows ``m``: neither deleted nor by an opted-out participant."""
    return m.deleted_at is None and participant_key(m) not in opted_out


# -- time formatting -------------------------------------------------------------------


def zone_label(moment: datetime, tr: Translator | None = None) -> str:
    """The zone's abbreviation (``GMT``, ``BST``), or the UTC offset when it has none
    (:meth:`archive.i18n.Translator.zone`, in ``tr``'s language; English by default)."""
    return (tr or translator()).zone(moment)


def day_label(moment: datetime, tr: Translator | None = None) -> str:
    """``Tue 1 Dec 2026`` (in ``tr``'s language; English by default)."""
    return (tr or translator()).day(moment)


def time_range(start: datetime, end: datetime, zone: tzinfo, tr: Translator | None = None) -> str:
    """``Tue 1 Dec 2026, 20:00–21:00 GMT``, in ``zone`` and ``tr``'s language."""
    tr = tr or translator()
    s, e = start.astimezone(zone), end.astimezone(zone)
    day_s, day_e = tr.day(s), tr.day(e)
    at_s, at_e = tr.clock(s), tr.clock(e)
    zone_s, zone_e = tr.zone(s), tr.zone(e)
    if s.date() != e.date():
        # Translators: a chat over two days: "Tue 1 Dec 2026, 23:30 GMT – Wed 2 Dec 2026, 00:30 GMT".
        text = tr.gettext("{day}, {start} {zone} – {end_day}, {end} {end_zone}")
    elif zone_s != zone_e:  # a daylight-saving change inside the chat
        # Translators: a chat across a clock change: "Sun 25 Oct 2026, 01:30 BST–01:30 GMT".
        text = tr.gettext("{day}, {start} {zone}–{end} {end_zone}")
    else:
        # Translators: "Tue 1 Dec 2026, 20:00–21:00 GMT".
        text = tr.gettext("{day}, {start}–{end} {zone}")
    return text.format(day=day_s, start=at_s, zone=zone_s, end_day=day_e, end=at_e, end_zone=zone_e)


def clock(moment: datetime, zone: tzinfo, tr: Translator | None = None) -> str:
    """``20:00``: the time of day in ``zone`` (``20 h 00`` in Canadian French)."""
    return (tr or translator()).clock(moment.astimezone(zone))


def duration_label(delta: timedelta, tr: Translator | None = None) -> str:
    """``1 h``, ``1 h 30 min``, ``45 min``."""
    tr = tr or translator()
    minutes = round(delta.total_seconds() / 60)
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        text = tr.gettext("{hours} h {minutes} min")
    elif hours:
        text = tr.gettext("{hours} h")
    else:
        text = tr.gettext("{minutes} min")
    return text.format(hours=tr.number(hours), minutes=tr.number(mins))


def delay_label(delta: timedelta | None, tr: Translator | None = None) -> str:
    """``45 s``, ``2 min 05 s``, or an em dash when there is none."""
    if delta is None:
        return "—"
    tr = tr or translator()
    seconds = round(delta.total_seconds())
    minutes, secs = divmod(seconds, 60)
    if minutes:
        return tr.gettext("{minutes} min {seconds} s").format(
            minutes=tr.number(minutes), seconds=f"{secs:02d}"
        )
    return tr.gettext("{seconds} s").format(seconds=tr.number(secs))


def _plural(n: int, word: str, plural: str = "") -> str:
    """English only (the web archive's charts); the transcripts use ``Translator.count``."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def message_anchor(platform: str, platform_id: str) -> str:
    """The fragment naming one message in a transcript: ``m-<platform>-<id>``."""
    return quote(f"m-{platform}-{platform_id}", safe="-_.")


def question_anchor(key: str) -> str:
    """The fragment naming one question's section in a transcript: ``q-<key>`` (``q-1``,
    ``q-2a``), where its heading ends; a question post's own link (question posts are
    their sections' headings, not list items with a message anchor)."""
    return quote(f"q-{key}", safe="-_.")


NETWORK_NAMES = {
    "x": "X",
    "discord": "Discord",
    "local": "local",  # the demo's network; :func:`network_name` says it in a language
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
}


def network_name(platform: str, tr: Translator | None = None) -> str:
    """A network's name as a transcript shows it (``Discord``; the demo's ``local`` in
    ``tr``'s language)."""
    if platform == "local":
        # Translators: the name of the demo's stand-in network, in a participant table.
        return (tr or translator()).gettext("local")
    return NETWORK_NAMES.get(platform, platform)
