"""Before a chat is published, each of its networks is swept once more up to the end of the
window (issue 14): a post of the last seconds, after the adapter's last read, is in the
transcript. X is tested with its fake in test_x_platform; here the local network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question, Target
from archive.publish import PublishResult, publish_chat
from archive.store import AsyncStore
from bot.facilitator import Facilitator
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform, LocalUser

SAM = LocalUser("u-sam", "Sam Nurse", "samnurse")


def ended_chat(targets: tuple[Target, ...] = (Target("local", "main"),)) -> Chat:
    """A chat that ended, whose grace window closes half a minute from now."""
    now = datetime.now(UTC)
    return Chat(
        id="wedocs-sweep",
        title="Patients in QI",
        hashtag="#WeDocs",
        start=now - timedelta(minutes=60),
        end=now - timedelta(minutes=5),
        timezone="UTC",
        questions=(Question(1, "How do you involve patients?", timedelta(minutes=5)),),
        grace=timedelta(minutes=5, seconds=30),
        targets=targets,
        status=ChatStatus.ENDED,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "tweetchat.db")
    yield s
    await s.aclose()


def publisher(store: AsyncStore, out: Path) -> Callable[[Chat], Awaitable[PublishResult]]:
    """Write the transcripts as the app does."""

    async def publish(chat: Chat) -> PublishResult:
        return await store.write(publish_chat, chat, out)

    return publish


async def test_a_local_post_of_the_last_seconds_is_in_the_transcript(
    tmp_path: Path, store: AsyncStore
) -> None:
    chat = ended_chat()
    await store.add_chat(chat)
    net = LocalNetwork(tmp_path / "net.sqlite")
    early = net.post("main", SAM, "A1: early on #WeDocs", at=datetime.now(UTC))
    # Reads the network once an hour: after the backfill at start, only a sweep reads again.
    platform = LocalPlatform(tmp_path / "net.sqlite", poll_interval=3600)
    facilitator = Facilitator(store, {"local": platform}, publisher=publisher(store, tmp_path))
    await platform.start()
    try:
        await asyncio.sleep(0.1)  # the poll loop's first read (nothing new), then its sleep
        last = net.post("main", SAM, "A1: just in time #WeDocs", at=datetime.now(UTC))

        await facilitator.publish(chat, announce=False)

        transcript = (tmp_path / f"{chat.id}.md").read_text()
        assert "early on" in transcript and "just in time" in transcript
        assert {m.platform_id for m in await store.messages(chat.id)} == {early, last}
    finally:
        await platform.stop()
        net.close()


async def test_a_sweep_delivers_each_pending_event_once(tmp_path: Path, store: AsyncStore) -> None:
    chat = ended_chat()
    await store.add_chat(chat)
    net = LocalNetwork(tmp_path / "net.sqlite")
    platform = LocalPlatform(tmp_path / "net.sqlite", poll_interval=3600)
    Facilitator(store, {"local": platform}, publisher=publisher(store, tmp_path))
    await platform.start()
    try:
        await asyncio.sleep(0.1)
        posted = net.post("main", SAM, "A1: liked #WeDocs", at=datetime.now(UTC))
        net.react(posted, at=datetime.now(UTC))

        await asyncio.gather(platform.sweep(chat), platform.sweep(chat))

        [message] = await store.messages(chat.id)
        assert message.reactions == 1
    finally:
        await platform.stop()
        net.close()
