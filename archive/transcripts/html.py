"""The HTML transcript: the Markdown transcript rendered, sanitised by allow-list, on a
standalone page that reads well on a phone and prints cleanly."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

import markdown
import nh3
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension

from archive.i18n import translator
from archive.models import Chat
from archive.transcripts.lists import Block, Chunk

ALLOWED_TAGS = frozenset(
    {
        "a",
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "ul",
        "ol",
        "li",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "pre",
        "blockquote",
        "strong",
        "em",
        "br",
        "hr",
        "span",
    }
)
# `id` on <a> carries the per-message anchors; user text can never produce one, because it
# is escaped before it reaches Markdown.
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "id"}, "span": {"class"}}
ALIGN_VALUES = {
    "th": {"align": {"left", "right", "center"}},
    "td": {"align": {"left", "right", "center"}},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"

STYLESHEET = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fff; --muted: #5f6368;
  --line: #d9dce1; --stripe: #f5f6f8; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8eaed; --bg: #16171a; --muted: #a0a4ab; --line: #3a3d42;
    --stripe: #1f2125; --accent: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 46rem; padding: 1.5rem 1rem 3rem; color: var(--fg);
  background: var(--bg); font: 1.0625rem/1.6 system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; overflow-wrap: anywhere; }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 .75rem; }
h2 { font-size: 1.3rem; line-height: 1.3; margin: 2.25rem 0 .5rem; padding-top: .75rem;
  border-top: 1px solid var(--line); }
h3, h4 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
a { color: var(--accent); }
em { color: var(--muted); }
blockquote { margin: 1rem 0; padding: .25rem 1rem; border-left: 4px solid var(--line);
  color: var(--muted); }
ul, ol { padding-left: 1.25rem; }
li { margin: .6rem 0; }
table { display: block; overflow-x: auto; border-collapse: collapse; margin: 1rem 0;
  font-size: .95rem; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .75rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th[align="right"], td[align="right"] { text-align: right; }
th { border-bottom-width: 2px; }
tbody tr:nth-child(even) { background: var(--stripe); }
pre { overflow-x: auto; padding: .75rem 1rem; background: var(--stripe); border-radius: 6px;
  line-height: 1.25; font-size: .85rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
hr { border: 0; border-top: 1px solid var(--line); margin: 2rem 0 1rem; }
@media print {
  body { max-width: none; font-size: 11pt; }
  h2 { break-after: avoid; }
  li, tr { break-inside: avoid; }
  a { color: inherit; }
}
""".strip()


