"""A status's ``content`` (HTML, see docs.joinmastodon.org/spec/activitypub/#sanitization)
turned into the plain text the archive keeps.

Mastodon sends every status as sanitised HTML: paragraphs (``<p>``), line breaks (``<br>``),
links whose scheme and tail sit in ``<span class="invisible">`` (so a browser shows
``example.org/long…``), mentions and hashtags as links with the classes ``mention`` and
``hashtag``. Other servers add lists, quotes and code. The text keeps what a reader sees:

- paragraphs and block elements separated by a blank line, ``<br>`` a line break;
- ``span.invisible`` dropped; a mention or hashtag link is its text (``@ann``, ``#WeDocs``);
- any other link is its URL (``href``, http(s) only), or ``text (URL)`` when the server wrote
  a label that is not the URL; a link to any other scheme is its text alone;
- ``script``, ``style`` and ``template`` elements are not shown by a browser and are dropped;
- entities decoded: ``&lt;script&gt;`` typed by a person is the literal text ``<script>``.

The parser is BeautifulSoup with the standard library's ``html.parser``: it accepts any input
(no error for stray NUL or control characters, unlike libxml2) and behaves the same on every
machine. The result is data, never markup: transcripts escape it.
"""

from __future__ import annotations

import re
from typing import Final

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

BLOCKS: Final = frozenset(
    {
        "p",
        "div",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "hr",
    }
)
HIDDEN: Final = frozenset({"script", "style", "template", "head", "title", "noscript"})
_SKIPPED_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_LINE_ENDS = re.compile(r"\r\n|[\r\n]")
_BLANKS = re.compile(r"[ \t]*\n[ \t]*")
_PARAGRAPH = object()  # a paragraph boundary while walking (collapsed when joining)
_Piece = str | object


def html_to_text(content: str) -> str:
    """The plain text of a status's HTML ``content`` (see the module docstring)."""
    if not content:
        return ""
    soup = BeautifulSoup(content, "html.parser")
    pieces: list[_Piece] = []
    _walk(soup, pieces, pre=False)
    return _join(pieces)


def _walk(node: Tag, out: list[_Piece], *, pre: bool) -> None:
    for child in node.children:
        if isinstance(child, NavigableString):
            if isinstance(child, _SKIPPED_STRINGS):
                continue
            text = str(child)
            out.append(text if pre else _LINE_ENDS.sub(" ", text))
            continue
        if not isinstance(child, Tag):
            continue
        name = (child.name or "").lower()
        if name in HIDDEN or (name == "span" and "invisible" in _classes(child)):
            continue
        if name == "br":
            out.append("\n")
        elif name == "a":
            out.append(_link(child))
        elif name in BLOCKS:
            out.append(_PARAGRAPH)
            if name == "li":
                out.append("- ")
            _walk(child, out, pre=pre or name == "pre")
            out.append(_PARAGRAPH)
        else:
            _walk(child, out, pre=pre)


def _classes(tag: Tag, attribute: str = "class") -> list[str]:
    """The words of a multi-valued attribute (``class``, ``rel``)."""
    value = tag.get(attribute)
    if value is None:
        return []
    return str(value).split() if isinstance(value, str) else [str(v) for v in value]


def _visible_text(tag: Tag) -> str:
    pieces: list[_Piece] = []
    _walk(tag, pieces, pre=False)
    return "".join(p for p in pieces if isinstance(p, str))


def _link(tag: Tag) -> str:
    """A mention or hashtag as shown; any other http(s) link as its URL."""
    text = _visible_text(tag)
    classes = _classes(tag)
    if "mention" in classes or "hashtag" in classes or "tag" in _classes(tag, "rel"):
        return text
    href = str(tag.get("href") or "").strip()
    if not re.match(r"https?://", href, re.IGNORECASE) or any(c.isspace() for c in href):
        return text
    full = tag.get_text()  # with the invisible parts: Mastodon's links spell out the URL
    shown = text.strip().rstrip("…").strip()
    if not shown or full.strip() == href or shown in href:
        return href
    return f"{text} ({href})"


def _join(pieces: list[_Piece]) -> str:
    """Join the walk's pieces: one blank line between blocks, no blanks at either end."""
    paragraphs: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            current.append(piece)
            continue
        paragraphs.append("".join(current))
        current = []
    paragraphs.append("".join(current))
    kept = [_BLANKS.sub("\n", p).strip(" \t\n") for p in paragraphs]
    return "\n\n".join(p for p in kept if p)
