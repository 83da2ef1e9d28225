"""Tests for archive.capture: hashtags, labels, hosts and the capture rules."""

from __future__ import annotations

import dataclasses
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.capture import (
    CaptureContext,
    capture,
    is_host,
    mentions_in,
    parse_answer_labels,
    parse_question_labels,
)
from archive.hashtags import HASHTAG_RE, HashtagError, find_hashtags, has_hashtag, normalise_hashtag
from archive.models import (
    CapturedMessage,
    Chat,
    ChatStatus,
    IncomingMessage,
    MessageKind,
    Question,
    Target,
)

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 12, 1, 20, 0, tzinfo=LONDON).astimezone(UTC)
END = START + timedelta(minutes=60)
GRACE_END = END + timedelta(minutes=30)
MIN = timedelta(minutes=1)

CHAT = Chat(
    id="wedocs-2026-12-01",
    title="Patients as partners in QI",
    hashtag="#WeDocs",
    start=START,
    end=END,
    timezone="Europe/London",
    questions=(
        Question(1, "How do you involve patients?", timedelta(minutes=10)),
        Question(2, "What got in the way?", timedelta(minutes=20)),
        Question(3, "What would you try next?", timedelta(minutes=30), part="a"),
        Question(3, "Who would you ask?", timedelta(minutes=30), part="b"),
        Question(4, "One word to sum up?", timedelta(minutes=45)),
    ),
    targets=(Target("local", "main"), Target("x", "")),
    hosts=("@HostAnna", "discord:987"),
)

Q_POSTS = {"q1-post": "1", "q2-post": "2", "q3a-post": "3a", "q3b-post": "3b", "q4-post": "4"}
CTX = CaptureContext(
    chat=CHAT,
    question_posts=Q_POSTS,
    chat_posts=frozenset({"intro-post", "wrap-post", *Q_POSTS}),
    bot_ids=frozenset({"bot-1"}),
)


def message(text: str = "A1 we co-design #WeDocs", **changes: Any) -> IncomingMessage:
    """A participant's message in the chat's local room, 15 minutes after the start."""
    fields: dict[str, Any] = {
        "platform": "local",
        "platform_id": "m-1",
        "channel": "main",
        "author_id": "u-42",
        "author_name": "Sam Nurse",
        "author_handle": "samnurse",
        "text": text,
        "created_at": START + 15 * MIN,
    }
    fields.update(changes)
    return IncomingMessage(**fields)


def captured(msg: IncomingMessage, ctx: CaptureContext = CTX) -> CapturedMessage:
    result = capture(msg, ctx)
    assert result is not None
    return result


# --- hashtags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WeDocs", "#WeDocs"),
        ("#WeDocs", "#WeDocs"),
        (" #wedocs ", "#wedocs"),
        ("#hcsm", "#hcsm"),
        ("#NHS_QI", "#NHS_QI"),
        ("#2026chat", "#2026chat"),
        ("#café", "#café"),
        ("#cafe\u0301", "#café"),  # decomposed accent is composed (NFC)
        ("#हिंदी", "#हिंदी"),  # combining vowel signs are part of the tag
        ("＃WeDocs", "#WeDocs"),
        ("#" + "x" * 99, "#" + "x" * 99),
    ],
)
def test_normalise_hashtag_accepts(raw: str, expected: str) -> None:
    assert normalise_hashtag(raw) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("#", "nothing after"),
        ("#123", "all digits"),
        ("#We Docs", "space"),
        ("#we-docs", "'-'"),
        ("##x", "'#'"),
        ("#we.docs", r"'\.'"),
        ("#" + "x" * 100, "at most 100"),
    ],
)
def test_normalise_hashtag_rejects_with_reason(raw: str, why: str) -> None:
    with pytest.raises(HashtagError, match=why):
        normalise_hashtag(raw)


def test_hashtag_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalise_hashtag("#")


@pytest.mark.parametrize(
    ("body", "ok"),
    [("WeDocs", True), ("_", True), ("a1", True), ("1a", True), ("12", False), ("", False)],
)
def test_hashtag_re_matches_valid_bodies_only(body: str, ok: bool) -> None:
    assert bool(HASHTAG_RE.fullmatch(body)) is ok


