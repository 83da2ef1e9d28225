"""One chat on Mastodon, Bluesky and Discord at once: the real App and adapters, each against its
loopback fake, and one published transcript with every network's answers, each marked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, LocalConfig, SchedulerConfig
from bot.platforms.bluesky.adapter import BlueskyPlatform
from bot.platforms.mastodon.adapter import MastodonPlatform
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import bot_posts, until
from tests.bot.networks import (
    MASTODON_ENV,
    bluesky_config,
    captured,
    discord_platform,
    mastodon_bot_status,
    mastodon_config,
    published,
)
from tests.fakes import conftest as fake_fixtures
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.mastodon_server import FakeMastodon

pytestmark = pytest.mark.timeout(60)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord

INTRO = "Welcome to the chat on patients in QI"


def on_each_network(
    fake_masto: FakeMastodon, fake_bsky: FakeBluesky, fake_discord: FakeDiscord, prefix: str
) -> dict[str, int]:
    """How many of the bot's posts start with ``prefix``, network by network."""
    return {
        "mastodon": sum("<p>" + prefix in str(s["content"]) for s in fake_masto.by_bot()),
        "bluesky": len(fake_bsky.bot_posts(prefix)),
        "discord": len(bot_posts(fake_discord, prefix)),
    }


async def test_a_chat_on_mastodon_bluesky_and_discord_has_one_transcript(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeMastodon() as fake_masto, FakeBluesky() as fake_bsky:
        channel = fake_discord.channel_id
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(enabled=True, guilds=(str(fake_discord.guild_id),)),
            mastodon=mastodon_config(fake_masto),
            bluesky=bluesky_config(fake_bsky),
        )
        plan = parse_chat_plan(
            {
                "title": "Patients in QI",
                "hashtag": "#WeDocs",
                "start": (datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
                "timezone": "Europe/London",
                "duration": "10s",
                "grace": "2s",
                "intro": INTRO,
                "targets": [
                    {"platform": "mastodon"},
                    {"platform": "bluesky"},
                    {"platform": "discord", "channel": str(channel)},
                ],
                "questions": [
                    {"text": "How do you involve patients?", "offset": "1s"},
                    {"text": "What would you change?", "offset": "6s"},
                ],
            }
        )
        chat_id = plan.chat.id
        store = Store(config.database)
        try:
            store.add_chat(plan.chat)
        finally:
            store.close()
        platforms = {
            "mastodon": MastodonPlatform(config.mastodon, environ=MASTODON_ENV, backoff=0.01),
            "bluesky": BlueskyPlatform(
                config.bluesky, environ={"BLUESKY_APP_PASSWORD": fake_bsky.password}, backoff=0.01
            ),
            "discord": discord_platform(config.discord, fake_discord),
        }
        app = App(config, platforms=platforms)
        await app.start()
        try:
            ann = fake_masto.add_account("ann", domain="nurses.example", display_name="Ann")
            carol = fake_bsky.add_account("carol.bsky.social", "Carol")
            bob = fake_discord.add_user("bob", global_name="Bob")
            dave = fake_masto.add_account("dave", display_name="Dave")

            def everywhere(prefix: str) -> bool:
                counts = on_each_network(fake_masto, fake_bsky, fake_discord, prefix)
                return all(counts.values())

            # Q1: a labelled answer on each network, and one on Mastodon its author deletes.
            await until("Q1 on all three networks", lambda: everywhere("Q1:"))
            fake_masto.post(ann, "A1: our patient council co-designs #WeDocs")
            fake_bsky.add_post(carol, "A1: patients sit on our QI board #WeDocs")
            fake_discord.post_user_message(channel, bob, "A1: we ask patients first #WeDocs")
            regret = fake_masto.post(dave, "A1: something I regret #WeDocs")
            await until(
                "the regretted answer captured",
                lambda: captured(config, chat_id, "mastodon", str(regret["id"])),
            )
            fake_masto.delete(regret["id"])
            await until(
                "the deletion recorded",
                lambda: getattr(
                    captured(config, chat_id, "mastodon", str(regret["id"])), "deleted", False
                ),
            )

            # Q2: on each network, an unlabelled reply to the bot's Q2 post there.
            await until("Q2 on all three networks", lambda: everywhere("Q2:"))
            q2_masto = mastodon_bot_status(fake_masto, "Q2:")
            assert q2_masto is not None
            fake_masto.post(ann, "More time with patients", in_reply_to_id=str(q2_masto["id"]))
            fake_bsky.add_post(carol, "Fewer forms", reply_to=fake_bsky.bot_posts("Q2:")[0].uri)
            (q2_discord,) = bot_posts(fake_discord, "Q2:")
            fake_discord.post_user_message(
                channel, bob, "Shorter meetings", reply_to=q2_discord["id"]
            )

            await until("the chat to be published", lambda: published(config, chat_id), 30)
        finally:
            await app.stop()

    # What the organiser sees on each network: the intro and each question, once.
    for prefix in (INTRO, "Q1:", "Q2:"):
        counts = on_each_network(fake_masto, fake_bsky, fake_discord, prefix)
        assert counts == {"mastodon": 1, "bluesky": 1, "discord": 1}, prefix

    # One transcript: every network's answers under the right question, each marked.
    data = json.loads((config.transcripts_dir / f"{chat_id}.json").read_text())
    answers = {
        m["text"]: (m["platform"], m["questions"])
        for m in data["messages"]
        if m["kind"] == "answer"
    }
    assert answers == {
        "A1: our patient council co-designs #WeDocs": ("mastodon", ["1"]),
        "A1: patients sit on our QI board #WeDocs": ("bluesky", ["1"]),
        "A1: we ask patients first #WeDocs": ("discord", ["1"]),
        "More time with patients": ("mastodon", ["2"]),
        "Fewer forms": ("bluesky", ["2"]),
        "Shorter meetings": ("discord", ["2"]),
    }
    markdown = (config.transcripts_dir / f"{chat_id}.md").read_text()
    assert "regret" not in markdown
    q1, q2 = (markdown.split(f"## {q}", 1)[1].split("\n## ", 1)[0] for q in ("Q1", "Q2"))
    for section in (q1, q2):
        lines = section.splitlines()
        for name, network in (("Ann", "Mastodon"), ("Carol", "Bluesky"), ("Bob", "Discord")):
            line = next(line for line in lines if f"**{name}**" in line)
            assert f" · {network} · " in line, line
    for row in (
        "| Ann | @ann@nurses.example | Mastodon |",
        "| Carol | @carol.bsky.social | Bluesky |",
        "| Bob | @bob | Discord |",
    ):
        assert row in markdown  # the participants table
    assert "A1: patients sit on our QI board" in q1 and "Fewer forms" in q2
    assert "A1: we ask patients first" in q1 and "Shorter meetings" in q2
    assert "A1: our patient council co-designs" in q1 and "More time with patients" in q2
