"""The Bluesky fake answers the real atproto client as Bluesky would (XRPC and Jetstream)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from atproto import AsyncClient, models
from atproto_client.exceptions import BadRequestError, RateLimitExceededError, UnauthorizedError
from atproto_jetstream import AsyncJetstreamClient
from atproto_jetstream.exceptions import JetstreamCursorTooOldError

from tests.bot.helpers import until
from tests.fakes.bluesky_server import POST, FakeBluesky

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


async def login(fake: FakeBluesky) -> AsyncClient:
    client = AsyncClient(base_url=fake.base_url)
    await client.login(fake.bot.handle, fake.password)
    return client


async def test_login_posts_and_reads_back_the_author_feed(fake: FakeBluesky) -> None:
    client = await login(fake)
    assert client.me is not None and client.me.handle == fake.bot.handle
    record = models.AppBskyFeedPost.Record(
        text="Hello #WeDocs", created_at=client.get_current_time_iso()
    )
    created = await client.com.atproto.repo.create_record(
        models.ComAtprotoRepoCreateRecord.Data(repo=client.me.did, collection=POST, record=record)
    )
    assert created.uri.startswith(f"at://{fake.bot.did}/{POST}/")
    feed = await client.get_author_feed(fake.bot.did)
    assert [item.post.uri for item in feed.feed] == [created.uri]
    assert feed.feed[0].post.record.text == "Hello #WeDocs"


async def test_bad_password_is_unauthorized(fake: FakeBluesky) -> None:
    client = AsyncClient(base_url=fake.base_url)
    with pytest.raises(UnauthorizedError):
        await client.login(fake.bot.handle, "wrong")


async def test_an_expiring_session_is_refreshed_by_the_client(fake: FakeBluesky) -> None:
    fake.access_ttl = timedelta(minutes=10)  # inside the client's 15-minute margin
    client = await login(fake)
    await client.get_profile(fake.bot.handle)
    assert fake.sessions_refreshed >= 1  # the first call after login already refreshed
    assert fake.sessions_created == 1


async def test_a_session_string_is_reused_without_create_session(fake: FakeBluesky) -> None:
    client = await login(fake)
    again = AsyncClient(base_url=fake.base_url)
    await again.login(session_string=client.export_session_string())
    assert fake.sessions_created == 1
    assert again.me is not None and again.me.did == fake.bot.did


async def test_profiles_threads_search_and_posts(fake: FakeBluesky) -> None:
    alice = fake.add_account("alice.bsky.social", "Alice")
    client = await login(fake)
    root = fake.add_post(fake.bot, "Q1: Why? #WeDocs")
    reply = fake.add_post(alice, "Because", reply_to=root)
    tagged = fake.add_post(alice, "A1: yes #wedocs")
    hidden = fake.add_post(alice, "only in tags", tags=["WeDocs"])
    profiles = await client.get_profiles([alice.did, fake.bot.did])
    assert [p.display_name for p in profiles.profiles] == ["Alice", "Tweetchat bot"]
    thread = await client.get_post_thread(root)
    assert [r.post.uri for r in thread.thread.replies] == [reply]
    found = await client.app.bsky.feed.search_posts({"q": "#WeDocs", "limit": 2, "sort": "latest"})
    assert [p.uri for p in found.posts] == [hidden, tagged]
    assert found.cursor == "2"
    posts = await client.get_posts([root, reply])
    assert {p.uri for p in posts.posts} == {root, reply}
    fake.delete_post(reply)
    assert [p.uri for p in (await client.get_posts([root, reply])).posts] == [root]
    with pytest.raises(BadRequestError):
        await client.get_post_thread(reply)


async def test_a_429_carries_the_ratelimit_headers(fake: FakeBluesky) -> None:
    client = await login(fake)
    fake.fail_next("app.bsky.actor.getProfiles", 429)
    with pytest.raises(RateLimitExceededError) as info:
        await client.get_profiles([fake.bot.did])
    assert info.value.remaining == 0 and info.value.reset_at is not None


async def collect(fake: FakeBluesky, params: dict[str, Any], count: int) -> list[Any]:
    client = AsyncJetstreamClient(
        params=params, base_uri=fake.jetstream_url + "/xrpc", compress=False
    )
    got: list[Any] = []

    async def on_message(message: Any) -> None:
        got.append(message)
        if len(got) >= count:
            await client.stop()

    await asyncio.wait_for(client.start(on_message), timeout=10)
    return got


async def test_jetstream_replays_from_a_cursor_then_tails(fake: FakeBluesky) -> None:
    alice = fake.add_account("alice.bsky.social", "Alice")
    first = fake.add_post(alice, "one #WeDocs")
    fake.add_post(alice, "two")
    fake.edit_post(first, "one, edited #WeDocs")
    fake.delete_post(first)
    params = {"kinds": ["commit"], "collections": [POST], "cursor": 2}
    got = await collect(fake, params, 3)
    assert [(m.seq, m.operation) for m in got] == [(2, "create"), (3, "update"), (4, "delete")]
    assert got[1].record["text"] == "one, edited #WeDocs"
    assert got[2].record is None and got[2].rkey == first.rsplit("/", 1)[1]
    assert fake.subscriptions[-1]["collections"] == [POST]


async def test_jetstream_delivers_live_events(fake: FakeBluesky) -> None:
    alice = fake.add_account("alice.bsky.social", "Alice")
    task = asyncio.create_task(collect(fake, {"collections": [POST]}, 1))
    await until("the subscription", lambda: fake._subscribers)
    fake.add_post(alice, "live #WeDocs")
    [message] = await task
    assert message.record["text"] == "live #WeDocs" and message.did == alice.did


async def test_jetstream_refuses_a_cursor_below_its_floor(fake: FakeBluesky) -> None:
    alice = fake.add_account("alice.bsky.social", "Alice")
    for n in range(3):
        fake.add_post(alice, f"post {n}")
    fake.forget_events_before(3)
    with pytest.raises(JetstreamCursorTooOldError):
        await collect(fake, {"cursor": 1}, 1)


async def test_a_post_lost_in_flight_is_searchable_but_never_on_jetstream(
    fake: FakeBluesky,
) -> None:
    alice = fake.add_account("alice.bsky.social", "Alice")
    client = await login(fake)
    lost = fake.add_post(alice, "A1: lost #WeDocs", stream=False)
    kept = fake.add_post(alice, "A1: kept #WeDocs")
    found = await client.app.bsky.feed.search_posts({"q": "#WeDocs", "sort": "latest"})
    assert [p.uri for p in found.posts] == [kept, lost]
    got = await collect(fake, {"collections": [POST], "cursor": 1}, 1)
    assert [(m.seq, m.record["text"]) for m in got] == [(1, "A1: kept #WeDocs")]
