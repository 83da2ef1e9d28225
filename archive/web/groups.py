"""The web archive's stakeholder-group figures: the chat page's chart of participants per
group, and the series page's mix over time (archive/groups.py has the rules). Charts are
SVG, like :mod:`archive.web.charts`; strings come from ``archive.groups.TEXT``, in the
chat's language (a series: its latest chat's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archive.groups import GroupMix, say
from archive.i18n import Translator, translator
from archive.models import Chat
from archive.store import Store
from archive.transcripts.text import day_label
from archive.web.charts import WIDTH, _e, _short, _svg, hbar_chart

PALETTE = 8  # colour classes grp0..grp7 in static.css; further groups share grp-rest


def group_chart(mix: GroupMix, chart_id: str = "chart-groups", tr: Translator | None = None) -> str:
    """Participants per group of one chat: the groups shown with figures of their own, the
    groups counted together as one bar, and the participants who declared nothing."""
    rows = [(r.label, r.participants or 0) for r in mix.shown]
    return hbar_chart(chart_id, say("chart_chat", tr), rows, "participant", tr)


@dataclass(frozen=True, slots=True)
class MixPoint:
    """One chat of a series: its label (a day) and participants per group key, in the
    groups' order; ``rest``: not declared, or in the groups counted together (the small
    groups and the smallest others, see archive/groups.py), or opted out."""

    label: str
    groups: tuple[tuple[str, int], ...]
    rest: int


def series_points(store: Store, chats: Sequence[Chat]) -> tuple[list[MixPoint], dict[str, str]]:
    """The mix of each of ``chats`` (oldest first) that has one, and the labels of the
    group keys shown in any of them; no points when no chat has a mix."""
    if not chats or not store.group_sources(chats[0].hashtag):
        return [], {}
    opted_out = store.opted_out()
    mixes = [(c, store.group_mix(c, opted_out)) for c in chats]
    labels: dict[str, str] = {}
    points = []
    for chat, mix in mixes:
        if mix is None:
            continue
        shown = [(r.key, r.participants or 0) for r in mix.rows if not r.suppressed]
        for r in mix.rows:
            if not r.suppressed and r.participants:
                labels.setdefault(r.key, r.label)
        rest = mix.participants - sum(n for _, n in shown)
        local = chat.start.astimezone(chat.zone)
        points.append(MixPoint(day_label(local)[4:], tuple(shown), rest))
    return points, labels


def series_chart(
    points: Sequence[MixPoint],
    labels: dict[str, str],
    chart_id: str = "chart-group-mix",
    tr: Translator | None = None,
) -> str:
    """Each chat's participants as one bar of 100%, split by group (the groups' order),
    then the rest (not declared, or counted together); words in ``tr``'s language."""
    tr = tr or translator()
    title = say("chart_series", tr)
    if not points:
        return _svg(chart_id, title, say("chart_none", tr), 40, [])
    order = list(dict.fromkeys(k for p in points for k, n in p.groups if n))
    colour = {k: f"grp{i}" if i < PALETTE else "grp-rest" for i, k in enumerate(order)}
    left, right, top = 36, 8, 10 + 18 * ((len(order) + 4) // 4)
    height = top + 200 + 28
    plot_w, plot_h = WIDTH - left - right, 200
    body = []
    for i, key in enumerate([*order, ""]):
        lx, ly = left + (i % 4) * 110, 6 + 18 * (i // 4)
        cls = colour.get(key, "grp-rest")
        name = labels.get(key, key) if key else say("chart_rest", tr)
        body.append(f'<rect class="{cls}" x="{lx}" y="{ly}" width="10" height="10"/>')
        body.append(f'<text x="{lx + 14}" y="{ly + 9}">{_e(_short(name, 14))}</text>')
    step = plot_w / len(points)
    bar_w = max(round(step * 0.8, 1), 0.5)
    for i, p in enumerate(points):
        total = sum(n for _, n in p.groups) + p.rest or 1
        x = round(left + i * step, 1)
        base: float = top + plot_h
        for key, n in [*p.groups, ("", p.rest)]:
            if not n:
                continue
            h = round(plot_h * n / total, 1)
            cls = colour.get(key, "grp-rest")
            body.append(
                f'<rect class="{cls}" x="{x}" y="{round(base - h, 1)}" width="{bar_w}" height="{h}"/>'
            )
            base -= h
    every = max(1, -(-len(points) // 5))
    for i in range(0, len(points), every):
        x = round(left + i * step + bar_w / 2, 1)
        body.append(
            f'<text class="muted" x="{x}" y="{height - 8}" text-anchor="middle">'
            f"{_e(points[i].label)}</text>"
        )
    recent = points[-10:]
    desc = "; ".join(
        f"{p.label}: "
        + ", ".join(f"{labels.get(k, k)} {tr.number(n)}" for k, n in p.groups if n)
        + (f", {say('chart_rest', tr)} {tr.number(p.rest)}" if p.rest else "")
        for p in recent
    )
    return _svg(chart_id, title, desc + ".", height, body)


def series_section(store: Store, chats: Sequence[Chat]) -> str:
    """The series page's "Stakeholder mix per chat" section ("" when no chat has one)."""
    points, labels = series_points(store, chats)
    if not points:
        return ""
    tr = translator(chats[-1].language)
    return "\n".join(
        [
            '<section aria-labelledby="group-mix">'
            f'<h2 id="group-mix">{_e(say("chart_series", tr))}</h2>',
            f'<figure class="chart">\n{series_chart(points, labels, tr=tr)}\n</figure>',
            "</section>",
        ]
    )
