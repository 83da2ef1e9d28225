"""Faults the bot carries on through by itself (issue 13): writes that fail for a few
seconds (a full or failing disk) stop nothing for good, and lose nothing acknowledged."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import chat_file, config_file, start_bot, tweetchat, wait_for

ANN = LocalUser("p1", "Ann", "ann")


def posted(net_path: Path, prefix: str) -> bool:
    net = LocalNetwork(net_path)
    try:
        return any(r["text"].startswith(prefix) for r in net.messages("main") if r["is_bot"])
    finally:
        net.close()


def captured(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT text FROM messages")}
    finally:
        conn.close()


def say(net_path: Path, text: str) -> None:
    net = LocalNetwork(net_path)
    try:
        net.post("main", ANN, text, at=datetime.now(UTC))
    finally:
        net.close()


def prlimit_fsize(pid: int, limit: str) -> None:
    subprocess.run(["prlimit", f"--pid={pid}", f"--fsize={limit}"], check=True, timeout=10)


def test_capture_resumes_by_itself_after_seconds_of_failing_writes(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    net_path, db = tmp_path / "net.sqlite", tmp_path / "db.sqlite"
    chat_file(tmp_path / "chat.toml", start_in=4, duration="40s", interval="10s", grace="2s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config)
    try:
        wait_for(lambda: posted(net_path, "Q1:"), timeout=60, what="Q1")
        say(net_path, "A1: before the fault #WeDocs")
        wait_for(lambda: "A1: before the fault #WeDocs" in captured(db), what="an answer")

        # Every write of the bot fails (as on a full disk: files cannot grow) for 4 s.
        prlimit_fsize(bot.pid, "0:unlimited")  # the soft limit only: it can be lifted again
        during = [f"A1: said during the fault {n} #WeDocs" for n in range(5)]
        for text in during:
            say(net_path, text)
            time.sleep(0.5)
        time.sleep(1.5)
        prlimit_fsize(bot.pid, "unlimited:unlimited")

        # No restart: capture carries on and fetches again what could not be saved.
        say(net_path, "A1: after the fault #WeDocs")
        wait_for(
            lambda: {*during, "A1: after the fault #WeDocs"} <= captured(db),
            timeout=60,
            what="the answers said during and after the fault",
        )
        assert bot.poll() is None
    finally:
        bot.send_signal(signal.SIGTERM)
        out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    assert "Traceback" not in out, out
    # The failure is told in one line per streak, naming the task, not a wall of tracebacks.
    failures = [line for line in out.splitlines() if "local: capture failed:" in line]
    assert failures, out
    assert len(failures) <= 6, out
