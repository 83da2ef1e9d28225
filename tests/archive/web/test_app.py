"""Every route of the web archive through the aiohttp test client, hostile inputs included."""

from __future__ import annotations

import asyncio
import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from icalendar import Calendar

from archive.models import ChatStatus
from archive.store import Store
from archive.web import WebArchiveError, make_app
from tests.archive.web.conftest import HOSTILE_TITLE, PAST_START

PAGES = ["/", "/chats/wedocs-past", "/tags/wedocs", "/search?q=patient"]
# Text only the deleted message or the opted-out participant wrote.
LEAKS = ["deletedword", "mallory", "Olivia", "optedword from someone"]


async def test_home_lists_upcoming_and_past_chats(client: TestClient) -> None:
    text = await (await client.get("/")).text()
    upcoming, past = text.split('id="upcoming"')[1].split('id="past"')
    assert "/chats/wedocs-next" in upcoming
    assert past.index("/chats/wedocs-past") < past.index("/chats/wedocs-earlier")


async def test_home_omits_cancelled_chats(client: TestClient) -> None:
    assert "wedocs-off" not in await (await client.get("/")).text()


async def test_home_shows_time_in_chat_zone_with_machine_time(client: TestClient) -> None:
    text = await (await client.get("/")).text()
    assert (
        '<time class="local" datetime="2099-03-03T20:00:00Z">Tue 3 Mar 2099, 20:00–21:00 GMT'
        in text
    )


async def test_pages_have_landmarks_and_one_h1(client: TestClient) -> None:
    for path in PAGES:
        text = await (await client.get(path)).text()
        assert '<html lang="en">' in text
        assert 'name="viewport"' in text
        for landmark in ("<header", "<nav", "<main", "<footer"):
            assert landmark in text, (path, landmark)
        assert text.count("<h1") == 1, path


async def test_headings_never_skip_a_level(client: TestClient) -> None:
    for path in PAGES:
        levels = [int(n) for n in re.findall(r"<h([1-6])", await (await client.get(path)).text())]
        assert levels[0] == 1
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (path, levels)


async def test_chat_page_shows_transcript_and_charts(client: TestClient) -> None:
    text = await (await client.get("/chats/wedocs-past")).text()
    assert "co-design with the patient council" in text
    assert text.count('role="img"') == 3
    assert "Answers per question" in text


async def test_chat_page_links_downloads(client: TestClient) -> None:
    text = await (await client.get("/chats/wedocs-past")).text()
    for suffix in (".html", ".md", ".json", ".csv"):
        assert f'href="/chats/wedocs-past{suffix}"' in text


async def test_html_download_is_the_standalone_transcript(client: TestClient) -> None:
    resp = await client.get("/chats/wedocs-past.html")
    text = await resp.text()
    assert resp.status == 200 and resp.charset == "utf-8"
    assert text.startswith("<!DOCTYPE html>") and "co-design with the patient council" in text
    assert 'href="/static/style.css"' not in text  # its own styles: it reads offline


async def test_a_cancelled_chat_has_no_html_transcript(client: TestClient) -> None:
    assert (await client.get("/chats/wedocs-off.html")).status == 404


async def test_pages_link_the_stylesheet_that_holds_the_print_rules(client: TestClient) -> None:
    page = await (await client.get("/chats/wedocs-past")).text()
    assert '<link rel="stylesheet" href="/static/style.css">' in page
    css = await (await client.get("/static/style.css")).text()
    rules = css[css.index("@media print") :]
    for hidden in ("header.site", "footer.site", "nav.crumbs", "nav.downloads", "form"):
        assert hidden in rules.split("display: none")[0]
    assert "break-inside: avoid" in rules


async def test_hostile_title_is_escaped_everywhere(client: TestClient) -> None:
    for path in [*PAGES, "/feed.atom"]:
        text = await (await client.get(path)).text()
        assert "<script>alert" not in text, path
    page = await (await client.get("/chats/wedocs-past")).text()
    assert "&lt;script&gt;" in page


async def test_message_markup_is_shown_as_text(client: TestClient) -> None:
    text = await (await client.get("/chats/wedocs-past")).text()
    assert "<b>bold</b>" not in text
    assert "bold" in text


@pytest.mark.parametrize("path", [*PAGES, "/feed.atom", "/calendar.ics"])
async def test_deleted_and_opted_out_messages_never_appear(client: TestClient, path: str) -> None:
    text = await (await client.get(path)).text()
    for leak in LEAKS:
        assert leak not in text, (path, leak)


