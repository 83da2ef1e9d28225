"""String templates of the web archive: the page layout and small shared pieces.

Every value that comes from the archive (titles, hashtags, names, message text) passes
through :func:`e` (``html.escape``) here or in the views; nothing else builds markup.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from archive.i18n import Translator, translator
from archive.models import Chat
from archive.transcripts.text import time_range

STATIC_CSS = (Path(__file__).parent / "static.css").read_text(encoding="utf-8")

# Rewrites <time class="local" datetime="..."> to add the reader's own time; the page
# already shows the chat's zone, so without JavaScript nothing is missing.
LOCALTIME_JS = """\
"use strict";
(function () {
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit",
      minute: "2-digit", timeZoneName: "short"
    });
  } catch (err) { return; }
  // The page's own words for it, in its language ("{time}" stands for the reader's time).
  var words = document.documentElement.getAttribute("data-your-time") || " (your time: {time})";
  var nodes = document.querySelectorAll("time.local[datetime]");
  for (var i = 0; i < nodes.length; i++) {
    var when = new Date(nodes[i].getAttribute("datetime"));
    if (isNaN(when.getTime())) { continue; }
    var span = document.createElement("span");
    span.className = "yours";
    span.textContent = words.replace("{time}", fmt.format(when));
    nodes[i].parentNode.insertBefore(span, nodes[i].nextSibling);
  }
})();
"""


def e(value: object) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True, slots=True)
class Site:
    """Where the archive lives: the path prefix its links use, and its public URL."""

    base_url: str = ""  # "https://example.org/chats" or ""
    page_size: int = 50
    name: str = "Tweetchat archive"

    @property
    def prefix(self) -> str:
        """The path prefix of every route and link: ``/chats`` or ``""``."""
        return urlsplit(self.base_url).path.rstrip("/")

    def url(self, path: str) -> str:
        """A site-relative link (``/tags/wedocs`` -> ``/chats/tags/wedocs``)."""
        return self.prefix + path

    def absolute(self, path: str, origin: str = "") -> str:
        """An absolute URL for feeds, ``path`` taken without the prefix: from ``base_url``
        when set, else from the request's origin."""
        if self.base_url:
            return self.base_url.rstrip("/") + path
        return origin.rstrip("/") + path

    def chat_url(self, chat_id: str, suffix: str = "") -> str:
        return self.url(chat_path(chat_id, suffix))

    def tag_url(self, hashtag: str, suffix: str = "") -> str:
        return self.url(f"/tags/{quote(tag_slug(hashtag), safe='')}{suffix}")


def chat_path(chat_id: str, suffix: str = "") -> str:
    """A chat's path without the site prefix: ``/chats/<id><suffix>``."""
    return f"/chats/{quote(chat_id, safe='')}{suffix}"


def tag_slug(hashtag: str) -> str:
    """``#WeDocs`` -> ``wedocs``: the hashtag in URLs (hashtag keys are case-insensitive)."""
    return hashtag.lstrip("#").casefold()


def when_html(chat: Chat, tr: Translator | None = None) -> str:
    """The chat's time range in its own zone, marked up for the reader's-time script."""
    utc = chat.start.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return (
        f'<time class="local" datetime="{e(utc)}">'
        f"{e(time_range(chat.start, chat.end, chat.zone, tr))}</time>"
    )


def chat_line(site: Site, chat: Chat, extra: str = "", tr: Translator | None = None) -> str:
    """One chat in a list: linked title, hashtag, time (in ``tr``'s language)."""
    return (
        f'<li><a href="{e(site.chat_url(chat.id))}">{e(chat.title or chat.hashtag)}</a>'
        f' <a class="tag" href="{e(site.tag_url(chat.hashtag))}">{e(chat.hashtag)}</a>'
        f'<br><span class="meta">{when_html(chat, tr)}{extra}</span></li>'
    )


def pager(
    site: Site,
    path: str,
    page: int,
    has_next: bool,
    query: str = "",
    tr: Translator | None = None,
) -> str:
    """Previous / next links; ``query`` is extra, already-encoded query text (``q=...&``)."""
    tr = tr or translator()
    links = []
    if page > 1:
        links.append(
            f'<a rel="prev" href="{e(site.url(path))}?{e(query)}page={page - 1}">'
            f"{e(tr.gettext('Newer'))}</a>"
        )
    if has_next:
        links.append(
            f'<a rel="next" href="{e(site.url(path))}?{e(query)}page={page + 1}">'
            f"{e(tr.gettext('Older'))}</a>"
        )
    if not links:
        return ""
    return f'<nav class="pager" aria-label="{e(tr.gettext("Pages"))}">{" ".join(links)}</nav>'


def layout(
    site: Site,
    title: str,
    body: str,
    *,
    head_extra: str = "",
    search_value: str = "",
    tr: Translator | None = None,
) -> str:
    """A complete page: header with search, main content, footer, in ``tr``'s language
    (the chat's on a chat's pages, the reader's elsewhere; English by default)."""
    tr = tr or translator()
    t = tr.gettext
    page_title = f"{title} · {site.name}" if title != site.name else title
    # The reader's-time script says " (your time: ...)" unless the page gives its words.
    your_time = t(" (your time: {time})")
    your_time = "" if tr.language == "en" else f' data-your-time="{e(your_time)}"'
    return f"""<!DOCTYPE html>
<html lang="{e(tr.tag)}"{your_time}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tweetchat">
<link rel="icon" href="data:,">
<title>{e(page_title)}</title>
<link rel="stylesheet" href="{e(site.url("/static/style.css"))}">
<link rel="alternate" type="application/atom+xml" title="{e(t("New transcripts"))}" href="{e(site.url("/feed.atom"))}">
{head_extra}<script src="{e(site.url("/static/localtime.js"))}" defer></script>
</head>
<body>
<a class="skip" href="#content">{e(t("Skip to content"))}</a>
<header class="site">
<a class="brand" href="{e(site.url("/"))}">{e(site.name)}</a>
<nav aria-label="{e(t("Site"))}">
<form role="search" action="{e(site.url("/search"))}" method="get">
<label for="q" class="visually-hidden">{e(t("Search transcripts"))}</label>
<input id="q" name="q" type="search" value="{e(search_value)}" placeholder="{e(t("Search transcripts"))}">
<button type="submit">{e(t("Search"))}</button>
</form>
</nav>
</header>
<main id="content">
{body}
</main>
<footer class="site">
<p><a href="{e(site.url("/calendar.ics"))}">{e(t("Calendar of upcoming chats (.ics)"))}</a>
· <a href="{e(site.url("/feed.atom"))}">{e(t("New transcripts (Atom)"))}</a></p>
<p>{e(t("Participants who opted out are not shown; deleted messages are removed."))}</p>
</footer>
</body>
</html>
"""


def error_page(site: Site, status: int, message: str, tr: Translator | None = None) -> str:
    """An error page; ``message`` is already in ``tr``'s language."""
    tr = tr or translator()
    titles = {
        404: tr.gettext("Not found"),
        405: tr.gettext("Method not allowed"),
        500: tr.gettext("Something went wrong"),
    }
    title = titles.get(status, tr.gettext("Error"))
    body = (
        f"<h1>{e(title)}</h1>\n<p>{e(message)}</p>\n"
        f'<p><a href="{e(site.url("/"))}">{e(tr.gettext("Back to the archive"))}</a></p>'
    )
    return layout(site, title, body, tr=tr)


def stamp(moment: datetime) -> str:
    """A short UTC time stamp for machine-ish places (``2026-12-01 20:00 UTC``)."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
