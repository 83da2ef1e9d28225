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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from archive.groups import say
from archive.hashtags import with_hashtag
from archive.highlights import HIGHLIGHTS_PER_QUESTION
from archive.i18n import Translator, translator
from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind
from archive.publish import Rendered, render_chat
from archive.standing import ScheduleSource, Step, StepState, step_cells
from archive.store import NotFoundError, Store
from archive.transcripts.csvfmt import render_csv
from archive.transcripts.html import markdown_to_html, sanitize_html
from archive.transcripts.text import (
    clock,
    day_label,
    message_anchor,
    question_anchor,
    time_range,
    zone_label,
)
from archive.web import chart_files, charts, feeds
from archive.web import groups as group_figures
from archive.web.search import MARK_CLOSE, MARK_OPEN, parse_query, snippet_html
from archive.web.templates import Site, chat_line, chat_path, e, layout, pager

logger = logging.getLogger(__name__)

PAST = (ChatStatus.ENDED, ChatStatus.PUBLISHED)
# Chats whose page shows the schedule as it stands: something is still to happen.
UNPUBLISHED = (ChatStatus.SCHEDULED, ChatStatus.LIVE, ChatStatus.ENDED)
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


def home_page(store: Store, site: Site, page: int = 1, tr: Translator | None = None) -> str:
    """Live and upcoming chats, the hashtags, and past chats newest first (paged), in the
    reader's language ``tr`` (English by default)."""
    tr = tr or translator()
    t = tr.gettext
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
        intro = t(
            "Transcripts and statistics of hashtag chats: browse by hashtag, search"
            " everything that was said, or subscribe to the calendar of upcoming chats."
        )
        parts.append(f"<p>{e(intro)}</p>")
        if live:
            parts.append(f'<section aria-labelledby="live"><h2 id="live">{e(t("Live now"))}</h2>')
            parts.append(_chat_list(site, live, tr=tr))
            parts.append("</section>")
        parts.append(
            f'<section aria-labelledby="upcoming"><h2 id="upcoming">{e(t("Upcoming"))}</h2>'
        )
        parts.append(
            _chat_list(site, upcoming, tr=tr)
            if upcoming
            else f"<p>{e(t('No chat is scheduled.'))}</p>"
        )
        parts.append("</section>")
        if tags:
            parts.append(f'<section aria-labelledby="tags"><h2 id="tags">{e(t("Hashtags"))}</h2>')
            parts.append('<ul class="tags">')
            for hashtag, _key, n, _latest in tags:
                chats = tr.counted("{n} chat", "{n} chats", n)
                parts.append(
                    f'<li><a href="{e(site.tag_url(hashtag))}">{e(hashtag)}</a>'
                    f' <span class="meta">({e(chats)})</span></li>'
                )
            parts.append("</ul></section>")
    parts.append(f'<section aria-labelledby="past"><h2 id="past">{e(t("Past chats"))}</h2>')
    if past:
        parts.append(
            _chat_list(
                site,
                past,
                {c.id: " · " + _messages(counts.get(c.id, 0), tr) for c in past},
                tr=tr,
            )
        )
    else:
        parts.append(f"<p>{e(t('No chat has taken place yet.'))}</p>")
    parts.append(pager(site, "/", page, has_next, tr=tr))
    parts.append("</section>")
    return layout(site, site.name, "\n".join(parts), tr=tr)


def _messages(n: int, tr: Translator) -> str:
    return e(tr.counted("{n} message", "{n} messages", n))


def _chat_list(
    site: Site,
    chats: Iterable[Chat],
    extra: dict[str, str] | None = None,
    tr: Translator | None = None,
) -> str:
    extra = extra or {}
    items = "\n".join(chat_line(site, c, extra.get(c.id, ""), tr) for c in chats)
    return f'<ul class="chats">\n{items}\n</ul>'


# ---- one chat ----------------------------------------------------------------------------


def transcript_body(html_page: str, markdown_text: str) -> str:
    """The publisher's transcript HTML (the inside of its <main>), sanitised again."""
    found = _MAIN_RE.search(html_page)
    body = found.group(1) if found else markdown_to_html(markdown_text)
    return sanitize_html(body)


