"""Attachments and stickers: stored with their message, shown under its text in every
transcript (golden files ``golden/attachments.*``), and published like the in-memory
rendering. Messages without any render exactly as before (``test_transcripts.py``'s
golden files are untouched)."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import (
    Attachment,
    AttachmentKind,
    CapturedMessage,
    Chat,
    ChatStatus,
    MessageKind,
    Question,
    Target,
)
from archive.publish import publish_chat, render_chat
from archive.stats import compute_stats
from archive.store import Store
from archive.transcripts import render_csv, render_html, render_json, render_markdown

GOLDEN = Path(__file__).parent / "golden"
START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
GENERATED = START + timedelta(hours=2)
K = MessageKind

CHAT = Chat(
    id="qi-2026-12-01",
    title="Patients in QI",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(minutes=30),
    timezone="Europe/London",
    questions=(Question(1, "What do you measure?", timedelta(minutes=5)),),
    targets=(Target("discord", "42"),),
    status=ChatStatus.PUBLISHED,
)

PHOTO = Attachment(
    "run chart_v2.png", "https://cdn.discordapp.com/attachments/42/7/run_chart_v2.png"
)
SIGNED = Attachment(
    "board [draft].pdf",
    "https://cdn.discordapp.com/attachments/42/8/board.pdf?ex=6560&is=6550&hm=ab12",
)
DOWNLOADED = Attachment("notes.txt", "qi-chat.json_Files/notes-5A1B.txt")  # an export's media
WAVE = Attachment("Wave *hello*", "", AttachmentKind.STICKER)


def message(
    n: int, minute: float, kind: MessageKind, text: str, keys: tuple[str, ...] = (), **kw: object
) -> CapturedMessage:
    return CapturedMessage(
        CHAT.id, "discord", str(1000 + n), f"u{n}", f"Person {n}", f"person{n}", text,
        START + timedelta(minutes=minute), kind, keys,
        permalink=f"https://discord.com/channels/1/42/{1000 + n}", channel="42",
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


MESSAGES = [
    message(1, 5, K.QUESTION, "Q1: What do you measure? #WeDocs", ("1",)),
    message(
        2, 6, K.ANSWER, "A1: waiting times, on a run chart #WeDocs", ("1",), attachments=(PHOTO,)
    ),
    message(3, 7, K.ANSWER, "", ("1",), attachments=(WAVE,)),
    message(4, 8, K.ANSWER, "", ("1",), attachments=(SIGNED, DOWNLOADED)),
    message(5, 9, K.ANSWER, "A1: patient-reported outcomes #WeDocs", ("1",)),
    message(6, 10, K.COMMENT, "Great chat #WeDocs", attachments=(WAVE,)),
    message(7, 11, K.REPOST, "Q1: What do you measure? #WeDocs", attachments=(PHOTO,)),
]


def check_golden(name: str, actual: str) -> None:
    """Compare with golden/<name>; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    data = actual.encode("utf-8")  # as written: the CSV's lines end with CRLF
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
        return
    assert path.read_bytes() == data, f"{name} differs from its golden file (UPDATE_GOLDEN=1)"


def rendered() -> tuple[str, str, str, str]:
    stats = compute_stats(CHAT, iter(MESSAGES))
    md = render_markdown(CHAT, MESSAGES, stats, generated_at=GENERATED)
    return (
        md,
        render_html(CHAT, md),
        render_json(CHAT, MESSAGES, stats),
        render_csv(MESSAGES, zone=CHAT.zone),
    )


@pytest.mark.parametrize("index, name", list(enumerate(["md", "html", "json", "csv"])))
def test_transcripts_with_attachments_match_golden(index: int, name: str) -> None:
    check_golden(f"attachments.{name}", rendered()[index])


