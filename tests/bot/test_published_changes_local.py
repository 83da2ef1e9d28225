"""A message deleted or edited after its chat was published: the bot writes the chat's
files again, as it does after an opt-out (a tester's, on the local platform: the archive
took the deletion and `tweetchat transcript` rendered it, but the published files under
`transcripts_dir`, those organisers share, kept the deleted words)."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import time
from pathlib import Path

from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import (
    chat_file,
    config_file,
    local_bot_post,
    start_bot,
    tweetchat,
    utc_now,
    wait_for,
)

ANN = LocalUser("a1", "Ann Nurse", "ann")
BEN = LocalUser("b1", "Ben Carer", "ben")


def test_a_deletion_or_an_edit_after_publication_rewrites_the_files(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3, questions=("One?",), duration="6s", grace="1s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config)
    net = LocalNetwork(tmp_path / "net.sqlite")
    out_dir = tmp_path / "out"

    def markdown() -> str:
        found = list(out_dir.glob("*.md"))
        return found[0].read_text(encoding="utf-8") if found else ""

    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        regret = net.post("main", ANN, "A1 something I regret #WeDocs", at=utc_now())
        typo = net.post("main", BEN, "A1 a carer's vyew #WeDocs", at=utc_now())
        wait_for(lambda: "something I regret" in markdown(), what="the publication")
        net.delete(regret, at=utc_now())
        net.edit(typo, "A1 a carer's view #WeDocs", at=utc_now())
        wait_for(
            lambda: "something I regret" not in markdown() and "carer's view" in markdown(),
            what="the files written again",
        )
    finally:
        if bot.poll() is None:
            bot.send_signal(signal.SIGTERM)
        out, _ = bot.communicate(timeout=30)
        net.close()
    assert "published again after a message was deleted or edited" in out, out
    assert "Traceback" not in out
    md = markdown()
    assert "vyew" not in md and "| Edited / deleted | 1 / 1 |" in md
    (html,) = out_dir.glob("*.html")
    (data,) = out_dir.glob("*.json")
    assert "something I regret" not in html.read_text(encoding="utf-8")
    texts = [m["text"] for m in json.loads(data.read_text(encoding="utf-8"))["messages"]]
    assert "A1 a carer's view #WeDocs" in texts and not any("regret" in t for t in texts)
    # The bot announced the chat once: writing its files again announces nothing.
    assert len([p for p in local_announcements(tmp_path)]) == 1


def local_announcements(tmp_path: Path) -> list[str]:
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        return [
            r["text"]
            for r in net.messages("main")
            if r["is_bot"] and r["text"].startswith("Thank you for joining")
        ]
    finally:
        net.close()


def test_files_left_behind_at_a_stop_are_written_at_the_next_start(tmp_path: Path) -> None:
    """A tester's: the files could not be written again after a deletion (the transcripts
    folder had become a file), the bot was stopped, the folder put back: the next start
    wrote nothing, and the published files kept the deleted words for good."""
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3, questions=("One?",), duration="6s", grace="1s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    out_dir = tmp_path / "out"
    bot = start_bot(config)
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        regret = net.post("main", ANN, "A1 something I regret #WeDocs", at=utc_now())
        net.post("main", BEN, "A1 a carer's view #WeDocs", at=utc_now())
        wait_for(lambda: list(out_dir.glob("*.md")), what="the publication")
        (md,) = out_dir.glob("*.md")
        wait_for(lambda: "something I regret" in md.read_text("utf-8"), what="the files")
        aside = tmp_path / "out.aside"
        out_dir.rename(aside)
        out_dir.write_text("not a folder")  # the files cannot be written again
        net.delete(regret, at=utc_now())
        wait_for(lambda: _flagged(tmp_path / "db.sqlite"), what="the deletion taken")
        time.sleep(1)  # its rewrite tried, and failed
    finally:
        bot.send_signal(signal.SIGTERM)
        first, _ = bot.communicate(timeout=30)
        net.close()
    out_dir.unlink()
    aside.rename(out_dir)
    assert "something I regret" in md.read_text("utf-8")  # behind, as the tester found
    done = tweetchat(["run", "--until-idle"], config, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "something I regret" not in md.read_text("utf-8"), first + done.stdout + done.stderr
    assert "a carer's view" in md.read_text("utf-8")


def _flagged(db: Path) -> bool:
    """Whether the archive notes a published chat whose files are behind (read beside the
    running bot)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        query = "SELECT 1 FROM state WHERE key LIKE 'republish:%' AND value != ''"
        return conn.execute(query).fetchone() is not None
