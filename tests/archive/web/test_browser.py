"""The web archive in a real browser: Debian's headless Chromium driven by Playwright.

Skipped, loudly, when /usr/bin/chromium is missing (`.ci/run` installs it). Playwright's
own browser downloads are never used.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from archive.models import MessageKind
from archive.store import Store
from archive.web import make_app
from tests.archive.web.conftest import PAST_START, msg

CHROMIUM = Path(os.environ.get("TWEETCHAT_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    pytest.skip(
        f"REAL-BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}; "
        "install it with `apt-get install -y chromium` (.ci/run does this)",
        allow_module_level=True,
    )

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.fixture
async def server(archive_path: Path) -> AsyncIterator[str]:
    server = TestServer(make_app(archive_path, page_size=10), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/"))
    finally:
        await server.close()


@pytest.fixture
async def page(server: str) -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(accept_downloads=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            await browser.close()


async def test_home_page_loads_without_errors_or_csp_violations(page, server: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server)
    assert await page.title() == "Tweetchat archive"
    assert await page.locator("h2#upcoming").is_visible()
    assert page.errors == []


async def test_reader_local_time_script_runs_under_the_csp(page, server: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server)
    assert "your time:" in await page.locator("#upcoming ~ ul .yours").first.inner_text()


async def test_a_welsh_reader_gets_the_archive_and_the_script_s_words_in_welsh(  # type: ignore[no-untyped-def]
    page, server: str
) -> None:
    """The browser's Accept-Language picks the page's language, and the reader's-time
    script takes its words from the page."""
    await page.set_extra_http_headers({"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"})
    await page.goto(server)
    assert await page.locator("h2#upcoming").inner_text() == "I ddod"
    assert "(eich amser chi:" in await page.locator("#upcoming ~ ul .yours").first.inner_text()
    assert page.errors == []


async def test_following_a_chat_shows_transcript_and_charts(page, server: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server)
    past = page.locator("section", has=page.locator("#past"))
    await past.get_by_role("link", name="Patients as partners").click()
    await page.wait_for_url("**/chats/wedocs-earlier")
    assert await page.locator("article h1").inner_text() == "Patients as partners"
    assert await page.get_by_role("img", name="Answers per question").is_visible()
    assert page.errors == []


async def test_search_form_finds_and_highlights(page, server: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server)
    await page.get_by_role("searchbox", name="Search transcripts").fill("secretword")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/search?q=secretword")
    assert await page.locator("ol.results mark").first.inner_text() == "secretword"
    await page.locator("ol.results a").first.click()
    await page.wait_for_url("**/chats/wedocs-past#m-local-p3")


async def test_a_question_post_found_by_search_opens_its_question_s_section(  # type: ignore[no-untyped-def]
    page, server: str, archive_path: Path
) -> None:
    """A question post is its section's heading, not a list item with a message anchor:
    its hit opens the chat at that heading."""
    store = Store(archive_path)
    try:
        post = msg(
            "wedocs-past", "q2-post", "host", "Q2 what blockedword us? #WeDocs", PAST_START, 20
        )
        store.save_messages([replace(post, kind=MessageKind.QUESTION, question_keys=("2",))])
    finally:
        store.close()
    await page.goto(server + "search?q=blockedword")
    await page.locator("ol.results a").first.click()
    await page.wait_for_url("**/chats/wedocs-past#q-2")
    heading = page.locator("article h2", has=page.locator("#q-2"))
    assert (await heading.inner_text()).startswith("Q2 · What got in the way?")
    assert await heading.is_visible()
    assert page.errors == []


async def test_markdown_download(page, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server + "chats/wedocs-earlier")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Markdown").click()
    download = await info.value
    assert download.suggested_filename == "wedocs-earlier.md"
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    assert target.read_text(encoding="utf-8").startswith("# Patients as partners\n")


async def test_phone_screenshot_has_no_horizontal_scroll(page, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (("home", ""), ("chat", "chats/wedocs-past"), ("tag", "tags/wedocs")):
        await page.goto(server + path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, name
        shot = tmp_path / f"{name}-phone.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    keep = os.environ.get("TWEETCHAT_SCREENSHOTS")  # a directory to copy them to, for a look
    if keep:
        for name in ("home", "chat", "tag"):
            shot = tmp_path / f"{name}-phone.png"
            (Path(keep) / shot.name).write_bytes(shot.read_bytes())


async def test_a_chat_page_prints_as_the_transcript_alone(page, server: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server + "chats/wedocs-past")
    await page.emulate_media(media="print")
    for chrome in ("header.site", "footer.site", "nav.crumbs", "nav.downloads"):
        assert await page.locator(chrome).is_hidden(), chrome
    assert await page.locator("figcaption.chart-files").first.is_hidden()
    assert await page.locator("article.transcript h1").is_visible()
    assert await page.get_by_role("img", name="Answers per question").is_visible()
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF-")
    assert page.errors == []


async def test_html_download(page, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server + "chats/wedocs-earlier")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="HTML").click()
    download = await info.value
    assert download.suggested_filename == "wedocs-earlier.html"
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    assert "<h1>Patients as partners</h1>" in target.read_text(encoding="utf-8")


async def test_a_chart_downloads_as_png_from_its_link(page, server: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await page.goto(server + "chats/wedocs-past")
    figure = page.locator("figure.chart", has=page.get_by_role("img", name="Answers per question"))
    async with page.expect_download() as info:
        await figure.get_by_role("link", name="PNG").click()
    download = await info.value
    assert download.suggested_filename == "wedocs-past-answers.png"
    target = tmp_path / download.suggested_filename
    await download.save_as(target)
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert page.errors == []
