"""Chats run end to end on Mastodon: bot.app.App (or `tweetchat run`), the real Mastodon.py,
the fake instance, a real database; alone, beside Discord, and killed mid-chat."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, LocalConfig, SchedulerConfig
from bot.platforms.mastodon.adapter import MastodonPlatform
from bot.platforms.mastodon.content import html_to_text
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import chat_file, config_file, env_for, tweetchat, until
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


def schedule(config: Config, targets: list[dict[str, str]], questions: list[dict[str, str]]) -> str:
    start = datetime.now(UTC) + timedelta(seconds=2)
    plan = parse_chat_plan(
        {
            "title": "Patients in QI",
            "hashtag": "#WeDocs",
            "start": start.isoformat(),
            "timezone": "Europe/London",
            "duration": "9s",
            "grace": "2s",
            "targets": targets,
            "questions": questions,
        }
    )
    store = Store(config.database)
    try:
        store.add_chat(plan.chat)
    finally:
        store.close()
    return plan.chat.id


async def test_a_chat_on_mastodon_alone(tmp_path: Path, no_error_logs: ErrorLogCatcher) -> None:
    async with FakeMastodon() as fake:
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            mastodon=mastodon_config(fake),
        )
        chat_id = schedule(
            config,
            [{"platform": "mastodon"}],
            [
                {"text": "How do you involve patients?", "offset": "1s"},
                {"text": "What would you change?", "offset": "6s"},
            ],
        )
        platform = MastodonPlatform(config.mastodon, environ=MASTODON_ENV, backoff=0.01)
        app = App(config, platforms={"mastodon": platform})
        await app.start()
        try:
            await until("Q1 on Mastodon", lambda: mastodon_bot_status(fake, "Q1:"))
            q1 = mastodon_bot_status(fake, "Q1:")
            assert q1 is not None
            ann = fake.add_account("ann", domain="nurses.example", display_name="Ann")
            bob = fake.add_account("bob", domain="library.example", display_name="Bob")
            carol = fake.add_account("carol", display_name="Carol")
            fake.post(ann, "A1: We co-design with our council #WeDocs")
            fake.post(bob, "We ask patients first", in_reply_to_id=str(q1["id"]))
            regret = fake.post(carol, "A1: something I regret #WeDocs")
            fake.post(carol, "@tweetchatbot !optout")
            await asyncio.sleep(0.5)
            fake.delete(regret["id"])
            await until("the chat to be published", lambda: published(config, chat_id), 40)
        finally:
            await app.stop()

    intro = mastodon_bot_status(fake, "Hello") or fake.by_bot()[0]
    q1, q2 = mastodon_bot_status(fake, "Q1:"), mastodon_bot_status(fake, "Q2:")
    assert q1 is not None and q2 is not None
    assert q1["in_reply_to_id"] == intro["id"] == q2["in_reply_to_id"]
    data = json.loads((tmp_path / "transcripts" / f"{chat_id}.json").read_text())
    answers = {m["text"]: m["author"]["handle"] for m in data["messages"] if m["kind"] == "answer"}
    assert answers == {
        "A1: We co-design with our council #WeDocs": "ann@nurses.example",
        "We ask patients first": "bob@library.example",
    }


async def test_a_chat_on_mastodon_and_discord_has_one_transcript(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeMastodon() as fake:
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(enabled=True, guilds=(str(fake_discord.guild_id),)),
            mastodon=mastodon_config(fake),
        )
        channel = fake_discord.channel_id
        chat_id = schedule(
            config,
            [{"platform": "discord", "channel": str(channel)}, {"platform": "mastodon"}],
            [{"text": "How do you involve patients?", "offset": "1s"}],
        )
        discord = discord_platform(config.discord, fake_discord)
        platform = MastodonPlatform(config.mastodon, environ=MASTODON_ENV, backoff=0.01)
        app = App(config, platforms={"discord": discord, "mastodon": platform})
        await app.start()
        try:

            def q1_everywhere() -> bool:
                on_discord = any(
                    m["content"].startswith("Q1:") for m in fake_discord.messages(channel)
                )
                return on_discord and mastodon_bot_status(fake, "Q1:") is not None

            await until("Q1 on both networks", q1_everywhere)
            bob = fake_discord.add_user("bob_discord", global_name="Bob on Discord")
            fake_discord.post_user_message(channel, bob, "A1 from Discord #WeDocs")
            ann = fake.add_account("ann", domain="nurses.example", display_name="Ann")
            fake.post(ann, "A1 from the fediverse #WeDocs")
            await until("the chat to be published", lambda: published(config, chat_id), 40)
        finally:
            await app.stop()

    data = json.loads((tmp_path / "transcripts" / f"{chat_id}.json").read_text())
    answers = {m["text"]: m["platform"] for m in data["messages"] if m["kind"] == "answer"}
    assert answers == {
        "A1 from Discord #WeDocs": "discord",
        "A1 from the fediverse #WeDocs": "mastodon",
    }


async def test_killed_after_posting_and_restarted_posts_nothing_twice(
    tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeMastodon() as fake:
        config = config_file(
            tmp_path,
            "enabled = false\n"
            f'[mastodon]\nenabled = true\napi_base_url = "{fake.base_url}"\npoll_interval = 5\n',
        )
        chat = tmp_path / "chat.toml"
        chat_file(
            chat,
            start_in=3,
            questions=("One?", "Two?"),
            first_question="1s",
            interval="5s",
            duration="10s",
            grace="2s",
            extra='[[targets]]\nplatform = "mastodon"\n',
        )
        scheduled = tweetchat(["schedule", str(chat)], config)
        assert scheduled.returncode == 0, scheduled.stderr
        ann = fake.add_account("ann", domain="nurses.example")
        env = env_for(config) | MASTODON_ENV
        logs = [(tmp_path / f"run{i}.log").open("w") for i in (1, 2)]
        procs: list[subprocess.Popen[str]] = []

        def run(**extra: str) -> subprocess.Popen[str]:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                env=env | extra,
                cwd=config.parent,
                stdout=logs[len(procs)],
                stderr=subprocess.STDOUT,
                text=True,
            )
            procs.append(proc)
            return proc

        try:
            first = run(TWEETCHAT_FAULT="crash-after-send:q1")  # dies right after Q1 is sent
            await until("the first run to die after Q1", lambda: first.poll() is not None)
            assert first.returncode == -signal.SIGKILL
            while_down = fake.post(ann, "A1: posted while the bot was down #WeDocs")
            run()
            await until("Q2 from the second run", lambda: mastodon_bot_status(fake, "Q2:"), 30)
            live = fake.post(ann, "A2: after the restart #WeDocs")
            db = Store(config.parent / "db.sqlite")
            try:
                await until(
                    "both answers captured",
                    lambda: (
                        {while_down["id"], live["id"]}
                        <= {m.platform_id for m in db.messages(db.list_chats()[0].id)}
                    ),
                    30,
                )
                sent = {p.action_key: p for p in db.posts(db.list_chats()[0].id)}
            finally:
                db.close()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            for log in logs:
                log.close()
        q1s = [s for s in fake.by_bot() if "<p>Q1:" in str(s["content"])]
        assert len(q1s) == 1
        assert sent["q1"].status == "sent" and sent["q1"].platform_message_id == q1s[0]["id"]
        log = (tmp_path / "run2.log").read_text()
        assert "Traceback" not in log and " ERROR " not in log, log


async def test_an_optout_replying_to_a_question_is_answered_once_and_stays_out(
    tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> None:
    """`!optout` in reply to a question: the bot answers it once (the timeline read every
    poll brings the same status again) and neither the participant's messages nor the
    bot's answer, which begins with their @mention, reach the transcript."""
    from bot.facilitator import OPTED_OUT_REPLY

    async with FakeMastodon() as fake:
        config = Config(
            database=tmp_path / "tweetchat.db",
            transcripts_dir=tmp_path / "transcripts",
            scheduler=SchedulerConfig(reminders=()),
            local=LocalConfig(enabled=False),
            mastodon=mastodon_config(fake),
        )
        chat_id = schedule(
            config,
            [{"platform": "mastodon"}],
            [{"text": "How do you involve patients?", "offset": "1s"}],
        )
        platform = MastodonPlatform(config.mastodon, environ=MASTODON_ENV, backoff=0.01)
        app = App(config, platforms={"mastodon": platform})
        await app.start()
        try:
            await until("Q1 on Mastodon", lambda: mastodon_bot_status(fake, "Q1:"))
            q1 = mastodon_bot_status(fake, "Q1:")
            assert q1 is not None
            ann = fake.add_account("ann", display_name="Ann")
            carol = fake.add_account("carol", display_name="Carol")
            fake.post(ann, "A1: Ann stays in #WeDocs")
            fake.post(carol, "A1: Carol's words #WeDocs")
            optout = fake.post(carol, "!optout", in_reply_to_id=str(q1["id"]))

            def answers() -> list[dict[str, object]]:
                return [s for s in fake.by_bot() if s["in_reply_to_id"] == optout["id"]]

            await until("the answer", answers)
            await until("the chat to be published", lambda: published(config, chat_id), 40)
        finally:
            await app.stop()

    (answer,) = answers()
    assert html_to_text(str(answer["content"])) == f"@carol {OPTED_OUT_REPLY}"
    md = (tmp_path / "transcripts" / f"{chat_id}.md").read_text(encoding="utf-8")
    assert "Ann stays in" in md
    for text in ("Carol's words", "!optout", "You are opted out"):
        assert text not in md, text
