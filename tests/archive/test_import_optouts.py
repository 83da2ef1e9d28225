"""A participant's ``!optout`` (or ``!optin``) in an export is applied as the live bot
applies it: not captured, and the participant left out of every transcript, this chat's
and the chats published before (found by a tester: the import published an opted-out
participant's answers, and printed their ``!optout`` as a message)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from archive.store import Store
from tests.archive.test_discord_import import EXPORT, HOST_ID, fixture_doc, write_export
from tests.bot.helpers import config_file

ALICE = "100000000000000002"  # alice_qi, "Alice Jones": three messages in the fixture


def _said(doc: dict[str, Any], text: str, at: str, *, mid: str, author: int = 2) -> None:
    """Append a message by the fixture's author ``author`` (Alice by default)."""
    model = next(m for m in doc["messages"] if m["author"]["id"] == f"1000000000000000{author:02d}")
    message = copy.deepcopy(model)
    message.update(id=mid, content=text, timestamp=at, reactions=[], mentions=[])
    message.pop("reference", None)
    doc["messages"].append(message)


def _import(tmp_path: Path, *files: Path) -> str:
    from bot.cli import main

    config = config_file(tmp_path)
    args = ["import", "discord-export", *map(str, files), "--hashtag", "WeDocs", "--host", HOST_ID]
    assert main(["--config", str(config), *args]) == 0
    return ""


def test_an_optout_in_the_export_leaves_the_participant_out_of_every_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An earlier chat of the hashtag, in another channel, published first: Alice answers.
    earlier = fixture_doc()
    earlier["channel"] = dict(earlier["channel"], id="900000000000000077", name="old-chat")
    for m in earlier["messages"]:
        m["id"] = "7" + m["id"][1:]
        m["timestamp"] = m["timestamp"].replace("2026-03-03", "2026-02-03")
    first = write_export(tmp_path / "february.json", earlier)
    _import(tmp_path, first)
    out_dir = tmp_path / "out"
    february = [out_dir / f"wedocs-2026-02-03.{fmt}" for fmt in ("md", "html", "json")]
    assert all("co-design with our patient council" in p.read_text("utf-8") for p in february)
    capsys.readouterr()

    doc = fixture_doc()
    _said(doc, "!optout", "2026-03-03T20:32:00+00:00", mid="800000000000000017")
    march = write_export(tmp_path / "march.json", doc)
    _import(tmp_path, march)
    out = capsys.readouterr().out
    assert "  alice_qi opted out in the export: left out of every transcript\n" in out
    assert "12 of 17 messages captured" in out  # the !optout is not a message of the chat
    assert "republished 1 chat without a participant who opted out: wedocs-2026-02-03\n" in out
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.opted_out() == frozenset({f"discord:{ALICE}"})
        texts = [m.text for m in store.messages("wedocs-2026-03-03")]
        assert "!optout" not in texts
        assert store.chats_showing_opted_out() == []  # every file written again
    finally:
        store.close()
    for path in [*february, *(out_dir / f"wedocs-2026-03-03.{f}" for f in ("md", "html", "json"))]:
        text = path.read_text(encoding="utf-8")
        for words in ("co-design with our patient council", "Alice Jones", "alice_qi", "!optout"):
            assert words not in text, (path.name, words)
    data = json.loads((out_dir / "wedocs-2026-03-03.json").read_text(encoding="utf-8"))
    assert data["stats"]["hidden_messages"] == 3  # still counted, anonymously


def test_an_optin_after_the_optout_in_the_same_export_shows_the_participant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = fixture_doc()
    _said(doc, "!optout", "2026-03-03T20:32:00+00:00", mid="800000000000000017")
    _said(doc, "@WeDocsBot !opt-in", "2026-03-03T20:33:00+00:00", mid="800000000000000018")
    # Someone forwarding another's "!optout" opts nobody out (a repost: someone else's words).
    _import(tmp_path, write_export(tmp_path / "export.json", doc))
    out = capsys.readouterr().out
    assert "  alice_qi opted out in the export" in out
    assert "  alice_qi opted back in in the export\n" in out
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.opted_out() == frozenset()
    finally:
        store.close()
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "co-design with our patient council" in md


def test_an_export_without_opt_commands_is_still_imported_in_one_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="archive.importers")
    _import(tmp_path, EXPORT)
    assert any("in one pass" in r.getMessage() for r in caplog.records)
    assert not any("opt-out" in r.getMessage() for r in caplog.records)


def test_show_gives_an_imported_chats_question_times_not_a_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a tester: `show` said every question of an imported chat was "not posted"
    (it read the post ledger, which an import has none of), and repeated the hashtag."""
    from bot.cli import main

    _import(tmp_path, EXPORT)
    capsys.readouterr()
    assert main(["--config", str(tmp_path / "config.toml"), "show", "wedocs-2026-03-03"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "#WeDocs in #qi-chat  [wedocs-2026-03-03] published"
    at = out.index("  imported from an export; its questions went out at (UTC):")
    assert out[at + 1 : at + 4] == [
        "    20:00  Q1   How do you involve patients in QI?",
        "    20:10  Q2   What got in the way?",
        "    20:20  Q3   One thing you will try next month?",
    ]
    assert not any("not posted" in line for line in out)