def test_markdown_shows_file_names_with_links_and_sticker_names() -> None:
    md = rendered()[0]
    assert "Attachment: [run chart_v2.png](https://cdn.discordapp.com/attachments/42/7/" in md
    assert "  \n  Sticker: Wave \\*hello\\*\n" in md
    assert "Attachment: notes.txt\n" in md  # a local path is no link
    assert "board \\[draft\\].pdf" in md
    assert "A1: patient-reported outcomes #WeDocs\n" in md  # no attachment, no extra line


def test_html_links_the_files_and_escapes_the_names() -> None:
    page = rendered()[1]
    assert (
        'Attachment: <a href="https://cdn.discordapp.com/attachments/42/7/run_chart_v2.png"'
        ' rel="nofollow noopener noreferrer">run chart_v2.png</a>'
    ) in page
    assert 'href="https://cdn.discordapp.com/attachments/42/8/board.pdf?ex=6560&amp;is=6550' in page
    assert "Sticker: Wave *hello*" in page and "<em>hello</em>" not in page


def test_json_lists_attachments_only_where_there_are_some() -> None:
    document = json.loads(rendered()[2])
    entries = {m["id"]: m for m in document["messages"]}
    assert entries["1003"]["attachments"] == [
        {"kind": "sticker", "name": "Wave *hello*", "url": ""}
    ]
    assert [a["name"] for a in entries["1004"]["attachments"]] == ["board [draft].pdf", "notes.txt"]
    assert "attachments" not in entries["1005"]


def test_csv_has_an_attachments_column_only_for_chats_with_attachments() -> None:
    rows = list(csv.DictReader(io.StringIO(rendered()[3])))
    by_id = {r["id"]: r for r in rows}
    assert by_id["1004"]["attachments"] == (f"board [draft].pdf ({SIGNED.url})\nnotes.txt")
    assert by_id["1003"]["attachments"] == "sticker: Wave *hello*"
    assert by_id["1005"]["attachments"] == ""
    plain = render_csv([replace(m, attachments=()) for m in MESSAGES], zone=CHAT.zone)
    assert plain.splitlines()[0].endswith(",permalink,text")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "archive.db")
    s.add_chat(CHAT)
    s.save_messages(MESSAGES)
    yield s  # type: ignore[misc]
    s.close()


def test_the_store_keeps_attachments_and_an_edit_replaces_them(store: Store) -> None:
    assert [m.attachments for m in store.messages(CHAT.id)] == [m.attachments for m in MESSAGES]
    assert store.has_attachments(CHAT.id)
    edited = replace(MESSAGES[3], attachments=(DOWNLOADED,), edited_at=START + timedelta(hours=1))
    store.save_messages([edited])
    assert store.messages(CHAT.id)[3].attachments == (DOWNLOADED,)
    for m in MESSAGES:
        if m.attachments:
            store.mark_deleted("discord", m.platform_id, GENERATED)
    assert not store.has_attachments(CHAT.id)


def test_published_files_equal_the_in_memory_rendering(store: Store, tmp_path: Path) -> None:
    publish_chat(store, CHAT, tmp_path / "out", generated_at=GENERATED)
    expected = render_chat(store, CHAT, generated_at=GENERATED)
    for fmt, text in (("md", expected.markdown), ("html", expected.html), ("json", expected.json)):
        assert (tmp_path / "out" / f"{CHAT.id}.{fmt}").read_text(encoding="utf-8") == text
    assert "Sticker: Wave" in expected.markdown


def test_published_without_a_signed_link_uses_the_direct_html(store: Store, tmp_path: Path) -> None:
    # No '&' in any link: the publisher writes each list from its rendered <li> items.
    store.mark_deleted("discord", "1004", GENERATED)
    publish_chat(store, CHAT, tmp_path / "out", generated_at=GENERATED)
    expected = render_chat(store, CHAT, generated_at=GENERATED)
    assert (tmp_path / "out" / f"{CHAT.id}.html").read_text(encoding="utf-8") == expected.html
    assert "run chart_v2.png</a>" in expected.html
