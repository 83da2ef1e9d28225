"""The pages of the web archive, as synchronous functions of a read-only `Store`.

They run on the web app's database threads (never on the event loop) and return text;
`archive.web.app` turns them into responses. An unknown chat or hashtag raises
`NotFoundError`, which the app answers with a 404 page.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from archive.highlights import HIGHLIGHTS_PER_QUESTION
from archive.models import Chat, ChatStatus
from archive.publish import Rendered, render_chat
from archive.store import NotFoundError, Store
from archive.transcripts.csvfmt import render_csv
from archive.transcripts.html import markdown_to_html, sanitize_html
from archive.transcripts.text import clock, day_label, message_anchor, time_range, zone_label
from archive.web import chart_files, charts, feeds
from archive.web.search import MARK_CLOSE, MARK_OPEN, parse_query, snippet_html
from archive.web.templates import Site, chat_line, chat_path, e, layout, pager

logger = logging.getLogger(__name__)

PAST = (ChatStatus.ENDED, ChatStatus.PUBLISHED)
LISTED = (ChatStatus.SCHEDULED, ChatStatus.LIVE, *PAST)
DOWNLOADS = {
    ".md": "text/markdown; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}
_MAIN_RE = re.compile(r"<main>\s*(.*?)\s*</main>", re.DOTALL)


class RenderCache:
    """Rendered chats, reused while their store fingerprint is unchanged and for at most
    ``ttl`` seconds (the first-time/returning figures also depend on earlier chats)."""

    def __init__(
        self, size: int = 32, ttl: float = 60.0, *, highlights: int = HIGHLIGHTS_PER_QUESTION
    ) -> None:
        self.size, self.ttl = size, ttl
        self.highlights = highlights  # answers each question's Highlights keep
        self._items: OrderedDict[tuple[Any, ...], tuple[float, Rendered]] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, store: Store, chat: Chat) -> Rendered:
        key = (chat, store.chat_fingerprint(chat.id))
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._items.move_to_end(key)
                return hit[1]
        rendered = render_chat(store, chat, highlights=self.highlights)
        with self._lock:
            self._items[key] = (now, rendered)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return rendered


@dataclass(frozen=True, slots=True)
class Download:
    body: str
    content_type: str
    filename: str


# ---- home --------------------------------------------------------------------------------


def home_page(store: Store, site: Site, page: int = 1) -> str:
    """Live and upcoming chats, the hashtags, and past chats newest first (paged)."""
    live = store.chats_page([ChatStatus.LIVE])
    upcoming = store.chats_page([ChatStatus.SCHEDULED], limit=site.page_size)
    past = store.chats_page(
        PAST, newest_first=True, limit=site.page_size + 1, offset=(page - 1) * site.page_size
    )
    has_next = len(past) > site.page_size
    past = past[: site.page_size]
    counts = store.message_counts([c.id for c in past])
    tags = store.hashtags()

    parts = [f"<h1>{e(site.name)}</h1>"]
    if page == 1:
        parts.append(
            "<p>Transcripts and statistics of hashtag chats: browse by hashtag, search"
            " everything that was said, or subscribe to the calendar of upcoming chats.</p>"
        )
        if live:
            parts.append('<section aria-labelledby="live"><h2 id="live">Live now</h2>')
            parts.append(_chat_list(site, live))
            parts.append("</section>")
        parts.append('<section aria-labelledby="upcoming"><h2 id="upcoming">Upcoming</h2>')
        parts.append(_chat_list(site, upcoming) if upcoming else "<p>No chat is scheduled.</p>")
        parts.append("</section>")
        if tags:
            parts.append('<section aria-labelledby="tags"><h2 id="tags">Hashtags</h2>')
            parts.append('<ul class="tags">')
            for hashtag, _key, n, _latest in tags:
                parts.append(
                    f'<li><a href="{e(site.tag_url(hashtag))}">{e(hashtag)}</a>'
                    f' <span class="meta">({n} chat{"" if n == 1 else "s"})</span></li>'
                )
            parts.append("</ul></section>")
    parts.append('<section aria-labelledby="past"><h2 id="past">Past chats</h2>')
    if past:
        parts.append(
            _chat_list(site, past, {c.id: " · " + _messages(counts.get(c.id, 0)) for c in past})
        )
    else:
        parts.append("<p>No chat has taken place yet.</p>")
    parts.append(pager(site, "/", page, has_next))
    parts.append("</section>")
    return layout(site, site.name, "\n".join(parts))


def _messages(n: int) -> str:
    return f"{n} message" + ("" if n == 1 else "s")


def _chat_list(site: Site, chats: Iterable[Chat], extra: dict[str, str] | None = None) -> str:
    extra = extra or {}
    items = "\n".join(chat_line(site, c, extra.get(c.id, "")) for c in chats)
    return f'<ul class="chats">\n{items}\n</ul>'


# ---- one chat ----------------------------------------------------------------------------


def transcript_body(html_page: str, markdown_text: str) -> str:
    """The publisher's transcript HTML (the inside of its <main>), sanitised again."""
    found = _MAIN_RE.search(html_page)
    body = found.group(1) if found else markdown_to_html(markdown_text)
    return sanitize_html(body)


