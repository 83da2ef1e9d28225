"""Every step of a chat's life is done, or tried again with back-off until it is (issue 13,
item 2): a publication on a full disk, a post the network keeps failing. Each failure is one
line naming the chat and the step."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question, Target
from archive.publish import PublishResult, publish_chat
from archive.store import AsyncStore
from bot.facilitator import Facilitator
from bot.platforms.base import PostError, SentPost
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform
from scheduler.runner import Runner, RunnerOptions
from scheduler.timeline import timeline
from tests.bot.helpers import until

S = timedelta(seconds=1)


class FlakyLocal(LocalPlatform):
    """The local platform, refusing its next ``failures`` posts as a failing service would."""

    failures = 0

    async def _send(self, channel: str, text: str) -> SentPost:
        if self.failures > 0:
            self.failures -= 1
            raise PostError("local: could not post: the service is unavailable")
        return await super()._send(channel, text)


@dataclass
class Bot:
    store: AsyncStore
    platform: FlakyLocal
    facilitator: Facilitator
    runner: Runner
    net: LocalNetwork
    out: Path
    disk_full: int = 0  # publications that fail as on a full disk, before the disk frees up

    def bot_texts(self) -> list[str]:
        return [r["text"] for r in self.net.messages("main") if r["is_bot"]]


def chat_from(now: datetime, *, start: timedelta, duration: timedelta) -> Chat:
    begin = (now + start).replace(microsecond=0)
    return Chat(
        id="wedocs-retry",
        title="Retried steps",
        hashtag="#WeDocs",
        start=begin,
        end=begin + duration,
        timezone="Europe/London",
        questions=(Question(1, "One?", 5 * S),),
        intro="Hello",
        closing="Bye",
        grace=1 * S,
        targets=(Target("local", "main"),),
    )


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    store = AsyncStore(tmp_path / "db.sqlite")
    platform = FlakyLocal(tmp_path / "net.sqlite")
    holder: list[Bot] = []

    async def publisher(chat: Chat) -> PublishResult:
        if holder[0].disk_full > 0:
            holder[0].disk_full -= 1
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out"))
        return await store.write(publish_chat, chat, tmp_path / "out")

    facilitator = Facilitator(store, {"local": platform}, publisher=publisher, post_backoff=0.01)
    runner = Runner(
        store,
        facilitator,
        options=RunnerOptions(reminders=(), retry_base=0.2, retry_cap=1.0),
        notify=facilitator.notify_hosts,
    )
    await platform.start()
    net = LocalNetwork(tmp_path / "net.sqlite")
    b = Bot(store, platform, facilitator, runner, net, tmp_path / "out")
    holder.append(b)
    yield b
    await runner.shutdown()
    net.close()
    await platform.stop()
    await store.aclose()


def failure_lines(caplog: pytest.LogCaptureFixture, step: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.getMessage().startswith(f"chat wedocs-retry: {step} failed")
    ]


async def test_a_publish_on_a_full_disk_is_tried_again_until_it_publishes(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # A chat whose whole life is over: only its close and its publication are left to do.
    chat = chat_from(datetime.now(UTC), start=-60 * S, duration=30 * S)
    await bot.store.add_chat(chat)
    bot.disk_full = 3
    await bot.runner.start()

    async def published() -> bool:
        return (await bot.store.get_chat(chat.id)).status == ChatStatus.PUBLISHED

    for _ in range(400):
        if await published():
            break
        await asyncio.sleep(0.05)
    assert await published()
    assert bot.disk_full == 0
    texts = bot.bot_texts()
    assert sum(t.startswith("Bye") for t in texts) == 1
    assert sum(t.startswith("Thank you for joining #WeDocs") for t in texts) == 1
    assert (bot.out / f"{chat.id}.md").exists()
    lines = failure_lines(caplog, "publish")
    assert len(lines) == 3
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert (
        "(writing the transcripts: OSError: [Errno 28] No space left on device:" in lines[0].message
    )
    assert "retrying in" in lines[0].message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_question_the_network_keeps_failing_is_posted_once_it_recovers(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    chat = chat_from(datetime.now(UTC), start=2 * S, duration=20 * S)
    await bot.store.add_chat(chat)
    await bot.runner.start()
    await until("the intro", lambda: any(t.startswith("Hello") for t in bot.bot_texts()))
    # Q1's first post fails on each of the facilitator's attempts, and once more after that.
    bot.platform.failures = bot.facilitator.post_attempts + 1
    await until("Q1", lambda: any(t.startswith("Q1:") for t in bot.bot_texts()), within=30)
    assert bot.platform.failures == 0
    assert sum(t.startswith("Q1:") for t in bot.bot_texts()) == 1
    lines = failure_lines(caplog, "q1")
    assert len(lines) == 1
    assert "posting q1 on local: local: could not post: the service is unavailable" in (
        lines[0].message
    )
    posts = {p.action_key: p for p in await bot.store.posts(chat.id)}
    assert posts["q1"].status == "sent"
    assert posts["q1"].error == ""


async def test_a_question_refused_for_good_is_not_tried_again_and_the_hosts_are_told(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    chat = chat_from(datetime.now(UTC), start=-1 * S, duration=20 * S)
    await bot.store.add_chat(chat)
    told: list[str] = []

    async def note(chat: Chat, text: str) -> None:
        told.append(text)

    bot.facilitator.notifiers.append(note)
    too_long = "Q" * 5000
    await bot.facilitator.post(chat, "q1", chat.targets[0], too_long)
    posts = {p.action_key: p for p in await bot.store.posts(chat.id)}
    assert posts["q1"].status == "failed"
    assert "local" in posts["q1"].error
    assert told and told[0].startswith("Could not post q1 on local:")


async def published_chat(bot: Bot) -> Chat:
    chat = chat_from(datetime.now(UTC), start=-60 * S, duration=30 * S)
    await bot.store.add_chat(chat)
    await bot.store.set_status(chat.id, ChatStatus.PUBLISHED)
    return await bot.store.get_chat(chat.id)


async def test_a_published_chat_whose_announcement_was_left_half_done_is_announced_once(
    bot: Bot,
) -> None:
    # An older version marked the chat published, recorded the announcement's intent, and
    # crashed before posting it.
    chat = await published_chat(bot)
    await bot.store.record_intent(chat.id, "announce", "local", "main", "Thank you for joining")
    assert await bot.facilitator.finish_published() == 1
    assert await bot.facilitator.finish_published() == 0  # done: nothing more at a later start
    announced = [t for t in bot.bot_texts() if t.startswith("Thank you for joining #WeDocs")]
    assert len(announced) == 1
    posts = {p.action_key: p for p in await bot.store.posts(chat.id)}
    assert posts["announce"].status == "sent"


async def test_a_half_done_announcement_that_did_go_out_is_found_not_posted_again(
    bot: Bot,
) -> None:
    chat = await published_chat(bot)
    text = "Thank you for joining #WeDocs! Transcript of “Retried steps”: 0 participants"
    await bot.store.record_intent(chat.id, "announce", "local", "main", text)
    await bot.platform.send("main", text)  # it went out; the crash came before recording it
    assert await bot.facilitator.finish_published() == 1
    assert [t for t in bot.bot_texts() if t.startswith("Thank you")] == [text]
    posts = {p.action_key: p for p in await bot.store.posts(chat.id)}
    assert posts["announce"].status == "sent"


async def test_a_half_done_question_whose_time_passed_is_reconciled_or_skipped(
    bot: Bot,
) -> None:
    chat = chat_from(datetime.now(UTC), start=-60 * S, duration=30 * S)
    await bot.store.add_chat(chat)
    actions = {a.key: a for a in timeline(chat)}
    await bot.store.record_intent(chat.id, "intro", "local", "main", actions["intro"].text)
    await bot.platform.send("main", actions["intro"].text)  # went out before a crash
    await bot.store.record_intent(chat.id, "q1", "local", "main", actions["q1"].text)  # did not
    await bot.facilitator.skip(chat, actions["intro"], "time passed")
    await bot.facilitator.skip(chat, actions["q1"], "time passed")
    posts = {p.action_key: p.status for p in await bot.store.posts(chat.id)}
    assert posts == {"intro": "sent", "q1": "skipped"}
    assert {"intro", "q1"} <= await bot.facilitator.done_actions(chat)
