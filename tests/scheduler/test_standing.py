"""The schedule as it stands (pure): the shifted timeline and the ledger, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from archive.models import Chat, ChatStatus, Post, PostStatus, Question
from scheduler.controls import compute_shifts
from scheduler.standing import StepState, standing, standing_lines
from scheduler.timeline import timeline

S = datetime(2026, 12, 1, 20, tzinfo=UTC)
M = timedelta(minutes=1)


def chat(status: ChatStatus = ChatStatus.LIVE) -> Chat:
    questions = tuple(Question(i, f"Q{i}?", 10 * i * M) for i in (1, 2, 3))
    return Chat("x", "T", "#W", S, S + 60 * M, "UTC", questions, status=status)


def sent(key: str, at: datetime) -> Post:
    return Post("x", key, "local", "main", status=PostStatus.SENT, posted_at=at)


def test_a_paused_chat_lists_held_questions_in_their_place_and_the_close_next() -> None:
    c = chat()
    actions = timeline(c, shifts=compute_shifts(timeline(c), [(S + 15 * M, "pause", "")]))
    posts = [sent("intro", S), sent("q1", S + 10 * M + 3 * timedelta(seconds=1))]
    lines = standing_lines(c, standing(c, actions, posts, S + 16 * M), S + 16 * M)
    assert lines == [
        "20:00  intro     posted at 20:00",
        "20:10  Q1        posted at 20:10",
        "--:--  Q2        held until the chat is resumed",
        "--:--  Q3        held until the chat is resumed",
        "--:--  wrap-up   held until the chat is resumed",
        "21:00  close     next, in 44 min",
        "21:30  publish   pending",
    ]


def test_a_question_brought_forward_shows_when_it_really_went_out() -> None:
    c = chat()
    actions = timeline(c, shifts=compute_shifts(timeline(c), [(S + 12 * M, "next", "Q2")]))
    skipped = Post("x", "q3", "local", "main", status=PostStatus.SKIPPED, error="skipped by t")
    steps = standing(c, actions, [sent("q1", S + 10 * M), sent("q2", S + 12 * M), skipped], S)
    by_key = {s.key: s for s in steps}
    assert by_key["q2"].at == S + 12 * M and by_key["q2"].state == StepState.POSTED
    assert by_key["q3"].state == StepState.SKIPPED and by_key["q3"].note == "skipped by t"
    assert [s.key for s in steps] == ["intro", "q1", "q2", "q3", "wrapup", "close", "publish"]


def test_a_cancelled_chat_lists_nothing_as_next() -> None:
    c = chat(ChatStatus.CANCELLED)
    assert {s.state for s in standing(c, timeline(c), [], S)} == {StepState.CANCELLED}


def test_a_post_being_tried_again_shows_why_and_one_refused_for_good_shows_the_refusal() -> None:
    c = chat()
    retrying = Post("x", "q1", "x", "", status=PostStatus.INTENT, error="X server error: 503")
    refused = Post("x", "q2", "x", "", status=PostStatus.FAILED, error="X credits are exhausted")
    steps = {s.key: s for s in standing(c, timeline(c), [retrying, refused], S + 25 * M)}
    assert steps["q1"].state == StepState.POSTING
    assert steps["q1"].note == "x: retrying after X server error: 503"
    assert steps["q2"].state == StepState.FAILED
    assert steps["q2"].note == "x: X credits are exhausted"
