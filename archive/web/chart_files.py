"""Each chart of the web archive as a file to download: SVG, or PNG rendered by resvg.

On a page the charts take their colours from the stylesheet (light and dark mode). A file
stands alone, so it carries its own ``<style>`` with the light colours and a white
background, and reads the same in a newsletter, a slide or an image viewer.

PNG: rendered on the server by resvg (`resvg-py`, a binding of the Rust SVG renderer, one
self-contained wheel: no Cairo or other system library to install), at the chart's own
size in pixels. Text uses the system's fonts (sans-serif); a machine without any fonts
still draws the bars and lines.

URLs: ``/chats/CHAT-ID/charts/NAME.svg|.png`` for ``activity``, ``answers`` and
``contributors``, and ``/tags/TAG/charts/participation.svg|.png`` for a series.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import resvg_py

from archive.i18n import Translator, translator
from archive.models import Chat
from archive.stats import ChatStats
from archive.store import Store
from archive.web import charts

SVG_TYPE = "image/svg+xml"
PNG_TYPE = "image/png"
FORMATS = {".svg": SVG_TYPE, ".png": PNG_TYPE}

CHAT_CHARTS: Mapping[str, Callable[[Chat, ChatStats, Translator], str]] = {
    "activity": lambda chat, stats, tr: charts.activity_chart(chat, stats, tr=tr),
    "answers": lambda chat, stats, tr: charts.answers_chart(chat, stats, tr=tr),
    "contributors": lambda _chat, stats, tr: charts.contributors_chart(stats, tr=tr),
}
"""The charts of a chat page, by the name in their download URLs, in ``tr``'s language
(the chat's)."""

SERIES_CHARTS = ("participation",)

# The stylesheet's light-mode colours (static.css), for a chart outside its page.
_STYLE = (
    "<style>"
    "svg { background: #fff; }"
    " .bar { fill: #0b57d0; } .bar2 { fill: #e37400; }"
    " .axis { stroke: #d9dce1; stroke-width: 1; }"
    " .mark { stroke: #5f6368; stroke-width: 1; stroke-dasharray: 3 3; }"
    " text { fill: #1d1d1f; font: 14px sans-serif; } text.muted { fill: #5f6368; }"
    "</style>"
)
_OPEN_TAG_RE = re.compile(r"<svg\b[^>]*>")


@dataclass(frozen=True, slots=True)
class ChartFile:
    body: bytes
    content_type: str
    filename: str


def standalone_svg(svg: str) -> str:
    """The chart's SVG as a file: an XML declaration, and its own style after the opening
    tag (the page's classes keep working without the page)."""
    opening = _OPEN_TAG_RE.search(svg)
    if opening is None:
        raise ValueError("not an SVG chart")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + svg[: opening.end()]
        + _STYLE
        + svg[opening.end() :]
        + "\n"
    )


def png(svg: str) -> bytes:
    """The chart drawn as PNG at its own width and height, on white. Raises ValueError when
    resvg cannot render it."""
    return bytes(resvg_py.svg_to_bytes(svg_string=standalone_svg(svg), background="#ffffff"))


def chart_file(svg: str, name: str, suffix: str) -> ChartFile:
    """``svg`` as the download ``name`` + ``suffix`` (``.svg`` or ``.png``)."""
    if suffix == ".png":
        return ChartFile(png(svg), PNG_TYPE, name + suffix)
    return ChartFile(standalone_svg(svg).encode("utf-8"), SVG_TYPE, name + suffix)


def split_name(ref: str) -> tuple[str, str] | None:
    """``activity.png`` -> (``activity``, ``.png``); None for any other suffix."""
    for suffix in FORMATS:
        if ref.endswith(suffix):
            return ref[: -len(suffix)], suffix
    return None


def download_links(href: Callable[[str], str], name: str, tr: Translator | None = None) -> str:
    """The links under a chart: ``Download: SVG PNG`` (in ``tr``'s language, English by
    default); ``href(suffix)`` is the URL of the chart ``name`` with that suffix (already
    built with the site's prefix)."""
    tr = tr or translator()
    # SVG and PNG are the formats' names, the same in every language.
    links = " ".join(
        f'<a href="{html.escape(href(suffix), quote=True)}" download>{suffix[1:].upper()}</a>'
        for suffix in FORMATS
    )
    label = html.escape(tr.gettext("Download:"))
    return f'<figcaption class="chart-files">{label} {links}</figcaption>'


def series_points(
    store: Store,
    hashtag_key: str,
    took_place: Mapping[str, Chat],
    tr: Translator | None = None,
) -> list[charts.SeriesPoint]:
    """Participants per chat of a series (first-time and returning), in time order, for
    the chats of ``took_place`` (chat id -> chat); each dated in ``tr``'s language."""
    tr = tr or translator()
    points: list[charts.SeriesPoint] = []
    seen: set[str] = set()
    for chat_id, people in store.series_participants(hashtag_key):
        if chat_id not in took_place:
            continue
        first = len(people - seen)
        chat = took_place[chat_id]
        points.append(
            charts.SeriesPoint(
                tr.pattern(
                    chat.start.astimezone(chat.zone),
                    # Translators: a CLDR date pattern for a chart's axis: "1 Dec 2026".
                    tr.gettext("d MMM y"),
                ),
                first,
                len(people) - first,
            )
        )
        seen |= people
    return points
