"""Server-side SVG charts: pure functions of the statistics, no JavaScript needed.

Each chart is an ``<svg role="img">`` labelled by its own ``<title>`` and ``<desc>``; the
description states the figures in words, so a screen reader gets what the bars show.
Colours come from the stylesheet (classes), so the charts follow light and dark mode.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def hbar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int]], unit: str) -> str:
    """Horizontal bars, one labelled row per item, the value written after each bar."""
    if not rows:
        return _svg(chart_id, title, f"No {unit}s yet.", 40, [])
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
        body.append(f'<text x="{LABEL_WIDTH + w + 6}" y="{y + 17}">{value}</text>')
    desc = "; ".join(f"{label}: {_plural(value, unit)}" for label, value in rows) + "."
    return _svg(chart_id, title, desc, height, body)


def answers_chart(chat: Chat, stats: ChatStats, chart_id: str = "chart-answers") -> str:
    """Answers per question, in question order."""
    rows = [(chat.label(q), stats.answers_per_question.get(q.key, 0)) for q in chat.questions]
    return hbar_chart(chart_id, "Answers per question", rows, "answer")


def contributors_chart(stats: ChatStats, chart_id: str = "chart-contributors") -> str:
    """Messages of the top contributors (opted-out ones appear anonymised, as in stats)."""
    rows = [(c.name or c.handle or "Unknown", c.messages) for c in stats.top_contributors]
    return hbar_chart(chart_id, "Top contributors by messages", rows, "message")


def activity_chart(chat: Chat, stats: ChatStats, chart_id: str = "chart-activity") -> str:
    """Messages per minute over the chat, with a dashed line where each question went out."""
    title = "Messages per minute"
    points = stats.activity_per_minute
    if not points:
        return _svg(chart_id, title, "No messages yet.", 40, [])
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
        f'<text class="muted" x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="muted" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
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
        at = clock(chat.start + timedelta(minutes=minute), zone)
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
    desc = (
        f"{_plural(stats.messages, 'message')} from {clock(local, zone)} to {clock(end, zone)}"
        f" {zone_label(local)}; busiest minute {clock(chat.start + timedelta(minutes=busiest_minute), zone)}"
        f" with {_plural(busiest, 'message')}."
    )
    return _svg(chart_id, title, desc, height, body)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One chat of a series: who took part for the first time, and who came back."""

    label: str  # short date, e.g. "1 Dec 2026"
    first_time: int
    returning: int


def participation_chart(
    points: Sequence[SeriesPoint], chart_id: str = "chart-participation"
) -> str:
    """Participants per chat of a series, stacked: first-timers under returning ones."""
    title = "Participants per chat: first-time and returning"
    if not points:
        return _svg(chart_id, title, "No chats yet.", 40, [])
    left, right, top, bottom = 36, 8, 28, 28
    height = 220
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    n = len(points)
    step_w = plot_w / n
    peak = max(p.first_time + p.returning for p in points) or 1
    body = [
        f'<rect class="bar2" x="{left}" y="6" width="10" height="10"/>',
        f'<text x="{left + 14}" y="15">first time</text>',
        f'<rect class="bar" x="{left + 100}" y="6" width="10" height="10"/>',
        f'<text x="{left + 114}" y="15">returning</text>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}"/>',
        f'<text class="muted" x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="muted" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
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
    desc = (
        f"{_plural(n, 'chat')} from {points[0].label} to {points[-1].label}. "
        + ("Latest chats: " if n > len(recent) else "")
        + "; ".join(
            f"{p.label}: {p.first_time + p.returning} participants"
            f" ({p.first_time} first-time, {p.returning} returning)"
            for p in recent
        )
        + "."
    )
    return _svg(chart_id, title, desc, height, body)