def chat_page(store: Store, site: Site, chat_id: str, cache: RenderCache | None = None) -> str:
    """The transcript with its statistics, charts and downloads."""
    chat = store.get_chat(chat_id)
    if chat.status == ChatStatus.CANCELLED:
        return cancelled_page(site, chat)
    rendered = cache.render(store, chat) if cache is not None else render_chat(store, chat)
    stats = rendered.stats
    downloads = " ".join(
        f'<a href="{e(site.chat_url(chat.id, suffix))}" download>{label}</a>'
        for suffix, label in (
            (".html", "HTML"),
            (".md", "Markdown"),
            (".json", "JSON"),
            (".csv", "CSV of messages"),
        )
    )
    status = f'<span class="status">{e(chat.status)}</span>'
    body = [
        f'<nav class="crumbs" aria-label="Breadcrumb"><a href="{e(site.url("/"))}">Archive</a>'
        f' › <a href="{e(site.tag_url(chat.hashtag))}">{e(chat.hashtag)}</a> › {status}</nav>',
    ]
    if chat.status in (ChatStatus.SCHEDULED, ChatStatus.LIVE):
        places = "; ".join(feeds.join_places(chat))
        body.append(
            f'<nav class="feeds" aria-label="Take part"><a href="{e(site.chat_url(chat.id, ".ics"))}"'
            f' download>Add to calendar (.ics)</a> <span class="meta">Where: {e(places)}</span></nav>'
        )
    body += [
        f'<nav class="downloads" aria-label="Downloads">Download: {downloads}</nav>',
        '<article class="transcript">',
        transcript_body(rendered.html, rendered.markdown),
        "</article>",
        '<section aria-labelledby="charts"><h2 id="charts">Charts</h2>',
        _figure(
            "Activity", charts.activity_chart(chat, stats), _chart_links(site, chat, "activity")
        ),
        _figure(
            "Answers per question",
            charts.answers_chart(chat, stats),
            _chart_links(site, chat, "answers"),
        ),
        _figure(
            "Top contributors",
            charts.contributors_chart(stats),
            _chart_links(site, chat, "contributors"),
        ),
        "</section>",
    ]
    return layout(site, f"{chat.title} ({chat.hashtag})", "\n".join(body))


def cancelled_page(site: Site, chat: Chat) -> str:
    """A cancelled chat: what it would have been, and that it did not take place (no
    transcript, no downloads: nothing happened to transcribe)."""
    local = chat.start.astimezone(chat.zone)
    body = [
        f'<nav class="crumbs" aria-label="Breadcrumb"><a href="{e(site.url("/"))}">Archive</a>'
        f' › <a href="{e(site.tag_url(chat.hashtag))}">{e(chat.hashtag)}</a> ›'
        f' <span class="status">{e(chat.status)}</span></nav>',
        f"<h1>{e(chat.title)}</h1>",
        f'<p class="cancelled">This {e(chat.hashtag)} chat, planned for {e(day_label(local))},'
        f" {local:%H:%M} {e(zone_label(local))}, was cancelled. It has no transcript.</p>",
    ]
    return layout(site, f"{chat.title} ({chat.hashtag}): cancelled", "\n".join(body))


