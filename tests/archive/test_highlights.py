"""Highlights: the ranking (score, ties by time, at most N), the section in every format
(goldens of a chat with engagement), and publishing from a real SQLite store.

A chat without engagement keeps the goldens of test_transcripts.py byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.highlights import Engagement, Highlight, select_highlights
from archive.labels import Labels
from archive.models import MessageKind
from archive.publish import publication_inputs, publish_chat, render_chat
from archive.store import Store
from archive.store.engagement import RowHighlights
from archive.store.messages import message_row
from archive.transcripts import render_csv, render_html, render_json, render_markdown
from archive.transcripts.highlights import counts_label
from tests.archive.test_transcripts import (
    CHAT,
    CONTROLS,
    COST,
    GENERATED,
    MESSAGES,
    OPTED_OUT,
    POSTED,
    check_golden,
    markdown_of,
    parse,
    section,
    stats_of,
)

K = MessageKind
BY_ID = {m.platform_id: m for m in MESSAGES}
# Alice's A1 (2) and Carol's A1/A2 (4) tie on 3 in Q1: Alice's is earlier. Bob's A1 (3)
# drew 1. Eve's hostile A2 (8) leads Q2; Dave (6) is opted out; Frank's comment (9) and
# Bob's repost (11) are not answers; Gina's deleted A3 (13) is gone.
ENGAGED = {
    "2": Engagement(likes=2, reposts=1),
    "3": Engagement(reactions=1),
    "4": Engagement(reactions=3),
    "6": Engagement(likes=50),
    "7": Engagement(likes=1, quotes=1, replies=7),
    "8": Engagement(reactions=5),
    "9": Engagement(likes=9),
    "11": Engagement(reactions=9),
    "13": Engagement(likes=9),
    "14": Engagement(likes=1),
}


def candidates(per_id: dict[str, Engagement] = ENGAGED) -> list[Highlight]:
    out = []
    for pid, e in per_id.items():
        m = BY_ID[pid]
        if m.deleted or f"{m.platform}:{m.author_id}" in OPTED_OUT:
            continue
        m = replace(m, reactions=e.reactions or 0)
        out.append(Highlight(m, e.likes, e.reposts, e.quotes, e.replies))
    return out


def best(per_question: int = 3) -> dict[str, list[Highlight]]:
    return select_highlights(CHAT, candidates(), per_question)


def ids(found: dict[str, list[Highlight]]) -> dict[str, list[str]]:
    return {k: [h.message.platform_id for h in v] for k, v in found.items()}


# -- ranking ------------------------------------------------------------------------------


def test_score_is_reactions_likes_reposts_and_quotes_not_replies() -> None:
    h = candidates({"7": ENGAGED["7"]})[0]
    assert h.score == 2  # 1 like + 1 quote; the 7 replies do not count
    assert counts_label(h) == "1 like, 1 quote"


def test_highlights_rank_by_score_ties_by_time_at_most_n() -> None:
    assert ids(best()) == {"1": ["2", "4", "3"], "2": ["8", "4", "7"], "3": ["14"]}
    assert ids(best(2)) == {"1": ["2", "4"], "2": ["8", "4"], "3": ["14"]}
    assert best(0) == {}


def test_a_tie_goes_to_the_earlier_answer_whatever_the_input_order() -> None:
    later_first = list(reversed(candidates({"4": Engagement(reactions=3), "2": Engagement(3)})))
    assert ids(select_highlights(CHAT, later_first, 1)) == {"1": ["2"], "2": ["4"]}
    # Equal time too: the network, then the id, decide (never the input order).
    same = [
        replace(h, message=replace(h.message, created_at=MESSAGES[1].created_at))
        for h in later_first
    ]
    assert ids(select_highlights(CHAT, same, 1))["1"] == ["2"]


def test_no_engagement_means_no_section_and_unchanged_transcripts() -> None:
    assert select_highlights(CHAT, candidates({"2": Engagement()}), 3) == {}
    assert markdown_of(highlights={}) == markdown_of()
    assert "Highlights" not in markdown_of()


def test_a_liked_question_post_is_not_a_highlight() -> None:
    """Readers like the bot's Q1 post too: it carries Q1's key but is not an answer."""
    liked = candidates({"1": Engagement(likes=40), "3": Engagement(reactions=1)})
    assert ids(select_highlights(CHAT, liked, 3)) == {"1": ["3"]}


# -- the section in every format (goldens) ------------------------------------------------


def highlighted_markdown() -> str:
    return markdown_of(highlights=best())


def test_highlights_markdown_matches_golden() -> None:
    check_golden("wedocs-highlights.md", highlighted_markdown())


def test_highlights_html_matches_golden() -> None:
    check_golden("wedocs-highlights.html", render_html(CHAT, highlighted_markdown()))


def test_highlights_json_matches_golden() -> None:
    text = render_json(
        CHAT,
        MESSAGES,
        stats_of(),
        opted_out=OPTED_OUT,
        question_posted_at=POSTED,
        controls=CONTROLS,
        cost_note=COST,
        highlights=best(),
    )
    check_golden("wedocs-highlights.json", text)
    doc = json.loads(text)
    assert [(q["question"], [a["id"] for a in q["answers"]]) for q in doc["highlights"]] == [
        ("1", ["2", "4", "3"]),
        ("2", ["8", "4", "7"]),
        ("3", ["14"]),
    ]
    assert doc["highlights"][0]["answers"][0] | {"created_at": ""} == {
        "platform": "x",
        "id": "2",
        "author_handle": "alice_qi",
        "created_at": "",
        "reactions": 0,
        "likes": 2,
        "reposts": 1,
        "quotes": 0,
        "replies": 0,
        "score": 3,
    }


def test_highlights_csv_column_matches_golden() -> None:
    scores = {(h.message.platform, h.message.platform_id): h.score for h in candidates() if h.score}
    text = render_csv(MESSAGES, opted_out=OPTED_OUT, zone="Europe/London", engagement=scores)
    check_golden("wedocs-highlights.csv", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["id"]: r["engagement"] for r in rows if r["engagement"] != "0"} == {
        "2": "3",
        "3": "1",
        "4": "3",
        "7": "2",
        "8": "5",
        "9": "9",
        "11": "9",
        "14": "1",
    }


def test_a_csv_with_attachments_and_engagement_has_both_last_columns() -> None:
    """The attachments column (main) and the engagement column (highlights) together: the
    engagement last, each message's own values in each."""
    from archive.models import Attachment

    messages = [
        replace(m, attachments=(Attachment("plan.pdf", "https://cdn.example/plan.pdf"),))
        if m.platform_id == "2"
        else m
        for m in MESSAGES
    ]
    text = render_csv(
        messages, opted_out=OPTED_OUT, zone="Europe/London", engagement={("x", "2"): 3}
    )
    header = text.splitlines()[0].split(",")
    assert header[-2:] == ["attachments", "engagement"]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["2"]["attachments"] == "plan.pdf (https://cdn.example/plan.pdf)"
    assert (rows["2"]["engagement"], rows["3"]["engagement"], rows["3"]["attachments"]) == (
        "3",
        "0",
        "",
    )


