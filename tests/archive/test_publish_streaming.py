"""Streaming publication: the files publish_chat writes piece by piece equal the
in-memory rendering of render_chat, byte for byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.capture import capture
from archive.highlights import HIGHLIGHTS_PER_QUESTION
from archive.models import Attachment, AttachmentKind, CapturedMessage, Chat, MessageKind
from archive.publish import (
    RowPublication,
    publication_inputs,
    publish_chat,
    render_chat,
    write_transcripts,
)
from archive.published import file_digest
from archive.store import Store
from archive.transcripts.jsonfmt import message_json
from archive.transcripts.rows import SeveralNetworks
from archive.transcripts.text import _safe_url_general, redact_handles, safe_url
from benchmarks import bench_chat, bench_context, incoming_messages
from benchmarks.transcript_bench import GENERATED_AT, build_store


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    base = tmp_path_factory.mktemp("streaming")
    build_store(base / "chat.db", 3000)
    store = Store(base / "chat.db")
    # A second opted-out author, whose @handle others mention, to be redacted.
    store.opt_out("local", "u3", "user3")
    publish_chat(store, store.get_chat("bench-chat"), base / "out", generated_at=GENERATED_AT)
    yield store, base / "out"
    store.close()


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_published_file_equals_the_in_memory_rendering(
    published: tuple[Store, Path], fmt: str
) -> None:
    store, out = published
    rendered = render_chat(store, store.get_chat("bench-chat"), generated_at=GENERATED_AT)
    expected = {"md": rendered.markdown, "html": rendered.html, "json": rendered.json}[fmt]
    assert (out / f"bench-chat.{fmt}").read_text(encoding="utf-8") == expected


def test_published_transcript_has_late_and_other_sections(published: tuple[Store, Path]) -> None:
    md = (published[1] / "bench-chat.md").read_text(encoding="utf-8")
    assert "\n## Other messages\n" in md and "\n## Late answers\n" in md


def _assert_amp_link_page_like_render_chat(store: Store, chat: Chat, out: Path) -> None:
    publish_chat(store, chat, out, generated_at=GENERATED_AT)
    page = (out / f"{chat.id}.html").read_text(encoding="utf-8")
    assert page == render_chat(store, chat, generated_at=GENERATED_AT).html
    assert 'href="https://example.org/?a=1&amp;b=2"' in page  # the case under test is there


def test_amp_link_transcript_is_published_like_the_whole_conversion(tmp_path: Path) -> None:
    build_store(tmp_path / "chat.db", 300)
    store = Store(tmp_path / "chat.db")
    try:
        m = next(store.iter_messages("bench-chat", include_deleted=False))
        store.edit_message(
            m.platform, m.platform_id, "see https://example.org/?a=1&b=2", GENERATED_AT
        )
        chat = store.get_chat("bench-chat")
        _assert_amp_link_page_like_render_chat(store, chat, tmp_path / "out")
    finally:
        store.close()


def test_chat_on_two_networks_is_published_like_the_in_memory_rendering(tmp_path: Path) -> None:
    # A message from a second platform makes every item name its network.
    build_store(tmp_path / "chat.db", 300)
    store = Store(tmp_path / "chat.db")
    try:
        messages = list(store.iter_messages("bench-chat", include_deleted=False))
        answer = next(m for m in messages if m.kind is MessageKind.ANSWER and not m.late)
        store.save_messages([replace(answer, platform="discord", platform_id="d-1")])
        chat = store.get_chat("bench-chat")
        publish_chat(store, chat, tmp_path / "out", generated_at=GENERATED_AT)
        rendered = render_chat(store, chat, generated_at=GENERATED_AT)
    finally:
        store.close()
    assert " · Discord · " in rendered.markdown
    for fmt, text in (("md", rendered.markdown), ("html", rendered.html)):
        assert (tmp_path / "out" / f"bench-chat.{fmt}").read_text(encoding="utf-8") == text


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


def _reference_entry(m: CapturedMessage, hide: set[str]) -> dict[str, Any]:
    """A message's entry in the documented JSON format, as a plain dict."""

    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.astimezone(UTC).isoformat()

    entry: dict[str, Any] = {
        "platform": m.platform,
        "id": m.platform_id,
        "author": {"name": m.author_name, "handle": m.author_handle, "id": m.author_id},
        "text": redact_handles(m.text, hide),
        "created_at": when(m.created_at),
        "kind": m.kind.value,
        "questions": list(m.question_keys),
        "late": m.late,
        "permalink": m.permalink,
        "edited": m.edited_at is not None,
        "edited_at": when(m.edited_at),
    }
    if m.attachments:
        entry["attachments"] = [
            {"kind": a.kind.value, "name": a.name, "url": a.url} for a in m.attachments
        ]
    return entry


@settings(max_examples=200, deadline=None)
@given(
    text=_TEXT,
    name=_TEXT,
    keys=st.lists(st.sampled_from(["1", "2a", "3"]), max_size=3),
    late=st.booleans(),
    edited=st.booleans(),
    attachments=st.lists(
        st.builds(Attachment, _TEXT, _TEXT, st.sampled_from(list(AttachmentKind))), max_size=2
    ).map(tuple),
)
def test_message_json_equals_json_dumps(
    text: str,
    name: str,
    keys: list[str],
    late: bool,
    edited: bool,
    attachments: tuple[Attachment, ...],
) -> None:
    at = datetime(2026, 12, 1, 20, 5, tzinfo=UTC)
    m = CapturedMessage(
        "c", "local", "id-1", "u1", name, "handle", text, at, MessageKind.ANSWER,
        question_keys=tuple(keys), late=late, permalink="https://example.org/1",
        edited_at=at + timedelta(minutes=1) if edited else None, attachments=attachments,
    )  # fmt: skip
    hide = {"handle2"}
    expected = json.dumps(_reference_entry(m, hide), sort_keys=True, indent=2, ensure_ascii=False)
    assert message_json(m, hide) == expected.replace("\n", "\n    ")


