"""Re-importing an export with other options: options the capture rules depend on (hosts,
labels, hashtag) capture the chat's messages again from the export, keeping its id, and
give what a clean import with those options gives; options that only change how the chat
is shown (title, time zone, language) update it without touching its messages; a chat that
a longer export extended is not captured again from a shorter one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from archive.importers.discord_export import ExportError, ImportResult
from archive.importers.one_pass import import_discord_export
from archive.labels import Labels
from archive.publish import FORMATS, PublishOptions
from archive.store import Store
from tests.archive.test_import_rendering import EXPORT, HOST_ID
from tests.bot.helpers import config_file, tweetchat

CHAT_ID = "wedocs-2026-03-03"


def imported(store: Store, out: Path, path: Path = EXPORT, **options: Any) -> ImportResult:
    """The export imported and published into ``out``, as the command does."""
    options.setdefault("hashtag", "WeDocs")
    options.setdefault("timezone", "Europe/London")
    result = import_discord_export(store, path, publish=PublishOptions(out), **options)
    assert result.published is not None
    return result


def kinds(store: Store, chat_id: str = CHAT_ID) -> Counter[str]:
    return Counter(str(m.kind) for m in store.messages(chat_id))


def messages(store: Store, chat_id: str = CHAT_ID) -> list[tuple[object, ...]]:
    """What the rules decided of each stored message (not its row id or capture time)."""
    return [
        (m.platform_id, str(m.kind), m.question_keys, m.late, m.text)
        for m in store.messages(chat_id)
    ]


def transcripts(out: Path, chat_id: str = CHAT_ID) -> dict[str, bytes]:
    return {fmt: (out / f"{chat_id}.{fmt}").read_bytes() for fmt in FORMATS}


def assert_as_a_clean_import(
    store: Store, out: Path, ref_store: Store, ref_out: Path, **options: Any
) -> None:
    """The re-imported chat is what a clean import with ``options`` makes."""
    ref = imported(ref_store, ref_out, **options)
    assert ref.chat.id == CHAT_ID
    chat = store.get_chat(CHAT_ID)
    assert (chat.questions, chat.start, chat.end, chat.hosts, chat.labels) == (
        ref.chat.questions,
        ref.chat.start,
        ref.chat.end,
        ref.chat.hosts,
        ref.chat.labels,
    )
    assert messages(store) == messages(ref_store)
    assert transcripts(out) == transcripts(ref_out)


def test_hosts_given_on_a_reimport_capture_the_messages_again(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, ref_store = stores
    out = tmp_path / "out"
    first = imported(store, out)
    assert first.chat.questions == ()
    assert kinds(store) == {"comment": 9, "host": 1}
    again = imported(store, out, hosts=("drsmith",))
    assert (again.chat.id, again.created, again.recaptured) == (CHAT_ID, False, True)
    assert again.changed == ("--host",)
    assert len(again.chat.questions) == 3
    assert kinds(store) == {"answer": 6, "question": 3, "host": 2, "comment": 1}
    assert len(store.get_chat(CHAT_ID).questions) == 3
    assert_as_a_clean_import(store, out, ref_store, tmp_path / "ref", hosts=("drsmith",))
    md = (out / f"{CHAT_ID}.md").read_text(encoding="utf-8")
    assert "## Q3 · One thing you will try next month?" in md


def test_hosts_left_out_of_a_reimport_capture_the_messages_again(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, ref_store = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    assert len(store.get_chat(CHAT_ID).questions) == 3
    again = imported(store, out)
    assert (again.created, again.recaptured, again.changed) == (False, True, ("--host",))
    chat = store.get_chat(CHAT_ID)
    assert (chat.questions, chat.hosts) == ((), ())
    assert "question" not in kinds(store) and "answer" not in kinds(store)
    assert kinds(store) == {"comment": 9, "host": 1}
    assert_as_a_clean_import(store, out, ref_store, tmp_path / "ref")


def test_other_labels_on_a_reimport_capture_the_messages_again(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, ref_store = stores
    out = tmp_path / "out"
    imported(store, out, hosts=(HOST_ID,))
    again = imported(store, out, hosts=(HOST_ID,), labels=Labels("C", "A"))
    assert (again.recaptured, again.changed) == (True, ("--labels",))
    assert store.get_chat(CHAT_ID).questions == ()
    assert_as_a_clean_import(
        store, out, ref_store, tmp_path / "ref", hosts=(HOST_ID,), labels=Labels("C", "A")
    )


def test_the_same_host_spelled_otherwise_captures_nothing_again(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, _ = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    before = messages(store)
    again = imported(store, out, hosts=("@DrSmith",))
    assert (again.recaptured, again.changed) == (False, ("--host",))
    assert messages(store) == before
    assert store.get_chat(CHAT_ID).hosts == ("@DrSmith",)


def test_title_and_language_on_a_reimport_update_the_chat_not_its_messages(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, ref_store = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    store.wait_for_background()
    rows = list(store.conn.execute("SELECT * FROM messages ORDER BY id"))
    again = imported(store, out, hosts=("drsmith",), title="Involving patients", language="fr")
    assert (again.recaptured, again.changed) == (False, ("--title", "--language"))
    store.wait_for_background()
    assert list(store.conn.execute("SELECT * FROM messages ORDER BY id")) == rows
    chat = store.get_chat(CHAT_ID)
    assert (chat.title, chat.language) == ("Involving patients", "fr")
    ref = imported(
        ref_store,
        tmp_path / "ref",
        hosts=("drsmith",),
        title="Involving patients",
        language="fr",
    )
    assert transcripts(out) == transcripts(tmp_path / "ref", ref.chat.id)


def test_a_time_zone_on_a_reimport_keeps_the_chats_id(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, _ = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    md = (out / f"{CHAT_ID}.md").read_text(encoding="utf-8")
    again = imported(store, out, hosts=("drsmith",), timezone="America/New_York")
    assert (again.chat.id, again.recaptured, again.changed) == (CHAT_ID, False, ("--timezone",))
    assert store.get_chat(CHAT_ID).timezone == "America/New_York"
    # republished in the new zone
    assert "- **When:** Tue 3 Mar 2026, 20:00–20:31 GMT (UTC+0)" in md
    republished = (out / f"{CHAT_ID}.md").read_text(encoding="utf-8")
    assert "- **When:** Tue 3 Mar 2026, 15:00–15:31 EST (UTC-5)" in republished


def test_a_reimport_with_the_same_options_changes_nothing(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, _ = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    store.wait_for_background()
    before = list(store.conn.iterdump())
    again = imported(store, out, hosts=("drsmith",))
    assert (again.created, again.recaptured, again.changed, again.new_messages) == (
        False,
        False,
        (),
        0,
    )
    store.wait_for_background()
    after = [line for line in store.conn.iterdump() if "transcripts" not in line]
    assert after == [line for line in before if "transcripts" not in line]


def longer_export(tmp_path: Path) -> Path:
    """The fixture and one message more: a later export of the same channel."""
    doc = json.loads(EXPORT.read_text(encoding="utf-8"))
    extra = json.loads(json.dumps(doc["messages"][13]))
    extra.update(id="800000000000000017", timestamp="2026-03-03T20:40:00.000+00:00")
    extra["content"] = "A2: and no protected time #WeDocs"
    doc["messages"].append(extra)
    path = tmp_path / "longer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_new_options_from_a_shorter_export_than_the_chat_holds_are_refused(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, _ = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    imported(store, out, longer_export(tmp_path), hosts=("drsmith",))
    store.wait_for_background()
    before = list(store.conn.iterdump())
    with pytest.raises(ExportError, match=r"1 messages that are not in this export.*--host"):
        imported(store, out, hosts=())
    store.wait_for_background()
    assert list(store.conn.iterdump()) == before
    # From the longer export, the chat is captured again.
    again = imported(store, out, longer_export(tmp_path), hosts=())
    assert again.recaptured and store.get_chat(CHAT_ID).questions == ()


def test_a_shorter_export_with_the_same_options_leaves_the_chat_as_extended(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, _ = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    extended = imported(store, out, longer_export(tmp_path), hosts=("drsmith",)).chat
    again = imported(store, out, hosts=("drsmith",))
    assert (again.changed, again.new_messages) == ((), 0)
    assert store.get_chat(CHAT_ID) == extended


def test_cli_says_the_chat_was_imported_again_with_the_new_options(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs"]
    first = tweetchat(args, config)
    assert "give the hosts with --host" in first.stdout
    again = tweetchat([*args, "--host", "drsmith"], config)
    assert again.returncode == 0, again.stderr
    assert "re-imported wedocs-2026-03-03 with the new options (--host):" in again.stdout
    assert "3 questions" in again.stdout
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "## Q3 · One thing you will try next month?" in md
    titled = tweetchat([*args, "--host", "drsmith", "--title", "Patients"], config)
    assert "updated wedocs-2026-03-03 with the new options (--title):" in titled.stdout
    assert "0 new messages" in titled.stdout


def test_another_hashtag_on_a_reimport_captures_again_under_the_same_id(
    tmp_path: Path, stores: tuple[Store, Store]
) -> None:
    store, ref_store = stores
    out = tmp_path / "out"
    imported(store, out, hosts=("drsmith",))
    again = imported(store, out, hashtag="Other", hosts=("drsmith",))
    assert (again.chat.id, again.recaptured, again.changed) == (CHAT_ID, True, ("--hashtag",))
    ref = imported(ref_store, tmp_path / "ref", hashtag="Other", hosts=("drsmith",))
    assert store.get_chat(CHAT_ID).hashtag == ref.chat.hashtag == "#Other"
    assert messages(store) == messages(ref_store, ref.chat.id)
    assert kinds(store) == kinds(ref_store, ref.chat.id)
    # Only the case differs: the rules read it alike, nothing is captured again.
    cased = imported(store, out, hashtag="OTHER", hosts=("drsmith",))
    assert (cased.recaptured, cased.changed) == (False, ("--hashtag",))