def test_section_comes_first_and_reads_right() -> None:
    md = highlighted_markdown()
    assert md.index("## Highlights") < md.index("## Summary")
    text = section(md, "## Highlights")
    assert "### Top answers to Q1: How do you involve patients in QI?" in text
    # Never "## Q1 ·", which heads the question's own section further down.
    assert "## Q1" not in text and "## Q2" not in text
    q1 = text[text.index("to Q1:") : text.index("to Q2:")]
    assert q1.index("Alice Jones") < q1.index("Carol White") < q1.index("Bob Brown")
    assert "2 likes, 1 repost" in q1 and "3 reactions" in q1 and "1 reaction" in q1
    assert "[answer](#m-x-2)" in q1
    # Dave opted out: not in the highlights, and his handle is redacted in Alice's A2.
    assert "Dave" not in text and "davehid" not in text


def test_the_section_is_in_the_chats_language_with_its_labels() -> None:
    """A French chat (Q/R) and a Welsh one (C/A): the section's words and counts are the
    chat's language's, the questions named by the chat's own letters."""
    fr = replace(CHAT, language="fr", labels=Labels("Q", "R"))
    md = markdown_of(fr, highlights=select_highlights(fr, candidates(), 3))
    assert "## Highlights" not in md
    text = section(md, "## Temps forts")
    assert "### Meilleures réponses à Q1\u00a0: How do you involve patients in QI?" in text
    assert "2 j’aime, 1 partage" in text and "3 réactions" in text and "1 réaction" in text
    assert "[réponse](#m-x-2)" in text and "Top answers" not in text
    cy = replace(CHAT, language="cy", labels=Labels("C", "A"))
    md = markdown_of(cy, highlights=select_highlights(cy, candidates(), 3))
    text = section(md, "## Uchafbwyntiau")
    assert "### Atebion gorau i C1: How do you involve patients in QI?" in text
    assert "2 hoffiad, 1 ailbostiad" in text and "3 adwaith" in text
    assert "[ateb](#m-x-2)" in text and "Q1" not in text


