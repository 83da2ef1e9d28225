"""The Discord adapter alone: the real discord.py client against the fake Discord server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, IncomingMessage, Question, Target
from archive.publish import PublishResult
from archive.store import AsyncStore
from bot.config import ConfigError, DiscordConfig
from bot.facilitator import Facilitator
from bot.platforms.base import (
    Event,
    MessageDeleted,
    Platform,
    PlatformServices,
    PostError,
    ReactionChanged,
)
from bot.platforms.discord.adapter import DiscordPlatform, api_base
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(30)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord


class Recorder:
    """An event sink that keeps what the adapter emits, so tests can await it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.reconnects = 0
        self.changed = asyncio.Event()

    async def handle(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def reconnected(self, platform: Platform) -> None:
        self.reconnects += 1
        self.changed.set()

    async def wait_for(self, predicate, what: str):  # type: ignore[no-untyped-def]
        async with asyncio.timeout(5):
            while not (found := predicate()):
                self.changed.clear()
                await self.changed.wait()
        return found

    def messages(self, platform_id: str) -> list[IncomingMessage]:
        return [
            e
            for e in self.events
            if isinstance(e, IncomingMessage) and e.platform_id == platform_id
        ]


def make_platform(config: DiscordConfig | None = None) -> DiscordPlatform:
    return DiscordPlatform(
        config or DiscordConfig(enabled=True),
        environ={"DISCORD_TOKEN": "fake-bot-token"},
        backoff=0.01,
        guild_ready_timeout=0.05,
        ready_timeout=5,
    )


@pytest.fixture
async def started(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[tuple[DiscordPlatform, Recorder]]:
    platform = make_platform()
    sink = Recorder()
    platform.attach(sink)
    await platform.start()
    try:
        yield platform, sink
    finally:
        await platform.stop()


def chat_in(channel: int, *, start: datetime | None = None) -> Chat:
    start = start or datetime.now(UTC)
    return Chat(
        id="wedocs-test",
        title="Patients in QI",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/London",
        questions=(Question(1, "One?", timedelta(minutes=5)),),
        targets=(Target("discord", str(channel)),),
    )


# -- connecting ---------------------------------------------------------------------------


async def test_start_connects_and_knows_the_bot_user(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, sink = started
    assert platform.bot_user_id == str(fake_discord.bot_user.id)
    assert sink.reconnects == 1  # the start-up backfill


async def test_wrong_token_is_a_clear_start_failure(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    no_error_logs.allow(r"bot\.platforms\.discord\.adapter$")
    platform = DiscordPlatform(
        DiscordConfig(enabled=True), environ={"DISCORD_TOKEN": "wrong"}, guild_ready_timeout=0.05
    )
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN was refused"):
        await platform.start()


async def test_missing_token_names_the_variable(fake_discord: FakeDiscord) -> None:
    platform = DiscordPlatform(DiscordConfig(enabled=True, token_env="MY_TOKEN"), environ={})
    with pytest.raises(ConfigError, match="MY_TOKEN"):
        await platform.start()


async def test_configured_urls_are_used_by_this_client_only(
    no_error_logs: ErrorLogCatcher,
) -> None:
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord(patch_discord=False) as fake:
        config = DiscordConfig(
            enabled=True, api_base_url=fake.base_url, gateway_url=fake.gateway_url
        )
        platform = make_platform(config)
        await platform.start()
        try:
            # Connected, posted and read through the fake ...
            assert platform.bot_user_id == str(fake.bot_user.id)
            sent = await platform.send(str(fake.channel_id), "hello through the fake")
            assert [m["id"] for m in fake.messages(fake.channel_id)] == [sent.platform_message_id]
            # ... while discord.py's process-wide defaults still point at Discord.
            assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before
        finally:
            await platform.stop()
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before


def test_api_base_accepts_a_host_or_a_versioned_path() -> None:
    assert api_base("http://127.0.0.1:81") == "http://127.0.0.1:81/api/v10"
    assert api_base("https://proxy.example/api/v10/") == "https://proxy.example/api/v10"


async def test_resume_after_a_disconnect_asks_for_a_backfill(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    _, sink = started
    fake_discord.disconnect_all()
    await sink.wait_for(lambda: sink.reconnects == 2, "a backfill after resuming")
    assert fake_discord.gateway.resume_count == 1


# -- capture events -------------------------------------------------------------------------


async def test_a_reply_becomes_an_incoming_message(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    _, sink = started
    alice = fake_discord.add_user("alice", global_name="Alice")
    question = fake_discord.post_user_message(fake_discord.channel_id, fake_discord.owner, "Q1")
    posted = fake_discord.post_user_message(
        fake_discord.channel_id, alice, "We ask patients first", reply_to=question["id"]
    )
    (msg,) = await sink.wait_for(lambda: sink.messages(posted["id"]), "the reply")
    assert (msg.platform, msg.channel, msg.author_id) == (
        "discord",
        str(fake_discord.channel_id),
        str(alice.id),
    )
    assert (msg.author_name, msg.author_handle) == ("Alice", "alice")
    assert msg.reply_to == question["id"]
    assert msg.text == "We ask patients first"
    assert msg.created_at.tzinfo is not None and not msg.is_bot


async def test_a_message_in_a_thread_counts_for_its_parent_channel(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    _, sink = started
    alice = fake_discord.add_user("alice")
    thread = fake_discord.create_thread(fake_discord.channel_id, "chat", owner=alice)
    posted = fake_discord.post_user_message(int(thread["id"]), alice, "A1: yes #WeDocs")
    (msg,) = await sink.wait_for(lambda: sink.messages(posted["id"]), "the thread message")
    assert msg.channel == str(fake_discord.channel_id)


async def test_an_edit_of_an_uncached_message_is_reported(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    alice = fake_discord.add_user("alice")
    before = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: draft #WeDocs")
    platform, sink = make_platform(), Recorder()
    platform.attach(sink)
    await platform.start()
    try:
        fake_discord.edit_message(fake_discord.channel_id, int(before["id"]), "A1: final #WeDocs")
        (msg,) = await sink.wait_for(lambda: sink.messages(before["id"]), "the edit")
        assert msg.text == "A1: final #WeDocs"
        assert msg.edited_at is not None
    finally:
        await platform.stop()


async def test_deletion_and_reactions_are_reported(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    _, sink = started
    alice = fake_discord.add_user("alice")
    posted = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: hi #WeDocs")
    mid = int(posted["id"])
    fake_discord.add_reaction(fake_discord.channel_id, mid, alice, "❤️")
    fake_discord.remove_reaction(fake_discord.channel_id, mid, alice, "❤️")
    fake_discord.delete_message(fake_discord.channel_id, mid)
    deleted = await sink.wait_for(
        lambda: [e for e in sink.events if isinstance(e, MessageDeleted)], "the deletion"
    )
    assert deleted[0].platform_id == posted["id"]
    reactions = [e for e in sink.events if isinstance(e, ReactionChanged)]
    assert [(r.platform_id, r.delta) for r in reactions] == [(posted["id"], 1), (posted["id"], -1)]


async def test_the_bots_own_post_is_marked_as_the_bots(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, sink = started
    sent = await platform.send(str(fake_discord.channel_id), "Q1: One? #WeDocs")
    (msg,) = await sink.wait_for(lambda: sink.messages(sent.platform_message_id), "own post")
    assert msg.is_bot


# -- posting ------------------------------------------------------------------------------


async def test_send_posts_once_and_returns_the_id(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    sent = await platform.send(str(fake_discord.channel_id), "Q1: One? #WeDocs")
    (stored,) = fake_discord.messages(fake_discord.channel_id)
    assert (stored["id"], stored["content"]) == (sent.platform_message_id, "Q1: One? #WeDocs")
    assert sent.permalink.endswith(f"/{fake_discord.channel_id}/{sent.platform_message_id}")


async def test_send_retries_server_errors_then_posts_once(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    fake_discord.fail_next("POST /channels/*/messages", 500, times=2)
    await platform.send(str(fake_discord.channel_id), "Q2: Two? #WeDocs")
    statuses = [r.status for r in fake_discord.requests_to("POST /channels/*/messages")]
    assert statuses == [500, 500, 200]
    assert len(fake_discord.messages(fake_discord.channel_id)) == 1


async def test_send_gives_up_after_bounded_retries(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    fake_discord.fail_next("POST /channels/*/messages", 503, times=10)
    with pytest.raises(PostError, match="4 attempts"):
        await platform.send(str(fake_discord.channel_id), "Q2")
    assert len(fake_discord.requests_to("POST /channels/*/messages")) == 4


async def test_send_to_an_unknown_channel_fails_without_retrying(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    with pytest.raises(PostError, match="404"):
        await platform.send("123456789012345678", "Q1")
    assert len(fake_discord.requests_to("GET /channels/123456789012345678")) == 1


async def test_send_file_attaches_the_bytes(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    await platform.send_file(str(fake_discord.channel_id), "Transcript", "chat.md", b"# A1: yes")
    (stored,) = fake_discord.attachments(fake_discord.channel_id)
    assert (stored.filename, stored.data) == ("chat.md", b"# A1: yes")


# -- reading ------------------------------------------------------------------------------


async def test_history_returns_the_window_oldest_first(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    alice = fake_discord.add_user("alice")
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(150):
        fake_discord.post_user_message(
            fake_discord.channel_id, alice, f"m{i}", at=start + timedelta(seconds=i)
        )
    got = await platform.history(
        str(fake_discord.channel_id),
        start + timedelta(seconds=9.5),
        start + timedelta(seconds=140.5),
    )
    assert [m.text for m in got] == [f"m{i}" for i in range(10, 141)]


async def test_find_post_finds_only_the_bots_own_post(
    fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    channel = str(fake_discord.channel_id)
    alice = fake_discord.add_user("alice")
    since = datetime.now(UTC) - timedelta(minutes=1)
    fake_discord.post_user_message(fake_discord.channel_id, alice, "Q1: One? #WeDocs")
    assert await platform.find_post(channel, "Q1: One? #WeDocs", since) is None
    sent = await platform.send(channel, "Q1: One? #WeDocs")
    found = await platform.find_post(channel, "Q1: One? #WeDocs", since)
    assert found is not None and found.platform_message_id == sent.platform_message_id


async def test_existing_reports_what_was_deleted_while_away(
    tmp_path: Path, fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    channel = str(fake_discord.channel_id)
    store = AsyncStore(tmp_path / "db.sqlite")
    try:
        platform.use_services(PlatformServices(store=store))
        chat = chat_in(fake_discord.channel_id, start=datetime.now(UTC) - timedelta(minutes=1))
        await store.add_chat(chat)
        alice = fake_discord.add_user("alice")
        kept = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: kept #WeDocs")
        gone = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: gone #WeDocs")
        facilitator = Facilitator(store, {}, publisher=_no_publish)
        window = await platform.history(channel, chat.start, datetime.now(UTC))
        written = await facilitator.capture_messages(window)
        assert written == 2
        fake_discord.delete_message(fake_discord.channel_id, int(gone["id"]))
        assert await platform.existing([kept["id"], gone["id"]]) == {kept["id"]}
    finally:
        await store.aclose()


async def test_reactions_come_with_the_deletion_recheck_at_publishing(
    tmp_path: Path, fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    platform, _ = started
    channel = str(fake_discord.channel_id)
    store = AsyncStore(tmp_path / "db.sqlite")
    try:
        platform.use_services(PlatformServices(store=store))
        chat = chat_in(fake_discord.channel_id, start=datetime.now(UTC) - timedelta(minutes=1))
        await store.add_chat(chat)
        alice, bob, cara = (fake_discord.add_user(n) for n in ("alice", "bob", "cara"))
        liked = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: yes #WeDocs")
        plain = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: no #WeDocs")
        facilitator = Facilitator(store, {}, publisher=_no_publish)
        await facilitator.capture_messages(
            await platform.history(channel, chat.start, datetime.now(UTC))
        )
        for fan, emoji in ((bob, "❤️"), (cara, "❤️"), (bob, "👍")):
            fake_discord.add_reaction(fake_discord.channel_id, int(liked["id"]), fan, emoji)
        ids = [liked["id"], plain["id"]]

        assert await platform.existing(ids) == set(ids)
        reads = len(fake_discord.requests_to("GET /channels/*/messages"))
        counts = await platform.engagement(ids)

        # The reactions array's counts, summed over emoji; nothing read a second time.
        assert {i: c.reactions for i, c in counts.items()} == {liked["id"]: 3, plain["id"]: 0}
        assert len(fake_discord.requests_to("GET /channels/*/messages")) == reads
        # Asked alone, it reads the channel's history itself.
        fake_discord.remove_reaction(fake_discord.channel_id, int(liked["id"]), bob, "👍")
        again = await platform.engagement([liked["id"]])
        assert again[liked["id"]].reactions == 2
        assert len(fake_discord.requests_to("GET /channels/*/messages")) > reads
    finally:
        await store.aclose()


async def _no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published in these tests")


# -- thread mode --------------------------------------------------------------------------


async def test_thread_mode_opens_a_thread_on_the_intro_and_posts_the_chat_there(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    platform = make_platform(DiscordConfig(enabled=True, capture_mode="thread"))
    sink = Recorder()
    store = AsyncStore(tmp_path / "db.sqlite")
    try:
        platform.use_services(PlatformServices(store=store))
        chat = chat_in(fake_discord.channel_id)
        await store.add_chat(chat)
        facilitator = Facilitator(store, {"discord": platform}, publisher=_no_publish)
        platform.attach(sink)
        await platform.start()
        target = chat.targets[0]
        intro = await facilitator.post(chat, "intro", target, "Welcome to #WeDocs")
        q1 = await facilitator.post(chat, "q1", target, "Q1: One? #WeDocs")
        assert intro is not None and q1 is not None
        thread_id = int(intro.platform_message_id)  # a thread's id is its starter message's
        assert [m["content"] for m in fake_discord.messages(fake_discord.channel_id)] == [
            "Welcome to #WeDocs"
        ]
        assert [m["id"] for m in fake_discord.messages(thread_id)] == [q1.platform_message_id]
        alice = fake_discord.add_user("alice")
        answer = fake_discord.post_user_message(
            thread_id, alice, "A1: yes", reply_to=q1.platform_message_id
        )
        (msg,) = await sink.wait_for(lambda: sink.messages(answer["id"]), "the answer")
        assert msg.channel == target.channel
        window = await platform.history(
            target.channel, chat.start - timedelta(minutes=1), datetime.now(UTC)
        )
        assert answer["id"] in [m.platform_id for m in window]
    finally:
        await platform.stop()
        await store.aclose()


async def test_announce_posts_a_summary_embed_with_the_transcript(
    tmp_path: Path, fake_discord: FakeDiscord, started: tuple[DiscordPlatform, Recorder]
) -> None:
    from archive.publish import publish_chat
    from archive.store import Store

    platform, _ = started
    store = Store(tmp_path / "db.sqlite")
    try:
        chat = store.add_chat(chat_in(fake_discord.channel_id))
        result = publish_chat(store, chat, tmp_path / "out")
    finally:
        store.close()
    services = AsyncStore(tmp_path / "db.sqlite")
    try:
        platform.use_services(
            PlatformServices(store=services, web_base_url="https://chats.example")
        )
        await platform.announce(chat, str(fake_discord.channel_id), result)
    finally:
        await services.aclose()
    (message,) = fake_discord.messages(fake_discord.channel_id)
    (embed,) = message["embeds"]
    assert embed["url"] == f"https://chats.example/chats/{chat.id}"
    assert [f["name"] for f in embed["fields"]][:3] == ["Participants", "Answers", "Messages"]
    (stored,) = fake_discord.attachments(fake_discord.channel_id)
    assert stored.filename == f"{chat.id}.md" and "Patients in QI" in stored.text


async def test_announce_channel_takes_the_transcript_and_the_host_alerts(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    """``announce_channel``: the summary and a host alert go there, not to the chat's channel."""
    from archive.publish import publish_chat
    from archive.store import Store

    announcements = fake_discord.add_text_channel("announcements")
    platform = make_platform(DiscordConfig(enabled=True, announce_channel=str(announcements)))
    platform.attach(Recorder())
    store = Store(tmp_path / "db.sqlite")
    try:
        chat = store.add_chat(chat_in(fake_discord.channel_id))
        result = publish_chat(store, chat, tmp_path / "out")
    finally:
        store.close()
    services = AsyncStore(tmp_path / "db.sqlite")
    await platform.start()
    try:
        platform.use_services(PlatformServices(store=services))
        await platform.announce(chat, str(fake_discord.channel_id), result)
        await platform.notify_hosts(chat, "Q1 could not be posted")
    finally:
        await platform.stop()
        await services.aclose()
    assert fake_discord.messages(fake_discord.channel_id) == []
    summary, alert = fake_discord.messages(announcements)
    assert [f["name"] for f in summary["embeds"][0]["fields"]][:1] == ["Participants"]
    assert fake_discord.attachments(announcements)[0].filename == f"{chat.id}.md"
    assert alert["content"].endswith(f"{chat.id}: Q1 could not be posted")


def test_start_up_says_nothing_about_voice(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    make_platform(DiscordConfig(enabled=True))
    assert not [r for r in caplog.records if "voice" in r.getMessage()], caplog.text


async def test_health_says_when_the_gateway_is_not_connected(fake_discord: FakeDiscord) -> None:
    platform = make_platform(DiscordConfig(enabled=True))
    assert platform.health() == "gateway not connected"  # not started yet
    await platform.start()
    try:
        assert platform.health() is None
    finally:
        await platform.stop()
    assert platform.health() == "gateway not connected"
