"""One message as an item of a transcript's message list, in Markdown and in HTML.

The HTML ``<li>`` is built straight from the message, and is exactly what the Markdown
item gives once converted by Python-Markdown and sanitised by nh3 (``html.py``): the item
has one fixed shape (anchor, ``**name** @handle · time · [link](url)``, then the text's
lines with hard breaks), and every character of user text is escaped in the Markdown, so
the HTML is that text escaped the way nh3 serialises it. ``tests/archive/test_items.py``
checks the two against each other on hostile text.
"""

from __future__ import annotations

import functools
import re
from datetime import tzinfo

from archive.models import CapturedMessage
from archive.transcripts.text import (
    _URL_RE,
    NETWORK_NAMES,
    _escape_plain,
    _lines,
    _split_url,
    clock,
    escape_inline,
    message_anchor,
    redact_handles,
    safe_url,
)

# What nh3 (html5ever) writes for a text node: '&', '<', '>' and the no-break space as
# entities, every other character as it is (checked over every code point user text can
# still hold once cleaned).
_HTML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\u00a0": "&nbsp;"})
_REL = ' rel="nofollow noopener noreferrer"'
# The list prefixes Python-Markdown renders as plain text in an item's head (html.py's
# direct list rendering expects the same); a chat's own odd labels take the slow path.
_PREFIX_RE = re.compile(r"(?:Host|A[0-9a-z/A]+)")


def message_item(
    m: CapturedMessage, zone: tzinfo, hide: set[str], prefix: str = "", *, network: bool = False
) -> str:
    """The Markdown list item of one message (``- `` head, then its lines)."""
    head, _ = _heads(m, zone, prefix, network, html=False)
    body = "  \n  ".join(md for md, _ in _body_lines(redact_handles(m.text, hide), html=False))
    return f"- {head}" + (f"  \n  {body}" if body else "")


def message_items(
    m: CapturedMessage, zone: tzinfo, hide: set[str], prefix: str = "", *, network: bool = False
) -> tuple[str, str | None]:
    """:func:`message_item` and the sanitised ``<li>`` the HTML transcript shows for it, or
    None for the ``<li>`` when only Python-Markdown can tell (a link URL holding ``&``, an
    unusual prefix)."""
    head_md, head_html = _heads(m, zone, prefix, network, html=True)
    lines = _body_lines(redact_handles(m.text, hide), html=True)
    body_md = "  \n  ".join(md for md, _ in lines)
    item = f"- {head_md}" + (f"  \n  {body_md}" if body_md else "")
    if head_html is None or any(h is None for _, h in lines):
        return item, None
    # Python-Markdown keeps the continuation lines' two-space indent after each break,
    # except before a line that starts with a link.
    out = ["<li>", head_html]
    for _, h in lines:
        out.append("<br>\n" if (h or "").startswith("<a ") else "<br>\n  ")
        out.append(h or "")
    out.append("</li>")
    return item, "".join(out)


def _heads(
    m: CapturedMessage, zone: tzinfo, prefix: str, network: bool, *, html: bool
) -> tuple[str, str | None]:
    """The item's head in Markdown, and in HTML (None when not asked or not direct)."""
    who_md, who_html = _who(m.author_name, m.author_handle)
    at = clock(m.created_at, zone)
    md = [who_md, at]
    ht = [who_html, at]
    if network:
        # A chat on several networks marks each message with the one it came from.
        net = NETWORK_NAMES.get(m.platform, m.platform)
        md.insert(1, escape_inline(net))
        ht.insert(1, " ".join(_lines(net)).translate(_HTML_TEXT))
    if m.edited_at is not None:
        md.append("edited")
        ht.append("edited")
    link = safe_url(m.permalink) if m.permalink else None
    if link:
        md.append(f"[link]({link})")
        ht.append(f'<a href="{link}"{_REL}>link</a>')
    # An invisible anchor per message, so search results and shared links can point at it.
    anchor = message_anchor(m.platform, m.platform_id)
    head_md = f'<a id="{anchor}"></a>' + (prefix + " · " if prefix else "") + " · ".join(md)
    if not html or (prefix and not _PREFIX_RE.fullmatch(prefix)) or (link and "&" in link):
        return head_md, None
    head_html = f'<a id="{anchor}"{_REL}></a>' + (prefix + " · " if prefix else "")
    return head_md, head_html + " · ".join(ht)


@functools.lru_cache(maxsize=4096)  # a chat has far fewer authors than messages
def _who(author_name: str, author_handle: str) -> tuple[str, str]:
    name = escape_inline(author_name) or escape_inline(author_handle) or "Unknown"
    handle = escape_inline(author_handle)
    md = f"**{name}**" + (f" @{handle}" if handle else "")
    # escape_inline escapes the text of " ".join(_lines(...)); the HTML shows that text.
    name_text = " ".join(_lines(author_name)) or " ".join(_lines(author_handle)) or "Unknown"
    handle_text = " ".join(_lines(author_handle))
    html = f"<strong>{name_text.translate(_HTML_TEXT)}</strong>" + (
        f" @{handle_text.translate(_HTML_TEXT)}" if handle_text else ""
    )
    return md, html


def _body_lines(text: str, *, html: bool) -> list[tuple[str, str | None]]:
    """Each non-blank line of user text in Markdown (escaped, URLs as safe links) and, when
    ``html``, as HTML (None for a line whose link URL holds ``&``)."""
    out: list[tuple[str, str | None]] = []
    for line in _lines(text):
        if "://" not in line:  # no link: the common case, one translate each
            out.append((_escape_plain(line), line.translate(_HTML_TEXT) if html else None))
            continue
        md: list[str] = []
        ht: list[str] = []
        direct = html
        pos = 0
        for match in _URL_RE.finditer(line):
            url, _rest = _split_url(match.group())
            safe = safe_url(url) if url else None
            if safe is None:
                continue
            md.append(_escape_plain(line[pos : match.start()]))
            # The link shows the URL as written; only its destination is percent-encoded.
            md.append(f"[{_escape_plain(url)}]({safe})")
            if html:
                direct = direct and "&" not in safe
                ht.append(line[pos : match.start()].translate(_HTML_TEXT))
                ht.append(f'<a href="{safe}"{_REL}>{url.translate(_HTML_TEXT)}</a>')
            pos = match.start() + len(url)
        md.append(_escape_plain(line[pos:]))
        ht.append(line[pos:].translate(_HTML_TEXT))
        out.append(("".join(md), "".join(ht) if direct else None))
    return out
