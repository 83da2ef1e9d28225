"""The timeline of a chat: every timed action with its post text (pure: no clock, no I/O).

Actions are keyed stably (``remind-1440``, ``intro``, ``q1``, ``q2a``, ``wrapup``, ``close``,
``publish``) so the runner can name its jobs after them and the facilitator can record that
an action was posted and never post it twice.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.hashtags import has_hashtag
from archive.i18n import Translator, translator
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import Chat, Question

WRAPUP_LEAD = timedelta(minutes=5)
"""The default of ``[scheduler] wrapup_lead``: the wrap-up goes out this long before the end."""


class ActionKind(enum.StrEnum):
    REMIND = "remind"
    INTRO = "intro"
    QUESTION = "question"
    WRAPUP = "wrapup"
    CLOSE = "close"
    PUBLISH = "publish"


@dataclass(frozen=True, slots=True)
class Action:
    """One timed step of a chat. ``text`` is what gets posted ("" for publish)."""

    key: str
    kind: ActionKind
    at: datetime  # aware, UTC
    text: str
    question_keys: tuple[str, ...] = ()


def timeline(
    chat: Chat,
    *,
    reminders: Sequence[timedelta] = (),
    shifts: Mapping[str, timedelta] | None = None,
    wrapup_lead: timedelta = WRAPUP_LEAD,
) -> list[Action]:
    """Every action of ``chat`` in the order it happens.

    ``reminders`` are lead times before the start (duplicates count once). ``shifts`` maps
    an action key to extra delay added to that action alone (live controls); keys that name
    no action are ignored. ``wrapup_lead`` is how long before the end the wrap-up goes out
    (zero: at the end, just before the close); there is no wrap-up when that moment is not
    after the last question. Ties keep the natural order: reminders, intro, questions
    (sub-parts in order), wrap-up, close, publish.
    """
    actions: list[Action] = []
    for lead in sorted(set(reminders), reverse=True):
        actions.append(
            Action(
                reminder_key(lead),
                ActionKind.REMIND,
                chat.start - lead,
                format_reminder(chat, lead),
            )
        )
    actions.append(Action("intro", ActionKind.INTRO, chat.start, format_intro(chat)))
    for q in chat.questions:
        actions.append(
            Action(
                f"q{q.key}",
                ActionKind.QUESTION,
                chat.question_time(q),
                format_question(chat, q),
                (q.key,),
            )
        )
    last_question = max((chat.question_time(q) for q in chat.questions), default=chat.start)
    wrapup_at = chat.end - wrapup_lead
    if wrapup_at > last_question:
        actions.append(
            Action("wrapup", ActionKind.WRAPUP, wrapup_at, format_wrapup(chat, wrapup_lead))
        )
    actions.append(Action("close", ActionKind.CLOSE, chat.end, format_close(chat)))
    actions.append(Action("publish", ActionKind.PUBLISH, chat.grace_end, ""))

    if shifts:
        actions = [_shifted(a, shifts[a.key]) if a.key in shifts else a for a in actions]
    order = {id(a): i for i, a in enumerate(actions)}
    return sorted(actions, key=lambda a: (a.at, order[id(a)]))


def _shifted(action: Action, delay: timedelta) -> Action:
    return Action(action.key, action.kind, action.at + delay, action.text, action.question_keys)


def reminder_key(lead: timedelta) -> str:
    """``remind-1440`` for a lead of a day; seconds only when the lead is not whole minutes."""
    seconds = int(lead.total_seconds())
    minutes, rest = divmod(seconds, 60)
    return f"remind-{minutes}" if rest == 0 else f"remind-{seconds}s"


def with_hashtag(text: str, hashtag: str) -> str:
    """``text`` with the hashtag appended, unless the text already carries it
    (:func:`archive.hashtags.has_hashtag`: a whole tag, not inside a link)."""
    text = text.strip()
    if has_hashtag(text, hashtag):
        return text
    return f"{text} {hashtag}" if text else hashtag


def format_question(chat: Chat, q: Question) -> str:
    """``Q1: How do you ...? #WeDocs`` (the label in the chat's convention, ``C1: ...`` in a
    Welsh chat; the hashtag appended unless already in the text)."""
    return question_post(q, chat.hashtag, chat.labels)


def question_post(q: Question, hashtag: str, labels: Labels = DEFAULT_LABELS) -> str:
    """The post text of a question, given only the hashtag and the label convention (for
    checks before a Chat exists)."""
    return with_hashtag(f"{labels.question_label(q.key)}: {q.text}", hashtag)


def format_intro(chat: Chat) -> str:
    """The opening post: the host's intro (or a default welcome) and how to take part."""
    tr = translator(chat.language)
    intro = chat.intro.strip() or tr.gettext("Welcome to {hashtag}! Tonight: {title}.").format(
        hashtag=chat.hashtag, title=chat.title
    )
    how = tr.gettext("Reply with {labels} and {hashtag} so your answers are counted.")
    return f"{intro}\n\n{how.format(labels=_answer_labels(chat), hashtag=chat.hashtag)}"


