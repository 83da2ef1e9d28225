"""One message as an item of a transcript's message list, in Markdown and in HTML.

The HTML ``<li>`` is built straight from the message, and is exactly what the Markdown
item gives once converted by Python-Markdown and sanitised by nh3 (``html.py``): the item
has one fixed shape (anchor, ``**name** @handle · time · [link](url)``, then the text's
lines with hard breaks), and every character of user text is escaped in the Markdown, so
the HTML is that text escaped the way nh3 serialises it. ``tests/archive/test_items.py``
checks the two against each other on hostile text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from archive.i18n import Translator, translator
from archive.models import Attachment, AttachmentKind, CapturedMessage
from archive.transcripts.text import (
    _PLAIN_URL_RE,
    _escape_plain,
    _lines,
    escape_inline,
    link_segments,
    message_anchor,
    network_name,
    redact_handles,
    safe_url,
)

# What nh3 (html5ever) writes for a text node: '&', '<', '>' and the no-break space as
# entities, every other character as it is (checked over every code point user text can
# still hold once cleaned).
_HTML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\u00a0": "&nbsp;"})


def html_text(text: str) -> str:
    """``text.translate(_HTML_TEXT)``, faster (see :func:`text.escape_chars`)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\u00a0" in text:
        text = text.replace("\u00a0", "&nbsp;")
    return text


_REL = ' rel="nofollow noopener noreferrer"'
# The list prefixes Python-Markdown renders as plain text in an item's head (html.py's
# direct list rendering expects the same): the host mark, a word in the chat's language
# ("Host", "Hôte", "Gwesteiwr"), or late answers' labels in the chat's letter ("A1/A2",
# "R1", "T2a"); anything else takes the slow path.
_PREFIX_RE = re.compile(r"[^\W\d_]+|([^\W\d_])[0-9a-z]+(?:/\1[0-9a-z]+)*")


