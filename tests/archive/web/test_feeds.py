"""iCalendar line folding and escaping; Atom well-formedness."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.models import Chat, ChatStatus, Question
from archive.web.feeds import FeedEntry, atom_feed, entry_id, fold, ics_calendar, ics_escape

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _chat(**kw: object) -> Chat:
    start = datetime(2026, 2, 3, 20, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": "wedocs-2026-02-03",
        "title": "Safety, culture; and\\QI",
        "hashtag": "#WeDocs",
        "start": start,
        "end": start + timedelta(hours=1),
        "timezone": "Europe/London",
        "questions": (Question(1, "Ünïcode question " * 10, timedelta(minutes=10)),),
        "intro": "Line one\nLine two",
        "created_at": NOW,
    }
    values.update(kw)
    return Chat(**values)  # type: ignore[arg-type]


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def test_text_values_escape_specials() -> None:
    assert ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


@settings(max_examples=200)
@given(st.text(min_size=0, max_size=300))
def test_folded_lines_fit_75_octets_and_unfold_to_the_original(text: str) -> None:
    line = "DESCRIPTION:" + ics_escape(text)
    folded = fold(line)
    assert all(len(part.encode("utf-8")) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line


def test_calendar_event_has_utc_times_and_escaped_summary() -> None:
    lines = _unfold(ics_calendar([_chat()], name="All", chat_url={}, now=NOW))
    assert "DTSTART:20260203T200000Z" in lines
    assert "DTEND:20260203T210000Z" in lines
    assert "SUMMARY:Safety\\, culture\\; and\\\\QI (#WeDocs)" in lines


def test_calendar_uses_crlf_line_endings_only() -> None:
    text = ics_calendar([_chat()], name="All", chat_url={}, now=NOW)
    assert "\n" not in text.replace("\r\n", "")


def test_calendar_uid_is_stable_and_uses_the_site_host() -> None:
    text = ics_calendar([_chat()], name="x", chat_url={}, base_url="https://ex.org/a", now=NOW)
    assert "UID:wedocs-2026-02-03@ex.org" in _unfold(text)


def test_cancelled_chat_is_marked_cancelled() -> None:
    chat = _chat(status=ChatStatus.CANCELLED)
    assert "STATUS:CANCELLED" in _unfold(ics_calendar([chat], name="x", chat_url={}, now=NOW))


def test_atom_feed_is_well_formed_with_escaped_titles() -> None:
    chat = _chat(title="<b>Tom & Jerry</b>")
    entry = FeedEntry(chat, "https://ex.org/chats/x?a=1&b=2", NOW, 'say "hi" <now>')
    root = ET.fromstring(
        atom_feed(
            [entry],
            title="T",
            self_url="https://ex.org/feed.atom",
            home_url="https://ex.org/",
            now=NOW,
        )
    )
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:entry/a:title", namespaces=ns) == "<b>Tom & Jerry</b> (#WeDocs)"
    assert root.find("a:entry/a:link", ns).get("href") == "https://ex.org/chats/x?a=1&b=2"  # type: ignore[union-attr]
    assert root.findtext("a:entry/a:id", namespaces=ns) == entry_id(chat.id)


def test_empty_atom_feed_is_updated_now() -> None:
    root = ET.fromstring(atom_feed([], title="T", self_url="s", home_url="h", now=NOW))
    assert root.findtext("{http://www.w3.org/2005/Atom}updated") == "2026-01-01T00:00:00Z"