def _figure(heading: str, svg: str, links: str = "") -> str:
    return f'<figure class="chart"><h3>{e(heading)}</h3>\n{svg}\n{links}</figure>'


def _chart_links(site: Site, chat: Chat, name: str) -> str:
    return chart_files.download_links(
        lambda suffix: site.chat_url(chat.id, f"/charts/{name}{suffix}"), name
    )


def chat_chart(
    store: Store, chat_id: str, ref: str, cache: RenderCache | None = None
) -> chart_files.ChartFile:
    """One chart of a chat page as a file (``activity.svg``, ``answers.png``...); raises
    NotFoundError for an unknown chart, format or chat, or a cancelled chat."""
    chat = store.get_chat(chat_id)
    parts = chart_files.split_name(ref)
    if (
        chat.status == ChatStatus.CANCELLED
        or parts is None
        or parts[0] not in chart_files.CHAT_CHARTS
    ):
        raise NotFoundError(f"no chart {ref!r} for chat {chat_id!r}")
    name, suffix = parts
    stats = (cache.render(store, chat) if cache is not None else render_chat(store, chat)).stats
    svg = chart_files.CHAT_CHARTS[name](chat, stats)
    return chart_files.chart_file(svg, f"{_file_name(chat.id)}-{name}", suffix)


def tag_chart(store: Store, tag: str, ref: str) -> chart_files.ChartFile:
    """The participation chart of a hashtag's series as a file; NotFoundError otherwise."""
    parts = chart_files.split_name(ref)
    if parts is None or parts[0] not in chart_files.SERIES_CHARTS:
        raise NotFoundError(f"no chart {ref!r} for #{tag}")
    key = _tag_key(tag)
    chats = store.chats_page(LISTED, hashtag_key=key)
    if not chats:
        raise NotFoundError(f"no chats with the hashtag #{tag}")
    took_place = {c.id: c for c in chats if c.status in (ChatStatus.LIVE, *PAST)}
    svg = charts.participation_chart(chart_files.series_points(store, key, took_place))
    return chart_files.chart_file(svg, f"{_file_name(key.lstrip('#'))}-{parts[0]}", parts[1])


def chat_download(
    store: Store, chat_id: str, suffix: str, cache: RenderCache | None = None
) -> Download:
    """The chat's HTML, Markdown or JSON transcript, or its messages as CSV. The
    transcripts are rendered here like the files the publisher writes (its transcripts dir
    may be on another machine than the web archive), and the renders are cached."""
    chat = store.get_chat(chat_id)
    if chat.status == ChatStatus.CANCELLED:
        raise NotFoundError(f"chat {chat_id!r} was cancelled: it has no transcript")
    content_type = DOWNLOADS[suffix]
    if suffix == ".csv":
        text = render_csv(
            store.iter_messages(chat.id, include_deleted=False),
            opted_out=store.opted_out(),
            zone=chat.zone,
            engagement=store.engagement_scores(chat.id),
        )
    else:
        rendered = cache.render(store, chat) if cache is not None else render_chat(store, chat)
        text = {".md": rendered.markdown, ".html": rendered.html}.get(suffix, rendered.json)
    return Download(text, content_type, _file_name(chat.id) + suffix)