class ItemRenderer:
    """Renders the items of one transcript: the chat's settings are held once, and the
    clock label of the last minute seen is reused (messages come in time order)."""

    def __init__(
        self,
        zone: tzinfo,
        hide: set[str],
        *,
        network: bool,
        html: bool,
        tr: Translator | None = None,
    ) -> None:
        self.zone = zone
        self.tr = tr or translator()
        # Translators: the name shown for a message's author who has neither name nor handle.
        self._unknown = self.tr.gettext("Unknown")
        # Translators: the text of the link to a message on its network.
        self._link = self.tr.gettext("link")
        # Translators: after a message's time in a transcript, when it was changed after posting.
        self._edited = self.tr.gettext("edited")
        self.hide = hide
        self.network = network
        self.html = html
        self._minute = (_NEVER, _NEVER, "")  # [from, to) in UTC, and its clock label
        # A chat has far fewer authors than messages; the cache lives as long as the
        # transcript (a module-level LRU of fixed size thrashed past 4,096 authors).
        self._authors: dict[tuple[str, str], tuple[str, str]] = {}
        self._networks: dict[str, tuple[str, str]] = {}  # a network's mark, both ways
        self._plain_platforms: dict[str, bool] = {}  # platform -> its name needs no quoting
        self._plain_urls: dict[str, bool] = {}  # a URL up to a '/' -> safe_url keeps it

    def clock(self, moment: datetime) -> str:
        """``clock(moment, zone)``, computed once per minute of a run of messages."""
        start, end, label = self._minute
        if start <= moment < end:
            return label
        local = moment.astimezone(self.zone)
        label = self.tr.clock(local)
        start = local.replace(second=0, microsecond=0).astimezone(UTC)
        end = start + _MINUTE
        offset = local.utcoffset()
        # Reuse the label only over a minute with one UTC offset (no zone transition in it).
        if (
            start.astimezone(self.zone).utcoffset() == offset
            and (end - _TICK).astimezone(self.zone).utcoffset() == offset
            and start <= moment < end
        ):
            self._minute = (start, end, label)
        return label

    def author(self, name: str, handle: str) -> tuple[str, str]:
        """The head of an item by this author (``**name** @handle``), in Markdown and in
        HTML; computed once per author and kept for as long as the renderer."""
        author = (name, handle)
        who = self._authors.get(author)
        if who is None:
            who = self._authors[author] = _who(name, handle, self._unknown)
        return who

    def items(self, m: CapturedMessage, prefix: str) -> tuple[str, str | None]:
        """The message's Markdown item and, when asked and direct, its ``<li>``."""
        return self.item(
            m.platform,
            m.platform_id,
            self.author(m.author_name, m.author_handle),
            self.clock(m.created_at),
            m.edited_at is not None,
            m.permalink,
            redact_handles(m.text, self.hide) if self.hide else m.text,
            m.attachments,
            prefix,
        )

    def item(
        self,
        platform: str,
        platform_id: str,
        who: tuple[str, str],
        at: str,
        edited: bool,
        permalink: str,
        text: str,
        attachments: Sequence[Attachment],
        prefix: str,
    ) -> tuple[str, str | None]:
        """:meth:`items` of a message given field by field: ``who`` from :meth:`author`,
        ``at`` its :meth:`clock` label, ``text`` with the hidden handles already redacted
        (``redact_handles``)."""
        if not (prefix or attachments or self.network) and text.isprintable():
            # The common shape, written in one go: one line of text (nothing to drop)
            # without links, an anchor that needs no quoting, a plain permalink.
            link = None
            if permalink:
                # A permalink's path up to its last '/' repeats from message to message
                # (a channel's, an account's): when that part is plain and the rest is
                # letters and digits, safe_url would return the permalink as it is.
                cut = permalink.rfind("/") + 1
                tail = permalink[cut:]
                if tail.isascii() and tail.isalnum():
                    head = permalink[:cut]
                    plain_url = self._plain_urls.get(head)
                    if plain_url is None:
                        plain_url = self._plain_urls[head] = bool(_PLAIN_URL_RE.fullmatch(head))
                    link = permalink if plain_url else safe_url(permalink)
                else:
                    link = safe_url(permalink)
            plain = self._plain_platforms.get(platform)
            if plain is None:
                plain = self._plain_platforms[platform] = bool(_PLAIN_ID_RE.fullmatch(platform))
            if (
                "://" not in text
                and not (link and "&" in link)
                and plain
                and platform_id.isascii()
                and platform_id.isalnum()
            ):
                text = text.strip()
                tail = f" · [{self._link}]({link})" if link else ""
                if edited:
                    tail = f" · {self._edited}" + tail
                md = f'- <a id="m-{platform}-{platform_id}"></a>{who[0]} · {at}{tail}'
                if text:
                    md += "  \n  " + _escape_plain(text)
                if not self.html:
                    return md, None
                tail = f' · <a href="{link}"{_REL}>{self._link}</a>' if link else ""
                if edited:
                    tail = f" · {self._edited}" + tail
                body = f"<br>\n  {html_text(text)}</li>" if text else "</li>"
                return (
                    md,
                    f'<li><a id="m-{platform}-{platform_id}"{_REL}></a>{who[1]} · {at}{tail}{body}',
                )
        return self._item(
            platform, platform_id, who, at, edited, permalink, text, attachments, prefix
        )

    def _item(
        self,
        platform: str,
        platform_id: str,
        who: tuple[str, str],
        at: str,
        edited: bool,
        permalink: str,
        text: str,
        attachments: Sequence[Attachment],
        prefix: str,
    ) -> tuple[str, str | None]:
        """:meth:`item` of any shape."""
        html = self.html
        md = [who[0], at]
        ht = [who[1], at]
        if self.network:
            # A chat on several networks marks each message with the one it came from.
            net = self._networks.get(platform)
            if net is None:
                name = network_name(platform, self.tr)
                net = self._networks[platform] = (
                    escape_inline(name),
                    html_text(" ".join(_lines(name))),
                )
            md.insert(1, net[0])
            ht.insert(1, net[1])
        if edited:
            md.append(self._edited)
            ht.append(self._edited)
        link = safe_url(permalink) if permalink else None
        if link:
            md.append(f"[{self._link}]({link})")
            ht.append(f'<a href="{link}"{_REL}>{self._link}</a>')
            if "&" in link:
                html = False
        if prefix:
            md.insert(0, prefix)
            ht.insert(0, prefix)
            if not _PREFIX_RE.fullmatch(prefix):
                html = False
        # An invisible anchor per message, so search results and shared links can point at it.
        if _PLAIN_ID_RE.fullmatch(platform) and _PLAIN_ID_RE.fullmatch(platform_id):
            anchor = f"m-{platform}-{platform_id}"  # what quote() leaves as it is
        else:
            anchor = message_anchor(platform, platform_id)
        item = f'- <a id="{anchor}"></a>' + " · ".join(md)
        if text.isprintable():  # one line, nothing to drop (the common case)
            text = text.strip()
            lines = [text] if text else []
        else:
            lines = _lines(text)
        out = [f'<li><a id="{anchor}"{_REL}></a>', " · ".join(ht)] if html else []
        for line in lines:
            if "://" not in line:
                item += "  \n  " + _escape_plain(line)
                if html:
                    out.append("<br>\n  ")
                    out.append(html_text(line))
                continue
            line_md, line_html = _linked_line(line, html=html)
            item += "  \n  " + line_md
            if line_html is None:
                html = False
            elif html:
                out.append("<br>\n" if line_html.startswith("<a ") else "<br>\n  ")
                out.append(line_html)
        for attachment in attachments:
            line_md, line_html = attachment_line(attachment, self.tr)
            item += "  \n  " + line_md
            if line_html is None:
                html = False
            elif html:
                out.append("<br>\n  ")
                out.append(line_html)
        if not html:
            return item, None
        out.append("</li>")
        return item, "".join(out)