def sanitize_html(fragment: str) -> str:
    """Clean an HTML fragment down to the transcript's allow-list of tags, attributes and
    URL schemes; links get ``rel="nofollow noopener noreferrer"``."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        tag_attribute_values={
            tag: {attr: set(values) for attr, values in spec.items()}
            for tag, spec in ALIGN_VALUES.items()
        },
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def _converter() -> markdown.Markdown:
    # The extensions as instances, not names: for a name, Python-Markdown first looks
    # through every installed package's entry points (importlib.metadata), 40-250 ms of
    # the first conversion in a process (each publication's, each transcript command's).
    return markdown.Markdown(
        extensions=[
            TableExtension(use_align_attribute=True),
            FencedCodeExtension(),
            SaneListExtension(),
        ],
        output_format="html",
    )


def markdown_to_html(markdown_text: str) -> str:
    """The sanitised HTML body of any Markdown text (converted in one piece)."""
    return sanitize_html(_converter().convert(markdown_text))


def _sections(lines: Iterable[str]) -> Iterator[str]:
    """A transcript's lines cut before each heading that follows a blank line (outside
    code)."""
    for section in _part_sections(lines):
        yield "\n".join(cast(list[str], section))


def _paragraphs(section: str) -> list[str]:
    return [part.strip("\n") for part in section.split("\n\n") if part.strip()]


def _is_list(paragraph: str) -> bool:
    return paragraph.startswith("- ") and all(
        line.startswith(("- ", "  ")) for line in paragraph.split("\n")
    )


# The one shape of list item render_markdown writes: "- " head, then body lines joined by
# a hard break; every Markdown-special character of user text is backslash-escaped or an
# entity, so the only markup is **strong** in the head and [text](url) links.
_ESCAPED = r"\\[\\`*_{}\[\]()#+\-.!|]|&(?:amp|lt|gt|#126|#61);"
_ITEM_TOKEN_RE = re.compile(
    rf"(?P<text>[^\\&*\[\]<>\n]+)|(?P<esc>{_ESCAPED})|(?P<strong>\*\*)"
    rf"|\[(?P<label>(?:{_ESCAPED}|[^\\&*\[\]<>\n()])*)\]\((?P<href>[^()\s<>\"'`\\\[\]]+)\)"
)
_LABEL_TOKEN_RE = re.compile(rf"(?P<text>[^\\&]+)|(?P<esc>{_ESCAPED})")
_AMP_LINK_RE = re.compile(r"\]\([^()\s]*&")
_ANCHOR_RE = re.compile(r'<a id="[A-Za-z0-9%_.\-]+"></a>')
_HEAD_START_RE = re.compile(r"(?:(?:Host|A[0-9a-z/A]+) · )?\*\*[^*\s]")
_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&#126;": "~", "&#61;": "="}
# Python-Markdown leaves an '&' that starts something entity-like alone in attributes.
_AMP_RE = re.compile(r"&(?!(?:\#[0-9]+|\#x[0-9a-f]+|[0-9a-z]+);)")


def _unescape(token: str) -> str:
    return token[1] if token[0] == "\\" else _UNESCAPE[token]


def _label_html(label: str) -> str:
    out = []
    for m in _LABEL_TOKEN_RE.finditer(label):
        out.append(m["text"] if m["text"] is not None else _unescape(m["esc"]))
    return html.escape("".join(out), quote=False)


def _line_html(line: str, *, head: bool) -> str | None:
    """One line of an item as HTML, or None when it is not in the expected shape."""
    out = []
    pos = 0
    strong_open = False
    anchor = _ANCHOR_RE.match(line) if head else None
    if anchor is not None:  # raw HTML that Python-Markdown passes through as it is
        out.append(anchor.group())
        pos = anchor.end()
    for m in _ITEM_TOKEN_RE.finditer(line, pos):
        if m.start() != pos:
            return None
        pos = m.end()
        if m["text"] is not None:
            out.append(html.escape(m["text"], quote=False))
        elif m["esc"] is not None:
            out.append(html.escape(_unescape(m["esc"]), quote=False))
        elif m["strong"] is not None:
            if not head:
                return None
            out.append("</strong>" if strong_open else "<strong>")
            strong_open = not strong_open
        else:
            href = _AMP_RE.sub("&amp;", m["href"]).replace('"', "&quot;")
            out.append(f'<a href="{href}">{_label_html(m["label"])}</a>')
    start = anchor.end() if anchor is not None else 0
    if pos != len(line) or strong_open or (head and not _HEAD_START_RE.match(line, start)):
        return None
    return "".join(out)


def _item_html(item: str) -> str | None:
    """``<li>`` of one transcript list item, as Python-Markdown would make it (the same
    DOM once sanitised), or None to let Python-Markdown do it."""
    head, *body = item[2:].split("  \n  ")
    if "\n" in item.replace("  \n  ", "") or "**" in "".join(body):
        return None
    parts = [_line_html(head, head=True), *(_line_html(line, head=False) for line in body)]
    if any(part is None for part in parts):
        return None
    # Python-Markdown keeps the continuation lines' two-space indent after each break,
    # except before a line that starts with a link.
    out = [parts[0] or ""]
    for part in parts[1:]:
        out.append("<br>\n" + ("" if (part or "").startswith("<a ") else "  ") + (part or ""))
    return "<li>" + "".join(out) + "</li>"


def _list_items(paragraph: str) -> list[str]:
    items: list[str] = []
    for line in paragraph.split("\n"):
        if line.startswith("- ") or not items:
            items.append(line)
        else:
            items[-1] += "\n" + line
    return items


def _fast_list(paragraph: str) -> str | None:
    """A transcript's list of messages rendered directly (Python-Markdown takes ~0.2 ms an
    item); None when any item is not in render_markdown's shape."""
    rendered = []
    for item in _list_items(paragraph):
        li = _item_html(item)
        if li is None:
            return None
        rendered.append(li)
    return "<ul>\n" + "\n".join(rendered) + "\n</ul>"


