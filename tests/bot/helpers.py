"""Helpers for end-to-end tests: chat files a few seconds ahead, configs, the CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.platforms.local.adapter import LocalNetwork
    from tests.fakes.discord_server import FakeDiscord

REPO = Path(__file__).resolve().parents[2]


def chat_file(
    path: Path,
    *,
    start_in: float = 3.0,
    questions: Sequence[str] = ("One?", "Two?", "Three?"),
    interval: str = "2s",
    first_question: str = "2s",
    duration: str = "10s",
    grace: str = "2s",
    hashtag: str = "WeDocs",
    extra: str = "",
    reminders: str = "[]",
    intro: str = "Hello",
    closing: str = "Bye",
) -> datetime:
    """Write a chat file whose chat starts `start_in` seconds from now; returns the start."""
    start = (datetime.now(UTC) + timedelta(seconds=start_in)).replace(microsecond=0)
    qs = "\n".join(f'[[questions]]\ntext = "{q}"\n' for q in questions)
    path.write_text(
        f'title = "Quick chat"\nhashtag = "{hashtag}"\n'
        f'start = "{start:%Y-%m-%dT%H:%M:%SZ}"\ntimezone = "Europe/London"\n'
        f'duration = "{duration}"\ninterval = "{interval}"\nfirst_question = "{first_question}"\n'
        f'grace = "{grace}"\nintro = {_toml_text(intro)}\nclosing = {_toml_text(closing)}\n'
        f"reminders = {reminders}\n{extra}\n{qs}",
        encoding="utf-8",
    )
    return start


def _toml_text(text: str) -> str:
    """A TOML basic string holding ``text`` (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def config_file(tmp: Path, extra: str = "") -> Path:
    path = tmp / "config.toml"
    path.write_text(
        'database = "db.sqlite"\ntranscripts_dir = "out"\n'
        f'[local]\nnetwork = "net.sqlite"\npoll_interval = 0.05\n{extra}',
        encoding="utf-8",
    )
    return path


def env_for(config: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TWEETCHAT_CONFIG"] = str(config)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tweetchat(
    args: Sequence[str], config: Path, *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env_for(config),
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_bot(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *args],
        env=env_for(config),
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(predicate, *, timeout: float = 30, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def until(what: str, check: Callable[[], object], within: float = 30) -> None:
    """Wait until ``check()`` holds (the state lives in the database, the fakes and other
    tasks: poll it), at most ``within`` seconds."""
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def bot_posts(fake: FakeDiscord, prefix: str) -> list[dict[str, Any]]:
    """The bot's messages in the fake's channel that start with ``prefix``."""
    return [
        m
        for m in fake.messages(fake.channel_id)
        if m["author"]["id"] == str(fake.bot_user.id) and m["content"].startswith(prefix)
    ]


def dead_pid() -> int:
    """The id of a process of this host that has ended (one started and waited for here):
    the owner of a leftover file that may be removed."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(gone.stdout)


def utc_now() -> datetime:
    """Now, in UTC: the time a test posts a message at."""
    return datetime.now(UTC)


def local_bot_post(net: LocalNetwork, prefix: str) -> str:
    """The local room's first message by the bot that starts with ``prefix``: its
    sequence number as text, or ``""`` while there is none (for :func:`wait_for`)."""
    for row in net.messages("main"):
        if row["is_bot"] and row["text"].startswith(prefix):
            return str(row["seq"])
    return ""
