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
- Privacy: a group with fewer than :data:`SMALL_GROUP` participants in a chat has no
  figures of its own, and no message is marked with it. Opted-out participants count only
  in the totals, never in a group.
- Complementary suppression: since the total, the other groups and "Not declared" are
  shown, a lone small group's figures would follow by subtraction. So the small groups
  are *folded* with the smallest other groups (fewest participants, then the configured
  order) into one row, :data:`FOLD_KEY`, labelled with its members' labels: each member's
  own row shows "counted together", the fold shows the members' sum, in every format (tables,
  JSON, CSV, web chart, ``tweetchat stats``). Groups join the fold until its members'
  participant counts are not all the same and their answer counts are not all the same.
  Why that suffices: the figures show the fold's members only through their sum, and
  nothing says which member is the small one, so exchanging two members' figures gives
  another table consistent with everything shown; a member whose count differs from
  another member's thus has at least two possible counts (answers likewise).
  tests/archive/test_groups_suppression.py checks it by brute force over the shown
  figures, knowing this rule. When even every group folded together cannot differ, the
  chat shows no mix at all.
- Per question, a chat with a fold shows no group cells, only each question's total (which
  the transcript shows anyway): a question nobody in the fold answered would show the fold
  at 0, and so each member at 0, and a rule that withheld just those cells (or the cells
  where the members answered alike) would itself say so. A chat without a small group
  shows every group's answers to every question.

Every user-facing string of the stakeholder mix is in :data:`TEXT`, in one place, so that
it can be wrapped for translation.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.i18n import Translator, translator
from archive.models import CapturedMessage, Chat, MessageKind
from archive.stats import counts_as_participant

SMALL_GROUP = 3
"""A group with fewer participants than this in a chat is not counted separately."""

FOLD_KEY = "+"
"""The key of the row of groups counted together (never a group key: see GROUP_KEY_RE)."""

LABEL_CONTEXT = "stakeholder group"
"""The catalogue context of the default groups' labels."""
TEXT_CONTEXT = "stakeholder mix"
"""The catalogue context of :data:`TEXT`."""


def pgettext(context: str, message: str) -> str:
    """``message`` as it is: marks it, under ``context``, for ``make messages`` (the
    extractor knows ``pgettext``); it is translated where it is shown (:func:`say`,
    :func:`group_label`), in the chat's language."""
    del context
    return message


DEFAULT_GROUPS: tuple[tuple[str, str], ...] = (
    ("patient", pgettext("stakeholder group", "Patient")),
    ("carer", pgettext("stakeholder group", "Carer")),
    ("clinician", pgettext("stakeholder group", "Clinician")),
    ("manager", pgettext("stakeholder group", "Manager")),
    ("student", pgettext("stakeholder group", "Student")),
    ("researcher", pgettext("stakeholder group", "Researcher")),
    ("organisation", pgettext("stakeholder group", "Organisation")),
    ("other", pgettext("stakeholder group", "Other")),
)
"""The groups when the config names none: (key, label), in the order transcripts list them."""
_DEFAULT_PAIRS = frozenset(DEFAULT_GROUPS)

GROUP_KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
"""What a group key looks like (what a participant types after ``!iam``)."""

SOURCES = ("self", "role")
"""Where a stored declaration came from: the participant, or their Discord roles."""

# -- every user-facing string of the stakeholder mix --------------------------------------

TEXT: dict[str, str] = {
    "heading": pgettext("stakeholder mix", "Stakeholder mix"),
    "intro": pgettext(
        "stakeholder mix",
        "Groups as participants declared them (`!iam` and the group), from the organisers'"
        " roster"
        " or from Discord roles. A group of fewer than {small} participants is not counted"
        " separately: it is counted together with the smallest other groups, so that no"
        " group's figures can be worked out by subtraction; participants who opted out count"
        " only in the totals.",
    ),
    "col_group": pgettext("stakeholder mix", "Group"),
    "col_participants": pgettext("stakeholder mix", "Participants"),
    "col_share": pgettext("stakeholder mix", "Share"),
    "col_answers": pgettext("stakeholder mix", "Answers"),
    "col_answer_share": pgettext("stakeholder mix", "Share of answers"),
    "col_question": pgettext("stakeholder mix", "Question"),
    "not_declared": pgettext("stakeholder mix", "Not declared"),
    "total": pgettext("stakeholder mix", "Total"),
    "combined": pgettext("stakeholder mix", "counted together"),
    "fold": pgettext("stakeholder mix", "Counted together: {groups}"),
    "per_question": pgettext("stakeholder mix", "Answers per question by group"),
    "per_question_note": pgettext(
        "stakeholder mix",
        "Each cell: answers (share of the question's answers) from how many participants.",
    ),
    "per_question_withheld": pgettext(
        "stakeholder mix",
        "Not shown when groups are counted together: a group's answers to a question could"
        " otherwise be worked out from the question's total.",
    ),
    "cell": pgettext("stakeholder mix", "{answers} ({share}) from {participants}"),
    "summary": pgettext("stakeholder mix", "groups: {groups}"),
    "summary_item": pgettext("stakeholder mix", "{label} {participants}"),
    "chart_chat": pgettext("stakeholder mix", "Participants by group"),
    "chart_series": pgettext("stakeholder mix", "Stakeholder mix per chat"),
    "chart_rest": pgettext("stakeholder mix", "Not declared or counted together"),
    "chart_none": pgettext("stakeholder mix", "No group declared yet."),
    # the bot's answers to a declaration (`Platform.reply`; ephemeral on Discord)
    "declared": pgettext(
        "stakeholder mix",
        "Thank you: you are counted as {label} in {hashtag} chats."
        " Send !iam with another group to change it.",
    ),
    "unknown_group": pgettext(
        "stakeholder mix",
        "“{group}” is not one of the groups. Send !iam followed by one of: {groups}.",
    ),
    "which_group": pgettext(
        "stakeholder mix", "Which group? Send !iam followed by one of: {groups}."
    ),
    "no_chat": pgettext(
        "stakeholder mix",
        "No chat runs here now: write !iam with the chat's hashtag, during the chat.",
    ),
}