def test_hostile_text_in_highlights_stays_text() -> None:
    page = parse(render_html(CHAT, highlighted_markdown()))
    assert "script" not in page.tags
    assert not any(h.startswith("javascript") for h in page.hrefs)
    assert "#m-x-2" in page.hrefs  # the jump to the answer in the transcript


# -- published from a real store ----------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "archive.db")
    s.add_chat(CHAT)
    s.save_messages(MESSAGES)
    s.opt_out("x", "104", "davehid")
    return s


def test_published_files_carry_the_highlights_from_the_store(store: Store, tmp_path: Path) -> None:
    by_platform: dict[str, dict[str, Engagement]] = {}
    for pid, e in ENGAGED.items():
        by_platform.setdefault(BY_ID[pid].platform, {})[pid] = e
    for platform, counts in by_platform.items():
        store.set_engagement(platform, counts)
    chat = store.get_chat(CHAT.id)
    out = tmp_path / "out"
    publish_chat(store, chat, out, generated_at=GENERATED)
    rendered = render_chat(store, chat, generated_at=GENERATED)
    for fmt, text in (("md", rendered.markdown), ("html", rendered.html), ("json", rendered.json)):
        assert (out / f"{chat.id}.{fmt}").read_text(encoding="utf-8") == text
    md = rendered.markdown
    assert ids(store.highlights(chat, 3, opted_out=store.opted_out())) == {
        "1": ["2", "4", "3"],
        "2": ["8", "4", "7"],
        "3": ["14"],
    }
    assert "## Highlights" in md
    assert "## Highlights" not in render_chat(store, chat, highlights=0).markdown
    # A later refresh replaces the counts: Bob's A1 now leads Q1.
    store.set_engagement("discord", {"3": Engagement(reactions=10)})
    assert ids(store.highlights(chat, 1, opted_out=store.opted_out()))["1"] == ["3"]


def test_store_without_engagement_publishes_as_before(store: Store, tmp_path: Path) -> None:
    chat = store.get_chat(CHAT.id)
    with_n = render_chat(store, chat, generated_at=GENERATED)
    without = render_chat(store, chat, generated_at=GENERATED, highlights=0)
    assert with_n.markdown == without.markdown and with_n.json == without.json
    assert store.engagement_scores(chat.id) == {}


def test_live_reactions_alone_make_highlights(store: Store) -> None:
    chat = store.get_chat(CHAT.id)
    store.add_reactions("discord", "3", 1)
    store.add_reactions("discord", "3", 1)
    store.add_reactions("discord", "3", -1)
    found = store.highlights(chat, 3, opted_out=store.opted_out())
    assert ids(found) == {"1": ["3"]}
    assert found["1"][0].reactions == 1
    assert store.engagement("discord", "3") == Engagement(reactions=1)


def test_an_answer_only_quoted_is_a_highlight_and_scores_in_the_csv(store: Store) -> None:
    chat = store.get_chat(CHAT.id)
    platform = BY_ID["2"].platform
    store.set_engagement(platform, {"2": Engagement(quotes=2)})
    found = store.highlights(chat, 3, opted_out=store.opted_out())
    assert ids(found) == {"1": ["2"]} and found["1"][0].score == 2
    assert store.engagement_scores(chat.id) == {(platform, "2"): 2}