def test_hashtag_re_is_anchored() -> None:
    assert HASHTAG_RE.match("We Docs") is None


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_normalise_hashtag_is_idempotent(raw: str) -> None:
    try:
        once = normalise_hashtag(raw)
    except HashtagError:
        return
    assert normalise_hashtag(once) == once
    assert normalise_hashtag(once.lstrip("#")) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#wedocs", True),
        ("#WEDOCS", True),
        ("#WeDocs", True),
        ("great chat #WeDocs", True),
        ("(#WeDocs)", True),
        ("#WeDocs.", True),
        ("#WeDocs!", True),
        ("#WeDocs's best", True),
        ("A1: yes,#WeDocs", True),
        ("#hcsm #WeDocs #FOAMed", True),
        ("#WeDocs\U0001f389", True),
        ("＃WeDocs", True),
        ("#WeDocsX", False),
        ("#WeDocs_2", False),
        ("#WeDocs2", False),
        ("email#WeDocs", False),
        ("x_#WeDocs", False),
        ("WeDocs", False),
        ("# WeDocs", False),
        ("see https://example.com/#WeDocs", False),
        ("", False),
    ],
)
def test_has_hashtag(text: str, expected: bool) -> None:
    assert has_hashtag(text, "#WeDocs") is expected


def test_has_hashtag_accepts_tag_without_hash() -> None:
    assert has_hashtag("A1 yes #WeDocs", "wedocs")


def test_has_hashtag_uses_casefold() -> None:
    assert has_hashtag("#STRASSE", "#straße")


def test_has_hashtag_with_empty_tag_is_false() -> None:
    assert not has_hashtag("# #", "#")


def test_find_hashtags_as_written_in_order() -> None:
    text = "A1 #WeDocs (#hcsm) #123 email#x #NHS_QI. https://e.com/#frag"
    assert find_hashtags(text) == ["#WeDocs", "#hcsm", "#NHS_QI"]


TAG_CHARS = st.sampled_from(string.ascii_letters + string.digits + "_éßİı文")
TAGS = st.text(TAG_CHARS, min_size=1, max_size=20).filter(lambda s: HASHTAG_RE.fullmatch(s))
PUNCT = st.sampled_from(list(" \t\n.,!?;:()[]\"'-/…\U0001f389"))


@settings(max_examples=200)
@given(TAGS, st.data())
def test_has_hashtag_ignores_case(tag: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(tag), max_size=len(tag)))
    written = "".join(c.swapcase() if f else c for c, f in zip(tag, flips, strict=True))
    # Some characters change length or fail to round-trip when their case is swapped.
    if written.casefold() != tag.casefold():
        return
    assert has_hashtag(f"A1 we agree #{written}", f"#{tag}")


@settings(max_examples=200)
@given(TAGS, PUNCT, PUNCT, st.text(max_size=10), st.text(max_size=10))
def test_has_hashtag_with_punctuation_around(
    tag: str, before: str, after: str, head: str, tail: str
) -> None:
    assert has_hashtag(f"{head} {before}#{tag}{after} {tail}", f"#{tag}")


@settings(max_examples=200)
@given(TAGS, st.sampled_from(list("aZ9_é文")))
def test_has_hashtag_rejects_longer_token(tag: str, extra: str) -> None:
    assert not has_hashtag(f"hi #{tag}{extra} there", f"#{tag}")


