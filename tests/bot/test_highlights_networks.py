"""Highlights of one chat on Mastodon, Bluesky and Discord at once: the real App and adapters
against their loopback fakes. Participants favourite, like and react; at publishing each
network is read once, the transcript's Highlights rank the answers across networks
(score = reactions + likes + reposts + quotes; a tie goes to the earlier answer), and the
chat file's ``digest = true`` posts the top answer on every network, threaded where the
network threads."""

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
from bot.platforms.mastodon.content import html_to_text
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import bot_posts, until
from tests.bot.networks import (
    MASTODON_ENV,
    bluesky_config,
    captured,
    discord_platform,
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


async def test_highlights_rank_answers_from_every_network(
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
                "duration": "9s",
                "grace": "2s",
                "targets": [
                    {"platform": "mastodon"},
                    {"platform": "bluesky"},
                    {"platform": "discord", "channel": str(channel)},
                ],
                "questions": [
                    {"text": "How do you involve patients?", "offset": "1s"},
                    {"text": "What got in the way?", "offset": "6s"},
                ],
                "digest": True,
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
            fans = [fake_discord.add_user(f"fan{n}") for n in range(3)]

            await until("Q1 on Discord", lambda: bot_posts(fake_discord, "Q1:"))
            # In time order: Carol (Bluesky), then Bob (Discord), then Ann (Mastodon), then
            # Eve (Mastodon, no engagement).
            carol_uri = fake_bsky.add_post(carol, "A1: patients sit on our QI board #WeDocs")
            await until("Carol's answer", lambda: captured(config, chat_id, "bluesky", carol_uri))
            bob_msg = fake_discord.post_user_message(channel, bob, "A1: we ask first #WeDocs")
            bob_id = str(bob_msg["id"])
            await until("Bob's answer", lambda: captured(config, chat_id, "discord", bob_id))
            ann_status = fake_masto.post(ann, "A1: our patient council co-designs #WeDocs")
            ann_id = str(ann_status["id"])
            await until("Ann's answer", lambda: captured(config, chat_id, "mastodon", ann_id))
            eve = fake_masto.add_account("eve", display_name="Eve")
            fake_masto.post(eve, "A1: nothing yet #WeDocs")

            # Ann: 3 favourites and a boost (4); Carol: 2 likes; Bob: 2 reactions, one of
            # them taken back and given again (2). Carol and Bob tie: Carol was first.
            fake_masto.favourite(ann_id, 3, reblogs=1)
            fake_bsky.like(carol_uri, 2)
            for fan in fans[:2]:
                fake_discord.add_reaction(channel, int(bob_id), fan, "❤️")
            fake_discord.remove_reaction(channel, int(bob_id), fans[1], "❤️")
            fake_discord.add_reaction(channel, int(bob_id), fans[2], "👍")
            await until("the chat to be published", lambda: published(config, chat_id), 30)
        finally:
            await app.stop()

    markdown = (config.transcripts_dir / f"{chat_id}.md").read_text()
    section = markdown[markdown.index("## Highlights") : markdown.index("## Summary")]
    items = [line for line in section.splitlines() if line.startswith("- **")]
    assert [item.split("**")[1] for item in items] == ["Ann", "Carol", "Bob"]
    assert " · Mastodon · " in items[0] and "3 likes, 1 repost" in items[0]
    assert " · Bluesky · " in items[1] and "2 likes" in items[1]
    assert " · Discord · " in items[2] and "2 reactions" in items[2]
    data = json.loads((config.transcripts_dir / f"{chat_id}.json").read_text())
    (q1,) = data["highlights"]
    assert [(a["platform"], a["score"]) for a in q1["answers"]] == [
        ("mastodon", 4),
        ("bluesky", 2),
        ("discord", 2),
    ]
    # Mastodon was asked once, for every answer in one call (GET /api/v1/statuses?id[]=...).
    assert len(fake_masto.requests_to("/api/v1/statuses", "GET")) == 1

    # The digest: a header and Ann's answer (Q2 drew no answers), on each network, once.
    top = "Top answer to Q1, by Ann: “A1: our patient council co-designs #WeDocs” (3 likes, 1 repost) #WeDocs"
    masto = [html_to_text(str(s["content"])) for s in fake_masto.by_bot()]
    assert masto.count(top) == 1 and sum(t.startswith("Highlights of #WeDocs") for t in masto) == 1
    intro = fake_masto.by_bot()[0]
    (digest_status,) = [s for s in fake_masto.by_bot() if html_to_text(str(s["content"])) == top]
    assert digest_status["in_reply_to_id"] == intro["id"]  # threaded under the intro
    (bsky_top,) = fake_bsky.bot_posts("Top answer to Q1")
    assert bsky_top.text == top
    (bsky_header,) = fake_bsky.bot_posts("Highlights of #WeDocs")
    reply = bsky_top.record["reply"]
    assert reply["parent"]["uri"] == bsky_header.uri  # the thread goes on
    assert reply["root"]["uri"] == fake_bsky.bot_posts()[0].uri
    assert [m["content"] for m in bot_posts(fake_discord, "Top answer to")] == [top]
    assert len(bot_posts(fake_discord, "Highlights of #WeDocs")) == 1