def say(name: str, tr: Translator | None = None, **values: object) -> str:
    """The user-facing string ``name`` of :data:`TEXT` in ``tr``'s language (English when
    None), filled with ``values`` (``{small}`` is :data:`SMALL_GROUP` in the locale's
    digits). Raises KeyError for an unknown name."""
    tr = tr or translator()
    return tr.pgettext(TEXT_CONTEXT, TEXT[name]).format(small=tr.number(SMALL_GROUP), **values)


def group_label(key: str, label: str, tr: Translator | None = None) -> str:
    """A group's label as a chat in ``tr``'s language shows it: a default group's label
    (:data:`DEFAULT_GROUPS`, key and label unchanged) translated; a label the config gives
    as it is."""
    if tr is None or (key, label) not in _DEFAULT_PAIRS:
        return label
    return tr.pgettext(LABEL_CONTEXT, label)


# -- groups and declarations ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # what participants type: "patient"
    label: str  # what transcripts show: "Patient"


def groups_of(pairs: Iterable[tuple[str, str]]) -> tuple[Group, ...]:
    """``(key, label)`` pairs as groups."""
    return tuple(Group(k, v) for k, v in pairs)


_IAM_RE = re.compile(r"(?<![\w!])!iam\b[ \t:]*([^\s#@!?.,;:]*)", re.IGNORECASE)
# Quotes, brackets, an emoji or symbols around the words: "(patient)", "clinician🩺".
_TRAILING_RE = re.compile(r"\A[^\w]+|[^\w]+\Z")
_JOINERS_RE = re.compile(r"[\s_-]+")  # "Proche aidant" typed "proche-aidant", "procheaidant"
# What may stand beside a declaration in a post that is only one: hashtags, mentions,
# punctuation, symbols and emoji ("!iam clinician 🩺 #WeDocs").
_LEFTOVER_RE = re.compile(r"(?:[#＃@][\w.-]+|[^\w#＃@])+")


def find_declaration(text: str) -> str | None:
    """The word after ``!iam`` in ``text`` (casefolded; ``""`` when nothing follows), or
    None when the text declares nothing. ``!iam Patient`` -> ``"patient"``."""
    found = _IAM_RE.search(text)
    return None if found is None else _TRAILING_RE.sub("", found.group(1)).casefold()


# Up to ten words: a label the config gives may be long ("Patient or family member").
_IAM_WORDS_RE = re.compile(
    r"(?<![\w!])!iam\b[ \t:]*([^\s#@!?.,;:]+(?:[ \t]+[^\s#@!?.,;:]+){0,9})", re.IGNORECASE
)


def declared_words(text: str) -> str:
    """The words after ``!iam`` in ``text`` that may name a group, up to ten (a label of
    several words: ``!iam Proche aidant``), casefolded; ``""`` when none."""
    found = _IAM_WORDS_RE.search(text)
    return "" if found is None else _TRAILING_RE.sub("", found.group(1)).casefold()


def match_declared(words: str, groups: Sequence[Group]) -> Group | None:
    """The group the first of ``words`` (:func:`declared_words`) name, the most words first
    (``proche aidant``, then ``proche``), or None."""
    parts = words.split()
    for n in range(len(parts), 0, -1):
        group = match_group(" ".join(parts[:n]), groups)
        if group is not None:
            return group
    return None