def chat_page(
    store: Store,
    site: Site,
    chat_id: str,
    cache: RenderCache | None = None,
    *,
    schedule: ScheduleSource | None = None,
    now: datetime | None = None,
) -> str:
    """The transcript with its statistics, charts and downloads; for a chat not yet
    published, its schedule as it stands at ``now`` (from ``schedule``, see
    `archive.standing`) under the transcript's header, as `tweetchat show` gives it."""
    chat = store.get_chat(chat_id)
    tr = translator(chat.language)
    t = tr.gettext
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
            (".csv", e(t("CSV of messages"))),
        )
    )
    status = f'<span class="status">{e(status_name(chat.status, tr))}</span>'
    body = [_crumbs(site, chat, status, tr)]
    if chat.status in (ChatStatus.SCHEDULED, ChatStatus.LIVE):
        places = "; ".join(feeds.join_places(chat))
        body.append(
            f'<nav class="feeds" aria-label="{e(t("Take part"))}">'
            f'<a href="{e(site.chat_url(chat.id, ".ics"))}"'
            f" download>{e(t('Add to calendar (.ics)'))}</a>"
            f' <span class="meta">{e(t("Where: {places}").format(places=places))}</span></nav>'
        )
    transcript = transcript_body(rendered.html, rendered.markdown)
    if schedule is not None and now is not None and chat.status in UNPUBLISHED:
        # Under the transcript's header (title, when, hosts, intro), before its sections.
        at = transcript.find("<h2")
        at = len(transcript) if at < 0 else at
        standing = schedule_section(chat, schedule(store, chat, now), now)
        transcript = f"{transcript[:at]}{standing}\n{transcript[at:]}"
    body += [
        f'<nav class="downloads" aria-label="{e(t("Downloads"))}">'
        f"{e(t('Download:'))} {downloads}</nav>",
        '<article class="transcript">',
        transcript,
        "</article>",
        f'<section aria-labelledby="charts"><h2 id="charts">{e(t("Charts"))}</h2>',
        _figure(
            t("Activity"),
            charts.activity_chart(chat, stats, tr=tr),
            _chart_links(site, chat, "activity", tr),
        ),
        _figure(
            t("Answers per question"),
            charts.answers_chart(chat, stats, tr=tr),
            _chart_links(site, chat, "answers", tr),
        ),
        _figure(
            t("Top contributors"),
            charts.contributors_chart(stats, tr=tr),
            _chart_links(site, chat, "contributors", tr),
        ),
        "</section>",
    ]
    if rendered.groups is not None:
        body.insert(
            -1,
            _figure(say("chart_chat", tr), group_figures.group_chart(rendered.groups, tr=tr)),
        )
    return layout(site, with_hashtag(chat.title, chat.hashtag), "\n".join(body), tr=tr)


def status_name(status: ChatStatus, tr: Translator) -> str:
    """A chat's status as a reader sees it, in ``tr``'s language."""
    names = {
        ChatStatus.SCHEDULED: tr.pgettext("chat status", "scheduled"),
        ChatStatus.LIVE: tr.pgettext("chat status", "live"),
        ChatStatus.ENDED: tr.pgettext("chat status", "ended"),
        ChatStatus.PUBLISHED: tr.pgettext("chat status", "published"),
        ChatStatus.CANCELLED: tr.pgettext("chat status", "cancelled"),
    }
    return names.get(status, str(status))


def _crumbs(site: Site, chat: Chat, status: str, tr: Translator) -> str:
    return (
        f'<nav class="crumbs" aria-label="{e(tr.gettext("Breadcrumb"))}">'
        f'<a href="{e(site.url("/"))}">{e(tr.gettext("Archive"))}</a>'
        f' › <a href="{e(site.tag_url(chat.hashtag))}">{e(chat.hashtag)}</a> › {status}</nav>'
    )


