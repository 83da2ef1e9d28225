"""Host controls: next, pause, resume, extend, end, skip, start now, cancel.

One control API for every way a host steers a chat (the CLI and the Discord commands).
A control is *recorded* in the store with when and by whom (it shows in the transcript's
timeline) and, where it moves the end or changes the status, updates the chat row; the question clock is then derived purely from the
recorded controls by `compute_shifts`, so a restart rebuilds exactly the same schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from archive.labels import label_key
from archive.models import Chat, ChatStatus
from archive.store import Store
from scheduler.timeline import WRAPUP_LEAD, Action, ActionKind, timeline

# A paused question clock holds the remaining questions this far in the future.
HELD = timedelta(days=3650)
CONTROLS = ("start", "next", "pause", "resume", "extend", "end", "skip", "cancel")
# Chats a host may cancel; the recorded control is "cancelled" (what earlier versions wrote).
CANCELLABLE = (ChatStatus.SCHEDULED, ChatStatus.LIVE)
MOVABLE = (ActionKind.QUESTION, ActionKind.WRAPUP)


class ControlError(Exception):
    """The control cannot apply (chat not live, nothing left to skip...); nothing changed."""


def compute_shifts(
    actions: Sequence[Action], controls: Sequence[tuple[datetime, str, str]]
) -> dict[str, timedelta]:
    """Per-action delays implied by the recorded controls (pure).

    `actions` is the unshifted timeline; `controls` are (at, kind, detail) in time order.
    - next at t, detail ``Q3`` (``C3`` in a Welsh chat: the question's label in the chat's
      letter): the question the host was told about moves to t,
      and every question (and the wrap-up) after it moves with it. The detail names the
      question, so a skipped question still ahead in time is never the one moved.
    - pause at t: questions still ahead are held; resume at t2 releases them, delayed by
      the pause's length.
    Other controls (extend, end, skip, start) act on the chat row or on posts instead.
    """
    shift: dict[str, timedelta] = {a.key: timedelta(0) for a in actions if a.kind in MOVABLE}
    base = {a.key: a.at for a in actions if a.kind in MOVABLE}
    order = [a.key for a in actions if a.kind in MOVABLE]
    paused_at: datetime | None = None

    def ahead(t: datetime) -> list[str]:
        return [k for k in order if base[k] + shift[k] > t]

    for at, kind, detail in controls:
        if kind == "next" and paused_at is None:
            key = label_key(detail)
            named = f"q{key}" if key is not None else ""
            if named not in base:  # no question named: the first question still ahead
                named = next((k for k in ahead(at) if k.startswith("q")), "")
            if named and base[named] + shift[named] > at:
                delta = at - (base[named] + shift[named])
                for k in order[order.index(named) :]:
                    shift[k] += delta
        elif kind == "pause" and paused_at is None:
            paused_at = at
        elif kind == "resume" and paused_at is not None:
            for k in ahead(paused_at):
                shift[k] += at - paused_at
            paused_at = None
    if paused_at is not None:
        for k in ahead(paused_at):
            shift[k] += HELD
    return {k: v for k, v in shift.items() if v}


def chat_actions(store: Store, chat: Chat, *, wrapup_lead: timedelta = WRAPUP_LEAD) -> list[Action]:
    """The chat's timeline with the recorded controls applied."""
    reminders = store.chat_reminders(chat.id)
    plain = timeline(chat, reminders=reminders, wrapup_lead=wrapup_lead)
    recorded = [(at, kind, detail) for at, kind, detail, _by in store.controls(chat.id)]
    return timeline(
        chat,
        reminders=reminders,
        shifts=compute_shifts(plain, recorded),
        wrapup_lead=wrapup_lead,
    )


def _pending_questions(store: Store, chat: Chat) -> list[Action]:
    # Any post row (an intent, or sent, failed or skipped) means the question was handled.
    done = {p.action_key for p in store.posts(chat.id)}
    return [
        a for a in chat_actions(store, chat) if a.kind == ActionKind.QUESTION and a.key not in done
    ]


def _upcoming_questions(store: Store, chat: Chat, now: datetime) -> list[Action]:
    """Questions not handled and not yet due: a question already due (brought forward by
    `next`, or on its time) is going out now, so `next` and `skip` act on the one after."""
    return [a for a in _pending_questions(store, chat) if a.at > now]