@settings(max_examples=200)
@given(TAGS, st.sampled_from(list("aZ9_é文")))
def test_has_hashtag_rejects_word_before_hash(tag: str, before: str) -> None:
    assert not has_hashtag(f"hi {before}#{tag} there", f"#{tag}")


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1 we co-design", ("1",)),
        ("A1: we co-design", ("1",)),
        ("A1. we co-design", ("1",)),
        ("A1) we co-design", ("1",)),
        ("a1 - we co-design", ("1",)),
        ("A 1 we co-design", ("1",)),
        ("A1a we co-design", ("1a",)),
        ("A1b", ("1b",)),
        ("A1B: yes", ("1b",)),
        ("A10", ("10",)),
        ("A99 last", ("99",)),
        ("A01 leading zero", ("1",)),
        ("A1/A2 both", ("1", "2")),
        ("A1 & A2 both", ("1", "2")),
        ("A1, A2 both", ("1", "2")),
        ("A1+A2 both", ("1", "2")),
        ("A1 and A2 both", ("1", "2")),
        ("A1 A2 both", ("1", "2")),
        ("A2a/A2b same", ("2a", "2b")),
        ("A1/A1 twice", ("1",)),
        ("A1-3 catching up", ("1", "2", "3")),
        ("A1-A3 catching up", ("1", "2", "3")),
        ("A2\u20134 catching up", ("2", "3", "4")),
        ("A3-1 odd", ("3",)),
        ("A1 - 3 ways we do it", ("1",)),
        ("A1 2 things", ("1",)),
        ("  A1 indented", ("1",)),
        ("@alice A1 agree", ("1",)),
        ("@alice @Bob_2, A2: agree", ("2",)),
        ("@a@mastodon.social A3 agree", ("3",)),
        ("<@123456> <@!789> A1 agree", ("1",)),
        ("#WeDocs A2 agree", ("2",)),
        ("A1\U0001f389 yes", ("1",)),
        ("A1", ("1",)),
        # Issue 14: any leading run of mentions, hashtags, punctuation and symbols.
        (".@ann A3 agree #WeDocs", ("3",)),  # the X-era "dot mention"
        (". @ann A3 agree", ("3",)),
        ("•A1 co-design", ("1",)),
        ("• A1 co-design", ("1",)),
        ("- A2 money", ("2",)),
        ("* A2 money", ("2",)),
        ("(A1) yes", ("1",)),
        ("\u201cA1: yes\u201d", ("1",)),
        ("\U0001f449 A2 money", ("2",)),
        ("\u27a1\ufe0f A2 money", ("2",)),  # an emoji with its variation selector
        ("\u200bA1 behind a zero-width space", ("1",)),
        (".@ann, @bob: #WeDocs \u2022 A1/A2 both", ("1", "2")),
        ("#ＷｅＤｏｃｓ A4 one word", ("4",)),
    ],
)
def test_parse_answer_labels(text: str, expected: tuple[str, ...]) -> None:
    assert parse_answer_labels(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Also, great chat",
        "Anyone else?",
        "AB testing",
        "A",
        "As a nurse I think",
        "Answer: co-design",
        "A0 nothing",
        "A100 too big",
        "A123",
        "A1st place",
        "A1_x",
        "a 1 in 10 chance",
        "RT @x: A1 we co-design",
        ". RT @x: A1 we co-design",
        "I think A1 is right",
        ". I think A1 is right",
        "...and A1",
        "Q1: how?",
        "",
        "   ",
        "@alice",
    ],
)
def test_parse_answer_labels_finds_none(text: str) -> None:
    assert parse_answer_labels(text) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q1: How do you involve patients?", ("1",)),
        ("Q2a What got in the way?", ("2a",)),
        ("q3 - who?", ("3",)),
        ("#WeDocs Q4 one word?", ("4",)),
        ("\u2022 Q4 one word?", ("4",)),
        ("Q1/Q2 together", ("1", "2")),
        ("Questions soon", ()),
        ("A1 answer", ()),
    ],
)
def test_parse_question_labels(text: str, expected: tuple[str, ...]) -> None:
    assert parse_question_labels(text) == expected


NUMBERS = st.integers(1, 99)
PARTS = st.sampled_from(["", "a", "b", "z"])
AFTER = st.sampled_from(["", " ", ": ", ". ", ") ", " - ", "! ", "\n", ", ", "…"])
SEPARATORS = st.sampled_from(["/", " & ", ", ", "+", " and ", " ", ",", "&"])
LEADS = st.sampled_from(
    ["", "@alice ", "@alice @bob ", "#WeDocs ", "<@1> ", "  ", ".@ann ", "\u2022 ", "- ", "("]
)
MORE_LEADS = st.sampled_from([".@ann @bob: #WeDocs ", "\U0001f449 ", "#ＷｅＤｏｃｓ ", "> "])


@settings(max_examples=200)
@given(
    LEADS | MORE_LEADS,
    st.lists(st.tuples(NUMBERS, PARTS), min_size=1, max_size=4),
    SEPARATORS,
    st.sampled_from(["A", "a"]),
    AFTER,
    st.text(alphabet=string.ascii_lowercase + " ", max_size=20),
)
def test_every_label_form_parses(
    lead: str,
    labels: list[tuple[int, str]],
    sep: str,
    letter: str,
    after: str,
    rest: str,
) -> None:
    written = sep.join(f"{letter}{n}{p}" for n, p in labels)
    text = f"{lead}{written}{after}{rest}" if after else f"{lead}{written}"
    assert parse_answer_labels(text) == tuple(dict.fromkeys(f"{n}{p}" for n, p in labels))


PUNCTUATION_OR_SYMBOL = st.characters(
    categories=("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Cf"),
    exclude_characters="_",  # a word character, as in "A1_x"
)


@settings(max_examples=300)
@given(
    st.lists(PUNCTUATION_OR_SYMBOL | st.sampled_from(["@ann", "#WeDocs", " "]), max_size=6),
    NUMBERS,
)
def test_a_label_follows_any_run_of_mentions_tags_and_punctuation(lead: list[str], n: int) -> None:
    # A space before the label: "@" or "#" right before it would make "@A1" or "#A1".
    assert parse_answer_labels(f"{''.join(lead)} A{n} yes") == (str(n),)