def format_wrapup(chat: Chat, lead: timedelta = WRAPUP_LEAD) -> str:
    """``Last question done — 5 minutes left. Any final thoughts...? #WeDocs``; ``lead`` is
    how long before the end it is posted (zero: nothing is said about time left)."""
    tr = translator(chat.language)
    minutes = int(lead.total_seconds() // 60)
    if minutes >= 1:
        text = tr.ngettext(
            "Last question done — {n} minute left. Any final thoughts, or questions still on "
            "your mind? {hashtag}",
            "Last question done — {n} minutes left. Any final thoughts, or questions still on "
            "your mind? {hashtag}",
            minutes,
        )
    elif lead > timedelta(0):
        text = tr.gettext(
            "Last question done — less than a minute left. Any final thoughts, or questions "
            "still on your mind? {hashtag}"
        )
    else:
        text = tr.gettext(
            "Last question done. Any final thoughts, or questions still on your mind? {hashtag}"
        )
    return text.format(n=tr.number(minutes), hashtag=chat.hashtag)


TRANSCRIPT_NOTE = "Transcript to follow."
"""The note the closing post ends with (English; :func:`transcript_note` in a language)."""


def transcript_note(tr: Translator) -> str:
    """ "Transcript to follow." in ``tr``'s language."""
    return tr.gettext("Transcript to follow.")


def format_close(chat: Chat) -> str:
    """The closing post: the host's closing words and a note that the transcript follows,
    unless the host's words already speak of the transcript (in English or the chat's
    language; then nothing is added but the hashtag, when missing)."""
    tr = translator(chat.language)
    closing = chat.closing.strip() or tr.gettext(
        "That's a wrap — thank you all for joining {hashtag}!"
    ).format(hashtag=chat.hashtag)
    # Translators: the word a host's closing words would use for "transcript"; when they
    # contain it, the bot does not add "Transcript to follow." (lower case).
    words = {"transcript", tr.gettext("transcript").casefold()}
    if not any(word in closing.casefold() for word in words):
        closing = f"{closing}\n\n{transcript_note(tr)}"
    return with_hashtag(closing, chat.hashtag)


def format_reminder(chat: Chat, lead: timedelta) -> str:
    """A reminder: topic, start time in the chat's zone, how long until, and how to take part."""
    tr = translator(chat.language)
    return tr.gettext(
        "Coming up {when}: {hashtag} chat on “{title}” — {start}. "
        "To take part, follow {hashtag} and answer with {labels} plus {hashtag}."
    ).format(
        when=tr.relative(lead),
        hashtag=chat.hashtag,
        title=chat.title,
        start=format_local_time(chat, chat.start),
        labels=_answer_labels(chat),
    )


def format_local_time(chat: Chat, at: datetime) -> str:
    """``Tue 1 Dec, 20:00 GMT``: a time in the chat's zone and language (Babel, CLDR)."""
    tr = translator(chat.language)
    local = at.astimezone(chat.zone)
    # Translators: a day, its time and the zone: "Tue 1 Dec, 20:00 GMT".
    return tr.gettext("{day}, {time} {zone}").format(
        day=tr.short_day(local), time=tr.clock(local), zone=tr.zone(local)
    )


def _answer_labels(chat: Chat) -> str:
    """``A1, A2…`` in the chat's convention (``R1, R2…`` in a French chat)."""
    first = chat.questions[0].key if chat.questions else "1"
    second = chat.questions[1].key if len(chat.questions) > 1 else None
    answer = chat.labels.answer_label
    return f"{answer(first)}, {answer(second)}…" if second else answer(first)