def test_a_refresh_that_reports_no_reactions_keeps_the_live_count(store: Store) -> None:
    chat = store.get_chat(CHAT.id)
    store.add_reactions("discord", "3", 1)
    store.add_reactions("discord", "3", 1)
    store.set_engagement("discord", {"3": Engagement(likes=1)})  # reactions: None
    assert store.engagement("discord", "3") == Engagement(likes=1, reactions=2)
    assert store.highlights(chat, 3, opted_out=store.opted_out())["1"][0].score == 3


def test_deleted_answers_leave_the_highlights(store: Store) -> None:
    chat = store.get_chat(CHAT.id)
    store.set_engagement("x", {"2": Engagement(likes=4)})
    store.mark_deleted("x", "2", CHAT.start + timedelta(hours=2))
    assert store.highlights(chat, 3, opted_out=store.opted_out()) == {}


def test_section_is_in_render_markdown_for_the_pure_path_too() -> None:
    md = render_markdown(CHAT, MESSAGES, stats_of(), opted_out=OPTED_OUT, highlights=best(1))
    assert section(md, "## Highlights").count("\n- **") == 3  # one answer a question


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2", "3"]),
            st.integers(0, 30),  # minute
            st.integers(0, 4),  # reactions
            st.integers(0, 4),  # likes
            st.integers(0, 2),  # reposts
        ),
        max_size=25,
    ),
    st.integers(1, 4),
)
def test_any_set_of_answers_ranks_by_score_then_time(
    rows: list[tuple[str, int, int, int, int]], per_question: int
) -> None:
    found = [
        Highlight(
            replace(
                MESSAGES[1],
                platform_id=f"h{i}",
                question_keys=(key,),
                created_at=CHAT.start + timedelta(minutes=minute),
                reactions=reactions,
            ),
            likes=likes,
            reposts=reposts,
        )
        for i, (key, minute, reactions, likes, reposts) in enumerate(rows)
    ]
    best = select_highlights(CHAT, found, per_question)
    for key, kept in best.items():
        rest = [h for h in found if key in h.message.question_keys and h not in kept]
        assert 0 < len(kept) <= per_question and all(h.score > 0 for h in kept)
        ranks = [(-h.score, h.message.created_at) for h in kept]
        assert ranks == sorted(ranks)
        for dropped in rest:  # every answer left out is below the last one kept, or scores 0
            assert dropped.score == 0 or (-dropped.score, dropped.message.created_at) >= ranks[-1]
    assert set(best) == {h.message.question_keys[0] for h in found if h.score > 0}


_COUNTS = st.integers(min_value=0, max_value=3)


