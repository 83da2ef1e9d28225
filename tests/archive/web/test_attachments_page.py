"""The web archive shows a message's files (name and link) and stickers (name), on the
chat's page and in its downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from archive.models import Attachment, AttachmentKind, ChatStatus
from archive.store import Store
from archive.web import make_app
from tests.archive.web.conftest import PAST_START, chat, msg

PHOTO = Attachment("run chart.png", "https://cdn.discordapp.com/attachments/1/2/run_chart.png")
WAVE = Attachment("Wave <hi>", "", AttachmentKind.STICKER)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    path = tmp_path / "archive.db"
    store = Store(path)
    try:
        store.add_chat(chat("wedocs-files", PAST_START, status=ChatStatus.PUBLISHED))
        store.save_messages(
            [
                replace(msg("wedocs-files", "f1", "alice", "A1 our chart #WeDocs", PAST_START, 12),
                        attachments=(PHOTO,)),
                replace(msg("wedocs-files", "f2", "bob", "", PAST_START, 13), attachments=(WAVE,)),
                msg("wedocs-files", "f3", "carol", "A1 nothing attached #WeDocs", PAST_START, 14),
            ]
        )  # fmt: skip
    finally:
        store.close()
    async with TestClient(TestServer(make_app(path))) as c:
        yield c


async def test_the_chat_page_links_files_and_names_stickers(client: TestClient) -> None:
    page = await (await client.get("/chats/wedocs-files")).text()
    assert (
        'Attachment: <a href="https://cdn.discordapp.com/attachments/1/2/run_chart.png"'
        ' rel="nofollow noopener noreferrer">run chart.png</a>'
    ) in page
    assert "Sticker: Wave &lt;hi&gt;" in page and "<hi>" not in page


async def test_the_downloads_carry_the_attachments(client: TestClient) -> None:
    document = json.loads(await (await client.get("/chats/wedocs-files.json")).text())
    by_id = {m["id"]: m for m in document["messages"]}
    assert by_id["f1"]["attachments"] == [{"kind": "file", "name": PHOTO.name, "url": PHOTO.url}]
    assert "attachments" not in by_id["f3"]
    rows = list(
        csv.DictReader(io.StringIO(await (await client.get("/chats/wedocs-files.csv")).text()))
    )
    assert [r["attachments"] for r in rows] == [
        f"{PHOTO.name} ({PHOTO.url})",
        "sticker: Wave <hi>",
        "",
    ]
    markdown = await (await client.get("/chats/wedocs-files.md")).text()
    assert f"Attachment: [run chart.png]({PHOTO.url})" in markdown
