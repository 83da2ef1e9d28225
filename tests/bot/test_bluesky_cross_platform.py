"""One chat on Bluesky, Discord and X at once: three real clients, three fakes, one transcript."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, LocalConfig, SchedulerConfig, XConfig
from bot.platforms.bluesky.adapter import BlueskyPlatform
from bot.platforms.x.adapter import XPlatform
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import until
from tests.bot.networks import bluesky_config, discord_platform, published
from tests.bot.test_x_platform import environ_for
from tests.fakes import conftest as fake_fixtures
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.timeout(90)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord

ALICE_X = {"id": "3001", "username": "alice_x", "name": "Alice on X"}


async def test_a_chat_on_bluesky_discord_and_x_merges_all_three(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeX() as fake_x, FakeBluesky() as fake_bsky:
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(enabled=True, guilds=(str(fake_discord.guild_id),)),
            x=XConfig(
                enabled=True, api_base_url=fake_x.base_url, poll_interval=0.2, max_results=10
            ),
            bluesky=bluesky_config(fake_bsky),
        )
        start = datetime.now(UTC) + timedelta(seconds=3)
        plan = parse_chat_plan(
            {
                "title": "Patients in QI",
                "hashtag": "#WeDocs",
                "start": start.isoformat(),
                "timezone": "Europe/London",
                "duration": "8s",
                "grace": "2s",
                "targets": [
                    {"platform": "discord", "channel": str(fake_discord.channel_id)},
                    {"platform": "x"},
                    {"platform": "bluesky"},
                ],
                "questions": [{"text": "How do you involve patients?", "offset": "1s"}],
            }
        )
        store = Store(config.database)
        store.add_chat(plan.chat)
        store.close()
        discord = discord_platform(config.discord, fake_discord)
        x = XPlatform(config.x, environ=environ_for(fake_x), backoff=0.01, sweep_settle=0)
        bsky = BlueskyPlatform(
            config.bluesky, environ={"BLUESKY_APP_PASSWORD": fake_bsky.password}, backoff=0.01
        )
        app = App(config, platforms={"discord": discord, "x": x, "bluesky": bsky})
        await app.start()
        try:
            channel = fake_discord.channel_id
            bob = fake_discord.add_user("bob_discord", global_name="Bob on Discord")
            carol = fake_bsky.add_account("carol.bsky.social", "Carol on Bluesky")

            def q1_everywhere() -> bool:
                on_discord = any(
                    m["content"].startswith("Q1:") for m in fake_discord.messages(channel)
                )
                on_x = any(t.text.startswith("Q1:") for t in fake_x.posts_by_host())
                return on_discord and on_x and bool(fake_bsky.bot_posts("Q1:"))

            await until("Q1 on all three networks", q1_everywhere)
            fake_discord.post_user_message(channel, bob, "A1 from Discord #WeDocs")
            fake_x.add_tweet(ALICE_X, "A1 from X #WeDocs")
            fake_bsky.add_post(carol, "A1 from Bluesky #WeDocs")
            await until("the chat to be published", lambda: published(config, plan.chat.id))
        finally:
            await app.stop()

    data = json.loads((tmp_path / "transcripts" / f"{plan.chat.id}.json").read_text())
    answers = {m["text"]: m["platform"] for m in data["messages"] if m["kind"] == "answer"}
    assert answers == {
        "A1 from Discord #WeDocs": "discord",
        "A1 from X #WeDocs": "x",
        "A1 from Bluesky #WeDocs": "bluesky",
    }
    md = (tmp_path / "transcripts" / f"{plan.chat.id}.md").read_text()
    q1 = md.split("## Q1", 1)[1].split("\n## ", 1)[0]
    bsky_line = next(line for line in q1.splitlines() if "Carol on Bluesky" in line)
    assert "**Carol on Bluesky** @carol.bsky.social · Bluesky · " in bsky_line
    assert any("· Discord · " in line for line in q1.splitlines())
    assert any("· X · " in line for line in q1.splitlines())
