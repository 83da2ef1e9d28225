"""How each step of the standing schedule reads (archive.standing): the words `tweetchat show`,
the Discord `/tweetchat show` and the web chat page share."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from archive.i18n import translator
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
    # The web page of an English chat reads as `tweetchat show`.
    assert step_cells(CHAT, step, NOW, translator("en")) == cells


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


@pytest.mark.parametrize(
    ("language", "step", "cells"),
    [
        (
            "fr",
            Step("intro", "intro", StepState.POSTED, NOW),
            ("20 h 00", "introduction", "publiée à 20 h 00"),
        ),
        (
            "fr",
            Step("q2", "Q2", StepState.FAILED, NOW, "x: outcome unknown after a restart; y"),
            ("-- h --", "Q2", "échec (x : résultat inconnu après un redémarrage; y)"),
        ),
        (
            "fr",
            Step("q2", "Q2", StepState.POSTING, NOW, "x: retrying after HTTP 503"),
            (
                "20 h 00",
                "Q2",
                "publication en cours (x : nouvel essai à venir après l’erreur : HTTP 503)",
            ),
        ),
        (
            "cy",
            Step("wrapup", "wrap-up", StepState.NEXT, NOW + timedelta(days=2)),
            ("20:00", "crynhoi", "nesaf, ymhen 2 ddiwrnod"),
        ),
        (
            "cy",
            Step("q3", "C3", StepState.SKIPPED, NOW, "time passed while the bot was offline"),
            ("--:--", "C3", "hepgorwyd (aeth yr amser heibio tra oedd y bot all-lein)"),
        ),
        (
            "cy",
            Step("q3", "C3", StepState.HELD, None),
            ("--:--", "C3", "wedi’i ddal yn ôl nes i’r sgwrs ailddechrau"),
        ),
    ],
)
def test_the_web_words_each_state_in_the_chats_language(
    language: str, step: Step, cells: tuple[str, str, str]
) -> None:
    chat = replace(CHAT, language=language)
    assert step_cells(chat, step, NOW, translator(language)) == cells
    assert step_cells(chat, step, NOW)[2].startswith(str(step.state).split(" ")[0])  # show: English


def test_lines_align_the_labels() -> None:
    steps = [
        Step("intro", "intro", StepState.POSTED, NOW),
        Step("wrapup", "wrap-up", StepState.NEXT, NOW + 50 * M),
    ]
    assert standing_lines(CHAT, steps, NOW) == [
        "20:00  intro     posted at 20:00",
        "20:50  wrap-up   next, in 50 min",
    ]
