"""The pure timeline: keys, order, times and post texts of every action of a chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive.hashtags import has_hashtag
from archive.models import Chat, Question
from scheduler.timeline import Action, ActionKind, format_question, format_reminder, timeline

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def make_chat(**changes: object) -> Chat:
    fields: dict[str, object] = {
        "id": "wedocs-2026-12-01",
        "title": "Involving patients in QI",
        "hashtag": "#WeDocs",
        "start": START,
        "end": START + timedelta(hours=1),
        "timezone": "Europe/London",
        "questions": (
            Question(1, "How do you involve patients?", timedelta(minutes=10)),
            Question(2, "What got in the way?", timedelta(minutes=20)),
            Question(3, "Two parts: What worked?", timedelta(minutes=30), "a"),
            Question(3, "What would you change?", timedelta(minutes=30), "b"),
        ),
        "intro": "Welcome to #WeDocs!",
        "closing": "Thank you all.",
    }
    fields.update(changes)
    return Chat(**fields)  # type: ignore[arg-type]


def by_key(actions: list[Action]) -> dict[str, Action]:
    return {a.key: a for a in actions}


def test_keys_in_order() -> None:
    keys = [a.key for a in timeline(make_chat(), reminders=[timedelta(hours=1), timedelta(days=1)])]
    assert keys == [
        "remind-1440",
        "remind-60",
        "intro",
        "q1",
        "q2",
        "q3a",
        "q3b",
        "wrapup",
        "close",
        "publish",
    ]


def test_times_of_each_action() -> None:
    chat = make_chat()
    actions = by_key(timeline(chat, reminders=[timedelta(minutes=10)]))
    assert actions["remind-10"].at == START - timedelta(minutes=10)
    assert actions["intro"].at == START
    assert actions["q2"].at == START + timedelta(minutes=20)
    assert actions["wrapup"].at == chat.end - timedelta(minutes=5)
    assert actions["close"].at == chat.end
    assert actions["publish"].at == chat.end + timedelta(minutes=30)


def test_kinds_and_question_keys() -> None:
    actions = by_key(timeline(make_chat(), reminders=[timedelta(hours=1)]))
    assert actions["remind-60"].kind is ActionKind.REMIND
    assert actions["q3b"].kind is ActionKind.QUESTION
    assert actions["q3b"].question_keys == ("3b",)
    assert actions["intro"].question_keys == ()


def test_sub_parts_share_their_time_and_keep_their_order() -> None:
    actions = timeline(make_chat())
    parts = [a for a in actions if a.key in ("q3a", "q3b")]
    assert [a.key for a in parts] == ["q3a", "q3b"]
    assert parts[0].at == parts[1].at


def test_every_post_text_includes_the_hashtag() -> None:
    chat = make_chat(intro="", closing="")
    for action in timeline(chat, reminders=[timedelta(hours=1)]):
        if action.kind is not ActionKind.PUBLISH:
            assert has_hashtag(action.text, "#WeDocs"), action


def test_publish_has_no_text() -> None:
    assert by_key(timeline(make_chat()))["publish"].text == ""


def test_wrapup_is_omitted_when_the_last_question_is_too_late() -> None:
    late = Question(4, "Last one?", timedelta(minutes=56))
    chat = make_chat(questions=(*make_chat().questions, late))
    assert "wrapup" not in by_key(timeline(chat))


def test_wrapup_text_says_five_minutes_left() -> None:
    assert by_key(timeline(make_chat()))["wrapup"].text.startswith(
        "Last question done — 5 minutes left"
    )


def test_intro_says_how_to_answer() -> None:
    text = by_key(timeline(make_chat()))["intro"].text
    assert text.startswith("Welcome to #WeDocs!")
    assert "Reply with A1, A2… and #WeDocs" in text


def test_close_has_the_closing_and_transcript_note() -> None:
    text = by_key(timeline(make_chat()))["close"].text
    assert text.startswith("Thank you all.")
    assert "Transcript to follow" in text


def test_question_text_gets_label_and_hashtag() -> None:
    chat = make_chat()
    assert format_question(chat, chat.questions[0]) == "Q1: How do you involve patients? #WeDocs"


def test_question_with_hashtag_is_not_tagged_twice() -> None:
    q = Question(1, "What brings you to #wedocs tonight?", timedelta(minutes=5))
    assert format_question(make_chat(), q) == "Q1: What brings you to #wedocs tonight?"


def test_a_longer_tag_does_not_count_as_the_hashtag() -> None:
    q = Question(1, "Seen #WeDocsChat?", timedelta(minutes=5))
    assert format_question(make_chat(), q).endswith("#WeDocsChat? #WeDocs")


@pytest.mark.parametrize(
    ("lead", "relative"),
    [
        (timedelta(days=1), "in 1 day"),
        (timedelta(hours=1), "in 1 hour"),
        (timedelta(minutes=90), "in 1 hour 30 minutes"),
        (timedelta(minutes=10), "in 10 minutes"),
    ],
)
def test_reminder_says_how_long_until(lead: timedelta, relative: str) -> None:
    assert relative in format_reminder(make_chat(), lead)


def test_reminder_gives_topic_local_time_and_how_to_take_part() -> None:
    text = format_reminder(make_chat(), timedelta(hours=1))
    assert "Involving patients in QI" in text
    assert "Tue 1 Dec, 20:00 GMT" in text
    assert "A1, A2…" in text
    assert "#WeDocs" in text


def test_reminder_time_in_summer_uses_the_summer_zone() -> None:
    start = datetime(2027, 7, 6, 19, 0, tzinfo=UTC)
    chat = make_chat(start=start, end=start + timedelta(hours=1))
    assert "Tue 6 Jul, 20:00 BST" in format_reminder(chat, timedelta(hours=1))


@pytest.mark.parametrize(
    ("zone", "start", "local"),
    [
        ("Europe/London", datetime(2027, 3, 28, 19, 0, tzinfo=UTC), "Sun 28 Mar, 20:00 BST"),
        ("Europe/London", datetime(2027, 10, 31, 20, 0, tzinfo=UTC), "Sun 31 Oct, 20:00 GMT"),
        ("America/New_York", datetime(2027, 3, 15, 0, 0, tzinfo=UTC), "Sun 14 Mar, 20:00 EDT"),
        ("America/New_York", datetime(2027, 11, 8, 1, 0, tzinfo=UTC), "Sun 7 Nov, 20:00 EST"),
    ],
)
def test_dst_change_day_chat_is_shown_at_its_local_time(
    zone: str, start: datetime, local: str
) -> None:
    chat = make_chat(start=start, end=start + timedelta(hours=1), timezone=zone)
    assert local in format_reminder(chat, timedelta(hours=1))


def test_dst_change_day_timeline_keeps_local_offsets() -> None:
    # 20:00 BST on the London spring-forward day: questions follow in UTC, an hour earlier.
    start = datetime(2027, 3, 28, 19, 0, tzinfo=UTC)
    chat = make_chat(start=start, end=start + timedelta(hours=1))
    q1 = by_key(timeline(chat))["q1"]
    assert q1.at.astimezone(chat.zone).strftime("%H:%M %Z") == "20:10 BST"


def test_duplicate_reminders_count_once() -> None:
    keys = [a.key for a in timeline(make_chat(), reminders=[timedelta(hours=1)] * 2)]
    assert keys.count("remind-60") == 1


def test_shift_delays_only_its_action_and_reorders() -> None:
    actions = timeline(make_chat(), shifts={"q1": timedelta(minutes=15)})
    assert by_key(actions)["q1"].at == START + timedelta(minutes=25)
    keys = [a.key for a in actions]
    assert keys.index("q2") < keys.index("q1")
    assert by_key(actions)["q2"].at == START + timedelta(minutes=20)


def test_unknown_shift_keys_are_ignored() -> None:
    assert timeline(make_chat(), shifts={"q9": timedelta(minutes=5)}) == timeline(make_chat())
