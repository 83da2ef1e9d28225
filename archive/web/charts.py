"""Server-side SVG charts: pure functions of the statistics, no JavaScript needed.

Each chart is an ``<svg role="img">`` labelled by its own ``<title>`` and ``<desc>``; the
description states the figures in words, so a screen reader gets what the bars show.
Colours come from the stylesheet (classes), so the charts follow light and dark mode.
Titles, descriptions, legends and axis times are in ``tr``'s language (a chat's charts in
the chat's, a series' in the reader's: ``archive.i18n``); English by default.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from archive.i18n import Translator, translator
from archive.models import Chat
from archive.stats import ChatStats
from archive.transcripts.text import clock, zone_label

WIDTH = 480
LABEL_WIDTH = 150
ROW = 26


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(chart_id: str, title: str, desc: str, height: int, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg class="chart" id="{_e(chart_id)}" role="img" viewBox="0 0 {WIDTH} {height}"'
            f' width="{WIDTH}" height="{height}" preserveAspectRatio="xMinYMin meet"'
            f' aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc"'
            ' xmlns="http://www.w3.org/2000/svg">',
            f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
            f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>',
            *body,
            "</svg>",
        ]
    )


UNITS = ("answer", "message", "participant", "chat")
"""What a bar chart may count (``hbar_chart``'s ``unit``)."""


def _count(unit: str, n: int, tr: Translator) -> str:
    """``3 answers`` for a unit of :data:`UNITS`, by ``tr``'s plural rule."""
    if unit == "answer":
        return tr.counted("{n} answer", "{n} answers", n)
    if unit == "message":
        return tr.counted("{n} message", "{n} messages", n)
    if unit == "participant":
        return tr.counted("{n} participant", "{n} participants", n)
    if unit == "chat":
        return tr.counted("{n} chat", "{n} chats", n)
    raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")


def _none_yet(unit: str, tr: Translator) -> str:
    """``No answers yet.``: an empty chart's description."""
    if unit == "answer":
        return tr.gettext("No answers yet.")
    if unit == "message":
        return tr.gettext("No messages yet.")
    if unit == "participant":
        return tr.gettext("No participants yet.")
    if unit == "chat":
        return tr.gettext("No chats yet.")
    raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")


def _figures(items: Sequence[str], tr: Translator) -> str:
    """``a: 1; b: 2.``: a description's figures, one sentence."""
    # Translators: what separates the figures of a chart's description ("Q1: 3 answers;
    # Q2: 1 answer").
    sep = tr.pgettext("chart description", "; ")
    # Translators: the figures of a chart's description, as one sentence.
    return tr.pgettext("chart description", "{figures}.").format(figures=sep.join(items))


def hbar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, int]],
    unit: str,
    tr: Translator | None = None,
) -> str:
    """Horizontal bars, one labelled row per item, the value written after each bar;
    ``unit`` (one of :data:`UNITS`, else ValueError) is what the values count, described
    in ``tr``'s language."""
    tr = tr or translator()
    if not rows:
        return _svg(chart_id, title, _none_yet(unit, tr), 40, [])
    peak = max(v for _, v in rows) or 1
    plot = WIDTH - LABEL_WIDTH - 50
    height = ROW * len(rows) + 10
    body = []
    for i, (label, value) in enumerate(rows):
        y = 5 + i * ROW
        w = round(plot * value / peak, 1)
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">{_e(_short(label))}</text>'
        )
        body.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 4}" width="{w}" height="18"/>')
        body.append(f'<text x="{LABEL_WIDTH + w + 6}" y="{y + 17}">{tr.number(value)}</text>')
    desc = _figures(
        [
            # Translators: one bar of a chart described: "Q1: 3 answers".
            tr.pgettext("chart description", "{label}: {count}").format(
                label=label, count=_count(unit, value, tr)
            )
            for label, value in rows
        ],
        tr,
    )
    return _svg(chart_id, title, desc, height, body)


def answers_chart(
    chat: Chat, stats: ChatStats, chart_id: str = "chart-answers", tr: Translator | None = None
) -> str:
    """Answers per question, in question order; words in ``tr``'s language (the page's:
    the chat's)."""
    tr = tr or translator()
    rows = [(chat.label(q), stats.answers_per_question.get(q.key, 0)) for q in chat.questions]
    return hbar_chart(chart_id, tr.gettext("Answers per question"), rows, "answer", tr)


def contributors_chart(
    stats: ChatStats, chart_id: str = "chart-contributors", tr: Translator | None = None
) -> str:
    """Messages of the top contributors (opted-out ones appear anonymised, as in stats)."""
    tr = tr or translator()
    # Translators: a contributor without a name or handle in a chart.
    unknown = tr.pgettext("chart", "Unknown")
    rows = [(c.name or c.handle or unknown, c.messages) for c in stats.top_contributors]
    return hbar_chart(chart_id, tr.gettext("Top contributors by messages"), rows, "message", tr)


