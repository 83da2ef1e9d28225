"""`tweetchat run` against the fake Discord in another process, killed mid-chat and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from tests.bot.helpers import bot_posts, chat_file, config_file, env_for, tweetchat, until
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(120)

no_error_logs = fake_fixtures.no_error_logs


def start_bot(config: Path, log: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env_for(config),
        cwd=config.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_killed_and_restarted_bot_misses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeDiscord(patch_discord=False) as fake:
        monkeypatch.setenv("DISCORD_TOKEN", fake.token)
        config = config_file(
            tmp_path,
            "enabled = false\n"
            f'[discord]\nenabled = true\nguilds = ["{fake.guild_id}"]\n'
            f'api_base_url = "{fake.base_url}"\ngateway_url = "{fake.gateway_url}"\n',
        )
        chat = tmp_path / "chat.toml"
        chat_file(
            chat,
            start_in=6,
            questions=("One?", "Two?", "Three?", "Four?"),
            first_question="1s",
            interval="4s",
            duration="20s",
            grace="3s",
            extra=f'[[targets]]\nplatform = "discord"\nchannel = "{fake.channel_id}"\n',
        )
        scheduled = tweetchat(["schedule", str(chat)], config)
        assert scheduled.returncode == 0, scheduled.stderr
        alice = fake.add_user("alice", global_name="Alice")
        notes: list[str] = []

        async def keep_posting() -> None:
            while not bot_posts(fake, "Q4:"):
                note = f"note{len(notes):03d}"
                fake.post_user_message(fake.channel_id, alice, f"{note} from the floor #WeDocs")
                notes.append(note)
                await asyncio.sleep(0.2)

        with (tmp_path / "run1.log").open("w") as log1, (tmp_path / "run2.log").open("w") as log2:
            first = start_bot(config, log1)
            second: subprocess.Popen[str] | None = None
            poster: asyncio.Task[None] | None = None
            try:
                await until("Q1 from the first run", lambda: bot_posts(fake, "Q1:"))
                poster = asyncio.create_task(keep_posting())
                await until("Q2 from the first run", lambda: bot_posts(fake, "Q2:"))
                first.send_signal(signal.SIGKILL)
                first.wait(5)
                killed_at = len(notes)
                await until("messages while the bot is down", lambda: len(notes) > killed_at + 5)
                second = start_bot(config, log2)
                await poster
                md = tmp_path / "out"
                await until(
                    "the transcript",
                    lambda: [
                        a for a in fake.attachments(fake.channel_id) if a.filename.endswith(".md")
                    ],
                    within=40,
                )
            finally:
                if poster is not None:
                    poster.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await poster
                for proc in (first, second):
                    if proc is not None and proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                        try:
                            proc.wait(15)
                        except subprocess.TimeoutExpired:
                            proc.kill()
        (attached,) = [a for a in fake.attachments(fake.channel_id) if a.filename.endswith(".md")]
        transcript = attached.text
        assert (md / attached.filename).read_text(encoding="utf-8") == transcript
        counts = {note: len(re.findall(rf"\b{note}\b", transcript)) for note in notes}
        assert {n: c for n, c in counts.items() if c != 1} == {}
        for label in ("Q1:", "Q2:", "Q3:", "Q4:"):
            assert len(bot_posts(fake, label)) == 1, label
        log = (tmp_path / "run2.log").read_text()
        assert "Traceback" not in log and " ERROR " not in log, log
