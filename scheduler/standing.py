"""A chat's schedule as it now stands: every step, in time order, with what became of it
(pure: the shifted timeline, the post ledger and the clock are given).

One answer for every place a host or reader asks "where are we?" (`tweetchat show`, the
Discord `/tweetchat show`, the web archive's page of a chat that has not been published):
what went out and when (from the post ledger, not the plan), what was skipped or failed and
why, what is next and when, and what is held by a pause. The steps and their wording are
`archive.standing`'s (the web archive may not import the scheduler: bot/ hands it
`chat_standing`); the computation, which needs the timeline, is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from archive.labels import DEFAULT_LABELS, Labels
from archive.models import Chat, ChatStatus, Post, PostStatus
from archive.standing import ScheduleSource, Step, StepState, standing_lines
from archive.store import Store
from scheduler.controls import chat_actions
from scheduler.timeline import WRAPUP_LEAD, Action, ActionKind

__all__ = [
    "Step",
    "StepState",
    "chat_standing",
    "label_of",
    "standing",
    "standing_lines",
    "standing_source",
]

# A paused question clock holds questions about ten years ahead (controls.HELD).
_HELD_BEYOND = timedelta(days=365)

_UNTIMED = frozenset({StepState.SKIPPED, StepState.FAILED, StepState.NOT_POSTED, StepState.HELD})


def label_of(action: Action, labels: Labels = DEFAULT_LABELS) -> str:
    """What a host calls ``action``: ``Q1`` (in the chat's convention: ``C1``), ``intro``,
    ``reminder``, ``wrap-up``..."""
    if action.kind == ActionKind.QUESTION and action.question_keys:
        return labels.question_label(action.question_keys[0])
    if action.kind == ActionKind.QUESTION:
        return action.key.upper()
    if action.kind == ActionKind.REMIND:
        return "reminder"
    return {"wrapup": "wrap-up"}.get(action.key, action.key)


def standing(
    chat: Chat,
    actions: Sequence[Action],
    posts: Sequence[Post],
    now: datetime,
    *,
    imported: bool = False,
) -> list[Step]:
    """Every action of ``chat`` (``actions``: its timeline with the controls applied), with
    its state from the ledger ``posts``, in the order things happened or will happen.
    ``imported``: the chat came from an export, which the bot never runs: ended, even its
    publication is not to come (the import, run again, writes it)."""
    by_key: dict[str, list[Post]] = {}
    for p in posts:
        by_key.setdefault(p.action_key, []).append(p)
    # In the plan's order (the shifted timeline puts held questions ten years ahead).
    position = {f"q{q.key}": i for i, q in enumerate(chat.questions)}
    kinds = list(ActionKind)
    planned = sorted(
        actions,
        key=lambda a: (kinds.index(a.kind), position.get(a.key, 0), a.at),
    )
    steps = []
    upcoming_seen = False
    for action in planned:
        rows = by_key.get(action.key, [])
        step = _handled(chat, action, rows)
        if step is None:
            label = label_of(action, chat.labels)
            if chat.status == ChatStatus.CANCELLED:
                step = Step(action.key, label, StepState.CANCELLED, action.at)
            elif chat.status == ChatStatus.PUBLISHED or (
                chat.status == ChatStatus.ENDED and (imported or action.kind != ActionKind.PUBLISH)
            ):
                step = Step(action.key, label, StepState.NOT_POSTED, action.at)
            elif action.at - now > _HELD_BEYOND:
                step = Step(action.key, label, StepState.HELD, None)
            elif not upcoming_seen:
                upcoming_seen = True
                step = Step(action.key, label, StepState.NEXT, action.at)
            else:
                step = Step(action.key, label, StepState.PENDING, action.at)
        steps.append(step)
    # Steps with a time (posted, due) in time order; a step that has none (held) or never
    # went out (skipped, failed) stays right after the step before it in the plan.
    keys: list[tuple[datetime, int]] = []
    last = datetime.min.replace(tzinfo=now.tzinfo)
    for i, step in enumerate(steps):
        if step.at is not None and step.state not in _UNTIMED:
            last = step.at
        keys.append((last, i))
    return [steps[i] for _key, i in sorted(keys)]


def _handled(chat: Chat, action: Action, rows: Sequence[Post]) -> Step | None:
    label = label_of(action, chat.labels)
    if action.kind == ActionKind.PUBLISH:
        if chat.status == ChatStatus.PUBLISHED:
            return Step(action.key, label, StepState.DONE, action.at)
        return None
    if not rows:
        return None
    sent = [p.posted_at for p in rows if p.status == PostStatus.SENT and p.posted_at]
    others = [p for p in rows if p.status != PostStatus.SENT]
    note = "; ".join(
        f"{p.platform}: retrying after {p.error}"
        if p.status == PostStatus.INTENT
        else f"{p.platform}: {p.error or p.status}"
        for p in others
        if p.status != PostStatus.INTENT or p.error  # an error on an intent: being retried
    )
    if sent and not others:
        return Step(action.key, label, StepState.POSTED, min(sent))
    if sent:
        return Step(action.key, label, StepState.PARTLY, min(sent), note)
    if any(p.status == PostStatus.INTENT for p in rows):
        return Step(action.key, label, StepState.POSTING, action.at, note)
    if all(p.status == PostStatus.SKIPPED for p in rows):
        reasons = sorted({p.error for p in rows if p.error})
        return Step(action.key, label, StepState.SKIPPED, action.at, "; ".join(reasons))
    return Step(action.key, label, StepState.FAILED, action.at, note)


def chat_standing(
    store: Store, chat: Chat, now: datetime, *, wrapup_lead: timedelta = WRAPUP_LEAD
) -> list[Step]:
    """``standing`` for a stored chat: its controls applied, its ledger read."""
    actions = chat_actions(store, chat, wrapup_lead=wrapup_lead)
    return standing(chat, actions, store.posts(chat.id), now, imported=store.is_imported(chat.id))


def standing_source(*, wrapup_lead: timedelta = WRAPUP_LEAD) -> ScheduleSource:
    """``chat_standing`` with the configured wrap-up lead, as the web archive takes it
    (``archive.web.make_app(schedule=...)``): the archive may not import the scheduler."""

    def source(store: Store, chat: Chat, now: datetime) -> list[Step]:
        return chat_standing(store, chat, now, wrapup_lead=wrapup_lead)

    return source
