"""Label conventions (archive.labels) and the capture grammar built from them: Q/A, the
French Q/R, the Welsh C/A and topic chats (T1 for topic and answers)."""

from __future__ import annotations

import dataclasses
import string
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.capture import (
    CaptureContext,
    capture,
    label_grammar,
    parse_answer_labels,
    parse_question_labels,
)
from archive.labels import DEFAULT_LABELS, LabelError, Labels, label_letter, labels_from
from archive.models import CapturedMessage, IncomingMessage, MessageKind
from tests.archive.test_capture import CHAT, CTX, END, START, message

ENGLISH = Labels("Q", "A")
FRENCH = Labels("Q", "R")
WELSH = Labels("C", "A")
TOPICS = Labels("T", "T")
CONVENTIONS = st.sampled_from([ENGLISH, FRENCH, WELSH, TOPICS])

NUMBERS = st.integers(1, 99)
PARTS = st.sampled_from(["", "a", "b", "z"])
AFTER = st.sampled_from(["", " ", ": ", ". ", ") ", " - ", "! ", "\n", ", ", "…"])
SEPARATORS = st.sampled_from(["/", " & ", ", ", "+", " and ", " ", ",", "&"])
LEADS = st.sampled_from(
    ["", "@alice ", "#WeDocs ", "<@1> ", "  ", ".@ann ", "\u2022 ", "- ", "(", "\U0001f449 "]
)


# --- the convention itself --------------------------------------------------------------


def test_the_default_is_the_english_convention() -> None:
    assert DEFAULT_LABELS == Labels("Q", "A") == ENGLISH
    assert (ENGLISH.question_label("2a"), ENGLISH.answer_label("2a")) == ("Q2a", "A2a")
    assert (FRENCH.question_label("1"), FRENCH.answer_label("1")) == ("Q1", "R1")
    assert (WELSH.question_label("3"), WELSH.answer_label("3")) == ("C3", "A3")
    assert TOPICS.topics and not FRENCH.topics
    assert str(WELSH) == "C/A"


@pytest.mark.parametrize(
    ("value", "letter"), [("Q", "Q"), ("r", "R"), (" c ", "C"), ("ε", "Ε"), ("в", "В")]
)
def test_a_label_letter_is_one_cased_letter_kept_upper_case(value: str, letter: str) -> None:
    assert label_letter(value) == letter


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Q1", 'give the letter alone, "Q"'),
        ("Re", "expected one letter"),
        ("", "expected one letter"),
        ("1", "expected one letter"),
        ("#", "expected one letter"),
        ("ß", "expected one letter"),  # upper-cases to two letters
        ("中", "expected one letter"),  # no case: "a 1" / "A 1" would mean nothing
        (1, "in quotes"),
    ],
)
def test_other_label_letters_are_refused_with_the_reason(value: object, why: str) -> None:
    with pytest.raises(LabelError, match=why):
        label_letter(value, "labels.answer")


def test_labels_must_be_valid_letters_upper_case() -> None:
    with pytest.raises(LabelError, match="upper-case"):
        Labels("q", "a")
    with pytest.raises(LabelError, match="answer"):
        Labels("Q", "RR")


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Q/A", ENGLISH),
        ("Q/R", FRENCH),
        ("q / r", FRENCH),
        ("Q1/R1", FRENCH),
        ("C/A", WELSH),
        ("T", TOPICS),
        ("T/T", TOPICS),
    ],
)
def test_labels_from_the_command_line(text: str, labels: Labels) -> None:
    assert labels_from(text) == labels


@pytest.mark.parametrize("text", ["", "Q/", "/A", "Q/A/B", "QA", "Q/10"])
def test_labels_from_refuses_what_is_no_convention(text: str) -> None:
    with pytest.raises(LabelError, match="--labels"):
        labels_from(text, "--labels")


# --- the grammar, for every convention ----------------------------------------------------