@settings(max_examples=200)
@given(NUMBERS, PARTS, st.sampled_from([" ", ": ", " - ", "? "]))
def test_question_label_forms_parse(n: int, part: str, after: str) -> None:
    assert parse_question_labels(f"Q{n}{part}{after}How?") == (f"{n}{part}",)


@settings(max_examples=200)
@given(NUMBERS, st.sampled_from(list("abcdefghijklmnopqrstuvwxyz")))
def test_label_followed_by_letter_run_is_no_label(n: int, letter: str) -> None:
    assert parse_answer_labels(f"A{n}a{letter} text") == ()


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    for keys in (parse_answer_labels(text), parse_question_labels(text)):
        assert all(k[:1].isdigit() for k in keys)
    assert isinstance(find_hashtags(text), list)
    assert isinstance(has_hashtag(text, "#WeDocs"), bool)
    assert all(m == m.lower() and not m.startswith("@") for m in mentions_in(text))


# --- mentions and hosts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Alice thanks @bob!", ("alice", "bob")),
        ("@bob @BOB @alice", ("bob", "alice")),
        ("mail me at bob@example.com", ()),
        ("@alice.bsky.social hi", ("alice.bsky.social",)),
        ("@Ann@Mastodon.Social hi", ("ann@mastodon.social",)),
        ("see https://mastodon.social/@alice/1", ()),
        ("<@123> hi", ()),
        ("@alice. Then", ("alice",)),
        ("no mentions", ()),
    ],
)
def test_mentions_in(text: str, expected: tuple[str, ...]) -> None:
    assert mentions_in(text) == expected


@pytest.mark.parametrize(
    ("hosts", "changes", "expected"),
    [
        (("samnurse",), {}, True),
        (("@SamNurse",), {}, True),
        (("u-42",), {}, True),
        (("local:u-42",), {}, True),
        (("LOCAL:@samnurse",), {}, True),
        (("x:samnurse",), {}, False),
        (("discord:u-42",), {}, False),
        (("someone",), {}, False),
        (("",), {"author_handle": ""}, False),
        (("local:",), {"author_handle": ""}, False),
        (("samnurse",), {"author_handle": "@SamNurse"}, True),
        ((), {}, False),
    ],
)
def test_is_host(hosts: tuple[str, ...], changes: dict[str, str], expected: bool) -> None:
    chat = dataclasses.replace(CHAT, hosts=hosts)
    assert is_host(message(**changes), chat) is expected


# --- capture: place, window, belonging ------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "channel", "belongs"),
    [
        ("local", "main", True),
        ("local", "other", False),
        ("local", "", False),
        ("x", "", True),
        ("x", "anything", True),  # the X target has no channel: any channel will do
        ("discord", "main", False),
    ],
)
def test_capture_place(platform: str, channel: str, belongs: bool) -> None:
    result = capture(message(platform=platform, channel=channel), CTX)
    assert (result is not None) is belongs


@pytest.mark.parametrize(
    ("created_at", "belongs"),
    [
        (START - 15 * MIN - timedelta(seconds=1), False),
        (START - 15 * MIN, True),
        (START, True),
        (END, True),
        (GRACE_END, True),
        (GRACE_END + timedelta(seconds=1), False),
    ],
)
def test_capture_time_window(created_at: datetime, belongs: bool) -> None:
    assert (capture(message(created_at=created_at), CTX) is not None) is belongs


def test_capture_compares_other_zones_as_instants() -> None:
    # 21:00 in New York on 1 Dec is 02:00 UTC on 2 Dec: long after the chat.
    late_evening = datetime(2026, 12, 1, 21, 0, tzinfo=ZoneInfo("America/New_York"))
    assert capture(message(created_at=late_evening), CTX) is None


def test_capture_stores_created_at_in_utc() -> None:
    local = (START + 15 * MIN).astimezone(timezone(timedelta(hours=5, minutes=30)))
    result = captured(message(created_at=local))
    assert result.created_at == START + 15 * MIN
    assert result.created_at.utcoffset() == timedelta(0)


def test_capture_ignores_naive_created_at() -> None:
    naive = (START + 15 * MIN).replace(tzinfo=None)
    assert capture(message(created_at=naive), CTX) is None


def test_capture_ignores_cancelled_chat() -> None:
    ctx = dataclasses.replace(CTX, chat=dataclasses.replace(CHAT, status=ChatStatus.CANCELLED))
    assert capture(message(), ctx) is None