def _convert_list(md: markdown.Markdown, paragraph: str, batch: int) -> str:
    """A long tight list converted ``batch`` items at a time, joined into one ``<ul>``."""
    items = _list_items(paragraph)
    parts = []
    for start in range(0, len(items), batch):
        html_part = md.reset().convert("\n".join(items[start : start + batch]))
        if not (html_part.startswith("<ul>\n") and html_part.endswith("\n</ul>")):
            return md.reset().convert(paragraph)  # not the shape expected: no shortcut
        parts.append(html_part[5:-6])
    return "<ul>\n" + "\n".join(parts) + "\n</ul>"


def transcript_html_chunks(markdown_text: str, *, list_batch: int = 500) -> Iterator[str]:
    """The sanitised HTML body of a transcript from :func:`render_markdown`, piece by piece.

    Joined with ``"\\n"`` the pieces equal ``markdown_to_html(markdown_text)``: the
    transcript's sections (and the items of its long answer lists) are independent blocks,
    so converting them one at a time gives the same HTML while Python-Markdown only ever
    holds one section's tree, however long the chat.
    """
    if has_amp_link(markdown_text):
        # Python-Markdown turns '&' sequences in a link's URL into entities in a way that
        # depends on the rest of the document; only a whole conversion reproduces it.
        yield markdown_to_html(markdown_text)
        return
    yield from _converted_sections(markdown_text.split("\n"), list_batch=list_batch)


def has_amp_link(markdown_text: str) -> bool:
    """Whether a link URL in the Markdown holds ``&``: such a transcript can only be
    converted whole (see :func:`transcript_html_chunks`)."""
    return _AMP_LINK_RE.search(markdown_text) is not None


def _converted_sections(lines: Iterable[str], *, list_batch: int = 500) -> Iterator[str]:
    md = _converter()
    for section in _sections(lines):
        yield _converted_paragraphs(md, _paragraphs(section), list_batch=list_batch)


def _converted_paragraphs(
    md: markdown.Markdown, paragraphs: Iterable[str], *, list_batch: int = 500
) -> str:
    """Paragraphs of a transcript converted one at a time, sanitised together."""
    converted = []
    for paragraph in paragraphs:
        fast = _fast_list(paragraph) if _is_list(paragraph) else None
        if fast is not None:
            converted.append(fast)
        elif _is_list(paragraph) and paragraph.count("\n- ") >= list_batch:
            converted.append(_convert_list(md, paragraph, list_batch))
        else:
            converted.append(md.reset().convert(paragraph))
    return sanitize_html("\n".join(converted))


def _part_sections(parts: Iterable[str | Block]) -> Iterator[list[str | Block]]:
    """A transcript's parts cut before each heading that follows a blank line (outside
    code); a message list is one more line of its section (its items never start a heading
    or a code fence)."""
    section: list[str | Block] = []
    fenced = False
    previous: str | Block = ""
    for part in parts:
        if isinstance(part, str):
            if part.startswith("```"):
                fenced = not fenced
            elif not fenced and part.startswith("#") and previous == "" and section:
                yield section
                section = []
        section.append(part)
        previous = part
    if section:
        yield section