@settings(max_examples=300)
@given(
    CONVENTIONS,
    LEADS,
    st.lists(st.tuples(NUMBERS, PARTS), min_size=1, max_size=4),
    SEPARATORS,
    st.booleans(),
    AFTER,
    st.text(alphabet=string.ascii_lowercase + " ", max_size=20),
)
def test_every_label_form_parses_in_every_convention(
    labels: Labels,
    lead: str,
    written: list[tuple[int, str]],
    sep: str,
    upper: bool,
    after: str,
    rest: str,
) -> None:
    letter = labels.answer if upper else labels.answer.lower()
    body = sep.join(f"{letter}{n}{p}" for n, p in written)
    text = f"{lead}{body}{after}{rest}" if after else f"{lead}{body}"
    assert parse_answer_labels(text, labels) == tuple(dict.fromkeys(f"{n}{p}" for n, p in written))


@settings(max_examples=200)
@given(CONVENTIONS, NUMBERS, PARTS, st.sampled_from([" ", ": ", " - ", "? "]), st.booleans())
def test_question_labels_parse_in_every_convention(
    labels: Labels, n: int, part: str, after: str, upper: bool
) -> None:
    letter = labels.question if upper else labels.question.lower()
    assert parse_question_labels(f"{letter}{n}{part}{after}How?", labels) == (f"{n}{part}",)


@settings(max_examples=300)
@given(CONVENTIONS, st.sampled_from(string.ascii_uppercase), NUMBERS, LEADS, st.booleans())
def test_another_letter_is_no_label(
    labels: Labels, other: str, n: int, lead: str, upper: bool
) -> None:
    """With R answers an A1 is no answer label, with A answers an R1 is none, and so on."""
    letter = other if upper else other.lower()
    text = f"{lead}{letter}{n}: yes #WeDocs"
    if other != labels.answer:
        assert parse_answer_labels(text, labels) == ()
    if other != labels.question:
        assert parse_question_labels(text, labels) == ()


@settings(max_examples=200)
@given(CONVENTIONS, NUMBERS, st.sampled_from([" ", "\t"]))
def test_case_rules_are_the_same_in_every_convention(labels: Labels, n: int, gap: str) -> None:
    """A space may follow the upper-case letter only: "R 1" is a label, "r 1" is words."""
    up, low = labels.answer, labels.answer.lower()
    assert parse_answer_labels(f"{up}{gap}{n} yes", labels) == (str(n),)
    assert parse_answer_labels(f"{low}{n} yes", labels) == (str(n),)
    assert parse_answer_labels(f"{low}{gap}{n} in 10 chance", labels) == ()
    assert parse_answer_labels(f"{up}{n}st place", labels) == ()


@pytest.mark.parametrize(
    ("labels", "text", "answers", "questions"),
    [
        (FRENCH, "R1 : on co-construit #WeDocs", ("1",), ()),
        (FRENCH, "A1 we co-design #WeDocs", (), ()),
        (FRENCH, "Q2 : Qu'est-ce qui a bloqué ?", (), ("2",)),
        (FRENCH, "R1-3 tout à la fois", ("1", "2", "3"), ()),
        (FRENCH, "Rien à dire", (), ()),
        (FRENCH, "r 1 sur 10", (), ()),
        (WELSH, "A1: Rydyn ni'n cyd-ddylunio #WeDocs", ("1",), ()),
        (WELSH, "C1: Sut ydych chi'n cynnwys cleifion?", (), ("1",)),
        (WELSH, "Q1: how?", (), ()),
        (WELSH, "Croeso! C'mon", (), ()),
        (TOPICS, "T1: Patient partners #hcldr", ("1",), ("1",)),
        (TOPICS, "t2a agreed", ("2a",), ("2a",)),
        (TOPICS, "A1 yes", (), ()),
        (TOPICS, "Today's topics", (), ()),
    ],
)
def test_examples_in_each_convention(
    labels: Labels, text: str, answers: tuple[str, ...], questions: tuple[str, ...]
) -> None:
    assert parse_answer_labels(text, labels) == answers
    assert parse_question_labels(text, labels) == questions


def test_one_grammar_per_letter_built_once() -> None:
    assert label_grammar("R") is label_grammar("R")
    assert label_grammar("R").letter == "R" and label_grammar("R").leads == {"R", "r"}


@settings(max_examples=200)
@given(
    st.sampled_from([ENGLISH, FRENCH, WELSH, TOPICS, Labels("Ε", "Α"), Labels("В", "О")]),
    st.text(max_size=200),
)
def test_random_text_never_raises_in_any_convention(labels: Labels, text: str) -> None:
    for keys in (parse_answer_labels(text, labels), parse_question_labels(text, labels)):
        assert all(k[:1].isdigit() for k in keys)


