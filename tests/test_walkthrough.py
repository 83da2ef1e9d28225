"""The README's "Trying it by hand" walkthrough, run as written from a clean folder: the
commands are read from the README itself, so the walkthrough cannot drift from what works."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walkthrough_blocks() -> list[list[list[str]]]:
    """The ```sh blocks of the walkthrough section, as argument lists without comments."""
    section = README.split("## Trying it by hand", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [
        [
            shlex.split(line, comments=True)
            for line in block.splitlines()
            if line.strip().startswith("tweetchat ")
        ]
        for block in blocks
    ]


def wait_until(what: str, check, timeout: float = 90):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def bot_posted(folder: Path, prefix: str) -> bool:
    path = folder / "tweetchat-local.db"
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        texts = [r[0] for r in conn.execute("SELECT text FROM messages WHERE is_bot = 1")]
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()
    return any(t.startswith(prefix) for t in texts)


def status(folder: Path) -> str:
    conn = sqlite3.connect(folder / "tweetchat.db")
    try:
        row = conn.execute("SELECT status FROM chats").fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else ""


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    first, second = walkthrough_blocks()
    assert [c[1] for c in first] == ["check", "schedule", "chats", "run"]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if k != "TWEETCHAT_CONFIG"}
    env["PYTHONUNBUFFERED"] = "1"

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    for args in first[:-1]:
        run(args)
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", *first[-1][1:]],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        outputs: dict[str, str] = {}
        for args in second:
            if args[1] == "transcript":
                wait_until("the chat to be published", lambda: status(tmp_path) == "published")
            name = " ".join(args[1:3]) if args[1] == "local" else args[1]
            outputs[name] = run(args).stdout
            if args[1] == "start":
                wait_until("the intro", lambda: bot_posted(tmp_path, "Welcome to #TryChat"))
        assert "the people #TryChat" in outputs["local log"]
        assert "Trying tweetchat" in outputs["show"]
        page = (tmp_path / "t.html").read_text(encoding="utf-8")
        assert "the people" in page and "Trying tweetchat" in page
        assert json.loads(outputs["stats"])["messages"] >= 1
        assert bot.poll() is None
    finally:
        bot.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    assert "Traceback" not in out
