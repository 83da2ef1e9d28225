"""A chat's label convention in its chat file ([labels]) and in every post the bot makes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from archive.labels import Labels
from bot.platforms.x.length import post_limit as x_post_limit
from scheduler.plan import PlanError, parse_chat_plan
from scheduler.standing import label_of
from scheduler.timeline import ActionKind, format_reminder, timeline
from tests.scheduler.test_plan import base, problems_of, with_

FRENCH = Labels("Q", "R")
WELSH = Labels("C", "A")
TOPICS = Labels("T", "T")


def texts(data: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    chat = parse_chat_plan(data, **kwargs).chat
    return {a.key: a.text for a in timeline(chat, reminders=[timedelta(hours=1)])}


def test_a_file_without_labels_has_the_configs_default_convention() -> None:
    assert parse_chat_plan(base()).chat.labels == Labels("Q", "A")
    assert parse_chat_plan(base(), default_labels=WELSH).chat.labels == WELSH


@pytest.mark.parametrize(
    ("table", "labels"),
    [
        ({"question": "Q", "answer": "R"}, FRENCH),
        ({"question": "c", "answer": "a"}, WELSH),
        ({"answer": "R"}, FRENCH),  # the other letter is the default's
        ({"question": "T", "answer": "T"}, TOPICS),
        ({}, Labels()),
    ],
)
def test_the_labels_table_sets_the_convention(table: dict[str, str], labels: Labels) -> None:
    assert parse_chat_plan(with_({"labels": table})).chat.labels == labels


def test_a_files_labels_win_over_the_default() -> None:
    data = with_({"labels": {"answer": "R"}})
    assert parse_chat_plan(data, default_labels=WELSH).chat.labels == Labels("C", "R")


@pytest.mark.parametrize(
    ("labels", "path", "message"),
    [
        ({"answer": "R1"}, "labels.answer", 'give the letter alone, "R"'),
        ({"question": "Qu"}, "labels.question", 'expected one letter, like "Q" or "R", not "Qu"'),
        ({"question": 1}, "labels.question", "expected one letter in quotes"),
        ({"anser": "R"}, "labels", 'unknown key "anser" (did you mean "answer"?)'),
        ("Q/R", "labels", "expected a table like [labels]"),
    ],
)
def test_bad_labels_are_named_with_their_place(labels: object, path: str, message: str) -> None:
    found = problems_of(with_({"labels": labels}))
    assert any(p.path == path and message in p.message for p in found), found


def test_problems_name_questions_in_the_chats_own_letter() -> None:
    data = with_({"labels": {"question": "C"}, "questions": [{"text": "Un?"}, {"offset": "x"}]})
    with pytest.raises(PlanError) as info:
        parse_chat_plan(data)
    assert "questions[1].offset (C2): " in str(info.value)


def test_a_french_chat_posts_q_and_asks_for_r_answers() -> None:
    posts = texts(with_({"labels": {"question": "Q", "answer": "R"}}))
    assert posts["q1"] == "Q1: How do you involve patients? #WeDocs"
    assert "Reply with R1, R2… and #WeDocs" in posts["intro"]
    assert "answer with R1, R2… plus #WeDocs" in posts["remind-60"]
    assert "A1" not in posts["intro"] + posts["remind-60"]


def test_a_welsh_chat_posts_c_questions_and_asks_for_a_answers() -> None:
    posts = texts(with_({"labels": {"question": "C", "answer": "A"}}))
    assert posts["q2"] == "C2: What got in the way? #WeDocs"
    assert "Reply with A1, A2… and #WeDocs" in posts["intro"]


def test_a_topic_chat_posts_topics_and_asks_for_their_own_labels() -> None:
    posts = texts(with_({"labels": {"question": "T", "answer": "T"}}))
    assert posts["q1"].startswith("T1: How do you involve patients?")
    assert "Reply with T1, T2… and #WeDocs" in posts["intro"]


def test_the_length_check_counts_the_chats_own_label() -> None:
    """A question that fits X as "Q1: " fits as "C1: " too; the post checked is the one posted."""
    text = "w" * (280 - len("C1: ") - len(" #WeDocs"))
    data = with_({"labels": {"question": "C"}, "targets": [{"platform": "x"}], "questions": [text]})
    chat = parse_chat_plan(data, post_limits={"x": x_post_limit()}).chat
    posted = next(a.text for a in timeline(chat) if a.kind == ActionKind.QUESTION)
    assert posted.startswith("C1: ") and len(posted) == 280


def test_hosts_read_questions_in_the_chats_letter() -> None:
    chat = parse_chat_plan(with_({"labels": {"question": "C"}})).chat
    question = next(a for a in timeline(chat) if a.kind == ActionKind.QUESTION)
    assert label_of(question, chat.labels) == "C1"
    assert label_of(question) == "Q1"


def test_reminders_of_an_english_chat_are_unchanged() -> None:
    chat = parse_chat_plan(base()).chat
    assert "answer with A1, A2… plus #WeDocs." in format_reminder(chat, timedelta(hours=1))