def attachment_line(attachment: Attachment, tr: Translator | None = None) -> tuple[str, str | None]:
    """One attachment as a line of its message's item, in ``tr``'s language (English when
    None): ``Attachment: [name](link)`` (the name alone when the link is not http(s), e.g.
    a file an export downloaded) or ``Sticker: name``; in Markdown and as HTML (None when
    only Python-Markdown can say: a link holding ``&``)."""
    tr = tr or translator()
    sticker = attachment.kind is AttachmentKind.STICKER
    # Translators: the name shown for a sticker, or a file, that has none of its own.
    unnamed = tr.gettext("sticker") if sticker else tr.gettext("file")
    name = " ".join(_lines(attachment.name)) or unnamed
    # Translators: lines under a message; {name} is the sticker's, or the file's (a link).
    said = tr.gettext("Sticker: {name}") if sticker else tr.gettext("Attachment: {name}")
    plain = _escape_plain(name, line_start=False)
    said_html = html_text(said)
    link = None if sticker or not attachment.url else safe_url(attachment.url)
    if not link:
        return said.format(name=plain), said_html.format(name=html_text(name))
    md = said.format(name=f"[{plain}]({link})")
    if "&" in link:
        return md, None
    return md, said_html.format(name=f'<a href="{link}"{_REL}>{html_text(name)}</a>')


_NEVER = datetime.min.replace(tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)
_PLAIN_ID_RE = re.compile(r"[A-Za-z0-9_.\-]+")


def _who(author_name: str, author_handle: str, unknown: str = "Unknown") -> tuple[str, str]:
    name = escape_inline(author_name) or escape_inline(author_handle) or escape_inline(unknown)
    handle = escape_inline(author_handle)
    md = f"**{name}**" + (f" @{handle}" if handle else "")
    # escape_inline escapes the text of " ".join(_lines(...)); the HTML shows that text.
    name_text = " ".join(_lines(author_name)) or " ".join(_lines(author_handle)) or unknown
    handle_text = " ".join(_lines(author_handle))
    html = f"<strong>{html_text(name_text)}</strong>" + (
        f" @{html_text(handle_text)}" if handle_text else ""
    )
    return md, html


def _linked_line(line: str, *, html: bool) -> tuple[str, str | None]:
    """One cleaned line holding a URL, in Markdown (escaped, URLs as safe links) and, when
    ``html``, as HTML (None when a link URL holds ``&``)."""
    md: list[str] = []
    ht: list[str] = []
    for text, url, safe in link_segments(line):
        md.append(_escape_plain(text, line_start=not md))
        if html:
            ht.append(html_text(text))
        if url:
            # The link shows the URL as written; only its destination is percent-encoded.
            md.append(f"[{_escape_plain(url)}]({safe})")
            if html:
                html = "&" not in safe
                ht.append(f'<a href="{safe}"{_REL}>{html_text(url)}</a>')
    return "".join(md), "".join(ht) if html else None