@pytest.mark.parametrize(
    ("changes", "belongs"),
    [
        ({"text": "A1 yes #wedocs"}, True),
        ({"text": "A1 yes"}, False),
        ({"text": "A1 yes #WeDocsX"}, False),
        ({"text": "A1 yes", "reply_to": "q1-post"}, True),
        ({"text": "hello", "reply_to": "intro-post"}, True),
        ({"text": "hello", "reply_to": "someone-else"}, False),
        ({"text": "Q1: How?", "is_bot": True}, True),
        ({"text": "Q1: How?", "author_id": "bot-1"}, True),
        ({"text": "hello", "author_id": ""}, False),
    ],
)
def test_capture_belonging(changes: dict[str, Any], belongs: bool) -> None:
    assert (capture(message(**changes), CTX) is not None) is belongs


def test_empty_reply_to_does_not_match_empty_post_id() -> None:
    ctx = dataclasses.replace(CTX, chat_posts=frozenset({""}))
    assert capture(message("hello", reply_to=""), ctx) is None


# --- capture: kinds and attribution -------------------------------------------------------


def test_bot_question_from_label() -> None:
    result = captured(message("Q2: What got in the way? #WeDocs", is_bot=True))
    assert (result.kind, result.question_keys) == (MessageKind.QUESTION, ("2",))


def test_bot_question_from_question_post_id() -> None:
    result = captured(message("What got in the way?", is_bot=True, platform_id="q2-post"))
    assert (result.kind, result.question_keys) == (MessageKind.QUESTION, ("2",))


def test_bot_other_post_is_host() -> None:
    result = captured(message("Welcome! Introduce yourselves #WeDocs", author_id="bot-1"))
    assert (result.kind, result.question_keys) == (MessageKind.HOST, ())


def test_bot_answer_label_is_not_an_answer() -> None:
    result = captured(message("A1 roundup #WeDocs", is_bot=True))
    assert result.kind is MessageKind.HOST


def test_bot_post_after_end_is_not_late() -> None:
    result = captured(message("Thanks all #WeDocs", is_bot=True, created_at=END + 5 * MIN))
    assert (result.kind, result.late) == (MessageKind.HOST, False)


def test_a_hosts_labelled_post_is_a_host_post_in_its_questions_thread() -> None:
    # Live, the questions' own posts are the bot's: a host's "Q3a ..." (here before the
    # bot's Q3a went out) is the host taking part in that question, listed in its thread.
    # It was a question post, which the Markdown/HTML list nowhere.
    result = captured(message("Q3a What would you try? #WeDocs", author_handle="hostanna"))
    assert (result.kind, result.question_keys) == (MessageKind.HOST, ("3a",))


# A host's "Q1 follow-up: ..." (found by a tester): it was taken for a second question
# post, which the Markdown and HTML transcripts do not list.
def test_a_hosts_follow_up_on_a_question_is_a_host_post_in_its_thread() -> None:
    follow_up = message("Q1 follow-up: who measures it? #WeDocs", author_handle="hostanna")
    result = captured(follow_up)
    assert (result.kind, result.question_keys, result.late) == (MessageKind.HOST, ("1",), False)
    two = captured(message("Q1/Q2 still open #WeDocs", author_handle="hostanna"))
    assert (two.kind, two.question_keys) == (MessageKind.HOST, ("1", "2"))
    nine = captured(message("Q9 follow-up #WeDocs", author_handle="hostanna"))
    assert (nine.kind, nine.question_keys) == (MessageKind.HOST, ("9",))  # Other posts


FOLLOWED = dataclasses.replace(
    CTX,
    follow_ups={"f-1": ("1",), "f-12": ("1", "2"), "f-9": ("9",), "bot-f": ("2",)},
)


def test_a_reply_to_a_follow_up_answers_its_questions() -> None:
    # Q2 is the open question at minute 25; the reply carries no hashtag and no label.
    late = {"created_at": START + 25 * MIN, "text": "our council, monthly"}
    assert captured(message(reply_to="f-1", **late), FOLLOWED).question_keys == ("1",)
    assert captured(message(reply_to="f-12", **late), FOLLOWED).question_keys == ("1", "2")
    # A question the chat does not have: the reply answers the open one (it has the tag).
    tagged = {**late, "text": "our council, monthly #WeDocs"}
    assert captured(message(reply_to="f-9", **tagged), FOLLOWED).question_keys == ("2",)
    assert capture(message(reply_to="f-unknown", **late), FOLLOWED) is None  # no tag, no post