def _html_blocks(parts: Iterable[str | Block]) -> Iterator[Chunk]:
    """The HTML body of a transcript's parts, piece by piece: the text around the message
    lists converted and sanitised a section at a time as before, and each list written
    from its rendered ``<li>`` items (sanitising a list of blocks piecewise gives the same
    HTML as sanitising it whole; the publishing tests compare the two)."""
    md = _converter()
    first = True
    for section in _part_sections(parts):
        text: list[str] = []
        for part in [*section, None]:
            if isinstance(part, str):
                text.append(part)
                continue
            paragraphs = _paragraphs("\n".join(text))
            text = []
            if paragraphs:
                yield "" if first else "\n"
                first = False
                yield _converted_paragraphs(md, paragraphs)
            if part is not None:
                yield "" if first else "\n"
                first = False
                yield from part.html_chunks()


def render_html_parts_chunks(
    chat: Chat, parts: Iterable[str | Block], *, title: str | None = None
) -> Iterator[Chunk]:
    """:func:`render_html_chunks` of the transcript made of ``parts`` (from
    :func:`archive.transcripts.markdown.markdown_parts`), whose lists hold the ``<li>``
    of every item (their ``html_direct`` held to the end)."""
    yield _page_head(chat, title)
    yield from _stripped(_html_blocks(parts))
    yield _PAGE_TAIL


def render_html(chat: Chat, markdown_text: str, *, title: str | None = None) -> str:
    """A complete HTML5 page for the transcript ``markdown_text`` of ``chat``."""
    return "".join(render_html_chunks(chat, markdown_text, title=title))


def render_html_chunks(
    chat: Chat, markdown_text: str, *, title: str | None = None
) -> Iterator[str]:
    """:func:`render_html`'s page in pieces (one per transcript section), for writing as
    they come instead of holding the whole page."""
    yield _page_head(chat, title)
    yield from _stripped(_separated(transcript_html_chunks(markdown_text), "\n"))
    yield _PAGE_TAIL


def render_html_lines_chunks(
    chat: Chat, lines: Iterable[str], *, title: str | None = None
) -> Iterator[str]:
    """:func:`render_html_chunks` of the transcript whose lines (without their ``\\n``)
    are ``lines``, read as they come (e.g. from the Markdown file). The caller checks
    first, with :func:`has_amp_link` on each piece, that no link URL holds ``&``."""
    yield _page_head(chat, title)
    yield from _stripped(_separated(_converted_sections(lines), "\n"))
    yield _PAGE_TAIL


def _page_head(chat: Chat, title: str | None) -> str:
    tr = translator(chat.language)
    if title is None:
        # Translators: the page title of a transcript: "Patients in QI · #WeDocs transcript".
        title = tr.gettext("{title} · {hashtag} transcript").format(
            title=chat.title, hashtag=chat.hashtag
        )
    page_title = title
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(tr.tag)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="tweetchat">',
        f"<title>{html.escape(page_title)}</title>",
        f"<style>\n{STYLESHEET}\n</style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    return "\n".join(head) + "\n"


_PAGE_TAIL = "\n" + "\n".join(["</main>", "</body>", "</html>", ""])


def _separated(pieces: Iterator[str], sep: str) -> Iterator[str]:
    for i, piece in enumerate(pieces):
        if i:
            yield sep
        yield piece


_Piece = TypeVar("_Piece", str, Chunk)


def _stripped(pieces: Iterable[_Piece]) -> Iterator[_Piece]:
    """The pieces of ``"".join(pieces).strip()``, without joining them. Encoded pieces
    (a message list's items, read back from a spill) only ever come between text ones
    (the list's ``<ul>`` and ``</ul>``): they are passed on as they are."""
    started = False
    pending = ""  # trailing whitespace, emitted only if something follows it
    for piece in pieces:
        if isinstance(piece, bytes):
            if not started:
                raise ValueError("an encoded piece cannot start an HTML page")
            if piece:
                if pending:
                    yield pending
                    pending = ""
                yield piece
            continue
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        body = piece.rstrip()
        if not body:
            pending += piece
            continue
        yield pending + body
        pending = piece[len(body) :]
