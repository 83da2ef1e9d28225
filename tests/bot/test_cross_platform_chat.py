"""One chat on Discord and X at once: both real clients, both fakes, one merged transcript."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, LocalConfig, SchedulerConfig, XConfig
from bot.platforms.x.adapter import XPlatform
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import until
from tests.bot.networks import discord_platform, published
from tests.bot.test_x_platform import environ_for
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.timeout(90)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord

ALICE_X = {"id": "3001", "username": "alice_x", "name": "Alice on X"}


async def test_a_chat_on_discord_and_x_merges_both_networks(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeX() as fake_x:
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(enabled=True, guilds=(str(fake_discord.guild_id),)),
            x=XConfig(
                enabled=True, api_base_url=fake_x.base_url, poll_interval=0.2, max_results=10
            ),
        )
        start = datetime.now(UTC) + timedelta(seconds=3)
        plan = parse_chat_plan(
            {
                "title": "Patients in QI",
                "hashtag": "#WeDocs",
                "start": start.isoformat(),
                "timezone": "Europe/London",
                "duration": "10s",
                "grace": "2s",
                "targets": [
                    {"platform": "discord", "channel": str(fake_discord.channel_id)},
                    {"platform": "x"},
                ],
                "questions": [{"text": "How do you involve patients?", "offset": "1s"}],
            }
        )
        store = Store(config.database)
        store.add_chat(plan.chat)
        store.close()
        discord = discord_platform(config.discord, fake_discord)
        x = XPlatform(config.x, environ=environ_for(fake_x), backoff=0.01, sweep_settle=0)
        app = App(config, platforms={"discord": discord, "x": x})
        await app.start()
        try:
            channel = fake_discord.channel_id
            bob = fake_discord.add_user("bob_discord", global_name="Bob on Discord")

            def q1_everywhere() -> bool:
                on_discord = any(
                    m["content"].startswith("Q1:") for m in fake_discord.messages(channel)
                )
                on_x = any(t.text.startswith("Q1:") for t in fake_x.posts_by_host())
                return on_discord and on_x

            await until("Q1 on both networks", q1_everywhere)
            fake_discord.post_user_message(channel, bob, "A1 from Discord #WeDocs")
            fake_x.add_tweet(ALICE_X, "A1 from X #WeDocs")
            await until("the chat to be published", lambda: published(config, plan.chat.id))
        finally:
            await app.stop()

    data = json.loads((tmp_path / "transcripts" / f"{plan.chat.id}.json").read_text())
    answers = {m["text"]: m["platform"] for m in data["messages"] if m["kind"] == "answer"}
    assert answers == {"A1 from Discord #WeDocs": "discord", "A1 from X #WeDocs": "x"}
    md = (tmp_path / "transcripts" / f"{plan.chat.id}.md").read_text()
    q1 = md.split("## Q1", 1)[1].split("\n## ", 1)[0]
    discord_line = next(line for line in q1.splitlines() if "Bob on Discord" in line)
    x_line = next(line for line in q1.splitlines() if "Alice on X" in line)
    assert "**Bob on Discord** @bob_discord · Discord · " in discord_line
    assert "**Alice on X** @alice_x · X · " in x_line