def test_an_imported_hosts_first_question_post_is_the_question_and_a_later_one_follows_up() -> None:
    # An import takes the first labelled host post of each key for the question's post and
    # the later ones for follow-ups (archive.importers.discord_staging.question_posts).
    ctx = dataclasses.replace(CTX, question_posts={"h-q1": "1"}, follow_ups={"h-q1-again": ("1",)})
    first = message("Q1 How do you involve patients? #WeDocs", author_handle="hostanna")
    asked = captured(dataclasses.replace(first, platform_id="h-q1"), ctx)
    assert (asked.kind, asked.question_keys) == (MessageKind.QUESTION, ("1",))
    again = message("Q1 follow-up: and carers? #WeDocs", author_handle="hostanna")
    later = captured(dataclasses.replace(again, platform_id="h-q1-again"), ctx)
    assert (later.kind, later.question_keys) == (MessageKind.HOST, ("1",))
    # Edited to drop its label: still the host taking part, not the question's post.
    edited = captured(
        dataclasses.replace(again, platform_id="h-q1-again", text="And carers? #WeDocs"), ctx
    )
    assert (edited.kind, edited.question_keys) == (MessageKind.HOST, ())


def test_an_imported_bots_later_labelled_post_follows_up() -> None:
    reminder = message("Q2 reminder: what got in the way? #WeDocs", is_bot=True)
    got = captured(dataclasses.replace(reminder, platform_id="bot-f"), FOLLOWED)
    assert (got.kind, got.question_keys) == (MessageKind.HOST, ("2",))
    # The bot's own question posts are questions, on every network they went out on.
    posted = captured(dataclasses.replace(reminder, platform_id="q2-post"), FOLLOWED)
    assert (posted.kind, posted.question_keys) == (MessageKind.QUESTION, ("2",))


def test_host_labelled_answer() -> None:
    result = captured(message("A1 we ask our council #WeDocs", author_handle="HostAnna"))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, ("1",))


def test_host_unlabelled_message_is_host() -> None:
    msg = message("Great answers everyone #WeDocs", author_id="987", platform="x", channel="")
    chat = dataclasses.replace(CHAT, hosts=("x:987",))
    result = captured(msg, dataclasses.replace(CTX, chat=chat))
    assert (result.kind, result.question_keys) == (MessageKind.HOST, ())


def test_host_repost_is_repost() -> None:
    result = captured(message("A1 so true #WeDocs", author_handle="hostanna", is_repost=True))
    assert (result.kind, result.question_keys) == (MessageKind.REPOST, ())


@pytest.mark.parametrize(
    "changes",
    [
        {"is_repost": True},
        {"text": "RT @alice: A1 we co-design #WeDocs"},
        {"text": "  RT @alice: great #WeDocs"},
    ],
)
def test_repost(changes: dict[str, Any]) -> None:
    result = captured(message(**changes))
    assert (result.kind, result.question_keys) == (MessageKind.REPOST, ())


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("A2 money #WeDocs", ("2",)),
        ("A1/A2 both #WeDocs", ("1", "2")),
        ("A2 & A9 renumbered #WeDocs", ("2", "9")),  # unknown labels are kept as given
        ("A3a/A3b #WeDocs", ("3a", "3b")),
    ],
)
def test_explicit_labels(text: str, keys: tuple[str, ...]) -> None:
    result = captured(message(text))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, keys)


def test_a_label_after_a_dot_mention_is_read() -> None:
    # Issue 14: posted while Q2 was open, it answers Q3a as written, not the open question.
    result = captured(message(".@ann A3a agree #WeDocs", created_at=START + 22 * MIN))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, ("3a",))


def test_a_full_width_hashtag_is_the_chats() -> None:
    # Issue 14: typed with an East Asian input method; X and Mastodon treat it as #WeDocs.
    result = captured(message("A2 予算 #ＷｅＤｏｃｓ", created_at=START + 22 * MIN))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, ("2",))


@pytest.mark.parametrize(
    "text",
    [
        "A2 #WeDocś",
        "A2 #ＷｅＤｏｃｓＣｈａｔ",
        "A2 #ＷｅＤｏｃｓ＿２０２４",
        "A2 https://e.com/#ＷｅＤｏｃｓ",
    ],
)
def test_other_tags_in_full_width_are_not_the_chats(text: str) -> None:
    assert capture(message(text), CTX) is None


def test_labels_that_all_do_not_exist_fall_through_to_reply() -> None:
    result = captured(message("A9 hmm #WeDocs", reply_to="q2-post"))
    assert result.question_keys == ("2",)


def test_labels_that_all_do_not_exist_fall_through_to_open_question() -> None:
    result = captured(message("A9 hmm #WeDocs", created_at=START + 22 * MIN))
    assert result.question_keys == ("2",)


def test_label_naming_a_posted_but_unplanned_question_exists() -> None:
    ctx = dataclasses.replace(CTX, question_posts={**Q_POSTS, "q9-post": "9"})
    result = captured(message("A9 bonus #WeDocs", created_at=START + 22 * MIN), ctx)
    assert result.question_keys == ("9",)


