"""The HTML list items built straight from messages equal what the Markdown items give
through html.py's conversion and nh3, on hostile text; the message lists route messages
like the transcript expects."""

from __future__ import annotations

import html
import unicodedata
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive.models import Attachment, AttachmentKind, CapturedMessage, MessageKind
from archive.transcripts.html import _item_html, markdown_to_html, sanitize_html
from archive.transcripts.items import (
    _HTML_TEXT,
    ItemRenderer,
    html_text,
)
from archive.transcripts.lists import TranscriptLists
from archive.transcripts.text import (
    _DROPPED_RE,
    _ESCAPES,
    _lines,
    clock,
    escape_chars,
    link_segments,
    safe_url,
)
from benchmarks import bench_chat

ZONE = ZoneInfo("Europe/London")
AT = datetime(2026, 12, 1, 20, 5, tzinfo=UTC)

# Markdown-special characters, entities, links (plain, percent-encoded, with '&'),
# invisible and control characters, a no-break space and non-ASCII text.
_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *"ab z*_`#-+.!|[](){}<>&~=\\\t\n\r@:/01éñ\u00a0\u202e\x02\u200d",
                "http://x.org/a_b",
                "https://e.com/(x)",
                "HTTPS://q.org/a b?c=d",
                "https://q.org/?a=1&b=2",
                "https://ü.example/ä",
                "&#1",
                "&amp;",
                "  \n  ",
                "@user3",
            ]
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
).map("".join)


def message_item(
    m: CapturedMessage, zone: tzinfo, hide: set[str], prefix: str = "", *, network: bool = False
) -> str:
    """The Markdown item alone (a renderer that makes no HTML)."""
    return ItemRenderer(zone, hide, network=network, html=False).items(m, prefix)[0]


def message_items(
    m: CapturedMessage, zone: tzinfo, hide: set[str], prefix: str = "", *, network: bool = False
) -> tuple[str, str | None]:
    """The Markdown item and its direct ``<li>`` (None when Python-Markdown must decide)."""
    return ItemRenderer(zone, hide, network=network, html=True).items(m, prefix)


def _message(
    text: str,
    name: str,
    handle: str,
    *,
    permalink: str,
    edited: bool,
    attachments: tuple[Attachment, ...] = (),
) -> CapturedMessage:
    return CapturedMessage(
        "c", "local", "id 1/é", "u1", name, handle, text, AT, MessageKind.ANSWER,
        question_keys=("1",), permalink=permalink,
        edited_at=AT + timedelta(minutes=1) if edited else None, attachments=attachments,
    )  # fmt: skip


# Files (with links as Discord and exports give them, or none) and stickers, hostile names.
_ATTACHMENTS = st.lists(
    st.builds(
        Attachment,
        _TEXT,
        st.sampled_from(
            [
                "",
                "https://cdn.discordapp.com/attachments/1/2/photo.png",
                "https://cdn.discordapp.com/attachments/1/2/a_b%20(1).png?ex=1&is=2&hm=3",
                "https://e.com/(x) y",
                "qi-chat.json_Files/photo-5A1B.png",
                "javascript:alert(1)",
            ]
        ),
        st.sampled_from(list(AttachmentKind)),
    ),
    max_size=3,
).map(tuple)


@settings(max_examples=400, deadline=None)
@given(
    text=_TEXT,
    name=_TEXT,
    handle=_TEXT,
    permalink=st.sampled_from(
        ["", "https://local.example/m/1", "https://x.org/?a=1&b=2", "ftp://x"]
    ),
    prefix=st.sampled_from(["", "Host", "A1", "A1/A2a", "A1 b", "*A*"]),
    network=st.booleans(),
    edited=st.booleans(),
    attachments=_ATTACHMENTS,
)
@example(
    text="= x\nhttps://e.com/a. then\n\u00a0", name="=", handle="", permalink="", prefix="",
    network=False, edited=False, attachments=(),
)  # fmt: skip
@example(
    text="", name="a", handle="", permalink="", prefix="", network=False, edited=False,
    attachments=(
        Attachment("_x_ [1].png", "https://cdn.example/a/b.png"),
        Attachment("= 1. #", "https://e.com/(x)"),
        Attachment("*Wave*", "", AttachmentKind.STICKER),
    ),
)  # fmt: skip
@example(
    text="see!https://e.com/a\n!http://q.org 1. x", name="_a_", handle="b_c", permalink="",
    prefix="", network=False, edited=False, attachments=(),
)  # fmt: skip
def test_direct_li_equals_the_converted_markdown_item(
    text: str,
    name: str,
    handle: str,
    permalink: str,
    prefix: str,
    network: bool,
    edited: bool,
    attachments: tuple[Attachment, ...],
) -> None:
    m = _message(text, name, handle, permalink=permalink, edited=edited, attachments=attachments)
    hide = {"user3"}
    md, li = message_items(m, ZONE, hide, prefix, network=network)
    assert md == message_item(m, ZONE, hide, prefix, network=network)
    # No direct <li> exactly when Python-Markdown must decide: an odd prefix, or a link
    # whose (safe) URL holds '&'.
    amp_link = (
        "&" in permalink
        or any("&" in safe for line in _lines(text) for _, url, safe in link_segments(line) if url)
        or any(
            a.kind is AttachmentKind.FILE and "&" in (safe_url(a.url) or "") for a in attachments
        )
    )
    assert (li is None) == (prefix in ("A1 b", "*A*") or amp_link)
    if li is None:
        return
    converted = _item_html(md)
    if converted is None:  # html.py's own shortcut declined: Python-Markdown's output
        expected = markdown_to_html(md)
        assert expected.startswith("<ul>\n") and expected.endswith("\n</ul>")
        expected = expected[5:-6]
    else:
        expected = sanitize_html(converted)
    assert li == expected


