"""Stakeholder groups on Discord and Mastodon at once, through the real clients and the
fakes: `!iam` in a Discord post, `/tweetchat iam` (answered ephemerally), Discord roles
mapped by name and by id (read from ``member.roles`` on MESSAGE_CREATE), `!iam` in a reply
to the bot's Mastodon post, and the roster; one transcript counts them all."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, GroupsConfig, LocalConfig, SchedulerConfig
from bot.platforms.mastodon.adapter import MastodonPlatform
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import until
from tests.bot.networks import (
    MASTODON_ENV,
    discord_platform,
    mastodon_bot_status,
    mastodon_config,
    published,
)
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.mastodon_server import FakeMastodon

pytestmark = pytest.mark.timeout(90)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord


def _declared(config: Config, author_id: str) -> bool:
    store = Store(config.database)
    try:
        return any(k[1] == author_id for k in store.group_sources("#WeDocs").own)
    finally:
        store.close()


async def test_groups_from_every_route_on_discord_and_mastodon(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeMastodon() as fake_masto:
        channel = fake_discord.channel_id
        clinicians = fake_discord.add_role("Clinicians")
        patients = fake_discord.add_role("Patient leaders")
        roster = tmp_path / "roster.csv"
        roster.write_text("mastodon,@rita@ward.example,patient\n", "utf-8")
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(
                enabled=True,
                guilds=(str(fake_discord.guild_id),),
                group_roles=(("clinicians", "clinician"), (str(patients), "patient")),
            ),
            # Reads every second, not every 0.3 s: a 20 s chat stays within the fake
            # instance's rate limit (the stream brings posts at once anyway).
            mastodon=dataclasses.replace(mastodon_config(fake_masto), poll_interval=1.0),
            groups=GroupsConfig(roster=roster),
        )
        plan = parse_chat_plan(
            {
                "title": "Patients in QI",
                "hashtag": "#WeDocs",
                "start": (datetime.now(UTC) + timedelta(seconds=3)).isoformat(),
                "timezone": "Europe/London",
                # Room for a loaded machine: every post lands well inside the chat.
                "duration": "20s",
                "grace": "3s",
                "targets": [
                    {"platform": "discord", "channel": str(channel)},
                    {"platform": "mastodon"},
                ],
                "questions": [{"text": "How do you involve patients?", "offset": "1s"}],
            }
        )
        store = Store(config.database)
        try:
            store.add_chat(plan.chat)
        finally:
            store.close()
        platforms = {
            "discord": discord_platform(config.discord, fake_discord),
            "mastodon": MastodonPlatform(config.mastodon, environ=MASTODON_ENV, backoff=0.01),
        }
        app = App(config, platforms=platforms)
        await app.start()
        try:
            # Discord: a post, the command, a role by name, a role by id (and a role beaten
            # by the member's own declaration), someone with no group.
            poster = fake_discord.add_user("dora", global_name="Dora")
            commander = fake_discord.add_user("cmd_carl", global_name="Carl")
            by_name = fake_discord.add_user("nina", roles=[clinicians])
            by_id = fake_discord.add_user("pete", roles=[patients])
            overrides = fake_discord.add_user("olga", roles=[patients])
            nobody = fake_discord.add_user("ned")
            # Mastodon: a reply to the bot's Q1 declaring, the roster, a hashtag post.
            mia = fake_masto.add_account("mia", display_name="Mia")
            rita = fake_masto.add_account("rita", domain="ward.example", display_name="Rita")
            sam = fake_masto.add_account("sam", display_name="Sam")

            await until(
                "Q1 on both networks",
                lambda: (
                    mastodon_bot_status(fake_masto, "Q1:") is not None
                    and any(m["content"].startswith("Q1:") for m in fake_discord.messages(channel))
                ),
            )
            said = fake_discord.post_user_message(channel, poster, "!iam clinician #WeDocs")
            fake_discord.post_user_message(channel, overrides, "!iam clinician #WeDocs")
            asked = fake_discord.invoke_command(
                "tweetchat", "iam", {"group": "clinician"}, user=commander, channel_id=channel
            )
            response = await fake_discord.wait_for_response(asked)
            assert asked.ephemeral
            assert "counted as Clinician in WeDocs chats" in response["data"]["content"]
            q1 = mastodon_bot_status(fake_masto, "Q1:")
            assert q1 is not None
            fake_masto.post(mia, "@tweetchatbot !iam patient", in_reply_to_id=str(q1["id"]))
            fake_masto.post(sam, "!iam patient #WeDocs")
            await until("the Mastodon declarations", lambda: _declared(config, mia["id"]))
            await until("Sam's declaration", lambda: _declared(config, sam["id"]))
            for user in (poster, commander, by_name, by_id, overrides, nobody):
                fake_discord.post_user_message(channel, user, f"A1: {user.username} #WeDocs")
            for account in (mia, rita, sam):
                fake_masto.post(account, f"A1: {account['username']} here #WeDocs")
            await until("the chat to be published", lambda: published(config, plan.chat.id))
        finally:
            await app.stop()

    # Each declaring post was answered once, as a reply; the command only ephemerally.
    thanks = [
        m
        for m in fake_discord.messages(channel)
        if m["author"]["id"] == str(fake_discord.bot_user.id)
        and m["content"].startswith("Thank you: you are counted as")
    ]
    assert len(thanks) == 2
    assert any(m.get("message_reference", {}).get("message_id") == said["id"] for m in thanks)
    masto_thanks = [s for s in fake_masto.by_bot() if "Thank you: you are counted" in s["content"]]
    assert len(masto_thanks) == 2, [s["content"] for s in fake_masto.by_bot()]
    assert all(s["in_reply_to_id"] for s in masto_thanks)

    out = tmp_path / "transcripts"
    md = (out / f"{plan.chat.id}.md").read_text(encoding="utf-8")
    mix = md.split("## Stakeholder mix", 1)[1].split("\n## ", 1)[0]
    # Clinicians: Dora (post), Carl (command), Nina (role by name), Olga (her own word beats
    # her role); patients: Pete (role by id), Mia (reply to the bot), Rita (roster), Sam.
    assert "| Clinician | 4 | 44% | 4 | 44% |" in mix
    assert "| Patient | 4 | 44% | 4 | 44% |" in mix
    assert "| Not declared | 1 | 11% | 1 | 11% |" in mix
    assert "| **Total** | 9 | 100% | 9 | 100% |" in mix
    assert "Thank you: you are counted" not in md
    data = json.loads((out / f"{plan.chat.id}.json").read_text(encoding="utf-8"))
    groups = {
        (m["platform"], m["author"]["handle"]): m["group"]
        for m in data["messages"]
        if m["kind"] == "answer"
    }
    assert groups[("discord", "olga")] == "clinician"
    assert groups[("discord", "pete")] == "patient"
    assert groups[("mastodon", "rita@ward.example")] == "patient"
    assert groups[("discord", "ned")] is None
