"""The transcript's Timeline words the hosts' controls in the chat's language, with the
chat's labels, while the stored records (and the JSON transcript) keep their English data.
A real SQLite store; controls recorded as ``scheduler.controls`` records them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.labels import Labels
from archive.models import Chat, ChatStatus, Question
from archive.publish import render_chat, write_transcripts
from archive.store import Store

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
M = timedelta(minutes=1)
NB = "\u00a0"


def chat() -> Chat:
    return Chat(
        id="wedocs-2026-12-01",
        title="T",
        hashtag="#WeDocs",
        start=START,
        end=START + 60 * M,
        timezone="Europe/London",
        questions=tuple(Question(str(i), f"Q{i}?", (10 * i) * M) for i in range(1, 5)),
        status=ChatStatus.ENDED,
    )


CONTROLS = [
    (5, "pause", ""),
    (8, "resume", "after 3 min"),
    (12, "next", "Q2"),
    (13, "skip", "Q3"),
    (20, "extend", "by 15 min"),
    (30, "revised", "wording of Q4"),
    (50, "end", "early"),
]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    yield s
    s.close()


def timeline(markdown: str, heading: str) -> list[str]:
    lines = markdown.split(f"## {heading}\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [line.split(" · ", 1)[1] for line in lines]


def record(store: Store, c: Chat) -> Chat:
    c = store.add_chat(c)
    for minute, kind, detail in CONTROLS:
        store.record_control(c.id, START + minute * M, kind, detail, "host")
    return c


def test_english_reads_as_recorded(store: Store) -> None:
    c = record(store, chat())
    md = render_chat(store, c).markdown
    assert timeline(md, "Timeline") == [
        "pause",
        "resume: after 3 min",
        "next: Q2 (not posted: the chat ended first)",
        "skip: Q3",
        "extend: by 15 min",
        "revised: wording of Q4",
        "end: early",
    ]


def test_a_french_chats_timeline_is_in_french_with_its_labels(store: Store) -> None:
    c = record(store, replace(chat(), language="fr-CA", labels=Labels("Q", "R")))
    rendered = render_chat(store, c)
    assert timeline(rendered.markdown, "Déroulement") == [
        "pause",
        f"reprise{NB}: après 3{NB}min",
        f"question suivante{NB}: Q2 (non publiée{NB}: le clavardage a pris fin avant)",
        f"question sautée{NB}: Q3",
        f"prolongation{NB}: 15{NB}min de plus",
        f"révision{NB}: libellé de Q4",
        "fin anticipée",
    ]
    # the records and the JSON transcript keep their data
    assert [(k, d) for _at, k, d, _by in store.controls(c.id)] == [(k, d) for _m, k, d in CONTROLS]
    events = [e["event"] for e in json.loads(rendered.json)["controls"]]
    assert events[1] == "resume: after 3 min"


def test_a_welsh_chats_timeline_is_in_welsh_with_its_letters(store: Store, tmp_path: Path) -> None:
    """Records made with Q labels read in the chat's C letters; the streamed transcript
    (what publishing writes) reads as the rendered one."""
    c = record(store, replace(chat(), language="cy", labels=Labels("C", "A")))
    md = render_chat(store, c).markdown
    paths = {"md": tmp_path / "t.md", "json": tmp_path / "t.json"}
    write_transcripts(store, c, paths)
    assert timeline(paths["md"].read_text(encoding="utf-8"), "Llinell amser") == timeline(
        md, "Llinell amser"
    )
    assert "skip: Q3" in paths["json"].read_text(encoding="utf-8")
    assert timeline(md, "Llinell amser") == [
        "saib",
        "ailddechrau: ar ôl 3 munud",
        "cwestiwn nesaf: C2 (heb ei bostio: daeth y sgwrs i ben yn gyntaf)",
        "cwestiwn wedi’i hepgor: C3",
        "estyn: 15 munud yn rhagor",
        "diwygiwyd: geiriad C4",
        "daeth i ben yn gynnar",
    ]
