"""The Bluesky adapter's pieces: records and facets, posting, finding our posts, 429s, opt-out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.hashtags import wanted_tag
from archive.store import AsyncStore
from bot.app import App
from bot.platforms.base import PlatformServices, PostTooLong
from bot.platforms.bluesky import records
from bot.platforms.bluesky.adapter import BlueskyPlatform
from tests.bot.helpers import until
from tests.bot.networks import bluesky_config
from tests.bot.test_bluesky_chat import (
    app_config,
    bot_post,
    environ,
    rows,
    schedule,
)
from tests.fakes import conftest as fake_fixtures
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.conftest import ErrorLogCatcher

pytestmark = pytest.mark.timeout(30)

no_error_logs = fake_fixtures.no_error_logs


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


@pytest.fixture
async def platform(tmp_path: Path, fake: FakeBluesky) -> AsyncIterator[BlueskyPlatform]:
    store = AsyncStore(tmp_path / "db.sqlite")
    adapter = BlueskyPlatform(
        bluesky_config(fake), environ=environ(fake), backoff=0.01, rate_wait_cap=0.3
    )
    adapter.use_services(PlatformServices(store=store))
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()
        await store.aclose()


def test_facets_use_utf8_byte_offsets_and_skip_a_hash_inside_a_link() -> None:
    text = "Q1: Où en êtes-vous? #WeDocs 🩺 https://example.org/a#frag. #NHSQI"
    found = records.facets(text)
    data = text.encode("utf-8")
    spans = [
        (data[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in found
    ]
    assert spans == [
        ("#WeDocs", {"$type": records.TAG, "tag": "WeDocs"}),
        (
            "https://example.org/a#frag",
            {"$type": records.LINK, "uri": "https://example.org/a#frag"},
        ),
        ("#NHSQI", {"$type": records.TAG, "tag": "NHSQI"}),
    ]


def test_a_jetstream_record_becomes_a_message() -> None:
    record = {
        "$type": records.POST,
        "text": "Because patients know",
        "createdAt": "2026-12-01T20:11:00.000Z",
        "tags": ["WeDocs"],
        "reply": {
            "root": {"uri": "at://did:plc:bot/app.bsky.feed.post/intro", "cid": "c1"},
            "parent": {"uri": "at://did:plc:bot/app.bsky.feed.post/q1", "cid": "c2"},
        },
    }
    seen = datetime(2026, 12, 1, 20, 11, 1, tzinfo=UTC)
    msg = records.message(
        did="did:plc:alice",
        uri="at://did:plc:alice/app.bsky.feed.post/3kabc",
        record=record,
        handle="alice.bsky.social",
        name="Alice",
        bot_did="did:plc:bot",
        seen_at=seen,
    )
    assert msg.text == "Because patients know #WeDocs"  # the tag only in `tags`, made visible
    assert msg.reply_to == "at://did:plc:bot/app.bsky.feed.post/q1"
    assert msg.permalink == "https://bsky.app/profile/alice.bsky.social/post/3kabc"
    assert msg.created_at == datetime(2026, 12, 1, 20, 11, tzinfo=UTC)
    assert not msg.is_bot
    assert records.carries_tag(record, {"wedocs"})
    assert not records.carries_tag(record, {"hcsm"})


@pytest.mark.parametrize(
    "record",
    [
        {"text": "A1: 患者と一緒に #ＷｅＤｏｃｓ"},  # full width, as East Asian input methods type
        {"text": "A1: yes", "tags": ["WEDOCS"]},
        {"text": "A1: yes #wedocs"},
    ],
)
def test_a_tag_is_matched_by_the_one_hashtag_rule(record: dict[str, object]) -> None:
    # The same comparison as capture's (archive.hashtags.tag_key: NFKC and case folding).
    assert records.carries_tag(record, {wanted_tag("#WeDocs")})
    assert not records.carries_tag(record, {wanted_tag("#WeDocsChat")})


async def test_posts_carry_facets_and_are_found_again_in_the_author_feed(
    platform: BlueskyPlatform, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    sent = await platform.send("", "Reminder: #WeDocs starts in 10 minutes https://example.org")
    [post] = fake.bot_posts("Reminder")
    assert sent.platform_message_id == post.uri
    assert sent.permalink.endswith(f"/post/{post.uri.rsplit('/', 1)[1]}")
    assert [f["features"][0]["$type"] for f in post.record["facets"]] == [
        records.TAG,
        records.LINK,
    ]
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    found = await platform.find_post("", post.text, hour_ago)
    assert found is not None and found.platform_message_id == post.uri
    assert await platform.find_post("", "never posted", hour_ago) is None
    assert await platform.existing([post.uri, post.uri + "x"]) == {post.uri}


async def test_a_post_over_300_graphemes_never_reaches_bluesky(
    platform: BlueskyPlatform, fake: FakeBluesky
) -> None:
    with pytest.raises(PostTooLong, match="301 graphemes"):
        await platform.send("", "a" * 301)
    assert not fake.requests_to("com.atproto.repo.createRecord")


async def test_a_429_waits_for_the_ratelimit_reset_then_posts(
    platform: BlueskyPlatform, fake: FakeBluesky, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("com.atproto.repo.createRecord", 429, times=2)
    started = time.monotonic()
    await platform.send("", "Q1: still posted #WeDocs")
    assert len(fake.requests_to("com.atproto.repo.createRecord")) == 3
    assert time.monotonic() - started < 2  # RateLimit-Reset honoured, capped by rate_wait_cap
    assert "rate limited by Bluesky (429)" in caplog.text


async def test_the_session_is_stored_and_reused(
    tmp_path: Path, fake: FakeBluesky, platform: BlueskyPlatform
) -> None:
    assert platform.store is not None
    assert fake.sessions_created == 1
    again = BlueskyPlatform(bluesky_config(fake), environ={})  # no password needed now
    again.use_services(PlatformServices(store=platform.store))
    await again.start()
    await again.stop()
    assert fake.sessions_created == 1
    assert again.bot_user_id == fake.bot.did


async def test_optout_in_a_reply_to_the_bot(
    tmp_path: Path, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    config = app_config(tmp_path, fake)
    schedule(config, [{"text": "Why?", "offset": "1s"}], duration="1h", grace="5m")
    alice = fake.add_account("alice.bsky.social", "Alice")
    app = App(config, environ=environ(fake))
    await app.start()
    try:
        await until("Q1", lambda: bot_post(fake, "Q1:"))
        fake.add_post(alice, "!optout", reply_to=bot_post(fake, "Q1:"))
        await until(
            "the opt-out", lambda: rows(config, "SELECT author_id FROM optouts") == [(alice.did,)]
        )
    finally:
        await app.stop()


async def test_hosts_are_alerted_in_a_post_that_mentions_them(
    platform: BlueskyPlatform, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    """`notify_hosts` was the default no-op: a failing chat on Bluesky told nobody there.
    The alert mentions each host with a Bluesky account through a mention facet (the
    facet, not the text, is what makes Bluesky notify them)."""
    from dataclasses import replace

    from archive.models import Chat, ChatStatus, Question, Target
    from bot.platforms.base import ALERT_PREFIX

    ann, bob = fake.add_account("ann.test"), fake.add_account("bob.test")
    now = datetime.now(UTC)
    chat = Chat(
        id="wedocs-2026-12-01",
        title="Patients in QI",
        hashtag="#WeDocs",
        start=now,
        end=now + timedelta(hours=1),
        timezone="Europe/London",
        questions=(Question(1, "How?", timedelta(minutes=5)),),
        targets=(Target("bluesky"),),
        hosts=("bluesky:ann.test", "@bob.test", "nobody.test", "drjane", "discord:1234567890"),
        status=ChatStatus.LIVE,
    )

    await platform.notify_hosts(chat, "q2 has failed 3 times in a row: 503")

    (alert,) = fake.bot_posts(ALERT_PREFIX)
    assert alert.text == (
        f"{ALERT_PREFIX} @ann.test @bob.test wedocs-2026-12-01: q2 has failed 3 times in a row: 503"
    )
    raw = alert.text.encode("utf-8")
    mentions = [
        (raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(), f["features"][0])
        for f in alert.record["facets"]
    ]
    assert mentions == [
        ("@ann.test", {"$type": records.MENTION, "did": ann.did}),
        ("@bob.test", {"$type": records.MENTION, "did": bob.did}),
    ]
    assert "reply" not in alert.record  # a post of its own, in no chat's thread
    # Capture keeps the bot's own posts, but not its alerts.
    assert not platform.capture.wanted(platform.bot_user_id, alert.uri, alert.record)
    assert platform.capture.wanted(
        platform.bot_user_id, alert.uri, {**alert.record, "text": "Q1: x"}
    )

    # No host resolves to a Bluesky account: nothing is posted.
    await platform.notify_hosts(replace(chat, hosts=("nobody.test", "discord:1")), "again")
    assert len(fake.bot_posts(ALERT_PREFIX)) == 1


@pytest.mark.parametrize(
    ("cache", "names"),
    [(timedelta(0), ["Alice", "Alice Bell"]), (timedelta(hours=1), ["Alice", "Alice"])],
)
async def test_profiles_are_kept_for_profile_cache(
    tmp_path: Path, fake: FakeBluesky, cache: timedelta, names: list[str]
) -> None:
    """``bluesky.profile_cache``: a resolved name is used again until it expires."""
    store = AsyncStore(tmp_path / "db.sqlite")
    adapter = BlueskyPlatform(
        bluesky_config(fake, profile_cache=cache), environ=environ(fake), backoff=0.01
    )
    adapter.use_services(PlatformServices(store=store))
    alice = fake.add_account("alice.bsky.social", "Alice")
    await adapter.start()
    try:
        first = await adapter.profiles([alice.did])
        alice.display_name = "Alice Bell"
        second = await adapter.profiles([alice.did])
    finally:
        await adapter.stop()
        await store.aclose()
    assert [first[alice.did][1], second[alice.did][1]] == names
