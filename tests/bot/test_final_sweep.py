"""Before a chat is published, each of its networks is swept once more up to the end of the
window (issue 14): a post of the last seconds, after the adapter's last read, is in the
transcript. X is tested with its fake in test_x_platform; here the local network, Discord,
Mastodon and Bluesky (and a whole Bluesky chat in test_bluesky_chat)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question, Target
from archive.publish import PublishResult, publish_chat
from archive.store import AsyncStore
from bot.config import DiscordConfig
from bot.facilitator import RECHECK_TRIES, Facilitator, StepFailed
from bot.platforms.base import ALERT_PREFIX, PlatformServices
from bot.platforms.bluesky.adapter import BlueskyPlatform, BlueskyPostError
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform, LocalUser
from bot.platforms.mastodon.adapter import MastodonPlatform
from tests.bot.networks import MASTODON_ENV, bluesky_config, discord_platform, mastodon_config
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.mastodon_server import FakeMastodon

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


@pytest.mark.timeout(60)
async def test_a_discord_message_the_gateway_never_delivered_is_in_the_transcript(
    tmp_path: Path, store: AsyncStore
) -> None:
    # Lost in flight (or in a reconnect) just before the close: the last read of the
    # channel's history before publishing brings it, and what came live stays one row.
    async with FakeDiscord(patch_discord=False) as fake:
        chat = ended_chat((Target("discord", str(fake.channel_id)),))
        await store.add_chat(chat)
        config = DiscordConfig(
            enabled=True,
            guilds=(str(fake.guild_id),),
            api_base_url=fake.base_url,
            gateway_url=fake.gateway_url,
        )
        platform = discord_platform(config, fake)
        facilitator = Facilitator(
            store, {"discord": platform}, publisher=publisher(store, tmp_path)
        )
        platform.attach(facilitator)
        platform.use_services(PlatformServices(store=store))
        await platform.start()
        try:
            bob = fake.add_user("bob", global_name="Bob")
            live = fake.post_user_message(fake.channel_id, bob, "A1: delivered live #WeDocs")
            await until_async("the live message", lambda: _has(store, chat.id, str(live["id"])))
            lost = fake.store_message(
                fake.channel_id,
                fake.user(bob),
                "A1: lost in flight #WeDocs",
                gateway=False,
            )

            await facilitator.publish(chat, announce=False)

            transcript = (tmp_path / f"{chat.id}.md").read_text()
            assert "delivered live" in transcript and "lost in flight" in transcript, [
                (m.text, m.kind) for m in await store.messages(chat.id)
            ]
            ids = sorted(m.platform_id for m in await store.messages(chat.id))
            assert ids == sorted([str(live["id"]), str(lost["id"])])
        finally:
            await platform.stop()


@pytest.mark.timeout(60)
async def test_a_mastodon_status_the_stream_never_delivered_is_in_the_transcript(
    tmp_path: Path, store: AsyncStore
) -> None:
    async with FakeMastodon() as fake:
        chat = ended_chat((Target("mastodon"),))
        await store.add_chat(chat)
        platform = MastodonPlatform(
            replace(mastodon_config(fake), poll_interval=3600.0),
            environ=MASTODON_ENV,
            backoff=0.01,
        )
        facilitator = Facilitator(
            store, {"mastodon": platform}, publisher=publisher(store, tmp_path)
        )
        platform.attach(facilitator)
        platform.use_services(PlatformServices(store=store))
        await platform.start()
        try:
            ann = fake.add_account("ann", domain="nurses.example", display_name="Ann")
            await asyncio.sleep(0.3)  # the start's catch-up read (nothing yet), then its sleep
            late = fake.post(ann, "A1: federated late #WeDocs", stream=False)

            await facilitator.publish(chat, announce=False)

            transcript = (tmp_path / f"{chat.id}.md").read_text()
            assert "federated late" in transcript
            assert [m.platform_id for m in await store.messages(chat.id)] == [str(late["id"])]
        finally:
            await platform.stop()


@pytest.mark.timeout(60)
async def test_a_bluesky_post_jetstream_never_delivered_is_in_the_transcript_once_search_answers(
    tmp_path: Path, store: AsyncStore
) -> None:
    # Lost in flight on Jetstream: the sweep's search brings it. While the search fails
    # (502 beyond the adapter's retries), the sweep raises and publishing is tried again.
    async with FakeBluesky() as fake:
        chat = ended_chat((Target("bluesky"),))
        await store.add_chat(chat)
        platform = BlueskyPlatform(
            bluesky_config(fake),
            environ={"BLUESKY_APP_PASSWORD": fake.password},
            backoff=0.01,
            attempts=2,
        )
        facilitator = Facilitator(
            store, {"bluesky": platform}, publisher=publisher(store, tmp_path)
        )
        platform.attach(facilitator)
        platform.use_services(PlatformServices(store=store))
        await platform.start()
        try:
            ann = fake.add_account("ann.bsky.social", "Ann")
            await until_async("the subscription", _connected(platform))
            live = fake.add_post(ann, "A1: delivered live #WeDocs")
            await until_async("the live post", lambda: _has(store, chat.id, live))
            # The backfill at subscribing has searched: from now on only a sweep searches.
            await until_async("the backfill", _searched(fake))
            lost = fake.add_post(ann, "A1: lost in flight #WeDocs", stream=False)
            # A host alert of the bot that names the hashtag: never captured, swept or not.
            fake.add_post(fake.bot, f"{ALERT_PREFIX} {chat.id}: #WeDocs is down", stream=False)

            fake.fail_next("app.bsky.feed.searchPosts", 502, times=2)
            with pytest.raises(BlueskyPostError) as raised:
                await platform.sweep(chat)
            assert raised.value.transient
            assert not await _has(store, chat.id, lost)
            fake.fail_next("app.bsky.feed.searchPosts", 502, times=2 * (RECHECK_TRIES - 1))
            for _ in range(RECHECK_TRIES - 1):
                with pytest.raises(StepFailed, match="bluesky"):
                    await facilitator.publish(chat, announce=False)
            assert not (tmp_path / f"{chat.id}.md").exists()

            await facilitator.publish(chat, announce=False)  # the search answers again

            transcript = (tmp_path / f"{chat.id}.md").read_text()
            assert "delivered live" in transcript and "lost in flight" in transcript
            assert "is down" not in transcript
            assert sorted(m.platform_id for m in await store.messages(chat.id)) == sorted(
                [live, lost]
            )
        finally:
            await platform.stop()


@pytest.mark.timeout(60)
async def test_a_bluesky_sweep_reads_the_question_threads_and_raises_while_they_fail(
    tmp_path: Path, store: AsyncStore
) -> None:
    # An untagged reply to a question post is found in the post's thread (getPostThread).
    # While a thread cannot be read (502 beyond the retries) the sweep raises; a question
    # post that is gone (NotFound) is skipped.
    async with FakeBluesky() as fake:
        chat = ended_chat((Target("bluesky"),))
        await store.add_chat(chat)
        platform = BlueskyPlatform(
            bluesky_config(fake),
            environ={"BLUESKY_APP_PASSWORD": fake.password},
            backoff=0.01,
            attempts=2,
        )
        facilitator = Facilitator(
            store, {"bluesky": platform}, publisher=publisher(store, tmp_path)
        )
        platform.attach(facilitator)
        platform.use_services(PlatformServices(store=store))
        await platform.start()
        try:
            ann = fake.add_account("ann.bsky.social", "Ann")
            await until_async("the backfill", _searched(fake))
            # Not streamed: a live event of a question post would have the facilitator load
            # its capture context (kept a minute) before the post is recorded as sent just
            # below, and the untagged reply would not be known as an answer (a race seen
            # under load).
            questions = {
                "q1": fake.add_post(
                    fake.bot, "Q1: How do you involve patients? #WeDocs", stream=False
                ),
                "q2": fake.add_post(fake.bot, "Q2: What would you change? #WeDocs", stream=False),
            }
            for key, uri in questions.items():
                await store.record_intent(chat.id, key, "bluesky", "", key)
                await store.mark_sent(chat.id, key, "bluesky", "", uri, datetime.now(UTC))
            fake.delete_post(questions["q2"])
            reply = fake.add_post(
                ann, "We ask patients first", reply_to=questions["q1"], stream=False
            )

            fake.fail_next("app.bsky.feed.getPostThread", 502, times=2)
            with pytest.raises(BlueskyPostError) as raised:
                await platform.sweep(chat)
            assert raised.value.transient
            assert not await _has(store, chat.id, reply)

            await platform.sweep(chat)

            assert await _has(store, chat.id, reply)
            threads = [r.query["uri"] for r in fake.requests_to("app.bsky.feed.getPostThread")]
            assert threads[-2:] == [[questions["q1"]], [questions["q2"]]]
        finally:
            await platform.stop()


def _connected(platform: BlueskyPlatform) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return platform.connected.is_set()

    return check


def _searched(fake: FakeBluesky) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(fake.requests_to("app.bsky.feed.searchPosts"))

    return check


async def _has(store: AsyncStore, chat_id: str, platform_id: str) -> bool:
    return any(m.platform_id == platform_id for m in await store.messages(chat_id))


async def until_async(what: str, check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    for _ in range(int(within / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
