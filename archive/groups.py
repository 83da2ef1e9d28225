"""Stakeholder groups: who took part, as patients, carers, clinicians, managers...

Pure (no clock, no I/O): the configured groups, the ``!iam <group>`` declaration a
participant writes, the organisers' roster file, and the figures of one chat's mix.

Definitions (organisers compare them across chats):

- A participant's group, for a chat, is the first that applies of: their own latest
  declaration on the chat's hashtag (``!iam patient`` in a post or a reply to the bot, or
  ``/tweetchat iam`` on Discord), the organisers' roster (by id, else by handle), the group
  their Discord roles map to (recorded when they post in the chat). Declarations are stored
  per hashtag, so they hold across the chats of a series.
- Participants and answers are counted as :mod:`archive.stats` counts them (one rule for a
  participant; an answer to several questions is one answer, and counts under each).
- Privacy: a group with fewer than :data:`SMALL_GROUP` participants in a chat is shown as
  "fewer than 3": no counts of its own, and no message is marked with it. Opted-out
  participants count only in the totals, never in a group.

Every user-facing string of the stakeholder mix is in :data:`TEXT`, in one place, so that
it can be wrapped for translation.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.models import CapturedMessage, Chat, MessageKind
from archive.stats import counts_as_participant

SMALL_GROUP = 3
"""A group with fewer participants than this in a chat is not counted separately."""

DEFAULT_GROUPS: tuple[tuple[str, str], ...] = (
    ("patient", "Patient"),
    ("carer", "Carer"),
    ("clinician", "Clinician"),
    ("manager", "Manager"),
    ("student", "Student"),
    ("researcher", "Researcher"),
    ("organisation", "Organisation"),
    ("other", "Other"),
)
"""The groups when the config names none: (key, label), in the order transcripts list them."""

GROUP_KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
"""What a group key looks like (what a participant types after ``!iam``)."""

SOURCES = ("self", "role")
"""Where a stored declaration came from: the participant, or their Discord roles."""

# -- every user-facing string of the stakeholder mix --------------------------------------

TEXT: dict[str, str] = {
    "heading": "Stakeholder mix",
    "intro": (
        "Groups as participants declared them (`!iam` and the group), from the organisers'"
        " roster"
        " or from Discord roles. A group of fewer than {small} participants is not counted"
        " separately; participants who opted out count only in the totals."
    ),
    "col_group": "Group",
    "col_participants": "Participants",
    "col_share": "Share",
    "col_answers": "Answers",
    "col_answer_share": "Share of answers",
    "col_question": "Question",
    "not_declared": "Not declared",
    "total": "Total",
    "fewer": "fewer than {small}",
    "per_question": "Answers per question by group",
    "per_question_note": (
        "Each cell: answers (share of the question's answers) from how many participants."
        " Groups of fewer than {small} are in the total only."
    ),
    "cell": "{answers} ({share}) from {participants}",
    "summary": "  groups: {groups}",
    "summary_item": "{label} {participants}",
    "chart_chat": "Participants by group",
    "chart_series": "Stakeholder mix per chat",
    "chart_rest": "Not declared or fewer than {small}",
    "chart_none": "No group declared yet.",
    # the bot's answers to a declaration (`Platform.reply`; ephemeral on Discord)
    "declared": (
        "Thank you: you are counted as {label} in {hashtag} chats."
        " Send !iam with another group to change it."
    ),
    "declared_prefix": "Thank you: you are counted as ",
    "unknown_group": "“{group}” is not one of the groups. Send !iam followed by one of: {groups}.",
    "which_group": "Which group? Send !iam followed by one of: {groups}.",
    "no_chat": "No chat runs here now: write !iam with the chat's hashtag, during the chat.",
}


def say(name: str, **values: object) -> str:
    """The user-facing string ``name`` of :data:`TEXT`, filled with ``values``."""
    return TEXT[name].format(small=SMALL_GROUP, **values)


# -- groups and declarations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # what participants type: "patient"
    label: str  # what transcripts show: "Patient"


def groups_of(pairs: Iterable[tuple[str, str]]) -> tuple[Group, ...]:
    """``(key, label)`` pairs as groups."""
    return tuple(Group(k, v) for k, v in pairs)


_IAM_RE = re.compile(r"(?<![\w!])!iam\b[ \t:]*([^\s#@!.,;:]*)", re.IGNORECASE)
_LEFTOVER_RE = re.compile(r"(?:[#＃@][\w.-]+|[\s.,;:!?'\"()\-–—])+")


def find_declaration(text: str) -> str | None:
    """The word after ``!iam`` in ``text`` (casefolded; ``""`` when nothing follows), or
    None when the text declares nothing. ``!iam Patient`` -> ``"patient"``."""
    found = _IAM_RE.search(text)
    return None if found is None else found.group(1).casefold()


def declaration_only(text: str) -> bool:
    """Whether ``text`` is nothing but a declaration (with hashtags and mentions): such a
    post is not captured as a message of the chat."""
    return not _LEFTOVER_RE.sub("", _IAM_RE.sub("", text))


def match_group(word: str, groups: Sequence[Group]) -> Group | None:
    """The group ``word`` names, by key or label (case-insensitive), or None."""
    folded = word.strip().casefold()
    for g in groups:
        if folded in (g.key.casefold(), g.label.casefold()):
            return g
    return None


def hashtag_key(hashtag: str) -> str:
    """How declarations are filed: the chat's hashtag, casefolded (as the store's chats)."""
    return hashtag.casefold()


# -- the roster file ----------------------------------------------------------------------


class RosterError(ValueError):
    """A roster file that cannot be read; ``str()`` names the file and the line."""


@dataclass(frozen=True, slots=True)
class RosterEntry:
    platform: str
    ident: str  # an author id, or a handle without '@', casefolded
    group: str
    line: int


def normalise_ident(value: str) -> str:
    """A roster's handle or id as it is compared: without '@', casefolded."""
    return value.strip().lstrip("@").casefold()