def activity_chart(
    chat: Chat, stats: ChatStats, chart_id: str = "chart-activity", tr: Translator | None = None
) -> str:
    """Messages per minute over the chat, with a dashed line where each question went out;
    times and words in ``tr``'s language."""
    tr = tr or translator()
    title = tr.gettext("Messages per minute")
    points = stats.activity_per_minute
    if not points:
        return _svg(chart_id, title, _none_yet("message", tr), 40, [])
    zone = chat.zone
    left, right, top, bottom = 36, 8, 22, 28
    height = 200
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    first = points[0][0]
    n = len(points)
    step_w = plot_w / n
    peak = max(c for _, c in points) or 1
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}"/>',
        f'<text class="muted" x="{left - 4}" y="{top + 4}" text-anchor="end">{tr.number(peak)}</text>',
        f'<text class="muted" x="{left - 4}" y="{top + plot_h}" text-anchor="end">{tr.number(0)}</text>',
    ]
    for minute, count in points:
        if not count:
            continue
        h = round(plot_h * count / peak, 1)
        x = round(left + (minute - first) * step_w, 1)
        body.append(
            f'<rect class="bar" x="{x}" y="{round(top + plot_h - h, 1)}"'
            f' width="{max(round(step_w * 0.85, 1), 0.5)}" height="{h}"/>'
        )
    tick = next((t for t in (5, 10, 15, 30, 60, 120, 240) if n / t <= 8), 480)
    for minute in range(first - first % tick, first + n, tick):
        if minute < first:
            continue
        x = round(left + (minute - first) * step_w, 1)
        at = _e(clock(chat.start + timedelta(minutes=minute), zone, tr))
        body.append(
            f'<text class="muted" x="{x}" y="{height - 8}" text-anchor="middle">{at}</text>'
        )
    for q in chat.questions:
        if q.key in stats.not_posted:
            continue  # never went out: no mark
        went = stats.question_posted_at.get(q.key, chat.question_time(q))
        minute = (went - chat.start) // timedelta(minutes=1)
        if not first <= minute < first + n:
            continue
        x = round(left + (minute - first) * step_w, 1)
        body.append(f'<line class="mark" x1="{x}" y1="{top}" x2="{x}" y2="{top + plot_h}"/>')
        body.append(f'<text x="{x + 2}" y="{top - 6}">{_e(chat.label(q))}</text>')
    busiest_minute, busiest = max(points, key=lambda p: p[1])
    local = (chat.start + timedelta(minutes=first)).astimezone(zone)
    end = chat.start + timedelta(minutes=first + n)
    desc = tr.gettext(
        "{messages} from {start} to {end} {zone}; busiest minute {busiest} with {count}."
    ).format(
        messages=_count("message", stats.messages, tr),
        start=clock(local, zone, tr),
        end=clock(end, zone, tr),
        zone=zone_label(local, tr),
        busiest=clock(chat.start + timedelta(minutes=busiest_minute), zone, tr),
        count=_count("message", busiest, tr),
    )
    return _svg(chart_id, title, desc, height, body)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One chat of a series: who took part for the first time, and who came back."""

    label: (
        str  # short date, e.g. "1 Dec 2026" (chart_files.series_points: in the reader's language)
    )
    first_time: int
    returning: int


def participation_chart(
    points: Sequence[SeriesPoint],
    chart_id: str = "chart-participation",
    tr: Translator | None = None,
) -> str:
    """Participants per chat of a series, stacked: first-timers under returning ones;
    words in ``tr``'s language (the reader's, as the tag page)."""
    tr = tr or translator()
    title = tr.gettext("Participants per chat: first-time and returning")
    if not points:
        return _svg(chart_id, title, _none_yet("chat", tr), 40, [])
    left, right, top, bottom = 36, 8, 28, 28
    height = 220
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    n = len(points)
    step_w = plot_w / n
    peak = max(p.first_time + p.returning for p in points) or 1
    body = [
        f'<rect class="bar2" x="{left}" y="6" width="10" height="10"/>',
        # Translators: the legend of a chart's first-time participants.
        f'<text x="{left + 14}" y="15">{_e(tr.pgettext("chart legend", "first time"))}</text>',
        f'<rect class="bar" x="{left + 100}" y="6" width="10" height="10"/>',
        # Translators: the legend of a chart's returning participants.
        f'<text x="{left + 114}" y="15">{_e(tr.pgettext("chart legend", "returning"))}</text>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}"/>',
        f'<text class="muted" x="{left - 4}" y="{top + 4}" text-anchor="end">{tr.number(peak)}</text>',
        f'<text class="muted" x="{left - 4}" y="{top + plot_h}" text-anchor="end">{tr.number(0)}</text>',
    ]
    bar_w = max(round(step_w * 0.8, 1), 0.5)
    for i, p in enumerate(points):
        x = round(left + i * step_w, 1)
        h1 = round(plot_h * p.first_time / peak, 1)
        h2 = round(plot_h * p.returning / peak, 1)
        base = top + plot_h
        if h1:
            body.append(
                f'<rect class="bar2" x="{x}" y="{round(base - h1, 1)}" width="{bar_w}" height="{h1}"/>'
            )
        if h2:
            body.append(
                f'<rect class="bar" x="{x}" y="{round(base - h1 - h2, 1)}" width="{bar_w}" height="{h2}"/>'
            )
    every = max(1, -(-n // 5))
    for i in range(0, n, every):
        x = round(left + i * step_w + bar_w / 2, 1)
        body.append(
            f'<text class="muted" x="{x}" y="{height - 8}" text-anchor="middle">'
            f"{_e(points[i].label)}</text>"
        )
    recent = points[-10:]
    figures = [
        # Translators: one chat of a series described: "1 Dec 2026: 5 participants (3
        # first-time, 2 returning)".
        tr.gettext("{day}: {participants} ({first} first-time, {returning} returning)").format(
            day=p.label,
            participants=tr.ngettext(
                "{n} participants", "{n} participants", p.first_time + p.returning
            ).format(n=tr.number(p.first_time + p.returning)),
            first=tr.number(p.first_time),
            returning=tr.number(p.returning),
        )
        for p in recent
    ]
    # Translators: a series chart's description begins "4 chats from 1 Dec 2026 to 22 Dec
    # 2026. " and its figures follow.
    desc = tr.gettext("{chats} from {first} to {last}. ").format(
        chats=_count("chat", n, tr), first=points[0].label, last=points[-1].label
    )
    if n > len(recent):
        desc += tr.gettext("Latest chats: ")
    desc += _figures(figures, tr)
    return _svg(chart_id, title, desc, height, body)
