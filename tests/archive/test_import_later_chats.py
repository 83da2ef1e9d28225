"""Importing an older chat of a hashtag: the published transcripts of the hashtag's later
chats that count it (first-time / returning participants) are published again."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from archive.importers.export_files import (
    FIRST_TIME_WITHIN,
    first_message_time,
    in_time_order,
)
from archive.importers.one_pass import import_discord_export
from archive.publish import FORMATS, PublishOptions, later_chats_changed, publish_chat
from archive.store import Store
from tests.bot.helpers import config_file, tweetchat

EXPORT = Path(__file__).parent / "data" / "wedocs_discord.json"
MARCH = "wedocs-2026-03-03"
FEBRUARY = "wedocs-2026-02-03"


def february_export(path: Path) -> Path:
    """The fixture's chat a month earlier, in another channel: the same people took part."""
    text = EXPORT.read_text(encoding="utf-8")
    text = text.replace("900000000000000042", "900000000000000043")
    text = text.replace('"8000', '"8001').replace("2026-03-03", "2026-02-03")
    path.write_text(text, encoding="utf-8")
    return path


def exports(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "exports"
    folder.mkdir()
    march = folder / "march.json"
    march.write_bytes(EXPORT.read_bytes())
    return march, february_export(folder / "february.json")


def fresh_transcripts(tmp_path: Path, chat_id: str) -> dict[str, bytes]:
    """The chat's transcripts published now from the archive the command wrote."""
    with closing(Store(tmp_path / "db.sqlite")) as store:
        published = publish_chat(store, store.get_chat(chat_id), tmp_path / "fresh")
    return {fmt: published.paths[fmt].read_bytes() for fmt in FORMATS}


def published(tmp_path: Path, chat_id: str) -> dict[str, bytes]:
    return {fmt: (tmp_path / "out" / f"{chat_id}.{fmt}").read_bytes() for fmt in FORMATS}


def padded(path: Path) -> Path:
    """The export with a member of 1.1 MB before its messages: its first message's time is
    too far in to be read before the import (in_time_order() puts it first)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    messages = doc.pop("messages")
    doc["notes"] = "x" * (FIRST_TIME_WITHIN + 100_000)
    doc["messages"] = messages
    return write(path, doc)


def test_an_earlier_chat_imported_after_a_later_one_republishes_it(tmp_path: Path) -> None:
    march, february = exports(tmp_path)
    padded(march)  # imported first: its time is not known beforehand
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    done = tweetchat(["import", "discord-export", str(february), str(march), *args], config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.index(MARCH) < done.stdout.index(FEBRUARY)
    assert f"republished 1 later chat of #WeDocs: {MARCH}" in done.stdout
    md = (tmp_path / "out" / f"{MARCH}.md").read_text(encoding="utf-8")
    assert "| First-time participants | 0 |" in md
    assert "| Returning participants | 4 |" in md
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)
    assert published(tmp_path, FEBRUARY) == fresh_transcripts(tmp_path, FEBRUARY)


def test_a_folders_files_are_imported_in_time_order_and_republish_nothing(
    tmp_path: Path,
) -> None:
    march, _ = exports(tmp_path)
    (march.parent / "april.json").write_bytes(  # by name: april, february, march
        march.read_bytes()
        .replace(b"900000000000000042", b"900000000000000044")
        .replace(b'"8000', b'"8002')
        .replace(b"2026-03-03", b"2026-04-03")
    )
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    done = tweetchat(["import", "discord-export", str(march.parent), *args], config)
    assert done.returncode == 0, done.stderr
    found = [line.split(":")[0] for line in done.stdout.splitlines() if line[0] != " "]
    assert found == [f"imported {FEBRUARY}", f"imported {MARCH}", "imported wedocs-2026-04-03"]
    assert "republished" not in done.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)


def test_an_earlier_chat_imported_by_a_later_run_republishes_the_later_one(
    tmp_path: Path,
) -> None:
    march, february = exports(tmp_path)
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    assert tweetchat(["import", "discord-export", str(march), *args], config).returncode == 0
    done = tweetchat(["import", "discord-export", str(february), *args], config)
    assert f"republished 1 later chat of #WeDocs: {MARCH}" in done.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)
    again = tweetchat(["import", "discord-export", str(february), *args], config)
    assert "republished" not in again.stdout  # nothing new: nothing changes


def test_only_later_chats_that_share_a_participant_are_changed(tmp_path: Path) -> None:
    march, february = exports(tmp_path)
    options = PublishOptions(tmp_path / "out")
    with closing(Store(tmp_path / "a.sqlite")) as store:
        later = import_discord_export(
            store, march, hashtag="WeDocs", hosts=("drsmith",), publish=options
        ).chat
        # Another hashtag's chat, and a chat of the hashtag whose people are all others.
        doc = json.loads(february.read_text(encoding="utf-8"))
        other_tag = february.with_name("other.json")
        other_tag.write_text(json.dumps({**doc, "channel": {**doc["channel"], "id": "7"}}))
        import_discord_export(store, other_tag, hashtag="Other", publish=options)
        strangers = json.loads(json.dumps(doc))
        strangers["channel"]["id"] = "8"
        for n, message in enumerate(strangers["messages"]):
            message["id"] = f"9{n:017d}"
            message["author"]["id"] = f"7{n:017d}"
            message["author"]["name"] = f"someone{n}"
            message["timestamp"] = message["timestamp"].replace("2026-02-03", "2026-01-03")
            message.pop("reference", None)
        january = write(tmp_path / "january.json", strangers)
        jan = import_discord_export(store, january, hashtag="WeDocs", publish=options).chat
        assert later_chats_changed(store, jan) == []
        assert later_chats_changed(store, jan, among=store.participants_of(later)) == [later]
        assert later_chats_changed(store, later, among=store.participants_of(later)) == []
        feb = import_discord_export(
            store, february, hashtag="WeDocs", hosts=("drsmith",), publish=options
        ).chat
        assert later_chats_changed(store, feb) == [later]
        assert later_chats_changed(store, later) == []


def write(path: Path, doc: dict[str, object]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_files_go_by_their_first_messages_time_unknown_first(tmp_path: Path) -> None:
    march, february = exports(tmp_path)
    assert first_message_time(march) == datetime(2026, 3, 3, 19, 40, 5, tzinfo=UTC)
    bom = write(tmp_path / "bom.json", json.loads(february.read_text(encoding="utf-8")))
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    assert first_message_time(bom) == datetime(2026, 2, 3, 19, 40, 5, tzinfo=UTC)
    broken = tmp_path / "broken.json"
    broken.write_text('{"messages": [{"timestamp": 3', encoding="utf-8")
    missing = tmp_path / "missing.json"
    big = padded(write(tmp_path / "big.json", json.loads(march.read_text(encoding="utf-8"))))
    files = [march, broken, bom, february, big, missing]
    assert in_time_order(files) == [broken, big, missing, bom, february, march]


def test_an_earlier_chat_captured_again_republishes_the_later_ones(tmp_path: Path) -> None:
    march, february = exports(tmp_path)
    # In February bobb only replies to Q1, and says something without the hashtag.
    doc = json.loads(february.read_text(encoding="utf-8"))
    (board,) = [m for m in doc["messages"] if m["content"].startswith("Our board")]
    board["content"] = "Our board never saw the data"
    write(february, doc)
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    done = tweetchat(["import", "discord-export", str(february), str(march), *args], config)
    assert "republished" not in done.stdout
    md = (tmp_path / "out" / f"{MARCH}.md").read_text(encoding="utf-8")
    assert "| Returning participants | 4 |" in md
    # Without its host, February's chat has no question: bobb's reply to Q1 answers nothing
    # and is no message of the chat; bobb took part in March only, the first time.
    again = tweetchat(["import", "discord-export", str(february), "--hashtag", "WeDocs"], config)
    assert again.returncode == 0, again.stderr
    assert f"re-imported {FEBRUARY} with the new options (--host)" in again.stdout
    assert f"republished 1 later chat of #WeDocs: {MARCH}" in again.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)
    md = (tmp_path / "out" / f"{MARCH}.md").read_text(encoding="utf-8")
    assert "| Returning participants | 3 |" in md


def test_a_longer_export_of_an_earlier_chat_republishes_the_later_ones(tmp_path: Path) -> None:
    march, february = exports(tmp_path)
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    first = tweetchat(["import", "discord-export", str(february), str(march), *args], config)
    assert first.returncode == 0, first.stderr
    doc = json.loads(february.read_text(encoding="utf-8"))
    extra = json.loads(json.dumps(doc["messages"][13]))  # carolw's late A1
    extra.update(id="800100000000000017", timestamp="2026-02-03T20:40:00.000+00:00")
    doc["messages"].append(extra)
    longer = write(tmp_path / "february-longer.json", doc)
    done = tweetchat(["import", "discord-export", str(longer), *args], config)
    assert "1 new message\n" in done.stdout
    assert f"republished 1 later chat of #WeDocs: {MARCH}" in done.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)


def test_a_recapture_that_changes_no_participant_republishes_no_later_chat(
    tmp_path: Path,
) -> None:
    # A re-import under other rules republished every later chat of the hashtag, though
    # their figures change only with who took part in the earlier chat.
    march, february = exports(tmp_path)
    config = config_file(tmp_path)
    args = ["--hashtag", "WeDocs", "--host", "drsmith"]
    for export in (february, march):
        assert tweetchat(["import", "discord-export", str(export), *args], config).returncode == 0
    again = tweetchat(
        ["import", "discord-export", str(february), *args, "--host", "alice_qi"], config
    )
    assert again.returncode == 0, again.stderr
    assert f"re-imported {FEBRUARY} with the new options (--host)" in again.stdout
    assert "republished" not in again.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)


def test_a_chat_moved_to_another_hashtag_republishes_the_old_hashtag_s_later_chats(
    tmp_path: Path,
) -> None:
    # Its participants no longer return from it to the old hashtag's later chats: only the
    # new hashtag's later chats were looked at (there are none here).
    march, february = exports(tmp_path)
    config = config_file(tmp_path)
    args = ["--host", "drsmith"]
    for export in (february, march):
        done = tweetchat(
            ["import", "discord-export", str(export), "--hashtag", "WeDocs", *args], config
        )
        assert done.returncode == 0, done.stderr
    assert "| Returning participants | 4 |" in (tmp_path / "out" / f"{MARCH}.md").read_text("utf-8")
    moved = tweetchat(
        ["import", "discord-export", str(february), "--hashtag", "QIchat", *args], config
    )
    assert moved.returncode == 0, moved.stderr
    assert f"republished 1 later chat of #WeDocs: {MARCH}" in moved.stdout
    assert published(tmp_path, MARCH) == fresh_transcripts(tmp_path, MARCH)
    assert "| Returning participants | 0 |" in (tmp_path / "out" / f"{MARCH}.md").read_text("utf-8")