def parse_roster(
    text: str, *, source: str, groups: Sequence[Group], platforms: Iterable[str]
) -> tuple[RosterEntry, ...]:
    """A roster CSV (``platform, handle or id, group`` a row; an optional header row whose
    first cell is ``platform``; blank lines and lines starting with ``#`` skipped). Raises
    RosterError naming ``source`` and the line of the first problem."""
    known = {g.key for g in groups}
    networks = set(platforms)
    entries: list[RosterEntry] = []
    seen: dict[tuple[str, str], int] = {}
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not entries and not seen and cells[0].casefold() == "platform":
            continue
        if len(cells) != 3:
            raise RosterError(
                f"{source}: line {line}: expected 3 columns (platform, handle or id, group),"
                f" got {len(cells)}"
            )
        platform, ident, group = cells[0].casefold(), normalise_ident(cells[1]), cells[2]
        if platform not in networks:
            raise RosterError(
                f"{source}: line {line}: unknown platform {cells[0]!r}"
                f" (one of: {', '.join(sorted(networks))})"
            )
        if not ident:
            raise RosterError(f"{source}: line {line}: the handle or id is empty")
        match = match_group(group, groups)
        if match is None or match.key not in known:
            raise RosterError(
                f"{source}: line {line}: unknown group {group!r}"
                f" (one of: {', '.join(g.key for g in groups)})"
            )
        if (platform, ident) in seen:
            raise RosterError(
                f"{source}: line {line}: {platform} {cells[1]!r} is already on line"
                f" {seen[(platform, ident)]}"
            )
        seen[(platform, ident)] = line
        entries.append(RosterEntry(platform, ident, match.key, line))
    return tuple(entries)


# -- whose group is what ------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSources:
    """Everything that puts participants of one hashtag's chats in groups.

    own / roles: (platform, author_id) -> group key (the latest of each source);
    roster: (platform, normalised id or handle) -> group key.
    """

    own: Mapping[tuple[str, str], str] = field(default_factory=dict)
    roles: Mapping[tuple[str, str], str] = field(default_factory=dict)
    roster: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.own or self.roles or self.roster)

    def group_of(self, platform: str, author_id: str, handle: str) -> str | None:
        """The participant's group (see the module docstring for the order), or None."""
        key = (platform, author_id)
        found = self.own.get(key)
        if found is None and self.roster:
            found = self.roster.get((platform, normalise_ident(author_id))) or self.roster.get(
                (platform, normalise_ident(handle))
            )
        return found if found is not None else self.roles.get(key)


# -- the figures of one chat --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group's figures in a chat; ``None`` counts mean "fewer than 3" (suppressed)."""

    key: str  # "" for the participants who declared nothing
    label: str
    participants: int | None
    answers: int | None

    @property
    def suppressed(self) -> bool:
        return self.participants is None


@dataclass(frozen=True, slots=True)
class QuestionMix:
    """One question's answers by group: group key -> (answers, answering participants),
    for the rows shown (not suppressed, with participants); totals over everyone."""

    key: str
    cells: Mapping[str, tuple[int, int]]
    answers: int
    participants: int