@pytest.mark.parametrize("suffix", [".html", ".md", ".json", ".csv"])
async def test_downloads_leave_out_deleted_and_opted_out(client: TestClient, suffix: str) -> None:
    text = await (await client.get(f"/chats/wedocs-past{suffix}")).text()
    assert "patient council" in text
    for leak in LEAKS:
        assert leak not in text


@pytest.mark.parametrize("word", ["deletedword", "mallory", "optedword from someone"])
async def test_search_never_finds_deleted_or_opted_out_messages(
    client: TestClient, word: str
) -> None:
    text = await (await client.get("/search", params={"q": word})).text()
    assert "No message matches" in text


async def test_opted_out_handle_mentioned_by_others_is_redacted_in_search(
    client: TestClient,
) -> None:
    text = await (await client.get("/search?q=thanks")).text()
    assert "idea" in text and "olivia" not in text.casefold()


@pytest.mark.parametrize(
    ("suffix", "content_type"),
    [
        (".html", "text/html"),
        (".md", "text/markdown"),
        (".json", "application/json"),
        (".csv", "text/csv"),
    ],
)
async def test_download_is_an_attachment_of_its_type(
    client: TestClient, suffix: str, content_type: str
) -> None:
    resp = await client.get(f"/chats/wedocs-past{suffix}")
    assert resp.status == 200
    assert resp.content_type == content_type
    assert resp.headers["Content-Disposition"] == f'attachment; filename="wedocs-past{suffix}"'


@pytest.mark.parametrize(
    "path",
    [
        "/chats/no-such-chat",
        "/chats/no-such-chat.md",
        "/chats/..%2F..%2Fetc%2Fpasswd",
        "/chats/../../etc/passwd",
        "/static/../archive.db",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/tags/nosuchtag",
        "/tags/nosuchtag/calendar.ics",
        "/nowhere",
    ],
)
async def test_unknown_or_traversal_paths_get_the_404_page(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404
    text = await resp.text()
    assert "Not found" in text and "root:" not in text


@pytest.mark.parametrize("path", ["/", "/chats/no-such-chat", "/static/style.css", "/feed.atom"])
async def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


async def test_pages_carry_no_inline_script_or_style(client: TestClient) -> None:
    for path in PAGES:
        text = await (await client.get(path)).text()
        assert "<style" not in text and " style=" not in text
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None


@pytest.mark.parametrize(
    "q", ['"', "#WeDocs", "AND", "*", "NEAR(", "OR NOT", 'a"b', "'; DROP", "\ue000x", "\x00"]
)
async def test_search_accepts_any_input(client: TestClient, q: str) -> None:
    resp = await client.get("/search", params={"q": q})
    assert resp.status == 200


async def test_search_matches_hashtags_literally(client: TestClient) -> None:
    text = await (await client.get("/search", params={"q": "#WeDocs"})).text()
    assert "<mark>WeDocs</mark>" in text


async def test_search_result_links_to_message_anchor(client: TestClient) -> None:
    text = await (await client.get("/search?q=secretword")).text()
    assert 'href="/chats/wedocs-past#m-local-p3"' in text
    assert "<mark>secretword</mark>" in text


async def test_the_message_anchor_exists_on_the_chat_page(client: TestClient) -> None:
    page = await (await client.get("/chats/wedocs-past")).text()
    assert 'id="m-local-p3"' in page


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("Stories", ["p2"]),  # stemmed: "stories" and "story" are one word
        ("story", ["p2"]),
        ("secret*", ["p3"]),
        ('"patient council"', ["p1", "e1"]),
        ("patient -co-design", ["p2", "e1"]),
        ("council NOT ask", ["p1"]),
        ("stories OR secretword", ["p3", "p2"]),
        ("from:bob", ["p2"]),
        ("from:@ALICE council", ["p1", "e1"]),
        ("from:olivia", []),  # opted out
        ("tag:WeDocs council", ["p1", "e1"]),
        ("tag:#NoSuchTag council", []),
    ],
)
async def test_search_finds_what_people_type(client: TestClient, q: str, found: list[str]) -> None:
    text = await (await client.get("/search", params={"q": q})).text()
    assert re.findall(r'href="/chats/wedocs-\w+#m-local-(\w+)"', text) == found


async def test_search_explains_its_syntax(client: TestClient) -> None:
    text = await (await client.get("/search")).text()
    assert "<code>from:handle</code>" in text and "<code>quick*</code>" in text


