"""Each chart of the web archive downloads as SVG and PNG, and the chat page shows the
Highlights of a chat with engagement (and none for a chat without)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from archive.highlights import Engagement
from archive.store import Store
from archive.web import make_app

SVG_NS = "{http://www.w3.org/2000/svg}"
CHAT_CHARTS = ("activity", "answers", "contributors")


def size_of(svg: bytes) -> tuple[int, int]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    return int(root.attrib["width"]), int(root.attrib["height"])


@pytest.mark.parametrize("name", CHAT_CHARTS)
async def test_a_chat_chart_downloads_as_svg_and_png(client: TestClient, name: str) -> None:
    svg = await client.get(f"/chats/wedocs-past/charts/{name}.svg")
    assert svg.status == 200
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.headers["Content-Disposition"] == f'attachment; filename="wedocs-past-{name}.svg"'
    body = await svg.read()
    width, height = size_of(body)
    assert b"<style>" in body and b'class="bar"' in body  # it stands alone: colours inside

    png = await client.get(f"/chats/wedocs-past/charts/{name}.png")
    assert png.status == 200
    assert png.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(await png.read()))
    image.load()
    assert image.format == "PNG" and image.size == (width, height)
    # Drawn on white, with something on it (the bars in the light theme's blue).
    colours = {c for _n, c in image.convert("RGB").getcolors(maxcolors=1 << 20) or ()}
    assert (255, 255, 255) in colours and (11, 87, 208) in colours


async def test_the_series_chart_downloads_as_svg_and_png(client: TestClient) -> None:
    svg = await client.get("/tags/wedocs/charts/participation.svg")
    assert svg.status == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    width, height = size_of(await svg.read())
    png = await client.get("/tags/wedocs/charts/participation.png")
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(await png.read())).size == (width, height)


async def test_pages_link_each_chart_download(client: TestClient) -> None:
    page = await (await client.get("/chats/wedocs-past")).text()
    for name in CHAT_CHARTS:
        for suffix in (".svg", ".png"):
            href = f"/chats/wedocs-past/charts/{name}{suffix}"
            assert f'href="{href}" download' in page
            assert (await client.get(href)).status == 200
    series = await (await client.get("/tags/wedocs")).text()
    assert 'href="/tags/wedocs/charts/participation.png" download' in series
    assert '<figcaption class="chart-files">Download: <a ' in series


async def test_the_download_links_read_in_the_readers_language(client: TestClient) -> None:
    """The tag page follows Accept-Language, its chart's download links with it."""
    french = await client.get("/tags/wedocs", headers={"Accept-Language": "fr"})
    page = await french.text()
    assert '<figcaption class="chart-files">Télécharger\u00a0: <a ' in page
    welsh = await (await client.get("/tags/wedocs", headers={"Accept-Language": "cy"})).text()
    assert '<figcaption class="chart-files">Lawrlwytho: <a ' in welsh


@pytest.mark.parametrize(
    "path",
    [
        "/chats/wedocs-past/charts/nope.svg",
        "/chats/wedocs-past/charts/activity.gif",
        "/chats/nope/charts/activity.svg",
        "/chats/wedocs-off/charts/activity.png",  # cancelled: nothing to chart
        "/tags/nope/charts/participation.svg",
        "/tags/wedocs/charts/activity.svg",
    ],
)
async def test_unknown_charts_are_404(client: TestClient, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_chart_links_follow_the_base_url(archive_path: Path) -> None:
    app = make_app(archive_path, base_url="https://example.org/chats")
    async with TestClient(TestServer(app)) as c:
        page = await (await c.get("/chats/chats/wedocs-past")).text()
        assert 'href="/chats/chats/wedocs-past/charts/answers.svg"' in page
        assert (await c.get("/chats/chats/wedocs-past/charts/answers.png")).status == 200


# ---- the Highlights section on the chat page ----------------------------------------------


async def test_chat_page_shows_highlights_only_with_engagement(archive_path: Path) -> None:
    app = make_app(archive_path)
    async with TestClient(TestServer(app)) as c:
        plain = await (await c.get("/chats/wedocs-past")).text()
        assert "Highlights" not in plain
    store = Store(archive_path)
    try:
        store.set_engagement("local", {"p2": Engagement(reactions=2), "p1": Engagement(likes=2)})
        store.set_engagement("local", {"p3": Engagement(likes=1), "p6": Engagement(likes=9)})
        store.add_reactions("local", "p5", 5)  # opted out: never highlighted
    finally:
        store.close()
    app = make_app(archive_path, highlights=1)
    async with TestClient(TestServer(app)) as c:
        page = await (await c.get("/chats/wedocs-past")).text()
        csv_text = await (await c.get("/chats/wedocs-past.csv")).text()
    section = page[page.index(">Highlights<") : page.index(">Summary<")]
    # Q1: Alice and Bob tie on 2; Alice answered first. One a question (highlights=1).
    assert re.findall(r"<strong>(\w+)</strong>", section) == ["Alice", "Alice"]
    assert "2 likes" in section and "9 likes" in section and "Olivia" not in section
    assert 'href="#m-local-p1"' in section
    header, *rows = csv_text.splitlines()
    assert header.endswith(",engagement")
    assert {r.split(",")[3]: r.rsplit(",", 1)[1] for r in rows if ",p" in r} == {
        "p1": "2",
        "p2": "2",
        "p3": "1",
        "p6": "9",
    }
