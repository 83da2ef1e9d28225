"""The fake Mastodon instance answers the real Mastodon.py as an instance would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from mastodon import Mastodon, MastodonRatelimitError

from tests.fakes.mastodon_server import TOKEN, FakeMastodon


@pytest.fixture
async def fake() -> AsyncIterator[FakeMastodon]:
    async with FakeMastodon() as server:
        yield server


def client(fake: FakeMastodon) -> Mastodon:
    return Mastodon(access_token=TOKEN, api_base_url=fake.base_url, ratelimit_method="throw")


async def test_instance_advertises_limit_and_loopback_streaming(fake: FakeMastodon) -> None:
    info = await asyncio.to_thread(client(fake).instance_v2)
    assert info["configuration"]["statuses"]["max_characters"] == 500
    assert info["configuration"]["urls"]["streaming"].startswith("ws://127.0.0.1:")


async def test_idempotency_key_gives_back_the_first_status(fake: FakeMastodon) -> None:
    api = client(fake)
    first = await asyncio.to_thread(api.status_post, "Q1: hi #WeDocs", idempotency_key="k1")
    again = await asyncio.to_thread(api.status_post, "Q1: hi #WeDocs", idempotency_key="k1")
    other = await asyncio.to_thread(api.status_post, "Q2: hi #WeDocs", idempotency_key="k2")
    assert first["id"] == again["id"] != other["id"]
    assert len(fake.by_bot()) == 2
    assert fake.requests_to("/api/v1/statuses", "POST")[0].headers["Idempotency-Key"] == "k1"


async def test_tag_timeline_pages_forward_with_min_id(fake: FakeMastodon) -> None:
    ann = fake.add_account("ann", domain="other.example")
    ids = [fake.post(ann, f"A{i} #WeDocs")["id"] for i in range(5)]
    fake.post(ann, "not tagged")
    api = client(fake)
    page = await asyncio.to_thread(api.timeline_hashtag, "WeDocs", min_id=ids[0], limit=2)
    assert [s["id"] for s in page] == [ids[2], ids[1]]  # the page just after min_id, newest first
    newer = await asyncio.to_thread(api.fetch_previous, page)
    assert [s["id"] for s in newer] == [ids[4], ids[3]]
    assert not await asyncio.to_thread(api.fetch_previous, newer)  # nothing newer yet
    assert page[0]["account"]["acct"] == "ann@other.example"


async def test_context_and_mention_notifications(fake: FakeMastodon) -> None:
    api = client(fake)
    question = await asyncio.to_thread(api.status_post, "Q1: hi #WeDocs")
    bob = fake.add_account("bob")
    reply = fake.post(bob, "@tweetchatbot A1: yes", in_reply_to_id=question["id"])
    context = await asyncio.to_thread(api.status_context, question["id"])
    assert [s["id"] for s in context["descendants"]] == [reply["id"]]
    notes = await asyncio.to_thread(api.notifications, types=["mention"])
    assert [n["status"]["id"] for n in notes] == [reply["id"]]


async def test_429_carries_reset_headers(fake: FakeMastodon) -> None:
    api = client(fake)
    fake.rate_limit_next("/api/v1/timelines/tag/", reset_in=30)
    with pytest.raises(MastodonRatelimitError):
        await asyncio.to_thread(api.timeline_hashtag, "WeDocs")
    assert api.ratelimit_remaining == 0 or api.ratelimit_reset > 0
    await asyncio.to_thread(api.timeline_hashtag, "WeDocs")
    assert api.ratelimit_limit == 300


async def test_stream_sends_heartbeats_and_events(fake: FakeMastodon) -> None:
    ann = fake.add_account("ann")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{fake.base_url}/api/v1/streaming/hashtag?tag=wedocs"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 200
        await fake.wait_for_stream()
        status = fake.post(ann, "A1 #WeDocs")
        fake.edit(status["id"], "A1 edited #WeDocs")
        fake.delete(status["id"])
        lines: list[str] = []
        while sum(1 for ln in lines if ln.startswith("event:")) < 3:
            lines.append((await asyncio.wait_for(resp.content.readline(), 5)).decode().strip())
    events = [ln for ln in lines if ln.startswith("event:")]
    assert events == ["event: update", "event: status.update", "event: delete"]
    assert any(ln.startswith(":") for ln in lines)  # a heartbeat comment


async def test_stream_needs_the_token(fake: FakeMastodon) -> None:
    url = f"{fake.base_url}/api/v1/streaming/hashtag?tag=wedocs"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 401
