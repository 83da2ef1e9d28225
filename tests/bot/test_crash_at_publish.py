"""A crash anywhere in the publish step loses nothing (issue 13, item 2): the chat is marked
published only once its announcement is out, so a restart finishes the step, and the
announcement goes out exactly once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.platforms.local.adapter import LocalNetwork
from tests.bot.helpers import chat_file, config_file, env_for, start_bot, tweetchat


def announcements(net_path: Path) -> list[str]:
    net = LocalNetwork(net_path)
    try:
        return [
            r["text"]
            for r in net.messages("main")
            if r["is_bot"] and r["text"].startswith("Thank you for joining")
        ]
    finally:
        net.close()


def ledger(db: Path, key: str) -> tuple[str, str]:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT status, platform_message_id FROM posts WHERE action_key = ?", (key,)
        ).fetchone()
        return (row[0], row[1] or "") if row else ("", "")
    finally:
        conn.close()


def chat_status(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT status FROM chats").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("fault", ["crash-before-announce", "crash-after-send:announce"])
def test_a_crash_in_the_publish_step_is_finished_at_the_next_start(
    tmp_path: Path, fault: str
) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=5,  # `schedule` must store it before it starts, on a loaded machine too
        questions=("One?",),
        first_question="1s",
        interval="2s",
        duration="4s",
        grace="1s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    net, db = tmp_path / "net.sqlite", tmp_path / "db.sqlite"
    env = env_for(config)
    env["TWEETCHAT_FAULT"] = fault
    crashing = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = crashing.communicate(timeout=60)
    assert crashing.returncode == -signal.SIGKILL, out  # died at the fault point
    assert list((tmp_path / "out").glob("*.md"))  # the transcripts were written
    assert chat_status(db) == "ended"  # not published: the step is unfinished
    before = announcements(net)
    assert len(before) == (1 if fault == "crash-after-send:announce" else 0)

    bot = start_bot(config, "--until-idle")
    out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    assert chat_status(db) == "published"
    assert len(announcements(net)) == 1, out
    status, mid = ledger(db, "announce")
    assert status == "sent" and mid
    assert "Traceback" not in out