@settings(max_examples=500)
@given(text=_TEXT)
def test_replacement_escapes_equal_their_translation_tables(text: str) -> None:
    assert escape_chars(text) == text.translate(_ESCAPES)
    assert html_text(text) == text.translate(_HTML_TEXT)


def test_dropped_characters_are_every_control_format_private_and_surrogate_in_all_planes() -> None:
    # The class is built from planes 0-1 and 14-16 only (start-up time): nothing in the
    # planes skipped may belong to it.
    kept = {"\t", "\u200c", "\u200d"}
    for cp in range(0x110000):
        ch = chr(cp)
        dropped = unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs"} and ch not in kept
        assert bool(_DROPPED_RE.match(ch)) == dropped, f"U+{cp:04X}"


def test_html_text_escaping_is_what_nh3_writes_for_every_kept_character() -> None:
    kept = [
        chr(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000 and not _DROPPED_RE.match(chr(cp))
    ]
    for start in range(0, len(kept), 4000):
        chars = kept[start : start + 4000]
        fragment = "".join(f"<strong>{html.escape(ch, quote=False)}</strong>" for ch in chars)
        cleaned = sanitize_html(f"<p>{fragment}</p>")
        expected = "".join(f"<strong>{html_text(ch)}</strong>" for ch in chars)
        assert cleaned == f"<p>{expected}</p>"


def _answer(
    pid: str,
    keys: tuple[str, ...],
    *,
    late: bool = False,
    kind: MessageKind = MessageKind.ANSWER,
    deleted_at: datetime | None = None,
) -> CapturedMessage:
    return CapturedMessage(
        "c", "local", pid, "u" + pid, "Name " + pid, "h" + pid, "text " + pid, AT, kind,
        question_keys=keys, late=late, deleted_at=deleted_at,
    )  # fmt: skip


def test_lists_route_each_shown_message_to_its_lists() -> None:
    chat = bench_chat(questions=3)
    lists = TranscriptLists(chat, hide=set(), opted_out=frozenset({"local:uout"}), network=False)
    lists.add(_answer("a", ("1", "2", "1")))  # on time, to two questions (once each)
    lists.add(_answer("b", ("2",), late=True))
    lists.add(_answer("c", ("9",)))  # answers no question of the chat: listed with others
    lists.add(_answer("d", ("1",), deleted_at=AT))
    lists.add(_answer("out", ("1",)))  # author "uout" opted out
    lists.add(_answer("r", (), kind=MessageKind.REPOST))
    lists.add(_answer("h", (), kind=MessageKind.HOST))
    counts = {k: v.count for k, v in lists.answers.items()}
    assert counts == {"1": 1, "2": 1, "3": 0}
    assert (lists.others.count, lists.late.count, lists.late_count) == (2, 1, {"2": 1})
    others = "".join(lists.others.md_chunks())
    assert "Name c" in others and "Host · **Name h**" in others
    assert "A2 · **Name b**" in "".join(lists.late.md_chunks())


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        ("Europe/London", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),  # GMT -> BST
        ("Europe/London", datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),  # BST -> GMT
        ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),  # half-hour shift
        ("Asia/Kathmandu", datetime(2026, 12, 1, 20, 0, tzinfo=UTC)),  # UTC+5:45
    ],
)
def test_reused_clock_labels_equal_clock_across_zone_changes(zone: str, around: datetime) -> None:
    renderer = ItemRenderer(ZoneInfo(zone), set(), network=False, html=True)
    moments = [around + timedelta(seconds=s) for s in range(-3600, 3600, 7)]
    assert [renderer.clock(t) for t in moments] == [clock(t, ZoneInfo(zone)) for t in moments]


@pytest.mark.parametrize(
    ("language", "word"), [("en", "edited"), ("fr", "modifié"), ("cy", "golygwyd")]
)
@pytest.mark.parametrize(
    "attachments",
    [(), (Attachment("a.png", "https://e.org/a.png", AttachmentKind.FILE),)],
    ids=["common shape", "any shape"],
)
def test_an_edited_message_says_so_in_the_chats_language(
    language: str, word: str, attachments: tuple[Attachment, ...]
) -> None:
    from archive.i18n import translator

    renderer = ItemRenderer(ZONE, set(), network=False, html=True, tr=translator(language))
    m = CapturedMessage(
        "c", "local", "m1", "u1", "Ann", "ann", "Hello", AT, MessageKind.ANSWER,
        question_keys=("1",), permalink="https://e.org/m/1",
        edited_at=AT + timedelta(minutes=1), attachments=attachments,
    )  # fmt: skip
    md, li = renderer.items(m, "")
    assert f" · {word} · " in md
    assert li is not None and f" · {word} · " in li
    unedited = renderer.items(replace_edited(m), "")[0]
    assert word not in unedited


def replace_edited(m: CapturedMessage) -> CapturedMessage:
    from dataclasses import replace

    return replace(m, edited_at=None)