@dataclass(frozen=True, slots=True)
class GroupMix:
    """A chat's stakeholder mix (see the module docstring)."""

    participants: int  # every participant of the chat, opted-out ones included
    answers: int
    rows: tuple[GroupRow, ...]  # every configured group, in order, then any other declared
    not_declared: GroupRow
    questions: tuple[QuestionMix, ...]
    member_groups: Mapping[str, str]  # participant key -> group key, shown groups only

    @property
    def shown(self) -> tuple[GroupRow, ...]:
        """The rows with figures of their own: not suppressed, with participants, and the
        participants who declared nothing (when there are any)."""
        rows = [r for r in self.rows if not r.suppressed and r.participants]
        if self.not_declared.participants:
            rows.append(self.not_declared)
        return tuple(rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON transcript's ``groups`` object (``null`` counts: fewer than 3)."""

        def row(r: GroupRow) -> dict[str, Any]:
            return {
                "key": r.key,
                "label": r.label,
                "participants": r.participants,
                "answers": r.answers,
                "participant_share": _ratio(r.participants, self.participants),
                "answer_share": _ratio(r.answers, self.answers),
                "suppressed": r.suppressed,
            }

        return {
            "participants": self.participants,
            "answers": self.answers,
            "small_group": SMALL_GROUP,
            "groups": [row(r) for r in self.rows],
            "not_declared": row(self.not_declared),
            "questions": [
                {
                    "key": q.key,
                    "answers": q.answers,
                    "participants": q.participants,
                    "groups": [
                        {"key": k, "answers": a, "participants": p} for k, (a, p) in q.cells.items()
                    ],
                }
                for q in self.questions
            ],
        }


def _ratio(part: int | None, whole: int) -> float | None:
    if part is None:
        return None
    return round(part / whole, 4) if whole else 0.0


def share(part: int | None, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage ("40%"), "—" when suppressed."""
    if part is None:
        return "—"
    return f"{part / whole:.0%}" if whole else "0%"


@dataclass
class _Person:
    handle: str
    author_id: str
    host_side: bool = False
    answers: int = 0
    questions: dict[str, int] = field(default_factory=dict)  # question key -> answers


def compute_mix(
    chat: Chat,
    messages: Iterable[CapturedMessage],
    *,
    groups: Sequence[Group],
    group_of: Callable[[str, str, str], str | None],
    opted_out: frozenset[str] = frozenset(),
) -> GroupMix | None:
    """The chat's stakeholder mix in one pass over its messages, or None when no shown
    participant has a group (the transcripts then leave the section out).

    ``group_of(platform, author_id, handle)`` is the participant's group key or None
    (:meth:`GroupSources.group_of`). A declared key that is not among ``groups`` (a group
    since removed from the config) gets a row of its own, labelled with its key.
    """
    people: dict[str, _Person] = {}
    for m in messages:
        if m.deleted_at is not None:
            continue
        key = f"{m.platform}:{m.author_id}"
        person = people.get(key)
        if person is None:
            person = people[key] = _Person(m.author_handle, m.author_id)
        elif m.author_handle:
            person.handle = m.author_handle
        if m.kind in (MessageKind.QUESTION, MessageKind.HOST):
            person.host_side = True
        elif m.kind is MessageKind.ANSWER:
            person.answers += 1
            for qk in dict.fromkeys(m.question_keys):
                person.questions[qk] = person.questions.get(qk, 0) + 1
    counted = {
        k: p
        for k, p in people.items()
        if counts_as_participant(chat, p.handle, p.author_id, p.host_side)
    }
    of: dict[str, str | None] = {}
    for k, p in counted.items():
        of[k] = None if k in opted_out else group_of(k.split(":", 1)[0], p.author_id, p.handle)
    if not any(of.values()):
        return None

    order = [g.key for g in groups]
    labels = {g.key: g.label for g in groups}
    for g in of.values():
        if g is not None and g not in labels:
            order.append(g)
            labels[g] = g
    members: dict[str, list[str]] = {g: [] for g in order}
    undeclared: list[str] = []
    for k, g in of.items():
        if g is not None:
            members[g].append(k)
        elif k not in opted_out:
            undeclared.append(k)

    rows = []
    shown_groups: dict[str, list[str]] = {}
    for g in order:
        keys = members[g]
        if 0 < len(keys) < SMALL_GROUP:
            rows.append(GroupRow(g, labels[g], None, None))
            continue
        rows.append(GroupRow(g, labels[g], len(keys), sum(counted[k].answers for k in keys)))
        if keys:
            shown_groups[g] = keys
    if undeclared:
        shown_groups[""] = undeclared
    not_declared = GroupRow(
        "", say("not_declared"), len(undeclared), sum(counted[k].answers for k in undeclared)
    )

    questions = []
    for q in chat.questions:
        cells = {}
        for g, keys in shown_groups.items():
            answering = [counted[k].questions[q.key] for k in keys if q.key in counted[k].questions]
            cells[g] = (sum(answering), len(answering))
        everyone = [p.questions[q.key] for p in counted.values() if q.key in p.questions]
        questions.append(QuestionMix(q.key, cells, sum(everyone), len(everyone)))

    return GroupMix(
        participants=len(counted),
        answers=sum(p.answers for p in counted.values()),
        rows=tuple(rows),
        not_declared=not_declared,
        questions=tuple(questions),
        member_groups={k: g for g, keys in shown_groups.items() if g for k in keys},
    )