def _is_paused(store: Store, chat: Chat) -> bool:
    paused = False
    for _at, kind, _detail, _by in store.controls(chat.id):
        if kind == "pause":
            paused = True
        elif kind == "resume":
            paused = False
    return paused


def apply_control(
    store: Store, chat_ref: str, kind: str, *, now: datetime, by: str, minutes: int = 0
) -> str:
    """Apply one control to the chat ``chat_ref`` (an id or a unique prefix); returns what
    happened, in words for the host.

    ``now`` (aware) is when, ``by`` who (``cli:jane``, ``discord:123``); both are recorded.
    ``minutes`` is for ``extend`` only. Raises ControlError (nothing changed) when the control
    does not fit the chat's state, and the store's NotFoundError for an unknown chat.
    """
    if kind not in CONTROLS:
        raise ControlError(f"unknown control {kind!r}; use one of {', '.join(CONTROLS)}")
    chat = store.find_chat(chat_ref)
    if kind == "start":
        return _start_now(store, chat, now=now, by=by)
    if kind == "cancel":
        return _cancel(store, chat, now=now, by=by)
    if chat.status != ChatStatus.LIVE or now >= chat.end:
        state = (
            "has ended"
            if chat.status in (ChatStatus.ENDED, ChatStatus.PUBLISHED)
            else ("is cancelled" if chat.status == ChatStatus.CANCELLED else "is not live yet")
        )
        raise ControlError(f"chat {chat.id} {state}; `{kind}` only works while it is live")
    paused = _is_paused(store, chat)
    if kind == "next":
        if paused:
            raise ControlError(f"chat {chat.id} is paused; resume it first")
        upcoming = _upcoming_questions(store, chat, now)
        if not upcoming:
            raise ControlError(f"chat {chat.id} has no question left to post")
        label = chat.labels.question_label(upcoming[0].question_keys[0])
        store.record_control(chat.id, now, "next", label, by)
        return f"{label} goes out now; later questions move up with it."
    if kind == "pause":
        if paused:
            raise ControlError(f"chat {chat.id} is already paused")
        store.record_control(chat.id, now, "pause", "", by)
        return "Question clock paused. Resume it with `resume`."
    if kind == "resume":
        if not paused:
            raise ControlError(f"chat {chat.id} is not paused")
        pause_at = max(at for at, k, _d, _b in store.controls(chat.id) if k == "pause")
        length = now - pause_at
        with store.transaction():
            store.record_control(chat.id, now, "resume", f"after {_minutes(length)}", by)
            # The chat runs as much longer as it was paused, so no question is squeezed out.
            store.set_end(chat.id, chat.end + length)
        return f"Resumed after {_minutes(length)}; the chat now ends at {_clock(chat, chat.end + length)}."
    if kind == "extend":
        if minutes <= 0 or minutes > 24 * 60:
            raise ControlError("extend needs a number of minutes between 1 and 1440")
        new_end = chat.end + timedelta(minutes=minutes)
        with store.transaction():
            store.record_control(chat.id, now, "extend", f"by {minutes} min", by)
            store.set_end(chat.id, new_end)
        return f"Extended by {minutes} min; the chat now ends at {_clock(chat, new_end)}."
    if kind == "skip":
        upcoming = _upcoming_questions(store, chat, now)
        if not upcoming:
            raise ControlError(f"chat {chat.id} has no question left to skip")
        key = upcoming[0].key
        with store.transaction():
            for t in chat.targets:
                if store.record_intent(chat.id, key, t.platform, t.channel, "") is not None:
                    store.mark_skipped(chat.id, key, t.platform, t.channel, f"skipped by {by}")
            label = chat.labels.question_label(upcoming[0].question_keys[0])
            store.record_control(chat.id, now, "skip", label, by)
        return f"{label} will not be posted."
    # end: the questions still to come and the wrap-up ("... 5 minutes left") are skipped.
    done = {p.action_key for p in store.posts(chat.id)}
    pending = [a for a in chat_actions(store, chat) if a.kind in MOVABLE and a.key not in done]
    with store.transaction():
        for action in pending:
            for t in chat.targets:
                if store.record_intent(chat.id, action.key, t.platform, t.channel, "") is not None:
                    store.mark_skipped(
                        chat.id, action.key, t.platform, t.channel, "chat ended early"
                    )
        store.record_control(chat.id, now, "end", "early", by)
        store.set_end(chat.id, now)
    return f"Chat ended; the transcript follows after the {_minutes(chat.grace)} grace period."