def declaration_only(text: str, groups: Sequence[Group] = ()) -> bool:
    """Whether ``text`` is nothing but a declaration (with hashtags and mentions): such a
    post is not captured as a message of the chat. The declaration is ``!iam`` and one
    word, or as many as the label of one of ``groups`` it names has (``!iam Proche
    aidant``; see :func:`every_label`)."""
    found = _IAM_WORDS_RE.search(text) if groups else None
    if found is None:
        return not _LEFTOVER_RE.sub("", _IAM_RE.sub("", text))
    words = _TRAILING_RE.sub("", found.group(1)).casefold().split()
    named = next(
        (n for n in range(len(words), 1, -1) if match_group(" ".join(words[:n]), groups)), 1
    )
    # The declaration's own span: "!iam" and the words of the label it names.
    spans = list(re.finditer(r"[^\s#@!?.,;:]+", found.group(1)))
    end = found.start(1) + (spans[named - 1].end() if len(spans) >= named else 0)
    return not _LEFTOVER_RE.sub("", _IAM_RE.sub("", text[: found.start()]) + text[end:])


def every_label(groups: Sequence[Group]) -> list[Group]:
    """``groups`` and each of them with its label in every language the bot speaks (the
    default groups' labels are translated): what a declaration may name."""
    from archive.i18n import LANGUAGES

    out = list(groups)
    for language in LANGUAGES:
        tr = translator(language)
        out += [Group(g.key, group_label(g.key, g.label, tr)) for g in groups]
    return out


def match_group(word: str, groups: Sequence[Group]) -> Group | None:
    """The group ``word`` names, by key or label (case-insensitive; blanks, hyphens and
    underscores aside, so that a label of two words, "Proche aidant", is named in one:
    ``proche-aidant``), or None."""
    folded = _folded(word)
    if not folded:
        return None
    for g in groups:
        if folded in (_folded(g.key), _folded(g.label)):
            return g
    return None


def _folded(name: str) -> str:
    """``name`` as declarations are compared: casefolded, accents and blanks, hyphens and
    underscores aside (``Étudiant``, ``etudiant`` and ``ÉTUDIANT`` typed decomposed agree)."""
    bare = unicodedata.normalize("NFKD", name.strip().casefold())
    bare = "".join(c for c in bare if not unicodedata.combining(c))
    return _JOINERS_RE.sub("", unicodedata.normalize("NFC", bare))


def hashtag_key(hashtag: str) -> str:
    """How declarations are filed: the chat's hashtag as the store keeps it (``#``, then
    its body in NFC), casefolded. ``WeDocs``, ``#WeDocs`` and ``＃wedocs`` are one key (a
    caller that left out the ``#`` once filed declarations no chat looked up)."""
    body = unicodedata.normalize("NFC", hashtag.strip()).lstrip("#＃")
    return f"#{body}".casefold()


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
    """One group's figures in a chat; ``None`` counts mean "counted together": the group is counted
    in the mix's fold (:attr:`GroupMix.fold`), with the small groups."""

    key: str  # "" for the participants who declared nothing; FOLD_KEY for the fold
    label: str
    participants: int | None
    answers: int | None

    @property
    def suppressed(self) -> bool:
        return self.participants is None


@dataclass(frozen=True, slots=True)
class QuestionMix:
    """One question's answers by group: group key -> (answers, answering participants),
    for the rows shown; totals over everyone. ``withheld``: the mix has a fold, so the
    question shows its total only (see the module docstring) and ``cells`` is empty."""

    key: str
    cells: Mapping[str, tuple[int, int]]
    answers: int
    participants: int
    withheld: bool = False