@settings(max_examples=200, deadline=None)
@given(
    url=st.from_regex(r"https?://[A-Za-z0-9][A-Za-z0-9.\-]*(/[A-Za-z0-9\-._~/]*)?", fullmatch=True)
)
def test_safe_url_fast_path_agrees_with_the_general_path(url: str) -> None:
    assert safe_url(url) == _safe_url_general(url) == url


def test_markdown_over_the_attachment_limit_is_not_attached(tmp_path: Path) -> None:
    build_store(tmp_path / "chat.db", 100)
    store = Store(tmp_path / "chat.db")
    try:
        chat = store.get_chat("bench-chat")
        small = publish_chat(store, chat, tmp_path / "a", attachment_limit=10**9)
        big = publish_chat(store, chat, tmp_path / "b", attachment_limit=1000)
    finally:
        store.close()
    assert small.attachment is not None and big.attachment is None


def test_amp_link_outside_the_lists_is_published_like_the_whole_conversion(
    tmp_path: Path,
) -> None:
    # A link with '&' in the intro: only a whole conversion reproduces Python-Markdown.
    chat = replace(bench_chat(), intro="Read https://example.org/?a=1&b=2 first, and <b>")
    store = Store(tmp_path / "chat.db")
    try:
        store.add_chat(chat)
        ctx = bench_context(chat)
        captured = [capture(m, ctx) for m in incoming_messages(200, chat)]
        store.save_messages([m for m in captured if m is not None])
        _assert_amp_link_page_like_render_chat(store, chat, tmp_path / "out")
    finally:
        store.close()


def _row_publications(
    store: Store, chat: Chat, out: Path
) -> tuple[RowPublication, RowPublication, dict[str, Path]]:
    """The chat's transcripts rendered as an import does: split over two publications fed
    the same rows, the Markdown and HTML one counting the statistics."""
    out.mkdir()
    paths = {fmt: out / f"{chat.id}.{fmt}" for fmt in ("md", "html", "json")}
    opted_out = store.opted_out()
    lists = RowPublication(chat, {f: paths[f] for f in ("md", "html")}, opted_out=opted_out)
    entries = RowPublication(chat, {"json": paths["json"]}, opted_out=opted_out, counted=False)
    for batch in store.iter_message_rows(chat.id):
        lists.feed(batch)
        entries.feed(batch)
    return lists, entries, paths


def test_row_publications_fed_the_rows_write_the_files_of_write_transcripts(
    tmp_path: Path,
) -> None:
    build_store(tmp_path / "chat.db", 3000)
    store = Store(tmp_path / "chat.db")
    try:
        chat = store.get_chat("bench-chat")
        store.opt_in("local", "u7")  # the bench chat's opted-out author: a handle to hide
        store.opt_out("local", "someone-else")  # not in the chat: nothing to hide
        expected = {fmt: tmp_path / "ref" / f"{chat.id}.{fmt}" for fmt in ("md", "html", "json")}
        stats = write_transcripts(store, chat, expected, generated_at=GENERATED_AT)
        lists, entries, paths = _row_publications(store, chat, tmp_path / "rows")
        with lists, entries:
            inputs = publication_inputs(store, chat, HIGHLIGHTS_PER_QUESTION)
            with pytest.raises(ValueError, match="counted by another"):
                entries.stats(inputs)
            assert lists.stats(inputs) == stats
            lists.finish(inputs, generated_at=GENERATED_AT)
            entries.finish(inputs, generated_at=GENERATED_AT, stats=stats)
            assert lists.digests() == {f: file_digest(paths[f]) for f in ("md", "html")}
        for fmt, path in expected.items():
            assert paths[fmt].read_bytes() == path.read_bytes(), fmt
        assert sorted(p.name for p in (tmp_path / "rows").iterdir()) == sorted(
            p.name for p in paths.values()
        )  # the spills are gone
    finally:
        store.close()


def test_row_publication_refuses_inputs_it_cannot_render(tmp_path: Path) -> None:
    build_store(tmp_path / "chat.db", 300)
    store = Store(tmp_path / "chat.db")
    try:
        chat = store.get_chat("bench-chat")
        store.opt_in("local", "u7")
        lists, entries, _paths = _row_publications(store, chat, tmp_path / "rows")
        with lists, entries:
            store.opt_out("local", "u7", "user7")  # in the chat: a handle to hide
            inputs = publication_inputs(store, chat, HIGHLIGHTS_PER_QUESTION)
            with pytest.raises(ValueError, match="other opt-outs, hidden handles or groups"):
                lists.finish(inputs)
    finally:
        store.close()


def test_row_publication_meets_a_second_network(tmp_path: Path) -> None:
    build_store(tmp_path / "chat.db", 300)
    store = Store(tmp_path / "chat.db")
    try:
        messages = list(store.iter_messages("bench-chat", include_deleted=False))
        store.save_messages([replace(messages[5], platform="discord", platform_id="d-1")])
        chat = store.get_chat("bench-chat")
        with pytest.raises(SeveralNetworks):
            _row_publications(store, chat, tmp_path / "rows")
    finally:
        store.close()