def schedule_section(chat: Chat, steps: Sequence[Step], now: datetime) -> str:
    """The chat's schedule as it stands, one row per step in time order: the same time,
    step and state as each line of `tweetchat show` (``20:09 | Q2 | posted at 20:09``,
    ``20:19 | Q4 | next, in 6 min``), worded in the chat's language (``20 h 09 | Q2 |
    publiée à 20 h 09``), the next step marked for the eye."""
    local = now.astimezone(chat.zone)
    tr = translator(chat.language)
    t = tr.gettext
    rows = []
    for step in steps:
        when, label, state = step_cells(chat, step, now, tr)
        mark = ' class="next"' if step.state == StepState.NEXT else ""
        rows.append(
            f'<tr{mark}><td>{e(when)}</td><th scope="row">{e(label)}</th><td>{e(state)}</td></tr>'
        )
    # Translators: the host controls are the commands next, pause, skip and extend.
    meta = t(
        "At {time} {zone}, every host control applied (next, pause, skip, extend...);"
        " times in {zone_name}."
    ).format(time=tr.clock(local), zone=zone_label(local, tr), zone_name=chat.zone.key)
    return "\n".join(
        [
            '<section class="schedule" aria-labelledby="schedule">',
            f'<h2 id="schedule">{e(t("Schedule as it stands"))}</h2>',
            f'<p class="meta">{e(meta)}</p>',
            f'<table class="schedule"><thead><tr><th scope="col">{e(t("Time"))}</th>'
            f'<th scope="col">{e(t("Step"))}</th><th scope="col">{e(t("Status"))}</th>'
            "</tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            "</section>",
        ]
    )


def cancelled_page(site: Site, chat: Chat) -> str:
    """A cancelled chat: what it would have been, and that it did not take place (no
    transcript, no downloads: nothing happened to transcribe)."""
    local = chat.start.astimezone(chat.zone)
    tr = translator(chat.language)
    status = f'<span class="status">{e(status_name(chat.status, tr))}</span>'
    note = tr.gettext(
        "This {hashtag} chat, planned for {day}, {time} {zone}, was cancelled."
        " It has no transcript."
    ).format(
        hashtag=chat.hashtag,
        day=day_label(local, tr),
        time=tr.clock(local),
        zone=zone_label(local, tr),
    )
    body = [
        _crumbs(site, chat, status, tr),
        f"<h1>{e(chat.title)}</h1>",
        f'<p class="cancelled">{e(note)}</p>',
    ]
    title = tr.gettext("{title} ({hashtag}): cancelled").format(
        title=chat.title, hashtag=chat.hashtag
    )
    return layout(site, title, "\n".join(body), tr=tr)


def _figure(heading: str, svg: str, links: str = "") -> str:
    return f'<figure class="chart"><h3>{e(heading)}</h3>\n{svg}\n{links}</figure>'