async def test_search_echoes_query_escaped(client: TestClient) -> None:
    text = await (await client.get("/search", params={"q": '"><img src=x>'})).text()
    assert "<img" not in text
    assert 'value="&quot;&gt;&lt;img src=x&gt;"' in text


async def test_search_pages_results(archive_path: Path) -> None:
    app = make_app(archive_path, page_size=1)
    async with TestClient(TestServer(app)) as c:
        first = await (await c.get("/search?q=patient")).text()
        second = await (await c.get("/search?q=patient&page=2")).text()
    assert 'rel="next"' in first and "#m-local-p2" in first
    assert "#m-local-p1" in second and 'rel="prev"' in second


async def test_bad_page_number_falls_back_to_first_page(client: TestClient) -> None:
    assert (await client.get("/?page=abc")).status == 200


async def test_tag_page_is_case_insensitive_and_charts_participation(client: TestClient) -> None:
    text = await (await client.get("/tags/WeDocs")).text()
    assert "<h1>#WeDocs</h1>" in text
    assert "Participants per chat: first-time and returning" in text
    # alice came back; bob and carol were new (olivia opted out but is still counted)
    assert "Jan 2026: 4 participants (3 first-time, 1 returning)" in text


async def test_calendar_lists_upcoming_and_cancelled_chats(client: TestClient) -> None:
    resp = await client.get("/calendar.ics")
    assert resp.content_type == "text/calendar"
    text = await resp.text()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20990303T200000Z" in text
    assert "STATUS:CANCELLED" in text
    assert "wedocs-past" not in text


async def test_an_upcoming_chat_page_offers_it_for_the_calendar(client: TestClient) -> None:
    text = await (await client.get("/chats/wedocs-next")).text()
    assert '<a href="/chats/wedocs-next.ics" download>Add to calendar (.ics)</a>' in text
    assert "Where: the local platform, room main" in text
    past = await (await client.get("/chats/wedocs-past")).text()
    assert "Add to calendar" not in past


async def test_a_chats_calendar_file_holds_that_chat_alone(client: TestClient) -> None:
    resp = await client.get("/chats/wedocs-next.ics")
    assert resp.status == 200 and resp.content_type == "text/calendar"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="wedocs-next.ics"'
    (event,) = Calendar.from_ical(await resp.text()).walk("VEVENT")
    assert str(event["UID"]).startswith("wedocs-next@")
    assert str(event["LOCATION"]) == "the local platform, room main"
    assert "A1 for Q1, A2 for Q2" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith("/chats/wedocs-next")


async def test_a_cancelled_chats_calendar_file_cancels_it(client: TestClient) -> None:
    text = await (await client.get("/chats/wedocs-off.ics")).text()
    assert "STATUS:CANCELLED" in text


async def test_an_unknown_chats_calendar_file_is_not_found(client: TestClient) -> None:
    assert (await client.get("/chats/no-such-chat.ics")).status == 404


async def test_tag_calendar_names_the_hashtag(client: TestClient) -> None:
    text = await (await client.get("/tags/wedocs/calendar.ics")).text()
    assert "X-WR-CALNAME:#WeDocs chats" in text


async def test_atom_feed_lists_published_transcripts(client: TestClient) -> None:
    resp = await client.get("/feed.atom")
    assert resp.content_type == "application/atom+xml"
    root = ET.fromstring(await resp.read())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [t.text for t in root.findall("a:entry/a:title", ns)]
    assert titles == [f"{HOSTILE_TITLE} (#WeDocs)", "Patients as partners (#WeDocs)"]
    link = root.find("a:entry/a:link", ns)
    assert link is not None and link.get("href", "").endswith("/chats/wedocs-past")


async def test_static_files_are_served(client: TestClient) -> None:
    css = await client.get("/static/style.css")
    js = await client.get("/static/localtime.js")
    assert css.content_type == "text/css" and "svg.chart" in await css.text()
    assert js.content_type == "text/javascript" and "time.local" in await js.text()


async def test_base_url_prefixes_routes_and_links(archive_path: Path) -> None:
    app = make_app(archive_path, base_url="https://example.org/archive")
    async with TestClient(TestServer(app)) as c:
        home = await c.get("/archive/")
        text = await home.text()
        feed = await (await c.get("/archive/feed.atom")).text()
        assert (await c.get("/")).status == 404
        assert (await c.get("/archive")).status == 200
    assert home.status == 200
    assert 'href="/archive/chats/wedocs-past"' in text
    assert 'href="/archive/static/style.css"' in text
    assert "https://example.org/archive/chats/wedocs-past" in feed


