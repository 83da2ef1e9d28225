"""The iCalendar and Atom feeds, read back with the iCalendar library and an XML parser:
escaping, folding, times, stable ids, and user text that round-trips exactly."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event

from archive.models import Chat, ChatStatus, Question, Target
from archive.web.feeds import (
    FeedEntry,
    atom_feed,
    entry_id,
    event_description,
    feed_text,
    how_to_answer,
    ics_calendar,
    join_places,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ATOM = {"a": "http://www.w3.org/2005/Atom"}
# RFC 3339 date-time (section 5.6), which RFC 4287 section 3.3 requires, offset included.
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")

# What a host could type into a title: any character either feed can carry (see
# feeds.feed_text for the few they cannot), with the ones that need escaping made common.
CARRIABLE = st.characters(
    exclude_categories=("Cs",),
    exclude_characters="".join(chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20)])
    + "\ufffe\uffff",
)
USER_TEXT = st.text(st.one_of(CARRIABLE, st.sampled_from("<>&\"',;:\\\n\t é漢字مرحبا")))


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


def _event(text: str) -> Event:
    (event,) = Calendar.from_ical(text).walk("VEVENT")
    return event


def _atom(entries: list[FeedEntry], title: str = "T") -> ET.Element:
    return ET.fromstring(
        atom_feed(
            entries,
            title=title,
            self_url="https://ex.org/feed.atom",
            home_url="https://ex.org/",
            now=NOW,
        )
    )


# ---- iCalendar ---------------------------------------------------------------------------


def test_text_values_escape_specials() -> None:
    text = ics_calendar([_chat(title="a,b;c\\d\ne")], name="x", chat_url={}, now=NOW)
    assert "SUMMARY:a\\,b\\;c\\\\d\\ne (#WeDocs)" in _unfold(text)
    assert str(_event(text)["SUMMARY"]) == "a,b;c\\d\ne (#WeDocs)"


def test_calendar_name_is_escaped_text() -> None:
    text = ics_calendar([], name="Chats, all; of\\them\nhere", chat_url={}, now=NOW)
    assert "X-WR-CALNAME:Chats\\, all\\; of\\\\them\\nhere" in _unfold(text)
    # an extension property, which the library hands back still escaped: read it as TEXT
    raw = Calendar.from_ical(text)["X-WR-CALNAME"].to_ical().decode()
    name = Event.from_ical(f"BEGIN:VEVENT\r\nSUMMARY:{raw}\r\nEND:VEVENT\r\n")["SUMMARY"]
    assert str(name) == "Chats, all; of\\them\nhere"


def test_refresh_interval_says_its_value_type() -> None:
    text = ics_calendar([], name="x", chat_url={}, now=NOW)
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT6H" in _unfold(text)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_folded_lines_fit_75_octets_and_unfold_to_the_original(text: str) -> None:
    chat = _chat(intro=text, questions=())
    out = ics_calendar([chat], name="All", chat_url={}, now=NOW)
    assert all(len(part.encode("utf-8")) <= 75 for part in out.split("\r\n"))
    assert str(_event(out)["DESCRIPTION"]) == feed_text(event_description(chat))


@pytest.mark.parametrize("status", [ChatStatus.ENDED, ChatStatus.PUBLISHED, ChatStatus.CANCELLED])
def test_a_chat_that_is_over_says_no_more_how_to_join_or_answer(status: ChatStatus) -> None:
    # A tester's: an imported chat's .ics told them where to join and how to answer it.
    url = "https://archive.example/chats/wedocs-2026-02-03"
    over = str(
        _event(
            ics_calendar(
                [_chat(status=status)], name="All", chat_url={"wedocs-2026-02-03": url}, now=NOW
            )
        )["DESCRIPTION"]
    )
    assert over == "Line one\nLine two\n\nQ1: " + "Ünïcode question " * 10 + "\n\n" + url
    upcoming = str(_event(ics_calendar([_chat()], name="All", chat_url={}, now=NOW))["DESCRIPTION"])
    assert "Where to join:" in upcoming and "How to answer:" in upcoming


def test_calendar_event_has_utc_times_and_escaped_summary() -> None:
    text = ics_calendar([_chat()], name="All", chat_url={}, now=NOW)
    lines = _unfold(text)
    assert "DTSTART:20260203T200000Z" in lines
    assert "DTEND:20260203T210000Z" in lines
    assert "SUMMARY:Safety\\, culture\\; and\\\\QI (#WeDocs)" in lines
    event = _event(text)
    assert event.decoded("DTSTART") == datetime(2026, 2, 3, 20, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 2, 3, 21, 0, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == NOW
    assert str(event["SUMMARY"]) == "Safety, culture; and\\QI (#WeDocs)"


def test_calendar_times_are_the_right_instant_from_any_zone() -> None:
    from zoneinfo import ZoneInfo

    start = datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    chat = _chat(start=start, end=start + timedelta(minutes=45))
    event = _event(ics_calendar([chat], name="x", chat_url={}, now=NOW))
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=45)


def test_calendar_description_has_intro_where_how_questions_and_link() -> None:
    url = "https://ex.org/chats/wedocs-2026-02-03"
    chat = _chat(targets=(Target("x"),))
    text = ics_calendar([chat], name="x", chat_url={chat.id: url}, now=NOW)
    event = _event(text)
    assert str(event["DESCRIPTION"]) == (
        "Line one\nLine two\n\n"
        "Where to join:\nX, #WeDocs: https://x.com/hashtag/WeDocs?f=live\n\n"
        "How to answer: start each answer with its question's label (A1 for Q1)"
        " and add #WeDocs, so that it is counted.\n\n"
        f"Q1: {'Ünïcode question ' * 10}\n\n{url}"
    )
    assert str(event["URL"]) == url
    assert event["CATEGORIES"].cats == ["#WeDocs"]
    assert str(event["STATUS"]) == "CONFIRMED"


@pytest.mark.parametrize(
    ("target", "place"),
    [
        (Target("x"), "X, #WeDocs: https://x.com/hashtag/WeDocs?f=live"),
        (Target("bluesky"), "Bluesky, #WeDocs: https://bsky.app/hashtag/WeDocs"),
        (Target("mastodon"), "Mastodon, #WeDocs (follow the hashtag from your instance)"),
        (Target("discord", "123456789012345678"), "Discord, channel 123456789012345678"),
        (Target("local", "main"), "the local platform, room main"),
    ],
)
def test_each_network_says_where_to_join(target: Target, place: str) -> None:
    assert join_places(_chat(targets=(target,))) == [place]


def test_the_location_names_every_network_of_the_chat() -> None:
    chat = _chat(targets=(Target("discord", "42"), Target("bluesky"), Target("x")))
    assert str(_event(ics_calendar([chat], name="x", chat_url={}, now=NOW))["LOCATION"]) == (
        "Discord, channel 42; Bluesky, #WeDocs: https://bsky.app/hashtag/WeDocs;"
        " X, #WeDocs: https://x.com/hashtag/WeDocs?f=live"
    )


def test_a_hashtag_link_is_url_encoded() -> None:
    assert join_places(_chat(hashtag="#Santé", targets=(Target("bluesky"),))) == [
        "Bluesky, #Santé: https://bsky.app/hashtag/Sant%C3%A9"
    ]


def test_how_to_answer_gives_the_first_labels_as_the_chat_numbers_them() -> None:
    questions = (
        Question(1, "a", timedelta(minutes=5), part="a"),
        Question(1, "b", timedelta(minutes=9), part="b"),
        Question(2, "c", timedelta(minutes=15)),
    )
    assert "(A1a for Q1a, A1b for Q1b…) and add #WeDocs" in how_to_answer(
        _chat(questions=questions)
    )


def test_calendar_uses_crlf_line_endings_only() -> None:
    text = ics_calendar([_chat()], name="All", chat_url={}, now=NOW)
    assert "\n" not in text.replace("\r\n", "")


def test_calendar_uid_is_stable_and_uses_the_site_host() -> None:
    text = ics_calendar([_chat()], name="x", chat_url={}, base_url="https://ex.org/a", now=NOW)
    assert "UID:wedocs-2026-02-03@ex.org" in _unfold(text)
    moved = _chat(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 2, tzinfo=UTC))
    again = ics_calendar([moved], name="y", chat_url={}, base_url="https://ex.org/", now=NOW)
    assert str(_event(again)["UID"]) == str(_event(text)["UID"]) == "wedocs-2026-02-03@ex.org"


def test_cancelled_chat_is_marked_cancelled() -> None:
    chat = _chat(status=ChatStatus.CANCELLED)
    text = ics_calendar([chat], name="x", chat_url={}, now=NOW)
    assert "STATUS:CANCELLED" in _unfold(text)
    assert str(_event(text)["STATUS"]) == "CANCELLED"


# ---- Atom --------------------------------------------------------------------------------


def test_atom_feed_is_well_formed_with_escaped_titles() -> None:
    chat = _chat(title="<b>Tom & Jerry</b>")
    entry = FeedEntry(chat, "https://ex.org/chats/x?a=1&b=2", NOW, 'say "hi" <now>')
    root = _atom([entry])
    assert root.findtext("a:entry/a:title", namespaces=ATOM) == "<b>Tom & Jerry</b> (#WeDocs)"
    assert root.find("a:entry/a:link", ATOM).get("href") == "https://ex.org/chats/x?a=1&b=2"  # type: ignore[union-attr]
    assert root.findtext("a:entry/a:id", namespaces=ATOM) == entry_id(chat.id)
    assert root.findtext("a:entry/a:summary", namespaces=ATOM) == 'say "hi" <now>'
    assert root.find("a:entry/a:summary", ATOM).get("type") == "text"  # type: ignore[union-attr]


def test_atom_feed_has_its_own_links_title_and_author() -> None:
    root = _atom([], title="Site & co: new transcripts")
    assert root.findtext("a:title", namespaces=ATOM) == "Site & co: new transcripts"
    assert root.findtext("a:id", namespaces=ATOM) == entry_id("feed")
    assert root.findtext("a:author/a:name", namespaces=ATOM) == "tweetchat"
    assert root.findtext("a:generator", namespaces=ATOM) == "tweetchat"
    links = {(ln.get("rel"), ln.get("type"), ln.get("href")) for ln in root.findall("a:link", ATOM)}
    assert links == {
        ("self", "application/atom+xml", "https://ex.org/feed.atom"),
        ("alternate", "text/html", "https://ex.org/"),
    }


def test_atom_entry_has_times_link_and_category() -> None:
    chat = _chat()
    updated = datetime(2026, 2, 3, 22, 15, 7, 123456, tzinfo=UTC)
    root = _atom([FeedEntry(chat, "https://ex.org/chats/x", updated, "s")])
    (entry,) = root.findall("a:entry", ATOM)
    link = entry.find("a:link", ATOM)
    assert link is not None
    assert (link.get("rel"), link.get("type")) == ("alternate", "text/html")
    category = entry.find("a:category", ATOM)
    assert category is not None and category.get("term") == "#WeDocs"
    for name, instant in [("updated", updated.replace(microsecond=0)), ("published", chat.start)]:
        text = entry.findtext(f"a:{name}", namespaces=ATOM) or ""
        assert RFC3339.fullmatch(text), text
        assert datetime.fromisoformat(text) == instant
    newest = entry.findtext("a:updated", namespaces=ATOM)
    assert root.findtext("a:updated", namespaces=ATOM) == newest


def test_atom_entries_keep_the_order_given() -> None:
    chats = [_chat(id=f"c{i}", title=f"Chat {i}") for i in range(3)]
    root = _atom([FeedEntry(c, f"https://ex.org/chats/{c.id}", NOW, "") for c in chats])
    ids = [e.findtext("a:id", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert ids == [entry_id("c0"), entry_id("c1"), entry_id("c2")]


def test_empty_atom_feed_is_updated_now() -> None:
    root = ET.fromstring(atom_feed([], title="T", self_url="s", home_url="h", now=NOW))
    text = root.findtext("{http://www.w3.org/2005/Atom}updated") or ""
    assert RFC3339.fullmatch(text), text
    assert datetime.fromisoformat(text) == NOW


# ---- user text ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(USER_TEXT)
# Backslash sequences that are escapes in iCalendar TEXT: the library's own writer read a
# literal "\\N" in a title as a line break (found by this test in CI).
@example("\\N")
@example("\\n\\\\N \\, \\; \\")
def test_any_title_round_trips_through_both_feeds(title: str) -> None:
    chat = _chat(title=title)
    calendar = ics_calendar([chat], name="x", chat_url={}, now=NOW)
    assert str(_event(calendar)["SUMMARY"]) == f"{title} (#WeDocs)"
    root = _atom([FeedEntry(chat, "https://ex.org/c", NOW, title)])
    assert root.findtext("a:entry/a:title", namespaces=ATOM) == f"{title} (#WeDocs)"
    assert root.findtext("a:entry/a:summary", namespaces=ATOM) == title


def test_backslash_escapes_in_user_text_are_kept_literally_in_every_ics_text_field() -> None:
    title = "C:\\New\\notes; a\\, b \\N"
    chat = _chat(title=title, intro=f"Intro {title}")
    text = ics_calendar([chat], name="Calendar \\N; one, two", chat_url={}, now=NOW)
    # Escaped exactly as RFC 5545 3.3.11 says, so any reader gets the text back.
    assert "SUMMARY:C:\\\\New\\\\notes\\; a\\\\\\, b \\\\N (#WeDocs)" in text
    # An extension property: the reader hands it back raw, as escaped.
    assert "X-WR-CALNAME:Calendar \\\\N\\; one\\, two" in _unfold(text)
    event = _event(text)
    assert str(event["SUMMARY"]) == f"{title} (#WeDocs)"
    assert str(event["DESCRIPTION"]).startswith(f"Intro {title}\n")
    assert "\n" not in str(event["SUMMARY"])


def test_characters_no_feed_can_carry_are_dropped_not_fatal() -> None:
    title = "Bell\x07 and\x1b[1m esc\r\nCRLF\rCR\x00\ufffe end"
    expected = "Bell and[1m esc\nCRLF\nCR end (#WeDocs)"
    chat = _chat(title=title)
    assert str(_event(ics_calendar([chat], name="x", chat_url={}, now=NOW))["SUMMARY"]) == expected
    root = _atom([FeedEntry(chat, "https://ex.org/c", NOW, "")])
    assert root.findtext("a:entry/a:title", namespaces=ATOM) == expected
