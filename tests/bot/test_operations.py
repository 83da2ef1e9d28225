"""Running the bot as a service: version, one runner per archive, pipes that close early."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot import version
from bot.platforms.local.adapter import LocalNetwork
from tests.bot.helpers import chat_file, config_file, env_for, start_bot, tweetchat, wait_for


def test_version_names_the_installed_package() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"tweetchat {version()}"
    assert version()[0].isdigit()


def running(bot: subprocess.Popen[str], lines: list[str]) -> bool:
    """Read the bot's output until it says it is running."""
    assert bot.stdout is not None
    line = bot.stdout.readline()
    lines.append(line)
    return "tweetchat running" in line or bot.poll() is not None


def test_a_second_runner_on_the_same_archive_is_refused(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    first = start_bot(config)
    try:
        seen: list[str] = []
        wait_for(lambda: running(first, seen), timeout=60, what="the first bot to run")
        assert first.poll() is None, "".join(seen)

        second = tweetchat(["run"], config, timeout=60)
        assert second.returncode == 2
        assert "Traceback" not in second.stderr
        assert "another tweetchat is already running on" in second.stderr
        assert f"(pid {first.pid})" in second.stderr
        assert "db.sqlite" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: the kernel drops the lock with the process
        first.communicate(timeout=30)

    after_crash = start_bot(config)
    try:
        seen = []
        wait_for(lambda: running(after_crash, seen), timeout=60, what="a bot after the crash")
        assert after_crash.poll() is None, "".join(seen)
    finally:
        after_crash.send_signal(signal.SIGTERM)
        after_crash.communicate(timeout=30)
    assert after_crash.returncode == 0


def test_output_into_a_pipe_closed_early_is_not_an_error(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=3600,
        questions=[f"Q number {n}?" for n in range(40)],
        duration="2h",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    # The reader goes away before the command writes (as `tweetchat show X | head -1` does
    # once head has its line).
    read, write = os.pipe()
    os.close(read)
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "show", "wedocs"],
        env=env_for(config),
        cwd=tmp_path,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(write)
    assert "Traceback" not in shown.stderr, shown.stderr
    assert "BrokenPipeError" not in shown.stderr
    assert shown.returncode == 0


def test_backup_copies_the_archive_and_the_local_network(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3600)
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    LocalNetwork(tmp_path / "net.sqlite").close()  # as a running bot makes it
    said = tweetchat(["local", "say", "--as", "ann", "hello #WeDocs"], config)
    assert said.returncode == 0, said.stderr

    done = tweetchat(["backup", "backups"], config)

    assert done.returncode == 0, done.stderr
    assert "archive.sqlite" in done.stdout and "local-network.sqlite" in done.stdout
    archive = sqlite3.connect(tmp_path / "backups" / "archive.sqlite")
    (chat_id,) = [row[0] for row in archive.execute("SELECT id FROM chats")]
    assert chat_id.startswith("wedocs-")
    network = sqlite3.connect(tmp_path / "backups" / "local-network.sqlite")
    texts = [row[0] for row in network.execute("SELECT text FROM messages")]
    assert texts == ["hello #WeDocs"]


def test_transcript_format_follows_the_file_name(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3600)
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0

    as_html = tweetchat(["transcript", "wedocs", "--out", "t.html"], config)
    assert as_html.returncode == 0, as_html.stderr
    assert (
        (tmp_path / "t.html")
        .read_text(encoding="utf-8")
        .lstrip()
        .lower()
        .startswith("<!doctype html")
    )
    as_json = tweetchat(["transcript", "wedocs", "--out", "T.JSON"], config)
    assert as_json.returncode == 0, as_json.stderr
    assert (
        json.loads((tmp_path / "T.JSON").read_text(encoding="utf-8"))["chat"]["hashtag"]
        == "#WeDocs"
    )
    printed = tweetchat(["transcript", "wedocs"], config)
    assert printed.stdout.startswith("# ")  # Markdown when nothing says otherwise

    mismatch = tweetchat(["transcript", "wedocs", "--format", "md", "--out", "x.html"], config)
    assert mismatch.returncode == 2
    assert "--format md does not match --out x.html (a .html file)" in mismatch.stderr
    assert not (tmp_path / "x.html").exists()


def test_json_logs_have_a_line_for_every_post_control_and_publication(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=4,
        questions=("One?", "Two?"),
        first_question="3s",
        interval="30s",
        duration="40s",
        grace="2s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "--log-format", "json", "run", "--until-idle"],
        env=env_for(config),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        db = tmp_path / "db.sqlite"

        def sent(key: str) -> bool:
            if not db.exists():
                return False
            conn = sqlite3.connect(db)
            try:
                rows = conn.execute(
                    "SELECT 1 FROM posts WHERE action_key = ? AND status = 'sent'", (key,)
                ).fetchall()
            except sqlite3.OperationalError:
                return False
            finally:
                conn.close()
            return bool(rows)

        wait_for(lambda: sent("q1"), timeout=60, what="Q1")
        for control, then in (("next", "q2"), ("end", "close")):  # Q2 now, then the close
            done = tweetchat([control, "wedocs"], config)
            assert done.returncode == 0, done.stderr
            wait_for(lambda key=then: sent(key), timeout=60, what=then)
        out, _ = bot.communicate(timeout=90)
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.communicate()
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert records and {"time", "level", "logger", "message"} <= set(records[0])
    messages = [r["message"] for r in records if r["level"] == "INFO"]
    chat_id = next(m.split()[1].rstrip(":") for m in messages if " posted on local" in m)
    for key in ("intro", "q1", "q2", "close"):
        assert any(m.startswith(f"chat {chat_id}: {key} posted on local") for m in messages), key
    for control in ("next", "end"):
        assert any(m.startswith(f"chat {chat_id}: {control}") and "(by cli:" in m for m in messages)
    assert any(m.startswith(f"chat {chat_id}: published (") for m in messages)
    plain = [line for line in out.splitlines() if line.strip() and not line.startswith("{")]
    assert all(line.startswith("tweetchat ") for line in plain), plain  # the CLI's own words