def test_label_beats_reply() -> None:
    result = captured(message("A1 back to one #WeDocs", reply_to="q2-post"))
    assert result.question_keys == ("1",)


def test_reply_beats_open_question() -> None:
    result = captured(message("money, mostly", reply_to="q1-post", created_at=START + 35 * MIN))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, ("1",))


@pytest.mark.parametrize(
    ("minutes", "key"),
    [(10, "1"), (19, "1"), (20, "2"), (29.99, "2"), (30, "3b"), (44, "3b"), (45, "4"), (60, "4")],
)
def test_open_question_from_plan(minutes: float, key: str) -> None:
    result = captured(message("we try #WeDocs", created_at=START + minutes * MIN))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, (key,))


def test_open_question_from_actual_times() -> None:
    # Q1 went out late, at +14, so a message at +12 is still an intro comment.
    ctx = dataclasses.replace(
        CTX, question_times=((START + 14 * MIN, "1"), (START + 27 * MIN, "2"))
    )
    assert captured(message("hi #WeDocs", created_at=START + 12 * MIN), ctx).kind is (
        MessageKind.COMMENT
    )
    assert captured(message("x #WeDocs", created_at=START + 25 * MIN), ctx).question_keys == ("1",)
    assert captured(message("x #WeDocs", created_at=START + 50 * MIN), ctx).question_keys == ("2",)


def test_unsorted_actual_times_are_sorted() -> None:
    ctx = dataclasses.replace(
        CTX, question_times=((START + 27 * MIN, "2"), (START + 14 * MIN, "1"))
    )
    assert captured(message("x #WeDocs", created_at=START + 30 * MIN), ctx).question_keys == ("2",)


@pytest.mark.parametrize("minutes", [-15, -1, 0, 9])
def test_before_first_question_is_comment(minutes: int) -> None:
    result = captured(message("Hello from Leeds #WeDocs", created_at=START + minutes * MIN))
    assert (result.kind, result.question_keys, result.late) == (MessageKind.COMMENT, (), False)


def test_intro_reply_before_first_question_is_comment() -> None:
    result = captured(message("Hi all", reply_to="intro-post", created_at=START + 2 * MIN))
    assert result.kind is MessageKind.COMMENT


def test_early_labelled_message_is_answer() -> None:
    result = captured(message("A1 eager #WeDocs", created_at=START - 5 * MIN))
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, ("1",))


def test_late_unlabelled_message_is_late_comment() -> None:
    result = captured(message("thanks all #WeDocs", created_at=END + MIN))
    assert (result.kind, result.question_keys, result.late) == (MessageKind.COMMENT, (), True)


def test_late_labelled_message_is_late_answer() -> None:
    result = captured(message("A2 sorry, late #WeDocs", created_at=END + MIN))
    assert (result.kind, result.question_keys, result.late) == (MessageKind.ANSWER, ("2",), True)


def test_late_reply_to_question_is_late_answer() -> None:
    result = captured(message("budget", reply_to="q3a-post", created_at=END + MIN))
    assert (result.kind, result.question_keys, result.late) == (MessageKind.ANSWER, ("3a",), True)


def test_message_at_end_is_not_late() -> None:
    result = captured(message("last word #WeDocs", created_at=END))
    assert (result.question_keys, result.late) == (("4",), False)


# --- capture: copied fields -------------------------------------------------------------


def test_fields_are_copied() -> None:
    edited = datetime(2026, 12, 1, 15, 20, tzinfo=ZoneInfo("America/New_York"))
    msg = message(
        "A1 see @Ann #WeDocs",
        platform="x",
        channel="",
        platform_id="1860000000000000001",
        reply_to="q1-post",
        permalink="https://x.com/samnurse/status/1860000000000000001",
        edited_at=edited,
        mentions=("Ann",),
    )
    result = captured(msg)
    assert result == CapturedMessage(
        chat_id=CHAT.id,
        platform="x",
        platform_id="1860000000000000001",
        author_id="u-42",
        author_name="Sam Nurse",
        author_handle="samnurse",
        text="A1 see @Ann #WeDocs",
        created_at=START + 15 * MIN,
        kind=MessageKind.ANSWER,
        question_keys=("1",),
        reply_to="q1-post",
        permalink="https://x.com/samnurse/status/1860000000000000001",
        edited_at=edited.astimezone(UTC),
        mentions=("Ann",),
        channel="",
    )


def test_mentions_fall_back_to_text() -> None:
    assert captured(message("A1 thanks @Ann and @bob #WeDocs")).mentions == ("ann", "bob")


