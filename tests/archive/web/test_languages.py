"""The web archive in the reader's language (Accept-Language) and each chat's pages in the
chat's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from archive.models import ChatStatus
from archive.store import Store
from archive.web import make_app
from tests.archive.web.conftest import FUTURE_START, PAST_START, chat, msg


@pytest.fixture
async def client(archive_path: Path) -> AsyncIterator[TestClient]:
    store = Store(archive_path)
    try:
        store.add_chat(
            chat(
                "soins-fr",
                PAST_START + timedelta(days=1),
                title="Soins partagés",
                status=ChatStatus.PUBLISHED,
                language="fr-CA",
            )
        )
        store.save_messages(
            [
                msg(
                    "soins-fr",
                    "f1",
                    "alice",
                    "A1 le comité des usagers #WeDocs",
                    PAST_START + timedelta(days=1),
                    12,
                )
            ]
        )
        store.add_chat(
            chat(
                "iechyd-off",
                FUTURE_START + timedelta(days=14),
                title="Iechyd",
                status=ChatStatus.CANCELLED,
                language="cy",
            )
        )
    finally:
        store.close()
    async with TestClient(TestServer(make_app(archive_path, page_size=10))) as c:
        yield c


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [
        (None, "en", ["Past chats", "Search transcripts", "Skip to content"]),
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", ["Clavardages passés", "Aller au contenu", "À venir"]),
        ("cy,en;q=0.5", "cy", ["Sgyrsiau blaenorol", "Neidio i’r cynnwys", "I ddod"]),
        ("de-DE", "en", ["Past chats"]),
    ],
)
async def test_the_archive_s_own_pages_follow_accept_language(
    client: TestClient, header: str | None, lang: str, words: list[str]
) -> None:
    headers = {"Accept-Language": header} if header else {}
    for path in ("/", "/tags/wedocs", "/search?q=patient"):
        response = await client.get(path, headers=headers)
        text = await response.text()
        assert response.status == 200
        assert f'<html lang="{lang}"' in text, path
        assert response.headers["Content-Language"] == lang
        assert "Accept-Language" in response.headers["Vary"]
    home = await (await client.get("/", headers=headers)).text()
    for word in words:
        assert word in home


async def test_a_chat_page_is_in_the_chat_s_language_whatever_the_reader_s(
    client: TestClient,
) -> None:
    page = await (await client.get("/chats/soins-fr", headers={"Accept-Language": "cy"})).text()
    assert '<html lang="fr-CA" data-your-time=" (votre heure\u00a0: {time})">' in page
    for words in ("Résumé", "Télécharger", "Graphiques", "Messages en CSV", "publié"):
        assert words in page
    english = await (
        await client.get("/chats/wedocs-past", headers={"Accept-Language": "fr"})
    ).text()
    assert '<html lang="en">' in english and "Summary" in english and "Résumé" not in english


async def test_a_cancelled_welsh_chat_says_so_in_welsh(client: TestClient) -> None:
    page = await (await client.get("/chats/iechyd-off")).text()
    assert '<html lang="cy" ' in page
    assert "Cafodd y sgwrs #WeDocs hon" in page and "ei chanslo" in page


async def test_error_pages_speak_the_reader_s_language(client: TestClient) -> None:
    response = await client.get("/chats/nope", headers={"Accept-Language": "fr"})
    assert response.status == 404
    text = await response.text()
    assert "Introuvable" in text and "Retour aux archives" in text


NB = "\u00a0"


def _svg_texts(page: str) -> list[str]:
    """The titles, descriptions and texts of a page's SVG charts."""
    import html
    import re

    svgs = re.findall(r"(?s)<svg\b.*?</svg>", page)
    return [
        html.unescape(t)
        for s in svgs
        for t in re.findall(r"(?s)<(?:title|desc|text)\b[^>]*>(.*?)</", s)
    ]


async def test_a_french_chat_s_charts_speak_french(client: TestClient) -> None:
    page = await (await client.get("/chats/soins-fr", headers={"Accept-Language": "cy"})).text()
    texts = _svg_texts(page)
    assert "Réponses par question" in texts
    assert f"Q1{NB}: 1 réponse{NB}; Q2{NB}: 0 réponse." in texts
    assert "Principaux participants selon le nombre de messages" in texts
    assert "Messages par minute" in texts
    # fr-CA times ("20 h 12") and words in the activity chart's description
    (activity,) = [t for t in texts if t.startswith("1 message de ")]
    assert " h " in activity and f"minute la plus active{NB}:" in activity
    assert not [t for t in texts if "answer" in t or "message from" in t]
    # the chart as a file, too
    svg = await (await client.get("/chats/soins-fr/charts/answers.svg")).text()
    assert "Réponses par question" in svg


async def test_a_series_chart_follows_the_reader(client: TestClient) -> None:
    page = await (await client.get("/tags/wedocs", headers={"Accept-Language": "fr"})).text()
    texts = _svg_texts(page)
    assert f"Participants par clavardage{NB}: nouveaux et de retour" in texts
    assert "première fois" in texts and "de retour" in texts
    (desc,) = [t for t in texts if " du " in t]
    assert desc.startswith("3 clavardages du ") and "janv." in desc, desc
    english = await (await client.get("/tags/wedocs")).text()
    assert "Participants per chat: first-time and returning" in _svg_texts(english)


async def test_a_welsh_chat_s_feed_entry_is_in_welsh(
    client: TestClient, archive_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    start = PAST_START + timedelta(days=2)
    store = Store(archive_path)
    try:
        store.add_chat(
            chat("iechyd-da", start, title="Iechyd da", status=ChatStatus.PUBLISHED, language="cy")
        )
        store.save_messages(
            [msg("iechyd-da", f"c{i}", "alice", "A1 ie #WeDocs", start, 12 + i) for i in range(2)]
        )
    finally:
        store.close()
    root = ET.fromstring(await (await client.get("/feed.atom")).text())
    atom = "{http://www.w3.org/2005/Atom}"
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    entries = {e.findtext(f"{atom}title"): e for e in root.iter(f"{atom}entry")}
    welsh = entries["Iechyd da (#WeDocs)"]
    assert welsh.get(lang) == "cy"
    assert welsh.findtext(f"{atom}summary") == "Iau 8 Ion 2026, 20:00–21:00 GMT. 2 neges."
    french = entries["Soins partagés (#WeDocs)"]
    assert french.get(lang) == "fr-CA"
    assert french.findtext(f"{atom}summary", "").endswith(". 1 message.")
    english = next(e for t, e in entries.items() if t.startswith("Patients as partners"))
    assert english.get(lang) is None
    assert english.findtext(f"{atom}summary", "").endswith(" 1 message.")
