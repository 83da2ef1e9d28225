"""The Mastodon adapter with the real Mastodon.py against the loopback fake and a real store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, MessageKind, Question, Target
from archive.publish import PublishResult
from archive.store import AsyncStore
from bot.config import MastodonConfig
from bot.facilitator import Facilitator
from bot.platforms.base import PlatformServices, PostTooLong
from bot.platforms.mastodon.adapter import MastodonPlatform
from bot.platforms.mastodon.content import html_to_text
from bot.platforms.mastodon.payloads import cursor_key, idempotency_key, url_key
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.mastodon_server import TOKEN, FakeMastodon

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records
STATUSES = "/api/v1/statuses"
ENV = {"MASTODON_ACCESS_TOKEN": TOKEN}


def config_for(fake: FakeMastodon, **overrides: object) -> MastodonConfig:
    base = MastodonConfig(enabled=True, api_base_url=fake.base_url, poll_interval=3600.0)
    return replace(base, **overrides)  # type: ignore[arg-type]


def live_chat(chat_id: str = "wedocs", **overrides: object) -> Chat:
    now = datetime.now(UTC)
    chat = Chat(
        id=chat_id,
        title="Patients in QI",
        hashtag="#WeDocs",
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=55),
        timezone="Europe/London",
        questions=(Question(1, "How do you involve patients?", timedelta(minutes=5)),),
        targets=(Target("mastodon"),),
        status=ChatStatus.LIVE,
    )
    return replace(chat, **overrides)  # type: ignore[arg-type]


async def no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published in these tests")


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    """Until ``check()`` holds (the state is in the store, written by the adapter's tasks)."""
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
async def fake() -> AsyncIterator[FakeMastodon]:
    async with FakeMastodon() as server:
        yield server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "tweetchat.db")
    yield s
    await s.aclose()


async def started(fake: FakeMastodon, store: AsyncStore, **overrides: object) -> MastodonPlatform:
    platform = MastodonPlatform(
        config_for(fake, **overrides), environ=ENV, backoff=0.01, stream_timeout=2.0
    )
    platform.use_services(PlatformServices(store=store))
    await platform.start()
    return platform


