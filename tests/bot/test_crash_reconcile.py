"""Replies to a post a crash left half-done are kept (issue 13, item 3).

The bot dies right after Q1 went out and before the store recorded it
(``TWEETCHAT_FAULT=crash-after-send:q1``). While it is down, participants reply to Q1
without the hashtag: such a reply belongs to the chat only as a reply to one of its posts.
At the next start each platform that can find its own posts reconciles the half-done post
before anything it captures is attributed, so the replies are kept, as answers to Q1.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest

from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import bot_posts, chat_file, config_file, env_for, tweetchat, until
from tests.bot.test_x_platform import environ_for
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.x_server import FakeX

no_error_logs = fake_fixtures.no_error_logs

REPLIES = [f"reply {n} to the first question, no tag" for n in range(5)]


def run_bot(config: Path, log: IO[str], *args: str, fault: str = "") -> subprocess.Popen[str]:
    env = env_for(config)
    if fault:
        env["TWEETCHAT_FAULT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *args],
        env=env,
        cwd=config.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def captured(db: Path) -> dict[str, str]:
    """Captured text -> the question keys it was attributed to."""
    conn = sqlite3.connect(db)
    try:
        return {t: k for t, k in conn.execute("SELECT text, question_keys FROM messages")}
    finally:
        conn.close()


def ledger_status(db: Path, key: str) -> str:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT status FROM posts WHERE action_key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""
    finally:
        conn.close()


def schedule(tmp_path: Path, config: Path, extra: str = "") -> None:
    chat_file(
        tmp_path / "chat.toml",
        start_in=3,
        questions=("One?", "Two?"),
        first_question="2s",
        interval="8s",
        duration="16s",
        grace="2s",
        extra=extra,
    )
    result = tweetchat(["schedule", "chat.toml"], config)
    assert result.returncode == 0, result.stderr


def test_replies_to_a_half_done_question_are_kept_on_the_local_platform(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    schedule(tmp_path, config)
    net_path, db = tmp_path / "net.sqlite", tmp_path / "db.sqlite"
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault="crash-after-send:q1")
        crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    assert ledger_status(db, "q1") == "intent"  # Q1 went out; the store never heard back
    net = LocalNetwork(net_path)
    try:
        (q1,) = [r for r in net.messages("main") if r["is_bot"] and r["text"].startswith("Q1:")]
        for n, text in enumerate(REPLIES):
            who = LocalUser(f"p{n}", f"Person {n}", f"person{n}")
            net.post("main", who, text, at=datetime.now(UTC), reply_to=str(q1["seq"]))
    finally:
        net.close()
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        bot.wait(timeout=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    assert ledger_status(db, "q1") == "sent"
    got = captured(db)
    assert {text: got.get(text) for text in REPLIES} == dict.fromkeys(REPLIES, "1"), out
    assert "Traceback" not in out


@pytest.mark.timeout(150)
async def test_replies_to_a_half_done_question_are_kept_on_discord(
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
        schedule(
            tmp_path,
            config,
            f'[[targets]]\nplatform = "discord"\nchannel = "{fake.channel_id}"\n',
        )
        db = tmp_path / "db.sqlite"
        with (tmp_path / "run1.log").open("w") as log1:
            crashing = run_bot(config, log1, fault="crash-after-send:q1")
            await until("the crash after Q1", lambda: crashing.poll() is not None, within=60)
        assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
        assert ledger_status(db, "q1") == "intent"
        (q1,) = bot_posts(fake, "Q1:")
        for n, text in enumerate(REPLIES):
            person = fake.add_user(f"person{n}", global_name=f"Person {n}")
            fake.post_user_message(fake.channel_id, person, text, reply_to=q1["id"])
        with (tmp_path / "run2.log").open("w") as log2:
            bot = run_bot(config, log2)
            try:
                await until(
                    "the replies, attributed to Q1",
                    lambda: all(captured(db).get(text) == "1" for text in REPLIES),
                    within=60,
                )
            finally:
                bot.send_signal(signal.SIGTERM)
                await until("the bot to stop", lambda: bot.poll() is not None, within=30)
        out = (tmp_path / "run2.log").read_text()
        assert ledger_status(db, "q1") == "sent", out
        assert len(bot_posts(fake, "Q1:")) == 1
        assert "Traceback" not in out, out


@pytest.mark.timeout(150)
async def test_replies_to_a_half_done_question_are_kept_on_x(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X has no idempotency key: the bot finds its own Q1 in the account's timeline
    (GET /2/users/:id/tweets) instead of posting it again, and the replies to it (found by
    their conversation, no hashtag) are attributed to Q1."""
    async with FakeX() as fake:
        for name, value in environ_for(fake).items():
            monkeypatch.setenv(name, value)
        config = config_file(
            tmp_path,
            "enabled = false\n"
            f'[x]\nenabled = true\napi_base_url = "{fake.base_url}"\npoll_interval = 5\n',
        )
        schedule(tmp_path, config, '[[targets]]\nplatform = "x"\n')
        db = tmp_path / "db.sqlite"
        with (tmp_path / "run1.log").open("w") as log1:
            crashing = run_bot(config, log1, fault="crash-after-send:q1")
            await until("the crash after Q1", lambda: crashing.poll() is not None, within=60)
        assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
        assert ledger_status(db, "q1") == "intent"
        (q1,) = [t for t in fake.posts_by_host() if t.text.startswith("Q1:")]
        for n, text in enumerate(REPLIES):
            person = {"id": str(4000 + n), "username": f"person{n}", "name": f"Person {n}"}
            fake.add_tweet(person, text, reply_to=q1.id)
        with (tmp_path / "run2.log").open("w") as log2:
            bot = run_bot(config, log2)
            try:
                await until(
                    "the replies, attributed to Q1",
                    lambda: all(captured(db).get(text) == "1" for text in REPLIES),
                    within=60,
                )
            finally:
                bot.send_signal(signal.SIGTERM)
                await until("the bot to stop", lambda: bot.poll() is not None, within=30)
        out = (tmp_path / "run2.log").read_text()
        assert ledger_status(db, "q1") == "sent", out
        assert [t.id for t in fake.posts_by_host() if t.text.startswith("Q1:")] == [q1.id]
        assert fake.requests_to(f"/2/users/{fake.host_user['id']}/tweets"), out
        assert "Traceback" not in out, out
