"""Hashtag comparison: compatibility forms (NFKC) and case do not matter, everything else does.

The examples come from issue 14 (a full-width ``#ＷｅＤｏｃｓ`` typed with an East Asian input
method); the properties pin the rule down for any tag, and check that the ASCII fast path of
`has_tag` always agrees with the general path.
"""

from __future__ import annotations

import re
import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.hashtags import HASHTAG_RE, WORD_CHAR, has_hashtag, has_tag, tag_key, wanted_tag


def full_width(text: str) -> str:
    """``text`` with its printable ASCII written in full width (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1 agree #ＷｅＤｏｃｓ", True),  # full-width letters
        ("A1 agree ＃ＷｅＤｏｃｓ", True),  # ... and the full-width sign
        ("A1 agree #ｗｅｄｏｃｓ", True),
        ("A1 agree #ＷｅＤｏｃｓ！", True),  # full-width punctuation ends the tag
        ("A1 agree #WeDocś", False),  # 's' + combining acute is another letter
        ("A1 agree #WeDoc\u015b", False),  # ... precomposed, the same
        ("A1 agree #ＷｅＤｏｃｓＣｈａｔ", False),  # a longer tag
        ("A1 agree #ＷｅＤｏｃｓ２", False),
        ("A1 agree #ＷｅＤｏｃｓ＿２０２４", False),  # a full-width '_' continues the tag
        ("A1 see https://e.com/#ＷｅＤｏｃｓ", False),  # a '#' inside a link
        ("A1 agree x#ＷｅＤｏｃｓ", False),
    ],
)
def test_compatibility_forms_match(text: str, expected: bool) -> None:
    assert has_hashtag(text, "#WeDocs") is expected


def test_a_full_width_chat_hashtag_matches_ascii_posts() -> None:
    assert has_hashtag("A1 agree #WeDocs", "#ＷｅＤｏｃｓ")
    assert has_hashtag("A1 agree #wedocs", "＃ＷｅＤｏｃｓ")


def test_tag_key_examples() -> None:
    assert tag_key("ＷｅＤｏｃｓ") == tag_key("WEDOCS") == "wedocs"
    assert tag_key("Straße") == tag_key("STRASSE") == "strasse"
    assert tag_key("ﬁx") == "fix"  # a ligature is its letters
    assert tag_key("WeDocś") != "wedocs"
    assert wanted_tag(" ＃ＷｅＤｏｃｓ ") == "wedocs"


ASCII_TAG_CHARS = string.ascii_letters + string.digits + "_"
ASCII_TAGS = st.text(st.sampled_from(ASCII_TAG_CHARS), min_size=1, max_size=20).filter(
    lambda s: HASHTAG_RE.fullmatch(s)
)
# Letters with case, compatibility forms, accents (composed and not) and other scripts.
TAG_CHARS = st.sampled_from([*"aAbBsSzZ_09éßİıﬁ²ⅫＷｗＳｓ＿０文ñ", "e\u0301", "s\u0301", "\u0301"])
TAGS = (
    st.lists(TAG_CHARS, min_size=1, max_size=12)
    .map("".join)
    .filter(lambda s: HASHTAG_RE.fullmatch(unicodedata.normalize("NFC", s)))
)
MARKS = st.sampled_from(["\u0301", "\u0308", "\u0323", "\u093f", "\u0e31"])


@settings(max_examples=300)
@given(ASCII_TAGS, st.data())
def test_any_mix_of_full_width_letters_is_the_same_tag(tag: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(tag), max_size=len(tag)))
    written = "".join(full_width(c) if f else c for c, f in zip(tag, flips, strict=True))
    sign = data.draw(st.sampled_from("#＃"))
    assert has_hashtag(f"A1 we agree {sign}{written}.", f"#{tag}")
    assert has_hashtag(f"A1 we agree #{tag}.", f"#{written}")


@settings(max_examples=300)
@given(TAGS, TAGS)
def test_tags_match_exactly_when_their_keys_are_equal(written: str, wanted: str) -> None:
    same = tag_key(written) == tag_key(wanted)
    assert has_hashtag(f"A1 yes #{written} ok", wanted) is same
    assert has_hashtag(f"A1 yes #{wanted} ok", written) is same  # symmetric


@settings(max_examples=300)
@given(TAGS, MARKS)
def test_a_combining_mark_after_a_tag_makes_another_tag(tag: str, mark: str) -> None:
    written = unicodedata.normalize("NFC", tag + mark)
    if tag_key(written) == tag_key(tag):  # a mark the key drops (none of MARKS do)
        return
    assert not has_hashtag(f"A1 yes #{tag}{mark} ok", tag)


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_tag_key_is_idempotent(text: str) -> None:
    assert tag_key(tag_key(text)) == tag_key(text)


# Texts made of the pieces the ASCII fast path must get right: tags, word characters next to
# them, links (a '#' inside one is no tag) and punctuation.
ASCII_PIECES = st.sampled_from(
    [*"#_a9 ./\t@", "#WeDocs", "#wedocs", "#WEDOCS", "WeDocs", "#WeDocsChat", "#WeDocs_2"]
) | st.sampled_from(["x#WeDocs", "://", "https://e.com/", "www."])


@settings(max_examples=500)
@given(st.lists(ASCII_PIECES, max_size=8).map("".join), st.sampled_from(["wedocs", "we", "a1"]))
def test_the_ascii_fast_path_agrees_with_the_general_path(text: str, want: str) -> None:
    assert has_tag(text, want, True) is has_tag(text, want, False)


def test_a_word_character_is_every_combining_mark_of_planes_0_and_1() -> None:
    word = re.compile(WORD_CHAR)
    for cp in range(0x20000):
        ch = chr(cp)
        if unicodedata.category(ch)[0] == "M":
            assert word.fullmatch(ch), f"U+{cp:04X}"
