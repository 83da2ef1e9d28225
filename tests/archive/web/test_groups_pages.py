"""The web archive's stakeholder groups: the chat page's chart and CSV, the series page's
mix per chat, and nothing of it for a hashtag where nobody has a group."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from pathlib import Path

from archive.models import ChatStatus
from archive.store import Store
from archive.web.templates import Site
from archive.web.views import chat_download, chat_page, tag_page
from tests.archive.test_groups import CHAT, MESSAGES, build


def test_chat_and_series_pages_show_the_mix(tmp_path: Path) -> None:
    store = build(tmp_path / "a.db")
    try:
        store.set_status(CHAT.id, ChatStatus.PUBLISHED)
        later = dataclasses.replace(
            CHAT,
            id="wedocs-groups-2",
            start=CHAT.start + timedelta(days=7),
            end=CHAT.end + timedelta(days=7),
        )
        store.add_chat(later)
        store.save_messages(
            dataclasses.replace(
                m,
                chat_id=later.id,
                platform_id="n" + m.platform_id,
                created_at=m.created_at + timedelta(days=7),
            )
            for m in MESSAGES
            if m.author_id in ("201", "202", "203", "501")
        )
        store.set_status(later.id, ChatStatus.PUBLISHED)
        site = Site()
        page = chat_page(store, site, CHAT.id)
        assert "<h2>Stakeholder mix</h2>" in page
        assert 'id="chart-groups"' in page
        # The carer is counted together with the patients (see tests/archive/test_groups.py).
        assert (
            "Clinician: 3 participants; Counted together: Patient, Carer: 4 participants;"
            " Not declared: 2"
        ) in page
        rows = list(csv.DictReader(io.StringIO(chat_download(store, CHAT.id, ".csv").body)))
        assert {r["author_id"]: r["group"] for r in rows}["303"] == ""
        assert {r["author_id"]: r["group"] for r in rows}["201"] == "clinician"
        series = tag_page(store, site, "WeDocs")
        assert 'id="chart-group-mix"' in series
        # The first chat: 3 clinicians, 7 others (3 patients and the carer counted
        # together, the opted-out patient, two undeclared); the next: 3 clinicians and one
        # undeclared.
        assert "Clinician 3, Not declared or counted together 7" in series
        assert "Clinician 3, Not declared or counted together 1" in series
    finally:
        store.close()


def test_no_groups_no_figures(tmp_path: Path) -> None:
    store = Store(tmp_path / "plain.db")
    try:
        store.add_chat(CHAT)
        store.save_messages(MESSAGES)
        store.set_status(CHAT.id, ChatStatus.PUBLISHED)
        page = chat_page(store, Site(), CHAT.id)
        assert "Stakeholder" not in page and "chart-groups" not in page
        assert "chart-group-mix" not in tag_page(store, Site(), "WeDocs")
        header = chat_download(store, CHAT.id, ".csv").body.splitlines()[0]
        assert not header.endswith(",group")
    finally:
        store.close()