def test_an_edit_time_out_of_range_in_utc_is_dropped() -> None:
    from datetime import timezone

    far = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # before year 1 in UTC
    assert captured(message(edited_at=far)).edited_at is None


def test_naive_edited_at_is_dropped() -> None:
    naive = datetime(2026, 12, 1, 20, 20)  # noqa: DTZ001 - a broken adapter value on purpose
    assert captured(message(edited_at=naive)).edited_at is None


# --- capture: properties ------------------------------------------------------------------

WINDOW_START = START - 15 * MIN
IDS = st.sampled_from(["", "m-1", "q1-post", "q3b-post", "intro-post", "x"])
TEXTS = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda lead, label, tag: f"{lead}{label} {tag}",
        st.sampled_from(["", "RT @a: ", "@b "]),
        st.sampled_from(["", "A1", "A2/A9", "Q3a", "A9", "Q1:"]),
        st.sampled_from(["", "#WeDocs", "#wedocs!", "#WeDocsX"]),
    ),
)
# Instants around the chat (hypothesis takes naive bounds), shown in any zone.
AWARE = st.builds(
    lambda instant, zone: instant.astimezone(zone),
    st.datetimes(
        min_value=datetime(2026, 12, 1, 19, 40),  # noqa: DTZ001
        max_value=datetime(2026, 12, 1, 21, 40),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.timezones(),
)
# Mostly plausible instants, plus naive and far-off ones that capture must survive.
MOMENTS = st.one_of(AWARE, AWARE, AWARE, st.datetimes(), st.datetimes(timezones=st.timezones()))
PLACES = st.sampled_from(
    [("local", "main")] * 4 + [("x", ""), ("x", "main"), ("discord", "main"), ("local", "")]
)
MESSAGES = st.builds(
    lambda place, msg: dataclasses.replace(msg, platform=place[0], channel=place[1]),
    PLACES,
    st.builds(
        IncomingMessage,
        platform=st.just(""),
        platform_id=IDS,
        channel=st.just(""),
        author_id=st.sampled_from(["", "u-42", "bot-1", "987", "HostAnna"]),
        author_name=st.text(max_size=10),
        author_handle=st.sampled_from(["", "samnurse", "@hostanna", "HOSTANNA", "x:y"]),
        text=TEXTS,
        created_at=MOMENTS,
        reply_to=IDS,
        is_repost=st.sampled_from([False, False, False, True]),
        is_bot=st.sampled_from([False, False, False, True]),
        permalink=st.text(max_size=10),
        edited_at=st.one_of(st.none(), MOMENTS),
        mentions=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    ),
)
CONTEXTS = st.builds(
    CaptureContext,
    chat=st.just(CHAT),
    question_posts=st.just(Q_POSTS),
    chat_posts=st.just(CTX.chat_posts),
    question_times=st.lists(
        st.tuples(AWARE, st.sampled_from(["1", "2", "3a", "7"])), max_size=4
    ).map(tuple),
    bot_ids=st.just(CTX.bot_ids),
)


@settings(max_examples=200)
@given(MESSAGES, CONTEXTS)
def test_capture_never_raises_and_stays_in_window(
    msg: IncomingMessage, ctx: CaptureContext
) -> None:
    result = capture(msg, ctx)
    if result is not None:
        assert WINDOW_START <= result.created_at <= GRACE_END
        assert result.created_at.utcoffset() == timedelta(0)
        assert result.late is (result.created_at > END and result.kind not in _OWN_KINDS)


_OWN_KINDS = (MessageKind.HOST, MessageKind.QUESTION)


@settings(max_examples=200)
@given(MESSAGES)
def test_bot_is_never_an_answer(msg: IncomingMessage) -> None:
    result = capture(dataclasses.replace(msg, is_bot=True), CTX)
    if result is not None:
        assert result.kind in _OWN_KINDS


@settings(max_examples=200)
@given(
    st.sampled_from([None, "1", "2", "3a", "3b", "4"]),
    st.sampled_from([None, *Q_POSTS]),
    st.integers(0, 4),
    st.integers(0, 599),
)
def test_attribution_order(label: str | None, reply: str | None, slot: int, seconds: int) -> None:
    question = CHAT.questions[slot]
    at = min(CHAT.question_time(question) + timedelta(seconds=seconds), END)
    if question.key == "3a":  # 3a and 3b share a time: the later-listed one is open
        question = CHAT.questions[3]
    text = f"A{label} yes #WeDocs" if label else "yes #WeDocs"
    result = captured(message(text, reply_to=reply or "", created_at=at))
    expected = label or (Q_POSTS[reply] if reply else question.key)
    assert (result.kind, result.question_keys) == (MessageKind.ANSWER, (expected,))