async def test_app_never_writes_to_the_database(archive_path: Path) -> None:
    before = await asyncio.to_thread(archive_path.read_bytes)
    app = make_app(archive_path)
    async with TestClient(TestServer(app)) as c:
        for path in [*PAGES, "/feed.atom", "/calendar.ics", "/chats/wedocs-past.md"]:
            await c.get(path)
    assert await asyncio.to_thread(archive_path.read_bytes) == before


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WebArchiveError, match="no archive database"):
        make_app(tmp_path / "missing.db")


def test_unmigrated_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store(path).close()
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _migrations WHERE version >= 2")
    conn.commit()
    conn.close()
    with pytest.raises(WebArchiveError, match="schema version 1"):
        make_app(path)


async def test_a_deletion_after_a_view_leaves_the_cached_page(
    client: TestClient, archive_path: Path
) -> None:
    assert "co-design" in await (await client.get("/chats/wedocs-past")).text()
    store = await asyncio.to_thread(Store, archive_path)
    try:
        await asyncio.to_thread(store.mark_deleted, "local", "p1", PAST_START)
    finally:
        await asyncio.to_thread(store.close)
    assert "co-design" not in await (await client.get("/chats/wedocs-past")).text()
    assert "co-design" not in await (await client.get("/chats/wedocs-past.md")).text()


async def test_an_opt_out_after_a_view_leaves_the_cached_page(
    client: TestClient, archive_path: Path
) -> None:
    assert "Carol" in await (await client.get("/chats/wedocs-past")).text()
    store = await asyncio.to_thread(Store, archive_path)
    try:
        await asyncio.to_thread(store.opt_out, "local", "carol", "carol")
    finally:
        await asyncio.to_thread(store.close)
    text = await (await client.get("/chats/wedocs-past")).text()
    assert "secretword" not in text and "Carol" not in text


async def test_the_app_reads_through_the_stores_pool_and_opens_none_of_its_own(
    archive_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive.store import AsyncStore, ReadPool
    from archive.web.app import POOL

    store = await asyncio.to_thread(AsyncStore, archive_path, readers=2)
    pools: list[ReadPool] = []
    made = ReadPool.__init__

    def counting_init(self: ReadPool, *args: object, **kwargs: object) -> None:
        pools.append(self)
        made(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ReadPool, "__init__", counting_init)
    try:
        app = make_app(store.reads)
        assert app[POOL] is store.reads
        async with TestClient(TestServer(app)) as c:
            for path in PAGES:
                assert (await c.get(path)).status == 200
        assert pools == []  # no second pool
        assert 1 <= store.reads.connections <= 2  # the pages were read on the store's pool
        # Stopping the web app leaves the store's pool open for the bot.
        assert (await store.get_chat("wedocs-past")).id == "wedocs-past"
    finally:
        await store.aclose()


async def test_the_app_serving_a_file_opens_and_closes_its_own_pool(archive_path: Path) -> None:
    from archive.web.app import POOL

    app = make_app(archive_path)
    pool = app[POOL]
    async with TestClient(TestServer(app)) as c:
        assert (await c.get("/")).status == 200
        assert pool.connections >= 1
    assert pool.connections == 0  # closed with the app


async def test_a_title_that_carries_the_hashtag_is_not_followed_by_it_again(
    archive_path: Path,
) -> None:
    """Found by a tester: an imported chat's page title read "#WeDocs in #qi-chat (#WeDocs)",
    and so did its feed entry and calendar."""
    from tests.archive.web.conftest import chat

    store = Store(archive_path)
    try:
        store.add_chat(
            chat(
                "wedocs-imported",
                PAST_START,
                title="#WeDocs in #qi-chat",
                status=ChatStatus.PUBLISHED,
            )
        )
    finally:
        store.close()
    app = make_app(archive_path, page_size=10)
    async with TestClient(TestServer(app)) as c:
        page = await (await c.get("/chats/wedocs-imported")).text()
        assert "<title>#WeDocs in #qi-chat · " in page
        ics = await (await c.get("/chats/wedocs-imported.ics")).text()
        summary = Calendar.from_ical(ics).walk("VEVENT")[0]["SUMMARY"]
        assert str(summary) == "#WeDocs in #qi-chat"
        feed = await (await c.get("/feed.atom")).text()
        assert "#WeDocs in #qi-chat (#WeDocs)" not in feed
        assert "Patients as partners (#WeDocs)" in feed  # a title without it: as before