# --- capture with the chat's convention ---------------------------------------------------


def _ctx(labels: Labels) -> CaptureContext:
    return dataclasses.replace(CTX, chat=dataclasses.replace(CHAT, labels=labels))


def _captured(msg: IncomingMessage, labels: Labels) -> CapturedMessage:
    result = capture(msg, _ctx(labels))
    assert result is not None
    return result


@settings(max_examples=200)
@given(
    st.sampled_from([ENGLISH, FRENCH, WELSH]),
    st.sampled_from(["A", "R", "C", "Q"]),
    st.sampled_from(["1", "2", "4"]),
    st.integers(0, 4),
    st.integers(0, 599),
)
def test_only_the_chats_own_answer_letter_picks_the_question(
    labels: Labels, letter: str, key: str, slot: int, seconds: int
) -> None:
    """A label in the chat's answer letter names the question; any other letter is text,
    and the answer goes to the question open at the time."""
    question = CHAT.questions[slot]
    at = min(CHAT.question_time(question) + timedelta(seconds=seconds), END)
    if question.key == "3a":  # 3a and 3b share a time: the later-listed one is open
        question = CHAT.questions[3]
    result = _captured(message(f"{letter}{key} yes #WeDocs", created_at=at), labels)
    expected = key if letter == labels.answer else question.key
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, (expected,))


def test_the_bots_question_post_is_read_in_the_chats_letter() -> None:
    bot = {"author_id": "bot-1", "platform_id": "new-post"}
    welsh = _captured(message("C2: Beth oedd yn rhwystr? #WeDocs", **bot), WELSH)
    assert (welsh.kind, welsh.question_keys) == (MessageKind.QUESTION, ("2",))
    english_in_welsh = _captured(message("Q2: What got in the way? #WeDocs", **bot), WELSH)
    assert english_in_welsh.kind is MessageKind.HOST


def test_a_host_in_a_topic_chat_answers_with_the_topic_label() -> None:
    host = {"author_handle": "HostAnna", "author_id": "anna"}
    mine = _captured(message("T1: we started with a patient council #WeDocs", **host), TOPICS)
    assert (mine.kind, mine.question_keys) == (MessageKind.ANSWER, ("1",))
    # The topic post itself (the bot's, or the question post an import found) is the topic.
    topic = _captured(
        message("T2: What got in the way? #WeDocs", platform_id="q2-post", **host), TOPICS
    )
    assert (topic.kind, topic.question_keys) == (MessageKind.QUESTION, ("2",))
    bot = _captured(message("T4: One word? #WeDocs", author_id="bot-1"), TOPICS)
    assert (bot.kind, bot.question_keys) == (MessageKind.QUESTION, ("4",))
    participant = _captured(message("t2 money, mostly #WeDocs"), TOPICS)
    assert (participant.kind, participant.question_keys) == (MessageKind.ANSWER, ("2",))


def test_a_host_in_a_question_chat_follows_up_questions_by_label() -> None:
    # The questions' own posts are the bot's (or those an import found): a host's other
    # labelled post is the host taking part in that question, in each convention.
    host = {"author_handle": "HostAnna", "author_id": "anna"}
    for labels, text in ((ENGLISH, "Q2: follow-up?"), (FRENCH, "Q2 : et ensuite ?")):
        found = _captured(message(f"{text} #WeDocs", **host), labels)
        assert (found.kind, found.question_keys) == (MessageKind.HOST, ("2",))
        own = _captured(message(f"{text} #WeDocs", platform_id="q2-post", **host), labels)
        assert (own.kind, own.question_keys) == (MessageKind.QUESTION, ("2",))
    answer = _captured(message("R2 : le temps #WeDocs", **host), FRENCH)
    assert (answer.kind, answer.question_keys) == (MessageKind.ANSWER, ("2",))


def test_capture_reads_the_default_convention_when_the_chat_has_none() -> None:
    assert CHAT.labels == DEFAULT_LABELS
    result = capture(message("A2 yes #WeDocs", created_at=START + timedelta(minutes=12)), CTX)
    assert result is not None and result.question_keys == ("2",)