@settings(max_examples=60, deadline=None)
@given(
    engaged=st.dictionaries(
        st.sampled_from(sorted(BY_ID)),
        st.tuples(_COUNTS, _COUNTS, _COUNTS, _COUNTS, st.one_of(st.none(), _COUNTS)),
    ),
    per_question=st.integers(min_value=1, max_value=4),
    opted_out=st.sets(st.sampled_from(sorted({f"{m.platform}:{m.author_id}" for m in MESSAGES}))),
)
def test_the_store_picks_what_select_highlights_picks_over_every_engaged_answer(
    tmp_path_factory: pytest.TempPathFactory,
    engaged: dict[str, tuple[int, int, int, int, int | None]],
    per_question: int,
    opted_out: set[str],
) -> None:
    # The store ranks on a few columns and reads only the answers kept; the definition is
    # select_highlights over every engaged answer, each read whole (ties, several
    # questions per answer, opted-out authors, deleted answers, non-answers).
    store = Store(tmp_path_factory.mktemp("h") / "archive.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(MESSAGES)
        by_platform: dict[str, dict[str, Engagement]] = {}
        for pid, (likes, reposts, quotes, replies, reactions) in engaged.items():
            by_platform.setdefault(BY_ID[pid].platform, {})[pid] = Engagement(
                likes, reposts, quotes, replies, reactions
            )
        for platform, counts in by_platform.items():
            store.set_engagement(platform, counts)
        chat = store.get_chat(CHAT.id)
        hidden = frozenset(opted_out)
        expected = select_highlights(
            chat,
            (
                h
                for h in store.engaged_answers(chat.id)
                if f"{h.message.platform}:{h.message.author_id}" not in hidden
            ),
            per_question,
        )
        assert store.highlights(chat, per_question, opted_out=hidden) == expected
    finally:
        store.close()


@settings(max_examples=60, deadline=None)
@given(
    # Negative counts too: the store never picks them (an import clamps them to 0 today).
    reactions=st.dictionaries(st.sampled_from(sorted(BY_ID)), st.integers(-2, 3)),
    per_question=st.integers(min_value=0, max_value=4),
    opted_out=st.sets(st.sampled_from(sorted({f"{m.platform}:{m.author_id}" for m in MESSAGES}))),
    order=st.randoms(use_true_random=False),
)
def test_the_highlights_picked_from_saved_rows_are_the_stores(
    tmp_path_factory: pytest.TempPathFactory,
    reactions: dict[str, int],
    per_question: int,
    opted_out: set[str],
    order: Any,
) -> None:
    # RowHighlights (an import's rows, fed as saved, in any order) against the store's
    # choice over the same rows with no engagement recorded: reactions alone score.
    messages = [replace(m, reactions=reactions.get(m.platform_id, m.reactions)) for m in MESSAGES]
    store = Store(tmp_path_factory.mktemp("h") / "archive.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(messages)
        chat = store.get_chat(CHAT.id)
        hidden = frozenset(opted_out)
        picked = RowHighlights(chat, per_question, opted_out=hidden)
        rows = [message_row(m, "{}", "2026-12-01T00:00:00.000000+00:00") for m in messages]
        order.shuffle(rows)
        for start in range(0, len(rows), 3):
            picked.feed(rows[start : start + 3])
        assert picked.best() == store.highlights(chat, per_question, opted_out=hidden)
    finally:
        store.close()


def test_the_rows_highlights_are_taken_only_when_the_store_would_pick_the_same(
    store: Store,
) -> None:
    chat = store.get_chat(CHAT.id)
    opted_out = store.opted_out()
    picked = RowHighlights(chat, 3, opted_out=opted_out)
    picked.feed(message_row(m, "{}", "2026-12-01T00:00:00.000000+00:00") for m in MESSAGES)
    # Planted: a choice the store would never make, to see which one is taken.
    planted = {"1": [Highlight(MESSAGES[-1])]}
    picked.best = lambda: planted  # type: ignore[method-assign]
    assert publication_inputs(store, chat, 3, rows_highlights=picked).best == planted
    # Other highlight counts, other opt-outs, or engagement recorded for one of the chat's
    # messages (its likes count): the store's own choice.
    assert publication_inputs(store, chat, 2, rows_highlights=picked).best != planted
    store.opt_out("x", "someone")
    assert publication_inputs(store, chat, 3, rows_highlights=picked).best != planted
    store.opt_in("x", "someone")
    assert publication_inputs(store, chat, 3, rows_highlights=picked).best == planted
    answer = next(m for m in MESSAGES if m.kind == MessageKind.ANSWER)
    store.set_engagement(answer.platform, {answer.platform_id: Engagement(likes=5)})
    assert store.chat_has_engagement(chat.id)
    store_best = store.highlights(chat, 3, opted_out=store.opted_out())
    assert publication_inputs(store, chat, 3, rows_highlights=picked).best == store_best


def test_engagement_of_other_posts_is_not_the_chats(store: Store) -> None:
    chat = store.get_chat(CHAT.id)
    assert not store.chat_has_engagement(chat.id)  # none recorded at all
    # Counts for a post the archive does not hold in this chat (another chat's, say).
    store.set_engagement("x", {"not-in-this-chat": Engagement(likes=7)})
    assert not store.chat_has_engagement(chat.id)
    answer = next(m for m in MESSAGES if m.kind == MessageKind.ANSWER)
    store.set_engagement(answer.platform, {answer.platform_id: Engagement(likes=5)})
    assert store.chat_has_engagement(chat.id)
