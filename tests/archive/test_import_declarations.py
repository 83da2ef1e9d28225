"""A participant's ``!iam <group>`` in an export is recorded as the live bot records it:
their stakeholder group on the chat's hashtag, by the group's key or label (the label in the
chat's language too); a post that is only the declaration is not a message of the chat;
a word that names no group records nothing and is said. (Left by the last review: the
import published the declarations as messages and recorded no group.)"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.store import Store
from tests.archive.test_discord_import import HOST_ID, fixture_doc, write_export
from tests.archive.test_import_optouts import _said
from tests.bot.helpers import config_file

ALICE, BOB, CAROL, DAVE = (f"1000000000000000{n:02d}" for n in (2, 3, 4, 5))


Q1_POST = "800000000000000004"  # drsmith's "Q1: How do you involve patients in QI?"


def _declared(doc: dict[str, Any], *said: tuple[int, str], reply_to: str = "") -> None:
    """Add ``(author, text)`` messages a minute apart from 20:10, in time order (replies
    to ``reply_to`` when given)."""
    for n, (author, text) in enumerate(said):
        at = f"2026-03-03T20:{10 + n:02d}:30+00:00"
        _said(doc, text, at, mid=f"8000000000000001{n:02d}", author=author)
        if reply_to:
            doc["messages"][-1]["reference"] = {"messageId": reply_to}
    doc["messages"].sort(key=lambda m: m["timestamp"])


def _import(tmp_path: Path, export: Path, *options: str) -> str:
    from bot.cli import main

    config = config_file(tmp_path)
    args = ["import", "discord-export", str(export), "--hashtag", "WeDocs", "--host", HOST_ID]
    assert main(["--config", str(config), *args, *options]) == 0
    return ""


def _own_groups(tmp_path: Path) -> dict[tuple[str, str], str]:
    store = Store(tmp_path / "db.sqlite")
    try:
        return store.group_sources("#WeDocs").own
    finally:
        store.close()


def test_declarations_in_the_export_are_recorded_as_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="archive.importers")
    doc = fixture_doc()
    _declared(
        doc,
        (2, "!iam clinician #WeDocs"),  # only a declaration: not a message of the chat
        (3, "Ward nurse here, !iam Clinician #WeDocs"),  # said with more: captured too
        (5, "!iam astronaut #WeDocs"),  # no such group: nothing recorded, and said
    )
    _declared(doc, (4, "!iam CLINICIAN"), reply_to=Q1_POST)  # a reply to a question post
    _import(tmp_path, write_export(tmp_path / "export.json", doc))
    out = capsys.readouterr().out
    assert "13 of 20 messages captured" in out
    for who in ("alice_qi", "bobb", "carolw"):
        assert f"  {who} declared their group in the export: clinician\n" in out
    assert (
        "  dave: !iam astronaut in the export names none of the groups (patient, carer,"
        " clinician, manager, student, researcher, organisation, other): not recorded\n"
    ) in out
    assert _own_groups(tmp_path) == {
        ("discord", ALICE): "clinician",
        ("discord", BOB): "clinician",
        ("discord", CAROL): "clinician",
    }
    # The one pass cannot render a group it learns from the rows: the two-pass import did.
    assert any("!iam declaration" in r.getMessage() for r in caplog.records)
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "| Clinician | 3 |" in md
    assert "Ward nurse here" in md and "!iam clinician #WeDocs" not in md
    assert "!iam astronaut" not in md
    data = json.loads((tmp_path / "out" / "wedocs-2026-03-03.json").read_text(encoding="utf-8"))
    assert {"key": "clinician", "participants": 3} in [
        {k: g[k] for k in ("key", "participants")} for g in data["groups"]["groups"]
    ]


def test_a_declaration_in_the_chat_s_language_names_the_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = fixture_doc()
    _declared(
        doc,
        (2, "!iam Clinicien #WeDocs"),
        (3, "!iam Proche aidant #WeDocs"),  # a label of two words
        (4, "!iam proche #WeDocs"),
    )
    _import(tmp_path, write_export(tmp_path / "export.json", doc), "--language", "fr")
    out = capsys.readouterr().out
    assert "  alice_qi declared their group in the export: clinician\n" in out
    assert "  bobb declared their group in the export: carer\n" in out
    assert "  carolw: !iam proche in the export names none of the groups" in out
    assert _own_groups(tmp_path) == {("discord", ALICE): "clinician", ("discord", BOB): "carer"}
    # Only declarations, the label of two words too: none is a message of the chat.
    assert "12 of 19 messages captured" in out
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "!iam Proche" not in md and "!iam Clinicien" not in md


def test_a_declaration_in_no_post_of_the_chat_is_not_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tester's: live, "!iam clinician" without the hashtag, not a reply to the bot or a
    # question, belongs to no chat ("No chat runs here"); the import recorded it.
    doc = fixture_doc()
    doc["messages"][0]["content"] = "!iam clinician"  # dave, before the chat
    _declared(doc, (3, "!iam patient"), (4, "@WeDocsBot !iam carer"))
    _import(tmp_path, write_export(tmp_path / "export.json", doc))
    assert "declared" not in capsys.readouterr().out
    assert _own_groups(tmp_path) == {}


def test_the_same_export_imported_again_records_and_republishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tester's: each run of the same import rewrote the declarations (and an opt-out),
    # moved the archive's generation, rewrote the transcripts and republished later chats.
    doc = fixture_doc()
    _declared(doc, (2, "!iam clinician #WeDocs"), (3, "!optout"))
    export = write_export(tmp_path / "export.json", doc)
    _import(tmp_path, export)
    capsys.readouterr()
    store = Store(tmp_path / "db.sqlite")
    try:
        before = store.generation()
    finally:
        store.close()
    _import(tmp_path, export)
    out = capsys.readouterr().out
    assert out.startswith("already imported as wedocs-2026-03-03")
    assert "republished" not in out
    assert "  alice_qi declared their group in the export: clinician\n" in out
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.generation() == before
    finally:
        store.close()


def test_a_participant_s_last_declaration_is_said_once_and_whether_it_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = fixture_doc()
    _declared(
        doc,
        (2, "!iam patient #WeDocs"),
        (2, "!iam patient #WeDocs"),
        (2, "!iam clinician #WeDocs"),
        (3, "!iam nurse #WeDocs"),
        (3, "!iam nurse #WeDocs"),
    )
    export = write_export(tmp_path / "export.json", doc)
    _import(tmp_path, export)
    out = capsys.readouterr().out
    assert (
        out.count("alice_qi") == 1
        and "alice_qi declared their group in the export: clinician" in out
    )
    assert out.count("!iam nurse") == 1
    assert _own_groups(tmp_path) == {("discord", ALICE): "clinician"}
    # Later, live, alice said she is a carer: an import of the older export says so.
    store = Store(tmp_path / "db.sqlite")
    try:
        later = datetime(2026, 3, 10, tzinfo=UTC)
        store.declare_group("#WeDocs", "discord", ALICE, "carer", later, handle="alice_qi")
    finally:
        store.close()
    _import(tmp_path, export)
    out = capsys.readouterr().out
    assert (
        "  alice_qi declared clinician in the export; a later declaration of theirs stands\n" in out
    )
    assert _own_groups(tmp_path) == {("discord", ALICE): "carer"}