@dataclass(frozen=True, slots=True)
class GroupMix:
    """A chat's stakeholder mix (see the module docstring)."""

    participants: int  # every participant of the chat, opted-out ones included
    answers: int
    rows: tuple[GroupRow, ...]  # every configured group, in order, then any other declared
    not_declared: GroupRow
    questions: tuple[QuestionMix, ...]
    member_groups: Mapping[str, str]  # participant key -> group key, shown groups only
    fold: GroupRow | None = None  # the groups counted together (key FOLD_KEY), if any
    fold_keys: tuple[str, ...] = ()  # the fold's members, in the rows' order

    @property
    def shown(self) -> tuple[GroupRow, ...]:
        """The rows with figures of their own: not suppressed, with participants, then the
        fold, then the participants who declared nothing (when there are any)."""
        rows = [r for r in self.rows if not r.suppressed and r.participants]
        if self.fold is not None:
            rows.append(self.fold)
        if self.not_declared.participants:
            rows.append(self.not_declared)
        return tuple(rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON transcript's ``groups`` object: ``null`` counts in a group's row mean
        "counted together", in ``combined`` (``null`` when no group is small) with the
        ``members`` keys; a question's ``withheld`` means it shows its total only."""

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

        combined = None
        if self.fold is not None:
            combined = {**row(self.fold), "members": list(self.fold_keys)}
            del combined["suppressed"]
        return {
            "participants": self.participants,
            "answers": self.answers,
            "small_group": SMALL_GROUP,
            "groups": [row(r) for r in self.rows],
            "combined": combined,
            "not_declared": row(self.not_declared),
            "questions": [
                {
                    "key": q.key,
                    "answers": q.answers,
                    "participants": q.participants,
                    "withheld": q.withheld,
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


def share(part: int | None, whole: int, tr: Translator | None = None) -> str:
    """``part`` of ``whole`` as a whole percentage in ``tr``'s locale ("40%", "40 %"),
    "—" when suppressed."""
    if part is None:
        return "—"
    return (tr or translator()).percent(part / whole if whole else 0)


@dataclass
class _Person:
    platform: str
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
    participant has a group, or when small groups cannot be counted together safely (see
    the module docstring; the transcripts then leave the section out).

    ``group_of(platform, author_id, handle)`` is the participant's group key or None
    (:meth:`GroupSources.group_of`). A declared key that is not among ``groups`` (a group
    since removed from the config) gets a row of its own, labelled with its key. Labels
    are in the chat's language (:func:`group_label`).
    """
    people: dict[str, _Person] = {}
    for m in messages:
        if m.deleted_at is not None:
            continue
        key = f"{m.platform}:{m.author_id}"
        person = people.get(key)
        if person is None:
            person = people[key] = _Person(m.platform, m.author_handle, m.author_id)
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
        if counts_as_participant(chat, p.platform, p.handle, p.author_id, p.host_side)
    }
    of: dict[str, str | None] = {}
    for k, p in counted.items():
        of[k] = None if k in opted_out else group_of(k.split(":", 1)[0], p.author_id, p.handle)
    if not any(of.values()):
        return None

    order = [g.key for g in groups]
    tr = translator(chat.language)
    labels = {g.key: group_label(g.key, g.label, tr) for g in groups}
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

    size = {g: len(members[g]) for g in order}
    answers_of = {g: sum(counted[k].answers for k in members[g]) for g in order}
    fold = _fold(order, size, answers_of)
    if fold is None:
        return None
    rows = []
    shown_groups: dict[str, list[str]] = {}
    for g in order:
        if g in fold:
            rows.append(GroupRow(g, labels[g], None, None))
            continue
        rows.append(GroupRow(g, labels[g], size[g], answers_of[g]))
        if members[g]:
            shown_groups[g] = members[g]
    fold_row = None
    if fold:
        fold_row = GroupRow(
            FOLD_KEY,
            say("fold", tr, groups=", ".join(labels[g] for g in fold)),
            sum(size[g] for g in fold),
            sum(answers_of[g] for g in fold),
        )
    if undeclared:
        shown_groups[""] = undeclared
    not_declared = GroupRow(
        "", say("not_declared", tr), len(undeclared), sum(counted[k].answers for k in undeclared)
    )

    def cell(keys: Iterable[str], qk: str) -> tuple[int, int]:
        answering = [counted[k].questions[qk] for k in keys if qk in counted[k].questions]
        return sum(answering), len(answering)

    questions = []
    for q in chat.questions:
        everyone = [p.questions[q.key] for p in counted.values() if q.key in p.questions]
        if fold:
            questions.append(QuestionMix(q.key, {}, sum(everyone), len(everyone), True))
            continue
        cells = {g: cell(keys, q.key) for g, keys in shown_groups.items()}
        questions.append(QuestionMix(q.key, cells, sum(everyone), len(everyone)))

    return GroupMix(
        participants=len(counted),
        answers=sum(p.answers for p in counted.values()),
        rows=tuple(rows),
        not_declared=not_declared,
        questions=tuple(questions),
        member_groups={k: g for g, keys in shown_groups.items() if g for k in keys},
        fold=fold_row,
        fold_keys=tuple(fold),
    )


def _all_same(values: Iterable[int]) -> bool:
    return len(set(values)) <= 1


def _fold(
    order: Sequence[str], size: Mapping[str, int], answers: Mapping[str, int]
) -> tuple[str, ...] | None:
    """The groups counted together (in ``order``): the small ones (1 or 2 participants)
    and, one at a time, the other groups with participants, fewest first (then in
    ``order``), until the members' participant counts are not all the same and neither are
    their answer counts. ``()`` when no group is small; None when even every group with
    participants, folded, cannot differ (the chat then shows no mix)."""
    fold = [g for g in order if 0 < size[g] < SMALL_GROUP]
    if not fold:
        return ()
    rest = sorted(
        (g for g in order if size[g] >= SMALL_GROUP), key=lambda g: (size[g], order.index(g))
    )
    while _all_same(size[g] for g in fold) or _all_same(answers[g] for g in fold):
        if not rest:
            return None
        fold.append(rest.pop(0))
    return tuple(g for g in order if g in fold)
