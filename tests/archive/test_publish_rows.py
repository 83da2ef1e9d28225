"""The publication's one pass over the store's rows (archive/transcripts/rows.py) gives
what the message-by-message renderers give: hostile messages of every kind, stored in a
real SQLite file, published, and compared byte for byte with the in-memory rendering
(render_chat, which renders CapturedMessage values one by one)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.models import Attachment, AttachmentKind, CapturedMessage, MessageKind
from archive.publish import publish_chat, render_chat, write_atomic_chunks, write_transcripts
from archive.stats import StatsCounter, compute_stats
from archive.store import Store
from archive.transcripts.items import ItemRenderer
from archive.transcripts.lists import TranscriptLists
from archive.transcripts.rows import RowPass, SeveralNetworks
from archive.transcripts.text import safe_url
from benchmarks import bench_chat
from benchmarks.transcript_bench import GENERATED_AT

CHAT = bench_chat(questions=3)
AT = CHAT.start

# Markdown and HTML specials, links (plain, with '&', odd), invisible characters, mentions.
_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *"ab *_`#-+.!|[]<>&~=\\\t\n@:/01é\u00a0\u202e\u200d",
                "https://x.org/a_b",
                "https://q.org/?a=1&b=2",
                " @hidden ",
                "see https://e.com/(x).",
            ]
        ),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=12,
).map("".join)
_PERMALINKS = st.sampled_from(
    [
        "",
        "https://discord.com/channels/1/2/3",
        "https://discord.com/channels/1/2/4",
        "https://x.org/?a=1&b=2",
        "https://q.org/a b/5",
        "javascript:alert(1)",
        "https://ü.example/m/6",
    ]
)
_ATTACHMENTS = st.lists(
    st.builds(
        Attachment,
        _TEXT,
        st.sampled_from(["", "https://cdn.example/a/b.png", "https://e.com/?a=1&b=2"]),
        st.sampled_from(list(AttachmentKind)),
    ),
    max_size=2,
).map(tuple)


@st.composite
def _messages(draw: st.DrawFn) -> list[CapturedMessage]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        author = draw(st.sampled_from(["u1", "u2", "hidden", "host"]))
        kind = draw(st.sampled_from(list(MessageKind)))
        out.append(
            CapturedMessage(
                CHAT.id,
                draw(st.sampled_from(["local", "local", "discord"])),
                draw(st.sampled_from([f"id{i}", f"id-{i}.é", f"id {i}/x"])),
                author,
                draw(st.sampled_from(["", "Ann", "*Bob*", author])),
                draw(st.sampled_from(["", author, "h_" + author])),
                draw(_TEXT),
                AT + timedelta(seconds=draw(st.integers(-120, 5400)), microseconds=i),
                kind,
                question_keys=tuple(draw(st.lists(st.sampled_from(["1", "2", "3", "9"]), max_size=2))),
                late=draw(st.booleans()),
                permalink=draw(_PERMALINKS),
                edited_at=AT + timedelta(hours=2) if draw(st.booleans()) else None,
                deleted_at=AT + timedelta(hours=3) if draw(st.integers(0, 5)) == 0 else None,
                mentions=tuple(draw(st.lists(st.sampled_from(["@Ann", "hidden", " "]), max_size=2))),
                reactions=draw(st.integers(0, 3)),
                attachments=draw(_ATTACHMENTS),
            )
        )  # fmt: skip
    return out


_chat_ids = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(tmp_path_factory.mktemp("rows") / "chat.db")
    s.opt_out("local", "hidden", "hidden")
    yield s
    s.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=_messages())
@example(
    messages=[
        CapturedMessage(
            CHAT.id, "local", "a", "hidden", "Hid", "hidden", "my answer", AT + timedelta(minutes=6),
            MessageKind.ANSWER, question_keys=("1",),
        ),
        CapturedMessage(
            CHAT.id, "local", "b", "u1", "Ann", "ann", "thanks @hidden & <you>",
            AT + timedelta(minutes=7), MessageKind.ANSWER, question_keys=("1", "2"),
            permalink="https://local.example/m/b", mentions=("@hidden",),
            attachments=(Attachment("a_b.png", "https://cdn.example/a_b.png"),),
        ),
        CapturedMessage(
            CHAT.id, "local", "c", "u2", "", "", "late!", AT + timedelta(minutes=70),
            MessageKind.ANSWER, question_keys=("3",), late=True,
            edited_at=AT + timedelta(minutes=71),
        ),
        CapturedMessage(
            CHAT.id, "discord", "d", "host", "Host", "host", "welcome", AT,
            MessageKind.HOST, deleted_at=AT + timedelta(minutes=1),
        ),
    ]
)  # fmt: skip
def test_published_rows_equal_the_message_by_message_rendering(
    store: Store, tmp_path: Path, messages: list[CapturedMessage]
) -> None:
    chat = replace(CHAT, id=f"rows-{next(_chat_ids)}")
    store.add_chat(chat)
    store.save_messages([replace(m, chat_id=chat.id) for m in messages])
    out = tmp_path / chat.id
    published = publish_chat(store, chat, out, generated_at=GENERATED_AT)
    rendered = render_chat(store, chat, generated_at=GENERATED_AT)
    assert published.stats == rendered.stats
    assert published.stats == compute_stats(
        chat,
        store.iter_messages(chat.id),
        opted_out=store.opted_out(),
        history=store.participation_history(chat),
        question_posted_at={},
        not_posted={},
    )
    for fmt, text in (("md", rendered.markdown), ("html", rendered.html), ("json", rendered.json)):
        assert (out / f"{chat.id}.{fmt}").read_text(encoding="utf-8") == text, fmt


def test_one_format_alone_equals_the_same_format_of_all_three(tmp_path: Path) -> None:
    # The JSON alone renders no list; the Markdown alone no <li>; the HTML alone still
    # writes (and removes) the Markdown it may need.
    store = Store(tmp_path / "chat.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(
            [
                CapturedMessage(
                    CHAT.id, "local", f"m{i}", f"u{i % 3}", f"Name {i % 3}", f"h{i % 3}",
                    f"answer {i} with <b> & *stars*", AT + timedelta(minutes=6 + i),
                    MessageKind.ANSWER, question_keys=("1",),
                    permalink=f"https://local.example/m/{i}",
                )
                for i in range(30)
            ]
        )  # fmt: skip
        all_three = {fmt: tmp_path / "all" / f"t.{fmt}" for fmt in ("md", "html", "json")}
        write_transcripts(store, CHAT, all_three, generated_at=GENERATED_AT)
        for fmt, path in all_three.items():
            alone = tmp_path / fmt / f"t.{fmt}"
            write_transcripts(store, CHAT, {fmt: alone}, generated_at=GENERATED_AT)
            assert alone.read_bytes() == path.read_bytes()
            assert sorted(p.name for p in alone.parent.iterdir()) == [alone.name]
    finally:
        store.close()


@settings(max_examples=200, deadline=None)
@given(
    head=st.sampled_from(
        [
            "https://discord.com/channels/1/2/",
            "https://local.example/m/",
            "https://x.org/a b/",
            "https://ü.example/",
            "http://x/",
            "https:///",
            "ftp://x.org/",
            "",
        ]
    ),
    tails=st.lists(st.text(st.characters(codec="utf-8"), max_size=6), min_size=1, max_size=4),
)
def test_permalinks_sharing_a_path_link_as_safe_url_says(head: str, tails: list[str]) -> None:
    # The renderer remembers which permalink paths are plain; every item still links to
    # what safe_url makes of its permalink (or to nothing).
    renderer = ItemRenderer(CHAT.zone, set(), network=False, html=True)
    who = renderer.author("Ann", "ann")
    for tail in tails:
        url = head + tail
        md, _html = renderer.item("local", "m1", who, "20:00", False, url, "hi", (), "")
        link = safe_url(url) if url else None
        if link:
            assert md.split("  \n  ")[0].endswith(f" · [link]({link})")
        else:
            assert "[link]" not in md


def test_encoded_chunks_are_written_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    write_atomic_chunks(path, ["a · ", "b · ".encode(), "c\n"])
    assert path.read_text(encoding="utf-8") == "a · b · c\n"


def test_a_second_network_met_in_the_pass_marks_every_item(tmp_path: Path) -> None:
    # The chat targets one network; its items are rendered unmarked until a message from
    # another turns up, late in the chat: the pass starts again, marking them all.
    store = Store(tmp_path / "chat.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(
            [
                CapturedMessage(
                    CHAT.id, "local" if i < 39 else "discord", f"m{i}", f"u{i}", f"Name {i}",
                    f"h{i}", f"answer {i}", AT + timedelta(minutes=6, seconds=i),
                    MessageKind.ANSWER, question_keys=("1",),
                )
                for i in range(40)
            ]
        )  # fmt: skip
        out = tmp_path / "out"
        publish_chat(store, CHAT, out, generated_at=GENERATED_AT)
        rendered = render_chat(store, CHAT, generated_at=GENERATED_AT)
    finally:
        store.close()
    md = (out / f"{CHAT.id}.md").read_text(encoding="utf-8")
    assert md == rendered.markdown
    assert "**Name 0** @h0 · local · " in md and "**Name 39** @h39 · Discord · " in md
    assert (out / f"{CHAT.id}.html").read_text(encoding="utf-8") == rendered.html
    assert sorted(p.name for p in out.iterdir()) == [
        f"{CHAT.id}.{f}" for f in ("html", "json", "md")
    ]


def test_the_row_pass_stops_at_a_second_network_when_items_are_unmarked() -> None:
    lists = TranscriptLists(CHAT, hide=set(), opted_out=frozenset(), network=False)
    rows = RowPass(
        StatsCounter(CHAT), lists=lists, json_write=None, opted_out=frozenset(), hide=set(),
        networks={"local"},
    )  # fmt: skip
    row = ("local", "m1", "u1", "Ann", "ann", "hi", "2026-12-01T20:06:00.000000+00:00",
           "answer", "1", 0, "", None, None, "", 0, "")  # fmt: skip
    rows.feed([row])
    with pytest.raises(SeveralNetworks, match="discord, local"):
        rows.feed([("discord", *row[1:])])
