"""Long intros and closings split into a thread at sentence boundaries (issue 14, item 1):
every part fits its network counted its way, the parts give the text back, and no word or
link is ever cut."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.bluesky.limits import post_limit as bluesky_limit
from bot.platforms.discord.limits import POST_LIMIT as DISCORD
from bot.platforms.mastodon.limits import post_limit as mastodon_limit
from bot.platforms.x.length import post_limit as x_limit
from scheduler.limits import PostLimit, count_characters
from scheduler.threads import (
    SplitError,
    action_of,
    is_part_key,
    part_key,
    part_number,
    split_post,
    split_problem,
)

NUMBER = re.compile(r" \((\d+)/(\d+)\)$")
URL = re.compile(r"https?://\S+")


def small(max_length: int, *, numbered: bool = True) -> PostLimit:
    return PostLimit("Test", max_length, "characters", count_characters, number_parts=numbered)


def unnumbered(parts: list[str], limit: PostLimit) -> list[str]:
    """The parts without their numbers, after checking each number is (i/n) in order."""
    if not limit.number_parts or len(parts) == 1:
        assert not any(NUMBER.search(p) for p in parts if len(parts) > 1)
        return parts
    out = []
    for i, part in enumerate(parts, 1):
        found = NUMBER.search(part)
        assert found is not None, part
        assert (int(found.group(1)), int(found.group(2))) == (i, len(parts))
        out.append(part[: found.start()])
    return out


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_split(text: str, limit: PostLimit) -> list[str]:
    """Split ``text`` and check every property a thread must have; returns the bare parts."""
    parts = split_post(text, limit)
    assert parts, text
    for part in parts:
        assert limit.count(part) <= limit.max_length, (part, limit.count(part))
    bare = unnumbered(parts, limit)
    # Joined, the parts are the text: only white space between them may differ.
    assert squeezed("".join(bare)) == squeezed(text)
    if len(parts) > 1:
        at = 0
        for piece in bare:
            start = text.index(piece, at)
            end = start + len(piece)
            # Never inside a word: each cut is at white space (or after a CJK full stop).
            assert start == 0 or text[start - 1].isspace() or text[start - 1] in "。！？", piece
            assert end == len(text) or text[end].isspace() or text[end - 1] in "。！？", piece
            at = end
        # Never inside a link: every link of the text is whole in one part.
        for link in URL.findall(text):
            assert any(link in piece for piece in bare), link
    return bare


def test_a_post_that_fits_is_one_part_unchanged() -> None:
    text = "Welcome to #WeDocs! Tonight: patients as partners."
    assert split_post(text, x_limit()) == [text]


def test_a_long_intro_on_x_is_numbered_parts_each_within_280_as_x_counts() -> None:
    intro = (
        "Welcome to #WeDocs! Tonight Dr. Jane Smith of St. Mary's joins us, i.e. our guest "
        "host, to talk about patients as partners in quality improvement. "
        "Read https://example.org/reading.list?chat=wedocs&week=12 before we start. "
        * 3
        + "\n\nReply with A1, A2… and #WeDocs so your answers are counted."
    )
    parts = split_post(intro, x_limit())
    assert len(parts) > 1
    assert [NUMBER.search(p).group(0) for p in parts] == [  # type: ignore[union-attr]
        f" ({i}/{len(parts)})" for i in range(1, len(parts) + 1)
    ]
    bare = check_split(intro, x_limit())
    # Abbreviations stay inside their sentence: no part ends at "Dr." or "St." or "i.e.".
    assert not any(p.rstrip().endswith(("Dr.", "St.", "i.e.")) for p in bare)
    assert bare[-1].endswith("Reply with A1, A2… and #WeDocs so your answers are counted.")


def test_discord_parts_are_not_numbered() -> None:
    text = "We met patients on the ward every week. " * 80
    parts = split_post(text, DISCORD)
    assert len(parts) == 2
    assert not any(NUMBER.search(p) for p in parts)
    check_split(text, DISCORD)


def test_bluesky_counts_graphemes_and_mastodon_counts_links_as_23() -> None:
    text = "Café naïve façade 👩🏽‍⚕️ discussions continue here. " * 20
    for part in split_post(text, bluesky_limit()):
        assert bluesky_limit().count(part) <= 300
    link = "https://example.org/" + "a" * 200
    text = f"Read this first: {link} now. " * 8
    parts = split_post(text, mastodon_limit(100))
    assert all(mastodon_limit(100).count(p) <= 100 for p in parts)
    assert all(link in p for p in parts)  # 23 characters each, never cut


def test_a_sentence_longer_than_the_limit_alone_is_refused_with_it_named() -> None:
    text = "Short one. " + "An endless sentence " * 20 + "ends here. Short again."
    with pytest.raises(SplitError) as caught:
        split_post(text, x_limit())
    assert caught.value.sentence.startswith("An endless sentence")
    assert caught.value.size > 280
    problem = split_problem(text, x_limit())
    assert problem is not None and "'An endless sentence" in problem and "alone is" in problem
    assert split_problem("fits", x_limit()) is None


def test_ledger_keys_of_parts() -> None:
    assert part_key("intro", 2) == "intro#2"
    assert action_of("intro#2") == "intro" == action_of("intro")
    assert is_part_key("close#1") and not is_part_key("close")
    assert part_number("close#3") == 3 and part_number("close") == 0


# -- properties ---------------------------------------------------------------------------

WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéßÅ", min_size=1, max_size=12)
TOKEN = st.one_of(
    WORD,
    WORD,
    WORD,
    st.sampled_from(["Dr.", "St.", "e.g.", "i.e.", "No. 5", "3.5", "U.S.", "#WeDocs", "@ann"]),
    st.sampled_from(["👩🏽‍⚕️", "🙂", "日本語", "한국어"]),
    st.builds(lambda w: f"https://example.org/{w}.html?x=1.2", WORD),
)
# Sentence ends, some glued to the next sentence ("Great!Next"): a segmenter ends a sentence
# there, but a cut there would be inside a word.
END = st.sampled_from([". ", "! ", "? ", "… ", ".\n\n", "。", ". ", "?! ", "!", ".", "?)"])
SENTENCE = st.builds(
    lambda words, end: " ".join(words) + end, st.lists(TOKEN, min_size=1, max_size=8), END
)
TEXT = st.builds(lambda s: "".join(s).strip(), st.lists(SENTENCE, min_size=1, max_size=30))
LIMITS = st.sampled_from(
    [
        small(160),
        small(160, numbered=False),
        small(240),
        x_limit(),
        bluesky_limit(),
        mastodon_limit(200),
        DISCORD,
    ]
)


@settings(max_examples=150, deadline=None)
@given(text=TEXT, limit=LIMITS)
def test_every_part_fits_and_the_parts_give_the_text_back(text: str, limit: PostLimit) -> None:
    try:
        check_split(text, limit)
    except SplitError as e:
        # Only when one sentence is too long for a post of its own, and it is in the text.
        assert e.size > limit.max_length
        assert e.sentence in text


@settings(max_examples=100, deadline=None)
@given(words=st.lists(WORD, min_size=60, max_size=200))
def test_text_without_any_sentence_end_is_never_cut(words: list[str]) -> None:
    text = " ".join(words)
    try:
        parts = split_post(text, small(100))
    except SplitError as e:
        assert e.sentence == text  # one sentence: refused whole, never cut between words
        return
    assert parts == [text]


def test_a_sentence_that_fits_exactly_with_its_number_is_kept() -> None:
    sentence = "Patients join each board."
    limit = small(len(sentence + " (1/2)"))
    assert split_post(f"{sentence} {sentence}", limit) == [
        f"{sentence} (1/2)",
        f"{sentence} (2/2)",
    ]


def test_ten_parts_or_more_are_packed_for_their_wider_numbers() -> None:
    # Two 16-character sentences fit a 40-character post with " (1/9)" but not with
    # " (10/20)": a thread of ten parts or more holds one sentence a part.
    limit = small(40)
    text = " ".join(f"Sentences no {n:02d}." for n in range(20))
    parts = split_post(text, limit)
    assert len(parts) == 20
    assert parts[9] == "Sentences no 09. (10/20)"
    check_split(text, limit)


def test_text_without_spaces_is_cut_after_its_cjk_full_stops() -> None:
    sentence = "患者は委員会に参加します。"
    parts = split_post(sentence * 5, small(40))
    assert parts == [
        f"{sentence * 2} (1/3)",
        f"{sentence * 2} (2/3)",
        f"{sentence} (3/3)",
    ]