@pytest.fixture
async def masto(
    fake: FakeMastodon, store: AsyncStore, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[MastodonPlatform]:
    """A started adapter whose background reads are idle (no chat in the store yet).

    The background loop reads the store once at start, then pauses: wait for that pause, or
    its read (on the store's read pool) may see a chat a test stores right after start and
    poll it at the same time as the test does."""
    platform = MastodonPlatform(
        config_for(fake, stream=False), environ=ENV, backoff=0.01, stream_timeout=2.0
    )
    platform.use_services(PlatformServices(store=store))
    paused = asyncio.Event()
    pause = platform._pause

    async def noted_pause(seconds: float) -> None:
        paused.set()
        await pause(seconds)

    monkeypatch.setattr(platform, "_pause", noted_pause)
    await platform.start()
    await asyncio.wait_for(paused.wait(), timeout=30)
    yield platform
    await platform.stop()


async def with_chat(
    store: AsyncStore, platform: MastodonPlatform, chat: Chat | None = None
) -> Facilitator:
    await store.add_chat(chat or live_chat())
    return Facilitator(store, {"mastodon": platform}, publisher=no_publish, post_backoff=0.01)


# -- connecting and limits -----------------------------------------------------------------------


async def test_start_learns_the_bot_and_the_streaming_server(
    fake: FakeMastodon, masto: MastodonPlatform
) -> None:
    assert masto.bot_user_id == fake.bot["id"]
    assert masto.domain == "social.example"
    assert masto.streaming_url == fake.base_url
    assert masto.post_limit.max_length == 500


async def test_an_instance_limit_below_the_config_wins_loudly(
    store: AsyncStore, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeMastodon(max_characters=100) as fake:
        caplog.set_level(logging.WARNING, "bot.platforms.mastodon")
        platform = await started(fake, store, stream=False)
        try:
            assert platform.post_limit.max_length == 100
            assert "allows statuses of at most 100 characters" in caplog.text
            with pytest.raises(PostTooLong, match="too long for Mastodon: 101"):
                await platform.send("", "x" * 101)
            assert fake.requests_to(STATUSES, "POST") == []
        finally:
            await platform.stop()


async def test_an_unreachable_instance_does_not_stop_the_bot(store: AsyncStore) -> None:
    config = MastodonConfig(enabled=True, api_base_url="http://127.0.0.1:9", poll_interval=3600)
    platform = MastodonPlatform(config, environ=ENV, backoff=0.01, attempts=1)
    platform.use_services(PlatformServices(store=store))
    catcher = ErrorLogCatcher()
    logging.getLogger().addHandler(catcher)
    try:
        await platform.start()  # returns: the chat goes on elsewhere
    finally:
        logging.getLogger().removeHandler(catcher)
        await platform.stop()
    assert "cannot connect" in catcher.report()


# -- posting -------------------------------------------------------------------------------------


async def test_questions_thread_under_the_intro_with_idempotency_keys(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await with_chat(store, masto)
    chat = await store.get_chat("wedocs")

    await facilitator.post(chat, "intro", Target("mastodon"), "Welcome to #WeDocs!")
    await facilitator.post(chat, "q1", Target("mastodon"), "Q1: How? #WeDocs")

    intro, q1 = fake.by_bot()
    assert intro["in_reply_to_id"] is None and q1["in_reply_to_id"] == intro["id"]
    posts = {p.action_key: p for p in await store.posts("wedocs")}
    assert posts["q1"].platform_message_id == q1["id"]
    assert await store.get_state(url_key(q1["id"])) == q1["url"]
    keys = [r.headers.get("Idempotency-Key") for r in fake.requests_to(STATUSES, "POST")]
    assert keys == [
        idempotency_key("wedocs", "intro", "mastodon:"),
        idempotency_key("wedocs", "q1", "mastodon:"),
    ]
    assert {r.headers["Authorization"] for r in fake.requests} == {f"Bearer {TOKEN}"}


async def test_a_repeated_action_gives_back_the_same_status(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform
) -> None:
    chat = live_chat()
    first = await masto.post_action(chat, "q1", "", "Q1: How? #WeDocs")
    again = await masto.post_action(chat, "q1", "", "Q1: How? #WeDocs")
    assert first.platform_message_id == again.platform_message_id
    assert len(fake.by_bot()) == 1


async def test_posts_are_public_by_default_and_visibility_is_configurable(
    fake: FakeMastodon, store: AsyncStore
) -> None:
    platform = await started(fake, store, stream=False, visibility="unlisted")
    try:
        await platform.send("", "hello #WeDocs")
    finally:
        await platform.stop()
    assert fake.by_bot()[0]["visibility"] == "unlisted"


async def test_a_rate_limit_is_waited_out_then_retried(
    fake: FakeMastodon, masto: MastodonPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    fake.rate_limit_next(STATUSES, reset_in=0.3)
    sent = await masto.send("", "Q1: anything? #WeDocs")
    assert sent.platform_message_id == fake.by_bot()[0]["id"]
    assert [r.status for r in fake.requests_to(STATUSES, "POST")] == [429, 200]


async def test_find_post_finds_our_status_by_its_text(
    fake: FakeMastodon, masto: MastodonPlatform
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    await masto.send("", "Welcome to #WeDocs!\n\nReply with A1 and #WeDocs https://example.org/x")
    found = await masto.find_post(
        "", "Welcome to #WeDocs!\n\nReply with A1 and #WeDocs https://example.org/x", before
    )
    assert found is not None and found.platform_message_id == fake.by_bot()[0]["id"]
    assert await masto.find_post("", "something else", before) is None


# -- capture -------------------------------------------------------------------------------------


async def test_the_timeline_is_read_forward_from_the_stored_cursor(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await with_chat(store, masto)
    ann = fake.add_account("ann", domain="nurses.example", display_name="Ann")
    for i in range(45):  # more than one page
        fake.post(ann, f"A1: answer {i} #wedocs")
    fake.post(ann, "untagged")
    masto.attach(facilitator)

    assert await masto.poll_once() == 45
    cursor = await store.get_state(cursor_key("#WeDocs"))
    messages = await store.messages("wedocs")
    assert len(messages) == 45 and cursor == max((m.platform_id for m in messages), key=int)
    assert messages[0].author_handle == "ann@nurses.example" and messages[0].author_name == "Ann"
    assert messages[0].permalink.startswith("https://social.example/@ann@nurses.example/")
    assert messages[0].kind == MessageKind.ANSWER and messages[0].question_keys == ("1",)

    fake.post(ann, "A1: one more #WeDocs")
    assert await masto.poll_once() == 1
    reads = fake.requests_to("/api/v1/timelines/tag/WeDocs")
    assert reads[-1].query["min_id"] == cursor  # not since_id
    assert "since_id" not in reads[-1].query


async def test_replies_without_the_hashtag_and_mentions_are_caught(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await with_chat(store, masto)
    masto.attach(facilitator)
    chat = await store.get_chat("wedocs")
    await facilitator.post(chat, "q1", Target("mastodon"), "Q1: How? #WeDocs")
    question = fake.by_bot()[0]
    bob = fake.add_account("bob", domain="library.example")
    reply = fake.post(bob, "We ask them first", in_reply_to_id=question["id"])
    optout = fake.post(bob, "@tweetchatbot !optout", visibility="direct")

    await masto.poll_once()

    captured = {m.platform_id: m for m in await store.messages("wedocs")}
    assert captured[reply["id"]].question_keys == ("1",)  # a reply to Q1 answers Q1
    assert optout["id"] not in captured
    assert "mastodon:" + bob["id"] in await store.read(lambda s: s.opted_out())


async def test_private_replies_are_never_captured(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform
) -> None:
    facilitator = await with_chat(store, masto)
    masto.attach(facilitator)
    chat = await store.get_chat("wedocs")
    await facilitator.post(chat, "q1", Target("mastodon"), "Q1: How? #WeDocs")
    bob = fake.add_account("bob")
    private = fake.post(
        bob,
        "@tweetchatbot A1: secret #WeDocs",
        in_reply_to_id=fake.by_bot()[0]["id"],
        visibility="private",
    )
    await masto.poll_once()
    assert private["id"] not in {m.platform_id for m in await store.messages("wedocs")}


async def test_html_with_mentions_links_emoji_and_script_is_literal_text(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform
) -> None:
    facilitator = await with_chat(store, masto)
    masto.attach(facilitator)
    ann = fake.add_account("ann")
    status = fake.post(
        ann,
        "@tweetchatbot A1: see https://example.org/a/really/long/path/to/a/report 🎉 "
        "<script>alert('x')</script> & <b>bold</b> #WeDocs",
    )
    await masto.poll_once()
    [message] = await store.messages("wedocs")
    assert message.platform_id == status["id"]
    assert message.text == (
        "@tweetchatbot A1: see https://example.org/a/really/long/path/to/a/report 🎉 "
        "<script>alert('x')</script> & <b>bold</b> #WeDocs"
    )
    assert message.author_handle == "ann@social.example"


async def test_existing_tells_deleted_statuses(fake: FakeMastodon, masto: MastodonPlatform) -> None:
    ann = fake.add_account("ann")
    kept, gone = fake.post(ann, "a #WeDocs"), fake.post(ann, "b #WeDocs")
    fake.delete(gone["id"])
    assert await masto.existing([kept["id"], gone["id"]]) == {kept["id"]}


# -- the stream ----------------------------------------------------------------------------------


async def test_the_stream_brings_posts_edits_and_deletions(
    fake: FakeMastodon, store: AsyncStore, no_error_logs: ErrorLogCatcher
) -> None:
    platform = await started(fake, store)
    facilitator = await with_chat(store, platform)
    platform.attach(facilitator)
    try:
        await platform.poll_once()  # sees the live chat, opens its stream
        await fake.wait_for_stream()
        ann = fake.add_account("ann")
        status = fake.post(ann, "A1: first try #WeDocs")

        async def captured() -> bool:
            return len(await store.messages("wedocs")) == 1

        await until(captured)
        fake.edit(status["id"], "A1: better answer #WeDocs")

        async def edited() -> bool:
            return (await store.messages("wedocs"))[0].text == "A1: better answer #WeDocs"

        await until(edited)
        fake.delete(status["id"])

        async def deleted() -> bool:
            return (await store.messages("wedocs"))[0].deleted

        await until(deleted)
    finally:
        await platform.stop()


async def test_a_dropped_stream_is_reopened_and_the_gap_filled_once(
    fake: FakeMastodon, store: AsyncStore, no_error_logs: ErrorLogCatcher
) -> None:
    platform = await started(fake, store)
    facilitator = await with_chat(store, platform)
    platform.attach(facilitator)
    try:
        await platform.poll_once()
        await fake.wait_for_stream()
        ann = fake.add_account("ann")
        fake.drop_streams()
        missed = fake.post(ann, "A1: while the stream was down #WeDocs", stream=False)
        await fake.wait_for_stream()  # reopened

        async def filled() -> bool:
            return missed["id"] in {m.platform_id for m in await store.messages("wedocs")}

        await until(filled)
        await platform.poll_once()  # the timeline again: still one row
        rows = [m for m in await store.messages("wedocs") if m.platform_id == missed["id"]]
        assert len(rows) == 1
        assert fake.stream_connections == 2
    finally:
        await platform.stop()


async def test_a_rate_limited_timeline_read_waits_and_captures(
    fake: FakeMastodon, store: AsyncStore, masto: MastodonPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await with_chat(store, masto)
    masto.attach(facilitator)
    ann = fake.add_account("ann")
    fake.post(ann, "A1: yes #WeDocs")
    fake.rate_limit_next("/api/v1/timelines/tag/", reset_in=0.3)

    assert await masto.poll_once() == 1
    statuses = [r.status for r in fake.requests_to("/api/v1/timelines/tag/WeDocs")]
    assert statuses[:2] == [429, 200]


async def test_find_post_without_the_instance_says_not_found(store: AsyncStore) -> None:
    config = MastodonConfig(enabled=True, api_base_url="http://127.0.0.1:9", poll_interval=3600)
    platform = MastodonPlatform(config, environ=ENV, backoff=0.01, attempts=1)
    platform.use_services(PlatformServices(store=store))
    catcher = ErrorLogCatcher()
    logging.getLogger().addHandler(catcher)
    try:
        await platform.start()
        assert await platform.find_post("", "Q1: How? #WeDocs", datetime.now(UTC)) is None
    finally:
        logging.getLogger().removeHandler(catcher)
        await platform.stop()


# -- engagement (highlights) ---------------------------------------------------------------------


async def test_engagement_reads_statuses_twenty_at_a_time(
    fake: FakeMastodon, masto: MastodonPlatform
) -> None:
    ann = fake.add_account("ann", display_name="Ann")
    ids = [str(fake.post(ann, f"A1: answer {n} #WeDocs")["id"]) for n in range(45)]
    fake.favourite(ids[0], 3, reblogs=2)
    fake.delete(ids[1])

    counts = await masto.engagement(ids)

    batches = fake.requests_to("/api/v1/statuses", "GET")
    assert len(batches) == 3  # 20 + 20 + 5 ids: Mastodon takes at most 20 a request
    assert set(counts) == set(ids) - {ids[1]}  # a deleted status is left out
    assert (counts[ids[0]].likes, counts[ids[0]].reposts) == (3, 2)
    assert (counts[ids[2]].likes, counts[ids[2]].reposts) == (0, 0)


async def test_an_instance_without_the_batch_endpoint_is_asked_status_by_status(
    fake: FakeMastodon, masto: MastodonPlatform
) -> None:
    ann = fake.add_account("ann", display_name="Ann")
    ids = [str(fake.post(ann, f"A1: answer {n} #WeDocs")["id"]) for n in range(3)]
    fake.favourite(ids[2], 5)
    fake.fail_next("GET", "/api/v1/statuses", 404)  # before Mastodon 4.3

    counts = await masto.engagement(ids)

    assert {i: c.likes for i, c in counts.items()} == {ids[0]: 0, ids[1]: 0, ids[2]: 5}
    assert all(len(fake.requests_to(f"/api/v1/statuses/{i}", "GET")) == 1 for i in ids)


async def test_hosts_are_alerted_in_a_direct_status_that_mentions_them(
    fake: FakeMastodon, store: AsyncStore, no_error_logs: ErrorLogCatcher
) -> None:
    """`notify_hosts` was the default no-op: a failing chat on Mastodon told nobody there."""
    from bot.platforms.base import ALERT_PREFIX

    ann = fake.add_account("ann")
    bob = fake.add_account("bob", domain="other.example")
    platform = await started(fake, store)
    try:
        chat = live_chat(hosts=("mastodon:ann", "@bob@other.example", "discord:1234567890"))
        posts = len(fake.requests_to(STATUSES, "POST"))

        await platform.notify_hosts(chat, "q2 has failed 3 times in a row: X refused it")

        assert len(fake.requests_to(STATUSES, "POST")) == posts + 1
        (status,) = [s for s in fake.by_bot() if s["visibility"] == "direct"]
        assert {m["id"] for m in status["mentions"]} == {ann["id"], bob["id"]}
        text = html_to_text(status["content"])
        assert text == (
            f"{ALERT_PREFIX} @ann @bob wedocs: q2 has failed 3 times in a row: X refused it"
        )
        assert status["in_reply_to_id"] is None and not status["tags"]

        # No host may be on Mastodon (a Discord id only): nothing is posted.
        await platform.notify_hosts(replace(chat, hosts=("discord:1234567890",)), "again")
        assert len(fake.requests_to(STATUSES, "POST")) == posts + 1
    finally:
        await platform.stop()


async def test_a_long_alert_is_cut_to_the_instances_limit(
    fake: FakeMastodon, store: AsyncStore
) -> None:
    fake.add_account("ann")
    platform = await started(fake, store)
    try:
        await platform.notify_hosts(live_chat(hosts=("ann",)), "error " * 200)
        (status,) = [s for s in fake.by_bot() if s["visibility"] == "direct"]
        text = html_to_text(status["content"])
        assert text.endswith("\u2026") and platform.post_limit.count(text) <= 500
    finally:
        await platform.stop()
