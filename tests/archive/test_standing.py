"""How each step of the standing schedule reads (archive.standing): the words `tweetchat show`,
the Discord `/tweetchat show` and the web chat page share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from archive.models import Chat, Question
from archive.standing import Step, StepState, standing_lines, step_cells

NOW = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # 20:00 in Paris
M = timedelta(minutes=1)
CHAT = Chat(
    "x",
    "T",
    "#W",
    NOW,
    NOW + 60 * M,
    "Europe/Paris",
    (Question(1, "Q1?", 10 * M),),
)


@pytest.mark.parametrize(
    ("step", "cells"),
    [
        (Step("q1", "Q1", StepState.POSTED, NOW), ("20:00", "Q1", "posted at 20:00")),
        (
            Step("q1", "Q1", StepState.PARTLY, NOW + 2 * M, "x: X credits are exhausted"),
            ("20:02", "Q1", "partly posted at 20:02 (x: X credits are exhausted)"),
        ),
        (
            Step("q2", "Q2", StepState.SKIPPED, NOW + 20 * M, "skipped by t"),
            ("--:--", "Q2", "skipped (skipped by t)"),
        ),
        (
            Step("q2", "Q2", StepState.FAILED, NOW + 20 * M, "x: refused"),
            ("--:--", "Q2", "failed (x: refused)"),
        ),
        (Step("q3", "Q3", StepState.NOT_POSTED, NOW + 30 * M), ("--:--", "Q3", "not posted")),
        (Step("q3", "Q3", StepState.HELD, None), ("--:--", "Q3", "held until the chat is resumed")),
        (Step("close", "close", StepState.PENDING, NOW + 60 * M), ("21:00", "close", "pending")),
    ],
)
def test_each_state_reads_with_its_time_in_the_chats_zone(
    step: Step, cells: tuple[str, str, str]
) -> None:
    assert step_cells(CHAT, step, NOW) == cells


@pytest.mark.parametrize(
    ("ahead", "said"),
    [
        (timedelta(0), "next, going out now"),
        (timedelta(seconds=30), "next, in 30 s"),
        (timedelta(seconds=90), "next, in 2 min"),  # rounded, not cut: 1.5 min is 2
        (timedelta(minutes=59, seconds=40), "next, in 1 h"),
        (timedelta(hours=2, minutes=5), "next, in 2 h 5 min"),
        (timedelta(hours=30), "next, in 1 day"),
        (timedelta(days=3), "next, in 3 days"),
    ],
)
def test_the_next_step_says_how_soon(ahead: timedelta, said: str) -> None:
    step = Step("q1", "Q1", StepState.NEXT, NOW + ahead)
    assert step_cells(CHAT, step, NOW)[2] == said


def test_lines_align_the_labels() -> None:
    steps = [
        Step("intro", "intro", StepState.POSTED, NOW),
        Step("wrapup", "wrap-up", StepState.NEXT, NOW + 50 * M),
    ]
    assert standing_lines(CHAT, steps, NOW) == [
        "20:00  intro     posted at 20:00",
        "20:50  wrap-up   next, in 50 min",
    ]