def _file_name(chat_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", chat_id) or "chat"


# ---- hashtag -----------------------------------------------------------------------------


def _tag_key(tag: str) -> str:
    return "#" + tag.lstrip("#").casefold()


def tag_page(store: Store, site: Site, tag: str) -> str:
    """Every chat of a hashtag, with participation over time."""
    key = _tag_key(tag)
    chats = store.chats_page(LISTED, hashtag_key=key)
    if not chats:
        raise NotFoundError(f"no chats with the hashtag #{tag}")
    hashtag = chats[-1].hashtag
    upcoming = [c for c in chats if c.status in (ChatStatus.SCHEDULED, ChatStatus.LIVE)]
    past = [c for c in reversed(chats) if c.status in PAST]
    took_place = {c.id: c for c in chats if c.status in (ChatStatus.LIVE, *PAST)}
    points = chart_files.series_points(store, key, took_place)
    counts = store.message_counts([c.id for c in past])
    body = [
        f"<h1>{e(hashtag)}</h1>",
        f'<nav class="feeds" aria-label="Subscribe"><a href="{e(site.tag_url(hashtag, "/calendar.ics"))}">'
        f"Calendar of upcoming {e(hashtag)} chats (.ics)</a></nav>",
    ]
    if upcoming:
        body += ['<section aria-labelledby="upcoming"><h2 id="upcoming">Upcoming</h2>']
        body += [_chat_list(site, upcoming), "</section>"]
    body += [
        '<section aria-labelledby="participation"><h2 id="participation">Participation over time</h2>',
        _figure_plain(
            charts.participation_chart(points),
            chart_files.download_links(
                lambda suffix: site.tag_url(hashtag, f"/charts/participation{suffix}"),
                "participation",
            ),
        ),
        "</section>",
        '<section aria-labelledby="past"><h2 id="past">Past chats</h2>',
        _chat_list(site, past, {c.id: " · " + _messages(counts.get(c.id, 0)) for c in past})
        if past
        else "<p>No chat has taken place yet.</p>",
        "</section>",
    ]
    return layout(site, hashtag, "\n".join(body))


def _figure_plain(svg: str, links: str = "") -> str:
    return f'<figure class="chart">\n{svg}\n{links}</figure>'


# ---- search ------------------------------------------------------------------------------


SEARCH_HELP = (
    '<p class="meta">Words find their other forms too (<code>patients</code> finds'
    " “patient”). Also: <code>quick*</code> for words that start so,"
    ' <code>"exact phrase"</code>, <code>carers OR families</code>, <code>NOT</code> or'
    " <code>-word</code> to leave a word out, <code>from:handle</code>,"
    " <code>tag:WeDocs</code>.</p>"
)


def search_page(store: Store, site: Site, q: str, page: int = 1) -> str:
    """Matching messages, newest first, with highlighted snippets linking into transcripts."""
    q = q.strip()
    query = parse_query(q)
    title = f"Search: {q}" if q else "Search"
    body = [f"<h1>{'Results for “' + e(q) + '”' if q else 'Search'}</h1>"]
    if not q:
        body.append("<p>Type words to find in every transcript, e.g. a hashtag or a name.</p>")
        body.append(SEARCH_HELP)
        return layout(site, title, "\n".join(body))
    if query.empty:
        body.append("<p>Nothing to search for: type at least one word.</p>")
        body.append(SEARCH_HELP)
        return layout(site, title, "\n".join(body), search_value=q)
    size = site.page_size
    try:
        hits = store.search_messages(
            query.match,
            exclude=query.exclude,
            authors=query.authors,
            hashtag_keys=query.hashtag_keys,
            limit=size + 1,
            offset=(page - 1) * size,
            marks=(MARK_OPEN, MARK_CLOSE),
        )
    except sqlite3.OperationalError as exc:
        # parse_query builds only valid expressions; should one ever slip through, the
        # reader gets a page that says so, not an error.
        if "fts5" not in str(exc):
            raise
        logger.warning("search %r gave FTS5 query %r: %s", q, query, exc)
        body.append("<p>This search could not be read. Try plain words.</p>")
        body.append(SEARCH_HELP)
        return layout(site, title, "\n".join(body), search_value=q)
    has_next = len(hits) > size
    hits = hits[:size]
    if not hits:
        body.append("<p>No message matches." + (" Try fewer words." if " " in q else "") + "</p>")
        body.append(SEARCH_HELP)
        return layout(site, title, "\n".join(body), search_value=q)
    chats = {cid: store.get_chat(cid) for cid in dict.fromkeys(m.chat_id for m, _ in hits)}
    hidden = store.hidden_handles(list(chats))
    body.append('<ol class="results">')
    for m, snippet in hits:
        chat = chats[m.chat_id]
        at = m.created_at.astimezone(chat.zone)
        href = site.chat_url(chat.id) + "#" + message_anchor(m.platform, m.platform_id)
        who = m.author_name or m.author_handle or "Unknown"
        handle = f" @{m.author_handle}" if m.author_handle else ""
        body.append(
            f'<li><p><a href="{e(href)}">{e(chat.title or chat.hashtag)}</a>'
            f' <span class="meta">{e(chat.hashtag)} · {e(day_label(at))}, {e(clock(at, chat.zone))}'
            f" {e(zone_label(at))}</span></p>"
            f'<p class="meta">{e(who)}{e(handle)}</p>'
            f"<p>{snippet_html(snippet, hidden)}</p></li>"
        )
    body.append("</ol>")
    body.append(pager(site, "/search", page, has_next, query=f"q={quote(q)}&"))
    return layout(site, title, "\n".join(body), search_value=q)


# ---- feeds -------------------------------------------------------------------------------


def calendar_feed(store: Store, site: Site, origin: str, now: datetime, tag: str = "") -> str:
    """Upcoming (and live) chats as iCalendar; future cancelled ones marked cancelled."""
    key = _tag_key(tag) if tag else None
    chats = store.chats_page([ChatStatus.SCHEDULED, ChatStatus.LIVE], hashtag_key=key)
    cancelled = [
        c for c in store.chats_page([ChatStatus.CANCELLED], hashtag_key=key) if c.end > now
    ]
    if key is not None and not chats and not cancelled:
        if not store.count_chats(list(ChatStatus), hashtag_key=key):
            raise NotFoundError(f"no chats with the hashtag #{tag}")
    every = sorted([*chats, *cancelled], key=lambda c: (c.start, c.id))
    if key:
        name = f"{every[0].hashtag if every else '#' + tag} chats"
    else:
        name = f"{site.name}: upcoming chats"
    urls = {c.id: site.absolute(chat_path(c.id), origin) for c in every}
    return feeds.ics_calendar(every, name=name, chat_url=urls, base_url=site.base_url, now=now)


def chat_calendar(store: Store, site: Site, origin: str, now: datetime, chat_id: str) -> Download:
    """One chat as an iCalendar file to add to a calendar (a cancelled one marked so)."""
    chat = store.get_chat(chat_id)
    url = site.absolute(chat_path(chat.id), origin)
    text = feeds.ics_calendar(
        [chat],
        name=f"{chat.title} ({chat.hashtag})",
        chat_url={chat.id: url},
        base_url=site.base_url,
        now=now,
    )
    return Download(text, "text/calendar; charset=utf-8", _file_name(chat.id) + ".ics")


def atom_feed(store: Store, site: Site, origin: str, now: datetime) -> str:
    """The latest published transcripts as Atom."""
    chats = store.chats_page([ChatStatus.PUBLISHED], newest_first=True, limit=site.page_size)
    generated = store.transcript_times([c.id for c in chats])
    counts = store.message_counts([c.id for c in chats])
    entries = [
        feeds.FeedEntry(
            chat=c,
            url=site.absolute(chat_path(c.id), origin),
            updated=generated.get(c.id, c.grace_end),
            summary=f"{time_range(c.start, c.end, c.zone)}. {_messages(counts.get(c.id, 0))}.",
        )
        for c in chats
    ]
    return feeds.atom_feed(
        entries,
        title=f"{site.name}: new transcripts",
        self_url=site.absolute("/feed.atom", origin),
        home_url=site.absolute("/", origin),
        now=now,
    )
