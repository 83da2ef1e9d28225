"""`tweetchat transcript` serves the published file when it is provably current, and renders
otherwise: after an import it copies the file (the same bytes as a render with the
publication's options), and any change to what the transcript is made of, to the options,
or to the file itself makes it render anew, with the change in what it writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import CapturedMessage, MessageKind
from archive.publish import publish_chat, write_transcripts
from archive.store import Store
from tests.bot.helpers import tweetchat

EXPORT = Path(__file__).resolve().parents[1] / "archive" / "data" / "wedocs_discord.json"
CHAT = "wedocs-2026-03-03"
CURRENT = "the published md transcript is current"
ALICE = "100000000000000002"  # alice_qi in the export
LATER = datetime(2026, 3, 3, 21, 0, tzinfo=UTC)


@dataclass
class Archive:
    """An imported chat: its config (``-v`` shows the command's choice), files, database."""

    folder: Path
    config: Path

    @property
    def db(self) -> Path:
        return self.folder / "db.sqlite"

    def published(self, fmt: str = "md") -> Path:
        return self.folder / "out" / f"{CHAT}.{fmt}"

    def transcript(self, *args: str) -> tuple[bytes, str]:
        """Run ``tweetchat -v transcript CHAT ARGS --out FILE``: the file's bytes, stderr."""
        out = self.folder / "t" / f"t.{_format(args)}"
        done = tweetchat(["-v", "transcript", CHAT, *args, "--out", str(out)], self.config)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"wrote {out}\n"
        data = out.read_bytes()
        shutil.rmtree(out.parent)
        return data, done.stderr

    def set_config(self, extra: str) -> None:
        self.config.write_text(_config(extra), encoding="utf-8")


def _format(args: tuple[str, ...]) -> str:
    return args[args.index("--format") + 1] if "--format" in args else "md"


def _config(extra: str = "") -> str:
    return f'database = "db.sqlite"\ntranscripts_dir = "out"\n{extra}'


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    config = tmp_path / "config.toml"
    config.write_text(_config(), encoding="utf-8")
    done = tweetchat(
        ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", "drsmith"],
        config,
    )
    assert done.returncode == 0, done.stderr
    return Archive(tmp_path, config)


def _render(db: Path, fmt: str, *, highlights: int = 3) -> bytes:
    """A fresh rendering of the chat, with the options the import published it with."""
    store = Store(db)
    try:
        path = db.parent / f"fresh.{fmt}"
        write_transcripts(store, store.get_chat(CHAT), {fmt: path}, highlights=highlights)
        return path.read_bytes()
    finally:
        store.close()


def test_after_an_import_the_published_file_is_served_as_it_is(archive: Archive) -> None:
    for fmt in ("md", "html", "json"):
        served, log = archive.transcript("--format", fmt)
        assert f"the published {fmt} transcript is current" in log
        assert served == archive.published(fmt).read_bytes() == _render(archive.db, fmt)
    # To standard output too, byte for byte.
    shown = tweetchat(["transcript", CHAT, "--format", "json"], archive.config)
    assert shown.stdout.encode() == archive.published("json").read_bytes()
    # --fresh renders: the JSON is the same document; the Markdown says when it was made,
    # where the imported file (published without a time) has no footer.
    fresh, log = archive.transcript("--format", "json", "--fresh")
    assert "is current" not in log and fresh == archive.published("json").read_bytes()
    fresh, log = archive.transcript("--fresh")
    published = archive.published().read_bytes()
    assert "is current" not in log and fresh != published
    assert fresh.startswith(published) and b"*Generated " in fresh[len(published) :]


def test_the_file_stays_current_across_reads_and_a_backup(archive: Archive) -> None:
    """Commands that only read (each syncs the unchanged groups and roster) and a backup
    of the archive leave the generation where it was."""
    assert tweetchat(["stats", CHAT], archive.config).returncode == 0
    assert tweetchat(["chats"], archive.config).returncode == 0
    assert tweetchat(["backup", str(archive.folder / "bak")], archive.config).returncode == 0
    served, log = archive.transcript()
    assert CURRENT in log and served == archive.published().read_bytes()


def _edit(store: Store) -> str:
    store.edit_message("discord", "800000000000000005", "A1: EDITED co-design", LATER)
    return "EDITED co-design"


def _new_message(store: Store) -> str:
    store.save_messages(
        [
            CapturedMessage(
                chat_id=CHAT,
                platform="discord",
                platform_id="800000000000000099",
                author_id="100000000000000004",
                author_name="Carol",
                author_handle="carolw",
                text="A3: a BRAND NEW answer #WeDocs",
                created_at=datetime(2026, 3, 3, 20, 40, tzinfo=UTC),
                kind=MessageKind.ANSWER,
                question_keys=("3",),
            )
        ]
    )
    return "BRAND NEW answer"


def _delete(store: Store) -> str:
    store.mark_deleted("discord", "800000000000000010", LATER)
    return "-Our board never saw the data"


def _declarations(store: Store) -> str:
    # Three participants say `!iam clinician` (in a later chat, on a command...).
    for author in (ALICE, "100000000000000003", "100000000000000004"):
        store.declare_group("#WeDocs", "discord", author, "clinician", LATER)
    return "Stakeholder mix"


@pytest.mark.parametrize(
    "change",
    [_edit, _new_message, _delete, _declarations],
    ids=["edit", "new message", "deletion", "group declarations"],
)
def test_a_change_in_the_archive_renders_anew(
    archive: Archive, change: Callable[[Store], str]
) -> None:
    before, log = archive.transcript()
    assert CURRENT in log
    store = Store(archive.db)  # another writer, as the running bot or an import would be
    try:
        seen = change(store)
    finally:
        store.close()
    after, log = archive.transcript()
    assert CURRENT not in log and "rendering it" in log
    assert after != before
    if seen.startswith("-"):
        assert seen[1:].encode() in before and seen[1:].encode() not in after
    else:
        assert seen.encode() not in before and seen.encode() in after


def test_an_opt_out_in_another_chat_renders_anew(archive: Archive) -> None:
    """Opt-outs are archive-wide: one made in a later chat of the series hides the
    participant here too. Republishing records the file current again first."""
    store = Store(archive.db)
    try:
        chat = store.get_chat(CHAT)
        store.add_chat(replace(chat, id="wedocs-next", start=chat.start + timedelta(days=30)))
        publish_chat(store, chat, archive.folder / "out", highlights=3)
    finally:
        store.close()
    before, log = archive.transcript()
    assert CURRENT in log and b"co-design with our patient council" in before
    store = Store(archive.db)
    try:
        store.opt_out("discord", ALICE, "alice_qi")  # e.g. `!optout` in wedocs-next
    finally:
        store.close()
    after, log = archive.transcript()
    assert CURRENT not in log and b"co-design with our patient council" not in after


def test_a_roster_change_renders_anew(archive: Archive) -> None:
    before, log = archive.transcript()
    assert CURRENT in log and b"Stakeholder mix" not in before
    roster = archive.folder / "roster.csv"
    roster.write_text(
        "platform,handle,group\n"
        "discord,alice_qi,clinician\ndiscord,bobb,clinician\ndiscord,carolw,clinician\n",
        encoding="utf-8",
    )
    archive.set_config('[groups]\nroster = "roster.csv"\n')
    after, log = archive.transcript()
    assert CURRENT not in log
    assert b"## Stakeholder mix" in after and b"| Clinician | 3 |" in after


def test_a_changed_option_renders_anew(archive: Archive) -> None:
    before, log = archive.transcript()
    assert CURRENT in log and b"## Highlights" in before
    archive.set_config("highlights_per_question = 0\n")
    after, log = archive.transcript()
    assert CURRENT not in log and b"## Highlights" not in after
    assert after.startswith(_render(archive.db, "md", highlights=0))


def test_a_published_file_changed_in_place_is_not_served(archive: Archive) -> None:
    """The same size and the same modification time, other bytes: still rendered."""
    path = archive.published()
    data = path.read_bytes()
    stat = path.stat()
    forged = data.replace(b"co-design", b"CO-DESIGN")
    assert len(forged) == len(data) and forged != data
    path.write_bytes(forged)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    served, log = archive.transcript()
    assert CURRENT not in log and b"CO-DESIGN" not in served and b"co-design" in served


def test_a_published_file_grown_or_deleted_is_not_served(archive: Archive) -> None:
    path = archive.published()
    with path.open("ab") as fh:
        fh.write(b"appended by hand\n")
    served, log = archive.transcript()
    assert CURRENT not in log and b"appended by hand" not in served
    path.unlink()
    served, log = archive.transcript()
    assert CURRENT not in log and served.startswith(b"# #WeDocs in #qi-chat")


def test_csv_is_always_rendered(archive: Archive) -> None:
    served, log = archive.transcript("--format", "csv")
    assert "is current" not in log
    header = served.decode().splitlines()[0]
    assert "text" in header and "author" in header


LEAN = (
    "archive.publish",
    "archive.transcripts",
    "archive.capture",
    "archive.hashtags",
    "asyncio",
    "babel",
    "markdown",
    "nh3",
    "importlib.metadata",
    "discord",
    "tweepy",
    "aiohttp",
    "apscheduler",
    "resvg_py",
    "matplotlib",
)


def test_serving_a_current_file_imports_no_rendering_nor_client_library(
    archive: Archive,
) -> None:
    """Start-up is most of the command's time then: nothing heavy is imported."""
    out = archive.folder / "lean.md"
    code = (
        "import sys\n"
        "from bot.cli import main\n"
        f"assert main(['--config', {str(archive.config)!r}, 'transcript', {CHAT!r},"
        f" '--out', {str(out)!r}]) == 0\n"
        f"print(sorted(m for m in {LEAN!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=archive.folder
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
    assert out.read_bytes() == archive.published().read_bytes()


def test_a_live_chat_s_published_file_is_served_as_it_is(tmp_path: Path) -> None:
    """The bot's own publication records its files current too: setting the chat published
    once it has announced it moved the archive's generation, so `tweetchat transcript`
    rendered a live chat's transcript again, every time."""
    from bot.platforms.local.adapter import LocalNetwork, LocalUser
    from tests.bot.helpers import (
        chat_file,
        config_file,
        local_bot_post,
        start_bot,
        utc_now,
        wait_for,
    )

    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=4, questions=("One?",), duration="6s", grace="1s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        net.post("main", LocalUser("a1", "Alice", "alice"), "A1 yes #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    (published,) = (tmp_path / "out").glob("*.md")
    chat_id = published.stem
    served = tmp_path / "served.md"
    done = tweetchat(["-v", "transcript", chat_id, "--out", str(served)], config)
    assert done.returncode == 0, done.stderr
    assert CURRENT in done.stderr
    assert served.read_bytes() == published.read_bytes()