def revise_started_chat(store: Store, chat: Chat, planned: Chat, *, now: datetime, by: str) -> str:
    """Apply a chat file (``planned``) to ``chat``, which has started or is over: only what
    has not happened yet may change, which is the wording of the questions still to come
    (and of the closing, until it is posted). Anything else that differs is refused with a
    ControlError naming it, and nothing changes; a chat is never sent back to "scheduled"
    to replay its life.
    """
    if chat.status in (ChatStatus.ENDED, ChatStatus.PUBLISHED, ChatStatus.CANCELLED):
        raise ControlError(
            f"chat {chat.id} is {chat.status}; a chat that has ended or been cancelled cannot "
            "be changed from its file (schedule a new one for another date)"
        )
    handled = {p.action_key for p in store.posts(chat.id)}
    problems = [
        name
        for name, old, new in (
            ("title", chat.title, planned.title),
            ("hashtag", chat.hashtag, planned.hashtag),
            ("timezone", chat.timezone, planned.timezone),
            ("targets", chat.targets, planned.targets),
            ("hosts", chat.hosts, planned.hosts),
            ("intro", chat.intro, planned.intro),
            ("grace", chat.grace, planned.grace),
            ("split_long_posts", chat.split_long_posts, planned.split_long_posts),
            ("labels", chat.labels, planned.labels),
        )
        if old != new
    ]
    if [(q.key, q.offset) for q in chat.questions] != [
        (q.key, q.offset) for q in planned.questions
    ]:
        problems.append("the questions' number or times")
    changed = [
        new
        for old, new in zip(chat.questions, planned.questions, strict=False)
        if old.text != new.text
    ]
    problems += [f"{chat.label(q)} (already posted)" for q in changed if f"q{q.key}" in handled]
    closing = planned.closing if planned.closing != chat.closing else None
    if closing is not None and "close" in handled:
        problems.append("closing (already posted)")
    if problems:
        raise ControlError(
            f"chat {chat.id} is live: only the wording of questions not yet posted (and of "
            f"the closing) can change now, and this file also changes {', '.join(problems)}. "
            "Nothing was changed; steer its times with next, pause, extend or end"
        )
    if not changed and closing is None:
        return f"{chat.id} is live and the file changes nothing that is still to come."
    what = [chat.label(q) for q in changed] + (["closing"] if closing is not None else [])
    with store.transaction():
        store.set_wording(chat.id, changed, closing)
        store.record_control(chat.id, now, "revised", f"wording of {', '.join(what)}", by)
    return (
        f"{chat.id} is live: updated the wording of {', '.join(what)} (not yet posted); "
        "its times and everything already posted stay as they are."
    )


def _cancel(store: Store, chat: Chat, *, now: datetime, by: str) -> str:
    if chat.status not in CANCELLABLE:
        raise ControlError(
            f"chat {chat.id} is {chat.status}; only scheduled or live chats can be cancelled"
        )
    with store.transaction():
        store.set_status(chat.id, ChatStatus.CANCELLED)
        store.record_control(chat.id, now, "cancelled", "", by)
    return f"Cancelled {chat.id}: nothing more will be posted."


def _start_now(store: Store, chat: Chat, *, now: datetime, by: str) -> str:
    if chat.status != ChatStatus.SCHEDULED:
        raise ControlError(f"chat {chat.id} is {chat.status}; only a scheduled chat can start now")
    if now >= chat.start:
        raise ControlError(f"chat {chat.id} has already started")
    moved = replace(chat, start=now, end=now + chat.duration)
    with store.transaction():
        store.add_chat(moved, reminders=(), source="start-now", replace_existing=True)
        store.record_control(chat.id, now, "start", "started early", by)
    return f"Chat {chat.id} starts now; questions follow on the same intervals."


def _minutes(delta: timedelta) -> str:
    m = round(delta.total_seconds() / 60)
    return f"{m} min" if m else f"{round(delta.total_seconds())} s"


def _clock(chat: Chat, at: datetime) -> str:
    return at.astimezone(chat.zone).strftime("%H:%M %Z")
