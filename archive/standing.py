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
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from archive.i18n import Translator
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


def step_cells(
    chat: Chat, step: Step, now: datetime, tr: Translator | None = None
) -> tuple[str, str, str]:
    """(time, label, state) of one step for a host or reader: ``("20:14", "Q2", "posted at
    20:14")``, ``("20:19", "Q3", "next, in 6 min")``, ``("--:--", "Q4", "skipped (...)")``;
    times in the chat's zone, "in ..." counted from ``now``.

    Without ``tr``, English as `tweetchat show` and Discord's ``/tweetchat show`` write it.
    With ``tr`` (the chat's page in the web archive, in the chat's language), the states,
    the bot's own step names and reasons (``skipped by cli:jane``, ``time passed while the
    bot was offline``...) and the times are in ``tr``'s language (``publiée à 20 h 05``,
    ``-- h --``); a network's own error in a note is quoted as it came, in English.
    """
    if tr is None:
        return _english_cells(chat, step, now)
    t = tr.gettext
    local = step.at.astimezone(chat.zone) if step.at is not None else None
    untimed = re.sub(r"\d", "-", tr.clock(now.astimezone(chat.zone)))
    when = tr.clock(local) if local is not None else untimed
    names = _state_names(tr)
    state = names.get(step.state, str(step.state))
    if step.state == StepState.POSTED:
        state = t("posted at {time}").format(time=when)
    elif step.state == StepState.PARTLY:
        state = t("partly posted at {time}").format(time=when)
    elif step.state == StepState.NEXT and step.at is not None:
        state = t("next, {when}").format(when=_until_in(step.at - now, tr))
    elif step.state == StepState.HELD:
        state = t("held until the chat is resumed")
    elif step.state in (StepState.SKIPPED, StepState.FAILED, StepState.NOT_POSTED):
        when = untimed  # it never went out
    if step.note:
        state += f" ({_note_in(step.note, tr)})"
    return when, _label_in(step.label, tr), state


def _english_cells(chat: Chat, step: Step, now: datetime) -> tuple[str, str, str]:
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


def _state_names(tr: Translator) -> dict[StepState, str]:
    """Each state as a reader sees it, alone (a step: a question, the intro...)."""
    return {
        StepState.POSTED: tr.pgettext("schedule step", "posted"),
        StepState.PARTLY: tr.pgettext("schedule step", "partly posted"),
        StepState.SKIPPED: tr.pgettext("schedule step", "skipped"),
        StepState.FAILED: tr.pgettext("schedule step", "failed"),
        StepState.POSTING: tr.pgettext("schedule step", "posting"),
        StepState.NEXT: tr.pgettext("schedule step", "next"),
        StepState.PENDING: tr.pgettext("schedule step", "pending"),
        StepState.HELD: tr.pgettext("schedule step", "held"),
        StepState.CANCELLED: tr.pgettext("schedule step", "cancelled"),
        StepState.NOT_POSTED: tr.pgettext("schedule step", "not posted"),
        StepState.DONE: tr.pgettext("schedule step", "done"),
    }


def _label_in(label: str, tr: Translator) -> str:
    """A step's name in ``tr``'s language: the bot's own steps (``intro``, ``wrap-up``...)
    are translated; a question's label is the chat's own (``Q2``, ``C2``)."""
    names = {
        "intro": tr.pgettext("schedule step name", "intro"),
        "reminder": tr.pgettext("schedule step name", "reminder"),
        "wrap-up": tr.pgettext("schedule step name", "wrap-up"),
        "close": tr.pgettext("schedule step name", "close"),
        "publish": tr.pgettext("schedule step name", "publish"),
    }
    return names.get(label, label)


# The reasons the bot itself records (scheduler.controls, scheduler.runner, the facilitator),
# each piece of a note joined with "; ", optionally after "platform: ".
_PLATFORM = re.compile(r"^([a-z][a-z0-9_-]*): (.+)$", re.DOTALL)
_RETRYING = re.compile(r"^retrying after (.+)$", re.DOTALL)
_SKIPPED_BY = re.compile(r"^skipped by (.+)$", re.DOTALL)


def _note_in(note: str, tr: Translator) -> str:
    """A step's note with the bot's own recorded reasons in ``tr``'s language; anything
    else (a network's error) as recorded."""
    return "; ".join(_reason_in(piece, tr, platform_prefix=True) for piece in note.split("; "))


def _reason_in(reason: str, tr: Translator, *, platform_prefix: bool = False) -> str:
    t = tr.gettext
    known = {
        "chat ended early": t("chat ended early"),
        "time passed while the bot was offline": t("time passed while the bot was offline"),
        "time passed late": t("time passed late"),
        "reminder time passed while the bot was offline": t(
            "reminder time passed while the bot was offline"
        ),
        "reminder time passed late": t("reminder time passed late"),
        "it may have gone out before a crash": t("it may have gone out before a crash"),
        "outcome unknown after a restart": t("outcome unknown after a restart"),
        "not reposted to avoid a duplicate": t("not reposted to avoid a duplicate"),
        "failed": tr.pgettext("schedule step", "failed"),
        "skipped": tr.pgettext("schedule step", "skipped"),
    }
    if reason in known:
        return known[reason]
    if (found := _SKIPPED_BY.match(reason)) is not None:
        return t("skipped by {who}").format(who=found.group(1))
    if (found := _RETRYING.match(reason)) is not None:
        return t("retrying after {error}").format(error=found.group(1))
    if platform_prefix and (found := _PLATFORM.match(reason)) is not None:
        platform, rest = found.groups()
        # Translators: one network's part of a step's note: "x: skipped by cli:jane".
        return t("{platform}: {reason}").format(platform=platform, reason=_reason_in(rest, tr))
    return reason


def _until_in(delta: timedelta, tr: Translator) -> str:
    """`_until` in ``tr``'s language."""
    t = tr.gettext
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return t("going out now")
    if seconds < 60:
        # Translators: how soon the next step goes out, in seconds (abbreviated).
        return t("in {n} s").format(n=tr.number(seconds))
    if seconds < 24 * 3600:
        hours, minutes = divmod(round(seconds / 60), 60)
        if not hours:
            return t("in {minutes} min").format(minutes=tr.number(minutes))
        if minutes:
            return t("in {hours} h {minutes} min").format(
                hours=tr.number(hours), minutes=tr.number(minutes)
            )
        return t("in {hours} h").format(hours=tr.number(hours))
    days = round(seconds / 86400)
    return tr.ngettext("in {n} day", "in {n} days", days).format(n=tr.number(days))


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
