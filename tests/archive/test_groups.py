"""Stakeholder groups: declarations, the roster, the mix of a chat counted by hand, small
groups suppressed, opted-out participants in the totals only, and golden transcripts.

Regenerate the ``wedocs-groups.*`` golden files after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/archive/test_groups.py`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.groups import (
    DEFAULT_GROUPS,
    Group,
    RosterEntry,
    RosterError,
    declaration_only,
    declared_words,
    every_label,
    find_declaration,
    group_label,
    groups_of,
    match_declared,
    match_group,
    parse_roster,
)
from archive.i18n import translator
from archive.models import CapturedMessage, Chat, MessageKind, Question, Target
from archive.publish import render_chat, write_transcripts
from archive.store import Store
from archive.transcripts.csvfmt import csv_chunks
from tests.archive.test_transcripts import check_golden, section

K = MessageKind
START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
GROUPS = groups_of(DEFAULT_GROUPS)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


CHAT = Chat(
    id="wedocs-groups",
    title="Who takes part in QI",
    hashtag="#WeDocs",
    start=START,
    end=at(30),
    timezone="Europe/London",
    questions=(
        Question(1, "How do you involve patients?", timedelta(minutes=2)),
        Question(2, "What got in the way?", timedelta(minutes=12)),
    ),
    targets=(Target("x"), Target("discord", "42")),
    hosts=("drsmith",),
)

PEOPLE = {
    "bot": ("x", "900", "WeDocs bot", "wedocsbot"),
    "host": ("x", "100", "Dr Ann Smith", "drsmith"),
    "c1": ("x", "201", "Cleo Clin", "cleo"),
    "c2": ("x", "202", "Cal Clin", "cal"),
    "c3": ("discord", "203", "Cid Clin", "cid"),
    "p1": ("x", "301", "Pia Pat", "pia"),
    "p2": ("x", "302", "Pat Roster", "patr"),
    "p3": ("discord", "303", "Pol Roster", "pol"),
    "p4": ("x", "304", "Opted Out", "optedout"),
    "k1": ("x", "401", "Kim Carer", "kimcarer"),
    "u1": ("x", "501", "Una Undeclared", "una"),
}


def msg(
    n: int, who: str, minute: float, kind: MessageKind, text: str, keys: tuple[str, ...] = ()
) -> CapturedMessage:
    platform, author_id, name, handle = PEOPLE[who]
    return CapturedMessage(
        chat_id=CHAT.id,
        platform=platform,
        platform_id=str(n),
        author_id=author_id,
        author_name=name,
        author_handle=handle,
        text=text,
        created_at=at(minute),
        kind=kind,
        question_keys=keys,
        deleted_at=at(29) if n == 19 else None,
    )


MESSAGES = [
    msg(1, "bot", 2, K.QUESTION, "Q1: How do you involve patients? #WeDocs", ("1",)),
    msg(2, "c1", 3, K.ANSWER, "A1: ward huddles #WeDocs", ("1",)),
    msg(3, "c2", 3.5, K.ANSWER, "A1: clinic surveys #WeDocs", ("1",)),
    msg(4, "c3", 4, K.ANSWER, "A1 patient reps on the board", ("1",)),
    msg(5, "p1", 4.5, K.ANSWER, "A1: they asked me, once #WeDocs", ("1",)),
    msg(6, "p2", 5, K.ANSWER, "A1: via the PALS office #WeDocs", ("1",)),
    msg(7, "k1", 5.5, K.ANSWER, "A1: as a carer, rarely #WeDocs", ("1",)),
    msg(8, "u1", 6, K.ANSWER, "A1: co-design days #WeDocs", ("1",)),
    msg(9, "p4", 6.5, K.ANSWER, "A1: I would rather not say #WeDocs", ("1",)),
    msg(10, "host", 8, K.HOST, "Keep them coming #WeDocs"),
    msg(11, "bot", 12, K.QUESTION, "Q2: What got in the way? #WeDocs", ("2",)),
    msg(12, "c1", 13, K.ANSWER, "A2: time #WeDocs", ("2",)),
    msg(13, "c1", 14, K.ANSWER, "A2: and money #WeDocs", ("2",)),
    msg(14, "p1", 15, K.ANSWER, "A2: jargon #WeDocs", ("2",)),
    msg(15, "p3", 16, K.ANSWER, "A2 transport to meetings", ("2",)),
    msg(16, "k1", 17, K.ANSWER, "A2: nobody asked carers #WeDocs", ("2",)),
    msg(17, "c2", 18, K.ANSWER, "A1/A2: governance forms #WeDocs", ("1", "2")),
    msg(18, "p3", 19, K.COMMENT, "Thanks all #WeDocs"),
    msg(19, "u1", 20, K.ANSWER, "A2: deleted later #WeDocs", ("2",)),
]

ROSTER = """platform,handle or id,group
# the organisers' list
x,@PatR,patient
discord,303,Patient
x,202,patient
"""


def build(path: Path, chat: Chat = CHAT, messages: list[CapturedMessage] = MESSAGES) -> Store:
    """The chat in a real archive file, with every kind of declaration."""
    store = Store(path, now=lambda: at(40))
    store.add_chat(chat)
    store.save_messages(messages)
    roster = parse_roster(ROSTER, source="roster.csv", groups=GROUPS, platforms=("x", "discord"))
    store.set_group_setup(DEFAULT_GROUPS, roster)
    declare = store.declare_group
    assert declare("#WeDocs", "x", "201", "patient", at(0), message_id="a")
    assert declare("#wedocs", "x", "201", "clinician", at(1), message_id="b")  # the latest wins
    # The older post met again (a backfill): it does not override the later one.
    assert not declare("#WeDocs", "x", "201", "patient", at(0), message_id="a")
    assert not declare("#WeDocs", "x", "201", "patient", at(0.5), message_id="c")
    declare("#WeDocs", "x", "202", "clinician", at(1), message_id="d")  # beats the roster
    declare("#WeDocs", "discord", "203", "clinician", at(1), source="role")
    declare("#WeDocs", "discord", "303", "carer", at(1), source="role")  # the roster beats it
    declare("#WeDocs", "x", "301", "patient", at(1), message_id="e")
    declare("#WeDocs", "x", "304", "patient", at(1), message_id="f")
    declare("#WeDocs", "x", "401", "carer", at(1), message_id="g")
    declare("#OtherChat", "x", "501", "manager", at(1), message_id="h")  # another hashtag
    store.opt_out("x", "304", "optedout")
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = build(tmp_path / "archive.db")
    yield s
    s.close()


def test_the_mix_matches_a_hand_count(store: Store) -> None:
    mix = store.group_mix(CHAT, store.opted_out())
    assert mix is not None
    # 10 participants (the bot is none; the host is one), 14 undeleted answers.
    assert (mix.participants, mix.answers) == (10, 14)
    rows = {r.key: (r.participants, r.answers) for r in mix.rows}
    assert rows["clinician"] == (3, 6)  # c1 3 (latest declaration), c2 2, c3 1 (role)
    # One carer (2 answers): alone, 10 - 3 - 3 - 2 - 1 opted out would give it away, so it
    # is counted together with the smallest other group, the patients (p1 2, p2 1 by the
    # roster's handle, p3 1 by its id: 3 participants, 4 answers; tied with the
    # clinicians, first in the configured order).
    assert rows["carer"] == rows["patient"] == (None, None)
    assert mix.fold_keys == ("patient", "carer")
    assert mix.fold is not None
    assert (mix.fold.participants, mix.fold.answers) == (4, 6)
    assert mix.fold.label == "Counted together: Patient, Carer"
    assert rows["manager"] == (0, 0)  # declared on another hashtag only
    assert (mix.not_declared.participants, mix.not_declared.answers) == (2, 1)  # u1, the host
    q1, q2 = mix.questions
    assert (q1.answers, q1.participants) == (9, 8)
    assert (q2.answers, q2.participants) == (6, 5)
    # With groups counted together, the questions show their totals only.
    assert q1.withheld and q2.withheld and not q1.cells and not q2.cells
    # Messages carry the groups shown only: never the fold's, never the opted-out one's.
    assert mix.member_groups == {
        "x:201": "clinician",
        "x:202": "clinician",
        "discord:203": "clinician",
    }


def test_the_markdown_section_shows_the_hand_count(store: Store) -> None:
    md = render_chat(store, CHAT).markdown
    mix = section(md, "## Stakeholder mix")
    assert "| Patient | counted together | — | — | — |" in mix
    assert "| Clinician | 3 | 30% | 6 | 43% |" in mix
    assert "| Carer | counted together | — | — | — |" in mix
    assert "| Counted together: Patient, Carer | 4 | 40% | 6 | 43% |" in mix
    assert "| Not declared | 2 | 20% | 1 | 7% |" in mix
    assert "| **Total** | 10 | 100% | 14 | 100% |" in mix
    per_question = mix.split("### ")[1]
    assert "Not shown when groups are counted together" in per_question
    assert "| Q1 |" not in per_question
    # The section names nobody.
    for _platform, _id, name, handle in PEOPLE.values():
        assert name not in mix and handle not in mix


def test_json_and_csv_carry_each_messages_group(store: Store) -> None:
    data = json.loads(render_chat(store, CHAT).json)
    by_author = {m["author"]["id"]: m["group"] for m in data["messages"]}
    assert by_author["201"] == "clinician"
    assert by_author["303"] is None  # a patient, counted together with the carer
    assert by_author["401"] is None  # fewer than 3 carers
    assert by_author["501"] is None  # not declared
    assert "304" not in by_author  # opted out: not shown at all
    carer = next(g for g in data["groups"]["groups"] if g["key"] == "carer")
    assert carer == {
        "key": "carer",
        "label": "Carer",
        "participants": None,
        "answers": None,
        "participant_share": None,
        "answer_share": None,
        "suppressed": True,
    }
    assert data["groups"]["combined"] == {
        "key": "+",
        "label": "Counted together: Patient, Carer",
        "participants": 4,
        "answers": 6,
        "participant_share": 0.4,
        "answer_share": 0.4286,
        "members": ["patient", "carer"],
    }
    mix = store.group_mix(CHAT, store.opted_out())
    assert mix is not None
    text = "".join(
        csv_chunks(
            store.iter_messages(CHAT.id, include_deleted=False),
            hide=store.opted_out_handles(CHAT.id),
            opted_out=store.opted_out(),
            groups=mix.member_groups,
        )
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["author_id"]: r["group"] for r in rows}["202"] == "clinician"
    assert {r["author_id"]: r["group"] for r in rows}["401"] == ""
    assert {r["author_id"]: r["group"] for r in rows}["301"] == ""


def test_golden_transcripts_with_groups(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = {fmt: out / f"{CHAT.id}.{fmt}" for fmt in ("md", "html", "json")}
    write_transcripts(store, CHAT, paths, generated_at=at(45))
    rendered = render_chat(store, CHAT, generated_at=at(45))
    texts = {fmt: p.read_text(encoding="utf-8") for fmt, p in paths.items()}
    # The streamed files and the web's renders are the same documents.
    assert texts == {"md": rendered.markdown, "html": rendered.html, "json": rendered.json}
    mix = store.group_mix(CHAT, store.opted_out())
    assert mix is not None
    texts["csv"] = "".join(
        csv_chunks(
            store.iter_messages(CHAT.id, include_deleted=False),
            hide=store.opted_out_handles(CHAT.id),
            opted_out=store.opted_out(),
            zone=CHAT.zone,
            groups=mix.member_groups,
        )
    )
    for fmt, text in texts.items():
        check_golden(f"wedocs-groups.{fmt}", text)
    assert "<h2>Stakeholder mix</h2>" in texts["html"]


def test_a_chat_without_declarations_has_no_section(tmp_path: Path) -> None:
    store = Store(tmp_path / "plain.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(MESSAGES)
        assert store.group_mix(CHAT, frozenset()) is None
        rendered = render_chat(store, CHAT)
        assert "Stakeholder mix" not in rendered.markdown
        assert '"group"' not in rendered.json and '"groups"' not in rendered.json
        # A roster that names nobody of this chat adds nothing either.
        roster = parse_roster("x,@nobody,patient\n", source="r", groups=GROUPS, platforms=("x",))
        store.set_group_setup(DEFAULT_GROUPS, roster)
        assert store.group_mix(CHAT, frozenset()) is None
    finally:
        store.close()


def test_only_opted_out_declarations_leave_the_section_out(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(MESSAGES)
        store.declare_group("#WeDocs", "x", "304", "patient", at(1))
        store.opt_out("x", "304")
        assert store.group_mix(CHAT, store.opted_out()) is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "word", "only"),
    [
        ("!iam patient", "patient", True),
        ("!IAM Patient #WeDocs", "patient", True),
        ("@wedocsbot !iam carer", "carer", True),
        ("Hi all, nurse here !iam clinician #WeDocs", "clinician", False),
        ("!iam", "", True),
        ("!iam: carer", "carer", True),
        ("I am a patient #WeDocs", None, False),
        ("email me at x!iam", None, False),
        # A tester's: a question mark or an emoji after the group was part of the word.
        ("!iam clinician? #WeDocs", "clinician", True),
        ("!iam clinician\U0001fa7a", "clinician", True),
    ],
)
def test_declarations_are_found_in_posts(text: str, word: str | None, only: bool) -> None:
    assert find_declaration(text) == word
    if word is not None:
        assert declaration_only(text) is only


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("!iam Proche aidant #WeDocs", True),  # the whole label is the declaration
        ("@wedocsbot !iam gofalwr", True),
        ("!iam Proche aidant, merci à tous", False),
        ("!iam clinician \U0001fa7a #WeDocs", True),  # an emoji after a blank
        ("!iam manager \u2764\ufe0f", True),
        ("!iam clinician and proud", False),
        ("Hi all, nurse here !iam clinician #WeDocs", False),
    ],
)
def test_a_post_that_is_only_a_declaration_of_several_words(text: str, only: bool) -> None:
    assert declaration_only(text, every_label(groups_of(DEFAULT_GROUPS))) is only


def test_a_long_label_the_config_gives_is_matched_whole() -> None:
    # A second tester's: "Patient or family member" read as "patient" (three words read).
    groups = groups_of([("patient", "Patient"), ("family", "Patient or family member")])
    text = "!iam Patient or family member #WeDocs"
    assert match_declared(declared_words(text), groups) == groups[1]
    assert declaration_only(text, groups)


def test_groups_are_matched_by_key_or_label() -> None:
    groups = groups_of([("pt", "Patient"), ("hcp", "Clinician")])
    assert match_group("PATIENT", groups) == groups[0]
    assert match_group("hcp", groups) == groups[1]
    assert match_group("astronaut", groups) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        # A label of two words (French "Proche aidant"), typed as it reads or joined.
        ("!iam Proche aidant #WeDocs", "carer"),
        ("!iam proche-aidant", "carer"),
        ("!iam PROCHEAIDANT!", "carer"),
        ("!iam clinicien et fier de l'être", "clinician"),  # the first words that name one
        ("!iam proche", None),
        ("!iam", None),
        # A second tester's: quotes or brackets around the group, accents left out.
        ('!iam "patient"', "patient"),
        ("!iam (clinicien)", "clinician"),
        ("!iam etudiant", "student"),
        ("!iam E\u0301tudiant", "student"),  # typed decomposed
    ],
)
def test_a_label_of_several_words_is_matched_in_the_chat_s_language(
    text: str, key: str | None
) -> None:
    tr = translator("fr")
    groups = [Group(g.key, group_label(g.key, g.label, tr)) for g in groups_of(DEFAULT_GROUPS)]
    found = match_declared(declared_words(text), groups)
    assert (found.key if found else None) == key


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x,@a,patient\nx,@b,astronaut\n", "roster.csv: line 2: unknown group 'astronaut'"),
        ("myspace,@a,patient\n", "roster.csv: line 1: unknown platform 'myspace'"),
        ("x,@a\n", "roster.csv: line 1: expected 3 columns"),
        ("x,@a,patient\nx,A,carer\n", "roster.csv: line 2: x 'A' is already on line 1"),
        ("x, ,patient\n", "roster.csv: line 1: the handle or id is empty"),
    ],
)
def test_roster_errors_name_the_file_and_line(text: str, problem: str) -> None:
    with pytest.raises(RosterError) as info:
        parse_roster(text, source="roster.csv", groups=GROUPS, platforms=("x", "discord"))
    assert str(info.value).startswith(problem)


def test_an_edited_declaration_changes_the_group(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    try:
        assert store.declare_group("#WeDocs", "x", "1", "carer", at(1), message_id="m")
        assert store.declare_group("#WeDocs", "x", "1", "patient", at(1), message_id="m")
        assert store.group_sources("#WeDocs").own == {("x", "1"): "patient"}
    finally:
        store.close()


def test_a_hashtag_with_or_without_its_hash_files_declarations_under_one_key(
    tmp_path: Path,
) -> None:
    # Declared without the '#', or with the full-width '＃', or another case: the chat
    # #WeDocs finds them (they once went under a key no chat looked up).
    store = Store(tmp_path / "a.db")
    try:
        assert store.declare_group("WeDocs", "x", "1", "carer", at(1))
        assert store.declare_group("＃wedocs", "x", "2", "patient", at(1))
        assert store.declare_group(" #WEDOCS ", "x", "3", "clinician", at(1))
        expected = {("x", "1"): "carer", ("x", "2"): "patient", ("x", "3"): "clinician"}
        assert store.group_sources("#WeDocs").own == expected
        assert store.group_sources("wedocs").own == expected
        assert store.group_sources("#OtherChat").own == {}
    finally:
        store.close()


def test_the_same_post_met_again_updates_its_group_whatever_time_it_carries(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "a.db")
    try:
        assert store.declare_group("#WeDocs", "x", "1", "carer", at(2), message_id="m")
        assert store.declare_group("#WeDocs", "x", "1", "patient", at(1), message_id="m")
        assert store.group_sources("#WeDocs").own == {("x", "1"): "patient"}
    finally:
        store.close()


def test_a_changed_roster_or_changed_groups_replace_the_held_ones(tmp_path: Path) -> None:
    def roster(text: str) -> tuple[RosterEntry, ...]:
        return parse_roster(text, source="roster.csv", groups=GROUPS, platforms=("x",))

    store = Store(tmp_path / "a.db")
    try:
        store.set_group_setup(DEFAULT_GROUPS, roster("x,@ann,patient\n"))
        # The organisers edit the roster, the groups unchanged: the new roster counts.
        store.set_group_setup(DEFAULT_GROUPS, roster("x,@ann,carer\nx,@bob,patient\n"))
        assert store.group_sources("#WeDocs").roster == {
            ("x", "ann"): "carer",
            ("x", "bob"): "patient",
        }
        # The groups edited, the roster unchanged: the new labels count.
        renamed = (("patient", "Person with lived experience"), ("carer", "Carer"))
        store.set_group_setup(renamed, roster("x,@ann,carer\nx,@bob,patient\n"))
        assert store.configured_groups() == groups_of(renamed)
        assert len(store.group_sources("#WeDocs").roster) == 2
    finally:
        store.close()
