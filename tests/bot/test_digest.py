"""The digest's posts: one a question with a highlight, each fitted to the network's limit
as that network counts; authors by name, never @mentioned; opted-out handles redacted; and
the chat file's ``digest`` setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.highlights import Engagement, Highlight
from archive.labels import Labels
from archive.models import CapturedMessage, Chat, MessageKind, Question, Target
from archive.store import Store
from bot.config import Config
from bot.digest import digest_posts, top_answers
from bot.platforms.registry import post_limits
from scheduler.plan import PlanError, parse_chat_plan

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
LIMITS = post_limits(Config())
CHAT = Chat(
    id="wedocs-2026-12-01",
    title="Patients as partners",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(hours=1),
    timezone="Europe/London",
    questions=(
        Question(1, "How?", timedelta(minutes=5)),
        Question(2, "Why?", timedelta(minutes=15)),
        Question(3, "What next?", timedelta(minutes=25)),
    ),
    targets=(Target("x"),),
    digest=True,
)


def answer(key: str, text: str, *, name: str = "Ann Nurse", likes: int = 3) -> Highlight:
    m = CapturedMessage(
        chat_id=CHAT.id,
        platform="mastodon",
        platform_id=key,
        author_id="a1",
        author_name=name,
        author_handle="ann@nurses.example",
        text=text,
        created_at=START + timedelta(minutes=6),
        kind=MessageKind.ANSWER,
        question_keys=(key,),
    )
    return Highlight(m, likes=likes)


def test_a_header_then_a_post_per_question_with_a_highlight() -> None:
    found = {
        "1": [answer("1", "A1: co-design\n  with the council #WeDocs")],
        "3": [answer("3", "A3: try huddles")],
    }
    assert digest_posts(CHAT, found, LIMITS["local"]) == [
        (
            "digest",
            "Highlights of #WeDocs “Patients as partners”: the answer with the most reactions,"
            " likes and reposts for each question.",
        ),
        (
            "digest-q1",
            "Top answer to Q1, by Ann Nurse: “A1: co-design with the council #WeDocs” (3 likes) #WeDocs",
        ),
        ("digest-q3", "Top answer to Q3, by Ann Nurse: “A3: try huddles” (3 likes) #WeDocs"),
    ]
    assert digest_posts(CHAT, {}, LIMITS["local"]) == []


def test_the_digest_is_in_the_chats_language_with_its_labels() -> None:
    found = {"1": [answer("1", "R1: co-conception")], "2": [answer("2", "R2: oui", likes=1)]}
    fr = replace(CHAT, language="fr", labels=Labels("Q", "R"))
    nb = "\u00a0"
    assert [text for _key, text in digest_posts(fr, found, LIMITS["local"])] == [
        f"Temps forts de #WeDocs «{nb}Patients as partners{nb}»{nb}: la réponse qui a reçu le"
        " plus de réactions, de j’aime et de partages pour chaque question.",
        f"Meilleure réponse à Q1, par Ann Nurse{nb}: «{nb}R1: co-conception{nb}» (3 j’aime)"
        " #WeDocs",
        f"Meilleure réponse à Q2, par Ann Nurse{nb}: «{nb}R2: oui{nb}» (1 j’aime) #WeDocs",
    ]
    cy = replace(CHAT, language="cy", labels=Labels("C", "A"))
    posts = digest_posts(cy, {"1": [answer("1", "A1: cyd-ddylunio")]}, LIMITS["local"])
    assert posts[0][1].startswith("Uchafbwyntiau #WeDocs “Patients as partners”: yr ateb")
    assert posts[1] == (
        "digest-q1",
        "Yr ateb gorau i C1, gan Ann Nurse: “A1: cyd-ddylunio” (3 hoffiad) #WeDocs",
    )


@pytest.mark.parametrize("network", ["x", "bluesky", "mastodon", "discord", "local"])
def test_a_long_answer_is_shortened_to_fit_each_network(network: str) -> None:
    long = "A1: " + "patients as partners in every project, " * 150 + "#WeDocs"
    posts = digest_posts(CHAT, {"1": [answer("1", long)]}, LIMITS[network])
    limit = LIMITS[network]
    assert all(limit.excess(text) is None for _key, text in posts), network
    text = dict(posts)["digest-q1"]
    assert "…”" in text and text.endswith("(3 likes) #WeDocs")
    # As long as it can be: one more character would not fit.
    excerpt = text.split("“", 1)[1].split("…”", 1)[0]
    longer = text.replace(excerpt + "…", long[: len(excerpt) + 1] + "…", 1)
    assert limit.excess(longer) is not None or long[len(excerpt)] == " "


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=600), st.sampled_from(["x", "bluesky", "mastodon"]))
def test_any_answer_text_fits(text: str, network: str) -> None:
    limit = LIMITS[network]
    for _key, post in digest_posts(CHAT, {"1": [answer("1", text)]}, limit):
        assert limit.excess(post) is None


def test_authors_are_named_not_mentioned_and_opted_out_handles_redacted() -> None:
    found = {"2": [answer("2", "A2: thanks @olivia and @bob", name="", likes=2)]}
    (_header, (_key, text)) = digest_posts(CHAT, found, LIMITS["x"], hide=["olivia"])
    assert text.startswith("Top answer to Q2, by ann@nurses.example:")
    assert "@olivia" not in text and "@(opted out)" in text and "@bob" in text


def test_a_title_too_long_for_the_header_is_shortened() -> None:
    chat = replace(CHAT, title="Patients " * 60)
    header = digest_posts(chat, {"1": [answer("1", "A1: yes")]}, LIMITS["x"])[0][1]
    assert LIMITS["x"].excess(header) is None and "…”" in header


def test_each_question_posts_its_top_answer_not_the_others() -> None:
    found = {
        "1": [
            answer("1", "A1: huddles every morning", name="Top Voice", likes=9),
            answer("1", "A1: a newsletter", name="Second Voice", likes=2),
        ]
    }
    posts = dict(digest_posts(CHAT, found, LIMITS["local"]))
    assert posts["digest-q1"] == (
        "Top answer to Q1, by Top Voice: “A1: huddles every morning” (9 likes) #WeDocs"
    )


def test_an_answer_post_with_room_for_too_little_of_the_answer_is_left_out() -> None:
    # A name so long that fewer than 20 characters of the answer would fit on X.
    found = {
        "1": [answer("1", "A1: patients on every project board " * 5, name="N" * 225)],
        "2": [answer("2", "A2: time to listen")],
    }
    posts = digest_posts(CHAT, found, LIMITS["x"])
    assert [key for key, _text in posts] == ["digest", "digest-q2"]


def test_the_digest_from_the_archive_leaves_opted_out_participants_out(tmp_path: Path) -> None:
    """`top_answers` on a real archive: an opted-out participant's answer is never the top
    one, however liked, and their handle in another answer is redacted."""
    olivia = replace(answer("1", "A1: ward rounds").message, author_id="o1", author_handle="olivia")
    ann = replace(answer("1", "A1: what @olivia said, and huddles").message, platform_id="2")
    store = Store(tmp_path / "archive.db")
    try:
        store.add_chat(CHAT)
        store.save_messages([olivia, ann])
        store.set_engagement("mastodon", {"1": Engagement(likes=40), "2": Engagement(likes=2)})
        store.opt_out("mastodon", "o1", "olivia")
        highlights, hide = top_answers(store, CHAT)
    finally:
        store.close()
    (_header, (key, text)) = digest_posts(CHAT, highlights, LIMITS["local"], hide=hide)
    assert key == "digest-q1"
    assert text == (
        "Top answer to Q1, by Ann Nurse: “A1: what @(opted out) said, and huddles” (2 likes)"
        " #WeDocs"
    )


def plan(**extra: object) -> dict[str, object]:
    return {
        "title": "Chat",
        "hashtag": "#WeDocs",
        "start": "2099-12-01T20:00:00",
        "timezone": "Europe/London",
        "duration": "60m",
        "questions": [{"text": "How?"}],
        **extra,
    }


def test_the_chat_file_turns_the_digest_on() -> None:
    assert parse_chat_plan(plan(digest=True)).chat.digest is True
    assert parse_chat_plan(plan()).chat.digest is False
    with pytest.raises(PlanError, match=r"digest: expected true or false"):
        parse_chat_plan(plan(digest="yes"))