def _chart_links(site: Site, chat: Chat, name: str, tr: Translator) -> str:
    return chart_files.download_links(
        lambda suffix: site.chat_url(chat.id, f"/charts/{name}{suffix}"), name, tr
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
    svg = chart_files.CHAT_CHARTS[name](chat, stats, translator(chat.language))
    return chart_files.chart_file(svg, f"{_file_name(chat.id)}-{name}", suffix)


def tag_chart(
    store: Store, tag: str, ref: str, tr: Translator | None = None
) -> chart_files.ChartFile:
    """The participation chart of a hashtag's series as a file, dated in ``tr``'s language
    (the reader's, as on the tag page); NotFoundError otherwise."""
    parts = chart_files.split_name(ref)
    if parts is None or parts[0] not in chart_files.SERIES_CHARTS:
        raise NotFoundError(f"no chart {ref!r} for #{tag}")
    key = _tag_key(tag)
    chats = store.chats_page(LISTED, hashtag_key=key)
    if not chats:
        raise NotFoundError(f"no chats with the hashtag #{tag}")
    took_place = {c.id: c for c in chats if c.status in (ChatStatus.LIVE, *PAST)}
    svg = charts.participation_chart(chart_files.series_points(store, key, took_place, tr), tr=tr)
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
        opted_out = store.opted_out()
        groups = store.group_mix(chat, opted_out)
        text = render_csv(
            store.iter_messages(chat.id, include_deleted=False),
            opted_out=opted_out,
            zone=chat.zone,
            engagement=store.engagement_scores(chat.id),
            groups=None if groups is None else groups.member_groups,
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


def tag_page(store: Store, site: Site, tag: str, tr: Translator | None = None) -> str:
    """Every chat of a hashtag, with participation over time, in the reader's language."""
    tr = tr or translator()
    t = tr.gettext
    key = _tag_key(tag)
    chats = store.chats_page(LISTED, hashtag_key=key)
    if not chats:
        raise NotFoundError(f"no chats with the hashtag #{tag}")
    hashtag = chats[-1].hashtag
    upcoming = [c for c in chats if c.status in (ChatStatus.SCHEDULED, ChatStatus.LIVE)]
    past = [c for c in reversed(chats) if c.status in PAST]
    took_place = {c.id: c for c in chats if c.status in (ChatStatus.LIVE, *PAST)}
    points = chart_files.series_points(store, key, took_place, tr)
    counts = store.message_counts([c.id for c in past])
    body = [
        f"<h1>{e(hashtag)}</h1>",
        f'<nav class="feeds" aria-label="{e(t("Subscribe"))}">'
        f'<a href="{e(site.tag_url(hashtag, "/calendar.ics"))}">'
        f"{e(t('Calendar of upcoming {hashtag} chats (.ics)').format(hashtag=hashtag))}</a></nav>",
    ]
    if upcoming:
        body += [f'<section aria-labelledby="upcoming"><h2 id="upcoming">{e(t("Upcoming"))}</h2>']
        body += [_chat_list(site, upcoming, tr=tr), "</section>"]
    body += [
        '<section aria-labelledby="participation"><h2 id="participation">'
        f"{e(t('Participation over time'))}</h2>",
        _figure_plain(
            charts.participation_chart(points, tr=tr),
            chart_files.download_links(
                lambda suffix: site.tag_url(hashtag, f"/charts/participation{suffix}"),
                "participation",
                tr,
            ),
        ),
        "</section>",
        f'<section aria-labelledby="past"><h2 id="past">{e(t("Past chats"))}</h2>',
        _chat_list(
            site, past, {c.id: " · " + _messages(counts.get(c.id, 0), tr) for c in past}, tr=tr
        )
        if past
        else f"<p>{e(t('No chat has taken place yet.'))}</p>",
        "</section>",
    ]
    mix = group_figures.series_section(store, [c for c in chats if c.id in took_place])
    if mix:
        body.insert(-3, mix)
    return layout(site, hashtag, "\n".join(body), tr=tr)


def _figure_plain(svg: str, links: str = "") -> str:
    return f'<figure class="chart">\n{svg}\n{links}</figure>'


# ---- search ------------------------------------------------------------------------------


def search_help(tr: Translator) -> str:
    """How to search, in ``tr``'s language (:data:`SEARCH_HELP` is the English)."""
    if tr.language == "en":
        return SEARCH_HELP
    t = tr.gettext
    # Translators: the examples in <code> are search syntax; keep them as they are.
    return (
        '<p class="meta">'
        + e(t("Words find their other forms too ({example} finds “patient”).")).replace(
            "{example}", "<code>patients</code>"
        )
        + " "
        + e(
            t(
                "Also: {prefix} for words that start so, {phrase}, {either}, {not_} or {minus}"
                " to leave a word out, {author}, {tag}."
            )
        )
        .replace("{prefix}", "<code>quick*</code>")
        .replace("{phrase}", "<code>&quot;exact phrase&quot;</code>")
        .replace("{either}", "<code>carers OR families</code>")
        .replace("{not_}", "<code>NOT</code>")
        .replace("{minus}", "<code>-word</code>")
        .replace("{author}", "<code>from:handle</code>")
        .replace("{tag}", "<code>tag:WeDocs</code>")
        + "</p>"
    )


SEARCH_HELP = (
    '<p class="meta">Words find their other forms too (<code>patients</code> finds'
    " “patient”). Also: <code>quick*</code> for words that start so,"
    ' <code>"exact phrase"</code>, <code>carers OR families</code>, <code>NOT</code> or'
    " <code>-word</code> to leave a word out, <code>from:handle</code>,"
    " <code>tag:WeDocs</code>.</p>"
)


def search_page(
    store: Store, site: Site, q: str, page: int = 1, tr: Translator | None = None
) -> str:
    """Matching messages, newest first, with highlighted snippets linking into transcripts,
    in the reader's language ``tr`` (English by default)."""
    tr = tr or translator()
    t = tr.gettext
    help_html = search_help(tr)
    q = q.strip()
    query = parse_query(q)
    title = t("Search: {query}").format(query=q) if q else t("Search")
    heading = e(t("Results for “{query}”").format(query=q)) if q else e(t("Search"))
    body = [f"<h1>{heading}</h1>"]
    if not q:
        body.append(
            f"<p>{e(t('Type words to find in every transcript, e.g. a hashtag or a name.'))}</p>"
        )
        body.append(help_html)
        return layout(site, title, "\n".join(body), tr=tr)
    if query.empty:
        body.append(f"<p>{e(t('Nothing to search for: type at least one word.'))}</p>")
        body.append(help_html)
        return layout(site, title, "\n".join(body), search_value=q, tr=tr)
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
        body.append(f"<p>{e(t('This search could not be read. Try plain words.'))}</p>")
        body.append(help_html)
        return layout(site, title, "\n".join(body), search_value=q, tr=tr)
    has_next = len(hits) > size
    hits = hits[:size]
    if not hits:
        none = t("No message matches. Try fewer words.") if " " in q else t("No message matches.")
        body.append(f"<p>{e(none)}</p>")
        body.append(help_html)
        return layout(site, title, "\n".join(body), search_value=q, tr=tr)
    chats = {cid: store.get_chat(cid) for cid in dict.fromkeys(m.chat_id for m, _ in hits)}
    hidden = store.hidden_handles(list(chats))
    body.append('<ol class="results">')
    for m, snippet in hits:
        chat = chats[m.chat_id]
        at = m.created_at.astimezone(chat.zone)
        href = site.chat_url(chat.id) + _hit_fragment(chat, m)
        who = m.author_name or m.author_handle or t("Unknown")
        handle = f" @{m.author_handle}" if m.author_handle else ""
        body.append(
            f'<li><p><a href="{e(href)}">{e(chat.title or chat.hashtag)}</a>'
            f' <span class="meta">{e(chat.hashtag)} · {e(day_label(at, tr))},'
            f" {e(clock(at, chat.zone, tr))} {e(zone_label(at, tr))}</span></p>"
            f'<p class="meta">{e(who)}{e(handle)}</p>'
            f"<p>{snippet_html(snippet, hidden)}</p></li>"
        )
    body.append("</ol>")
    body.append(pager(site, "/search", page, has_next, query=f"q={quote(q)}&", tr=tr))
    return layout(site, title, "\n".join(body), search_value=q, tr=tr)


def _hit_fragment(chat: Chat, m: CapturedMessage) -> str:
    """Where a search hit is on its chat's page: a message's own anchor, or for a question
    post (its section's heading, not a list item) the section's; "" for a question post
    of no question the chat has (the page's top)."""
    if m.kind is not MessageKind.QUESTION:
        return "#" + message_anchor(m.platform, m.platform_id)
    keys = {q.key for q in chat.questions}
    for key in m.question_keys:
        if key in keys:
            return "#" + question_anchor(key)
    return ""


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
        name=with_hashtag(chat.title, chat.hashtag),
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
            summary=_feed_summary(c, counts.get(c.id, 0)),
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


def _feed_summary(chat: Chat, messages: int) -> str:
    """An Atom entry's summary, in the chat's language (the entry says which, ``xml:lang``):
    ``Tue 1 Dec 2026, 20:00–21:00 GMT. 42 messages.``"""
    tr = translator(chat.language)
    # Translators: an Atom feed entry's summary of a chat: when, then its messages
    # ("Tue 1 Dec 2026, 20:00–21:00 GMT. 42 messages.").
    return tr.gettext("{when}. {messages}.").format(
        when=time_range(chat.start, chat.end, chat.zone, tr),
        messages=tr.counted("{n} message", "{n} messages", messages),
    )
