"""A chat's schedule as it now stands, as data and as the words a host or reader sees.

The vocabulary (`Step`, `StepState`) and its wording (`step_cells`, `standing_lines`) live
here, on the ground floor, so that every place that shows the schedule says the same thing:
`tweetchat show`, the Discord `/tweetchat show` and the web archive's chat page. Computing
the steps needs the chat's timeline with the host's controls applied, which is the
scheduler's (``scheduler.standing.chat_standing``); the web archive, which may not import
the scheduler, is handed that function as a `ScheduleSource` by whoever starts it (bot/).
Everything here is pure.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from archive.models import Chat

if TYPE_CHECKING:
    from archive.store import Store


class StepState(enum.StrEnum):
    POSTED = "posted"  # every target accepted it (at = the earliest post)
    PARTLY = "partly posted"  # some targets did, others failed or were skipped
    SKIPPED = "skipped"
    FAILED = "failed"
    POSTING = "posting"  # the intent is recorded; the network call is under way
    NEXT = "next"  # the first step still to come
    PENDING = "pending"
    HELD = "held"  # waiting for `resume`
    CANCELLED = "cancelled"  # the chat was cancelled before it happened
    NOT_POSTED = "not posted"  # the chat is over and this never went out
    DONE = "done"  # publish: the transcript is out


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a chat's life as it stands: an action key (``intro``, ``q2``...), the
    label a host reads (``intro``, ``Q2``, ``wrap-up``), its state, when it went out, is
    due or (skipped, failed) was due (aware; None while held), and why it was skipped or
    failed (per platform where they differ)."""

    key: str
    label: str
    state: StepState
    at: datetime | None
    note: str = ""


ScheduleSource = Callable[["Store", Chat, datetime], Sequence[Step]]
"""How the web archive learns a chat's standing schedule: ``(store, chat, now) -> steps`` in
time order, reading only (it runs on the web's read-only connections). bot/ passes
``scheduler.standing.chat_standing`` with the configured wrap-up lead."""


def step_cells(chat: Chat, step: Step, now: datetime) -> tuple[str, str, str]:
    """(time, label, state) of one step for a host or reader: ``("20:14", "Q2", "posted at
    20:14")``, ``("20:19", "Q3", "next, in 6 min")``, ``("--:--", "Q4", "skipped (...)")``;
    times in the chat's zone, "in ..." counted from ``now``."""
    when = _clock(chat, step.at) if step.at is not None else "--:--"
    state = str(step.state)
    if step.state in (StepState.POSTED, StepState.PARTLY):
        state += f" at {when}"
    elif step.state == StepState.NEXT and step.at is not None:
        state = f"next, {_until(step.at - now)}"
    elif step.state == StepState.HELD:
        state = "held until the chat is resumed"
    elif step.state in (StepState.SKIPPED, StepState.FAILED, StepState.NOT_POSTED):
        when = "--:--"  # it never went out
    if step.note:
        state += f" ({step.note})"
    return when, step.label, state


def standing_lines(chat: Chat, steps: Sequence[Step], now: datetime) -> list[str]:
    """One line per step for a host: ``20:14  Q2        posted at 20:14``, in the chat's zone."""
    lines = []
    for step in steps:
        when, label, state = step_cells(chat, step, now)
        lines.append(f"{when}  {label:<9} {state}")
    return lines


def _clock(chat: Chat, at: datetime) -> str:
    return at.astimezone(chat.zone).strftime("%H:%M")


def _until(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "going out now"
    if seconds < 60:
        return f"in {seconds} s"
    if seconds < 24 * 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        if not hours:
            return f"in {minutes} min"
        return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"
    days = round(seconds / 86400)
    return f"in {days} day{'' if days == 1 else 's'}"
