"""Server-side SVG charts: well-formed, labelled for screen readers, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from archive.models import CapturedMessage, Chat, MessageKind, Question
from archive.stats import compute_stats
from archive.web.charts import (
    SeriesPoint,
    activity_chart,
    answers_chart,
    contributors_chart,
    participation_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2026, 2, 3, 20, 0, tzinfo=UTC)
CHAT = Chat(
    id="c",
    title="t",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(hours=1),
    timezone="Europe/London",
    questions=(Question(1, "q1", timedelta(minutes=10)), Question(2, "q2", timedelta(minutes=20))),
)


def _msg(i: int, author: str, minute: int, key: str = "1") -> CapturedMessage:
    return CapturedMessage(
        chat_id="c",
        platform="local",
        platform_id=str(i),
        author_id=author,
        author_name=author,
        author_handle=author,
        text="A" + key,
        created_at=START + timedelta(minutes=minute),
        kind=MessageKind.ANSWER,
        question_keys=(key,),
    )


STATS = compute_stats(
    CHAT,
    [_msg(1, "<b>Ann</b>", 11), _msg(2, "bo", 12), _msg(3, "bo", 21, "2"), _msg(4, "cy", 12)],
)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_every_chart_is_an_img_with_title_and_desc() -> None:
    for svg in (
        activity_chart(CHAT, STATS),
        answers_chart(CHAT, STATS),
        contributors_chart(STATS),
        participation_chart([SeriesPoint("1 Jan", 3, 2)]),
    ):
        root = _parse(svg)
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text
        assert desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_answers_chart_describes_each_question() -> None:
    desc = _parse(answers_chart(CHAT, STATS)).findtext(f"{SVG}desc")
    assert desc == "Q1: 3 answers; Q2: 1 answer."


def test_bars_scale_to_the_largest_value() -> None:
    widths = [
        float(r.get("width", "0")) for r in _parse(answers_chart(CHAT, STATS)).iter(f"{SVG}rect")
    ]
    assert widths[0] == pytest.approx(3 * widths[1], abs=0.2)


def test_contributor_names_are_escaped() -> None:
    svg = contributors_chart(STATS)
    assert "<b>" not in svg
    assert "<b>Ann</b>" in (_parse(svg).findtext(f"{SVG}desc") or "")


def test_activity_chart_marks_questions_and_busiest_minute() -> None:
    root = _parse(activity_chart(CHAT, STATS))
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "Q1" in labels and "Q2" in labels
    assert "busiest minute 20:12 with 2 messages" in (root.findtext(f"{SVG}desc") or "")


def test_participation_chart_stacks_first_time_under_returning() -> None:
    root = _parse(participation_chart([SeriesPoint("1 Jan", 3, 1)]))
    bars = [r for r in root.iter(f"{SVG}rect") if float(r.get("height", "0")) > 10]
    first, returning = bars
    assert float(returning.get("y", "0")) + float(returning.get("height", "0")) == float(
        first.get("y", "0")
    )


def test_empty_series_still_renders_a_described_chart() -> None:
    assert _parse(participation_chart([])).findtext(f"{SVG}desc") == "No chats yet."
