"""Transcripts, feeds and web charts in the chat's own label letters (French Q/R, Welsh C/A,
topic chats T/T); the English golden files cover Q/A byte for byte."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from archive.labels import Labels
from archive.models import CapturedMessage, Chat
from archive.transcripts import render_json
from archive.transcripts.lists import TranscriptLists
from archive.web.charts import activity_chart, answers_chart
from archive.web.feeds import event_description, how_to_answer
from tests.archive.test_transcripts import (
    CHAT,
    CONTROLS,
    COST,
    MESSAGES,
    OPTED_OUT,
    POSTED,
    html_of,
    markdown_of,
    stats_of,
)

FRENCH = Labels("Q", "R")
WELSH = Labels("C", "A")
TOPICS = Labels("T", "T")


def relabelled(labels: Labels) -> tuple[Chat, list[CapturedMessage]]:
    """The golden chat in another convention, its messages written in that convention's
    letters (the bot's questions ``C1: ...``, the answers ``R1 ...``)."""

    def swap(m: CapturedMessage) -> CapturedMessage:
        text = re.sub(r"\bQ(?=\d)", labels.question, m.text)
        text = re.sub(r"\bA(?=\d)", labels.answer, text)
        return replace(m, text=text)

    return replace(CHAT, labels=labels), [swap(m) for m in MESSAGES]


@pytest.mark.parametrize(
    ("labels", "question", "late"),
    [(FRENCH, "Q", "R"), (WELSH, "C", "A"), (TOPICS, "T", "T")],
)
def test_markdown_names_questions_and_late_answers_in_the_chats_letters(
    labels: Labels, question: str, late: str
) -> None:
    chat, messages = relabelled(labels)
    md = markdown_of(chat, messages)
    for n, text in enumerate(q.text for q in CHAT.questions):
        assert f"## {question}{n + 1} · {text}" in md
        assert f"| {question}{n + 1} | " in md  # the per-question summary table
    assert f"| Busiest question | {question}" in md
    assert f"- {late}3 · " not in md  # the prefix goes after the anchor
    assert re.search(rf'<a id="m-x-15"></a>{late}3 · ', md), md
    if question != "Q":
        assert "## Q1" not in md and "| Q1 |" not in md


def test_html_shows_the_chats_labels() -> None:
    chat, messages = relabelled(WELSH)
    html = html_of(chat, messages)
    assert "C1 · How do you involve patients in QI?" in html
    assert "Q1 ·" not in html


def test_json_labels_questions_in_the_chats_letter() -> None:
    chat, messages = relabelled(FRENCH)
    welsh = replace(chat, labels=WELSH)
    for which, letter in ((chat, "Q"), (welsh, "C")):
        data = json.loads(
            render_json(
                which,
                messages,
                stats_of(which, messages),
                opted_out=OPTED_OUT,
                question_posted_at=POSTED,
                controls=CONTROLS,
                cost_note=COST,
            )
        )
        assert [q["label"] for q in data["chat"]["questions"]] == [
            f"{letter}1",
            f"{letter}2",
            f"{letter}3",
        ]


def test_a_late_answers_label_keeps_the_direct_html_rendering() -> None:
    """The late list's prefix ("R3") is plain text: items render straight to HTML."""
    chat, messages = relabelled(FRENCH)
    lists = TranscriptLists(chat, hide=set(), opted_out=frozenset(), network=True, html=True)
    for m in messages:
        lists.add(m)
    assert lists.html_direct
    late = "".join(lists.late.html_chunks())
    assert "R3 · " in late


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (Labels(), "(A1 for Q1, A2 for Q2…)"),
        (FRENCH, "(R1 for Q1, R2 for Q2…)"),
        (WELSH, "(A1 for C1, A2 for C2…)"),
        (TOPICS, "start each answer with its topic's label (T1, T2…)"),
    ],
)
def test_feeds_say_how_to_answer_in_the_chats_letters(labels: Labels, expected: str) -> None:
    chat = replace(CHAT, labels=labels)
    assert expected in how_to_answer(chat)
    assert f"{labels.question}2: What got in the way?" in event_description(chat)


def test_charts_label_questions_in_the_chats_letter() -> None:
    chat, messages = relabelled(WELSH)
    stats = stats_of(chat, messages)
    answers = answers_chart(chat, stats)
    assert ">C1</text>" in answers and ">Q1</text>" not in answers
    assert ">C2</text>" in activity_chart(chat, stats)
