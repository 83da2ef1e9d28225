"""The X adapter with the real tweepy AsyncClient against the loopback X fake and a real store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind, Question, Target
from archive.publish import PublishResult, publish_chat
from archive.stats import compute_stats
from archive.store import AsyncStore
from archive.transcripts.markdown import render_markdown
from bot.config import XConfig, config_from_dict
from bot.facilitator import Facilitator
from bot.platforms.base import PlatformServices, PostTooLong
from bot.platforms.local.adapter import LocalPlatform
from bot.platforms.registry import post_limits
from bot.platforms.x.adapter import XPlatform, XPostError
from bot.platforms.x.cost import XUsage, cost_line, stored_cost_note
from bot.platforms.x.length import weighted_length
from bot.platforms.x.search import MAX_QUERIES, MAX_QUERY, search_queries
from scheduler.plan import PlanError, parse_chat_plan
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.x_server import FakeX

ALICE = {"id": "2001", "username": "alice", "name": "Alice A."}
BOB = {"id": "2002", "username": "bob_qi", "name": "Bob"}
POST = "/2/tweets"
SEARCH = "/2/tweets/search/recent"

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records


def environ_for(fake: FakeX) -> dict[str, str]:
    creds = fake.credentials
    return {
        "X_BEARER_TOKEN": creds["bearer_token"],
        "X_CONSUMER_KEY": creds["consumer_key"],
        "X_CONSUMER_SECRET": creds["consumer_secret"],
        "X_ACCESS_TOKEN": creds["access_token"],
        "X_ACCESS_TOKEN_SECRET": creds["access_token_secret"],
    }


def x_config(fake: FakeX, **overrides: object) -> XConfig:
    return replace(
        XConfig(enabled=True, api_base_url=fake.base_url, poll_interval=0.05, max_results=10),
        **overrides,  # type: ignore[arg-type]
    )


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
        targets=(Target("x"),),
        status=ChatStatus.LIVE,
    )
    return replace(chat, **overrides)  # type: ignore[arg-type]


async def no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published in these tests")


@pytest.fixture
async def fake() -> AsyncIterator[FakeX]:
    async with FakeX() as server:
        yield server


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "tweetchat.db")
    yield s
    await s.aclose()


@pytest.fixture
async def x(
    fake: FakeX, store: AsyncStore, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[XPlatform]:
    """A started adapter whose background polling is idle (no chat in the store yet)."""
    platform = XPlatform(
        x_config(fake, poll_interval=3600.0), environ=environ_for(fake), backoff=0.01
    )
    platform.use_services(PlatformServices(store=store))
    # Both background loops (capture, deletion re-checks) run once at start, then pause
    # for an hour. Wait for that first round: it reads the store on the read pool, which
    # may otherwise see a chat the test stores right after start and poll it as well.
    paused = asyncio.Semaphore(0)
    pause = platform._pause

    async def noted_pause(seconds: float) -> None:
        paused.release()
        await pause(seconds)

    monkeypatch.setattr(platform, "_pause", noted_pause)
    await platform.start()
    for _ in range(2):
        await asyncio.wait_for(paused.acquire(), timeout=10)
    yield platform
    await platform.stop()


async def with_chat(store: AsyncStore, x: XPlatform, chat: Chat | None = None) -> Facilitator:
    """Store a live X chat and attach a real facilitator as the adapter's sink."""
    await store.add_chat(chat or live_chat())
    return Facilitator(store, {"x": x}, publisher=no_publish, post_backoff=0.01)


# -- posting -------------------------------------------------------------------------------------


async def test_send_posts_a_standalone_post_as_the_host_with_user_context(
    fake: FakeX, x: XPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    sent = await x.send("", "Q1: How do you involve patients? #WeDocs")

    [post] = fake.posts_by_host()
    assert sent.platform_message_id == post.id
    assert post.reply_to is None and post.quote_of is None
    [request] = fake.requests_to(POST, "POST")
    assert request.auth == "oauth1"
    assert request.json == {"text": "Q1: How do you involve patients? #WeDocs"}


async def test_facilitator_records_the_x_post_ids_of_intro_and_question(
    fake: FakeX, store: AsyncStore, x: XPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await with_chat(store, x)
    chat = await store.get_chat("wedocs")

    await facilitator.post(chat, "intro", Target("x"), "Welcome to #WeDocs!")
    await facilitator.post(chat, "q1", Target("x"), "Q1: How do you involve patients? #WeDocs")

    posts = {p.action_key: p for p in await store.posts("wedocs")}
    host_posts = fake.posts_by_host()
    assert [posts["intro"].platform_message_id, posts["q1"].platform_message_id] == [
        t.id for t in host_posts
    ]
    assert {p.status for p in posts.values()} == {"sent"}


async def test_a_post_too_long_by_x_weighting_is_refused_without_calling_x(
    fake: FakeX, x: XPlatform
) -> None:
    text = "Q1: " + "患者" * 70 + " #WeDocs"  # 152 characters, 292 as X counts them
    assert len(text) < 280 < weighted_length(text)

    with pytest.raises(PostTooLong, match="too long for X: 292"):
        await x.send("", text)
    assert fake.requests_to(POST) == []


def test_a_question_too_long_for_x_is_named_when_the_plan_is_read() -> None:
    long_question = "How " + "very " * 60 + "much?"
    data = {
        "title": "Patients in QI",
        "hashtag": "#WeDocs",
        "start": "2030-03-05T20:00:00",
        "timezone": "Europe/London",
        "targets": [{"platform": "x"}],
        "questions": ["Short one?", long_question],
    }

    with pytest.raises(PlanError) as caught:
        parse_chat_plan(data, post_limits=post_limits(config_from_dict({}, base_dir=Path("."))))
    assert "questions[1].text (Q2): too long for X" in str(caught.value)


# -- failures ------------------------------------------------------------------------------------


async def test_unauthorized_gives_up_at_once_naming_the_credentials(
    fake: FakeX, x: XPlatform
) -> None:
    fake.fail_next(POST, 401, method="POST")

    with pytest.raises(XPostError, match=r"X rejected the credentials.*X_CONSUMER_KEY"):
        await x.send("", "Q1: anything? #WeDocs")
    assert len(fake.requests_to(POST, "POST")) == 1


async def test_exhausted_credits_give_up_at_once(fake: FakeX, x: XPlatform) -> None:
    fake.fail_next(POST, 402, method="POST")

    with pytest.raises(XPostError, match="X credits are exhausted"):
        await x.send("", "Q1: anything? #WeDocs")
    assert len(fake.requests_to(POST, "POST")) == 1


async def test_a_rate_limit_with_a_reset_header_is_waited_out_then_retried(
    fake: FakeX, x: XPlatform
) -> None:
    reset = int(time.time()) + 2  # at least a whole second away, whatever the fraction now
    fake.fail_next(POST, 429, headers={"x-rate-limit-reset": str(reset)}, method="POST")
    started = time.monotonic()

    await x.send("", "Q1: anything? #WeDocs")

    assert time.time() >= reset - 0.05  # waited for the reset, not the tiny back-off
    assert time.monotonic() - started < 5
    assert [r.status for r in fake.requests_to(POST, "POST")] == [429, 201]


async def test_a_rate_limit_without_a_reset_header_is_retried_with_back_off(
    fake: FakeX, x: XPlatform
) -> None:
    fake.fail_next(POST, 429, headers={}, method="POST")

    await x.send("", "Q1: anything? #WeDocs")

    assert [r.status for r in fake.requests_to(POST, "POST")] == [429, 201]


async def test_a_reset_far_away_is_capped(fake: FakeX, store: AsyncStore) -> None:
    platform = XPlatform(x_config(fake), environ=environ_for(fake), backoff=0.01, rate_wait_cap=0.2)
    await platform.start()
    try:
        reset = str(int(time.time()) + 3600)
        fake.fail_next(POST, 429, headers={"x-rate-limit-reset": reset}, method="POST")
        started = time.monotonic()
        sent = await platform.send("", "Q1: anything? #WeDocs")
    finally:
        await platform.stop()
    elapsed = time.monotonic() - started
    assert 0.18 <= elapsed < 2  # waited the 0.2 s cap: the hint, capped, not the tiny back-off
    assert [r.status for r in fake.requests_to(POST, "POST")] == [429, 201]
    assert [t.id for t in fake.posts_by_host()] == [sent.platform_message_id]


async def test_server_errors_are_retried_within_bounds(fake: FakeX, x: XPlatform) -> None:
    fake.fail_next(POST, 503, times=2, method="POST")

    await x.send("", "Q1: anything? #WeDocs")

    assert [r.status for r in fake.requests_to(POST, "POST")] == [503, 503, 201]


async def test_server_errors_give_up_after_the_last_attempt(fake: FakeX, x: XPlatform) -> None:
    fake.fail_next(POST, 503, times=10, method="POST")

    with pytest.raises(XPostError, match="posting failed after 4 attempts"):
        await x.send("", "Q1: anything? #WeDocs")
    assert len(fake.requests_to(POST, "POST")) == 4


async def test_a_dropped_connection_is_retried(fake: FakeX, x: XPlatform) -> None:
    fake.drop_next(POST, method="POST")

    sent = await x.send("", "Q1: anything? #WeDocs")

    assert [r.status for r in fake.requests_to(POST, "POST")] == [0, 201]
    assert [t.id for t in fake.posts_by_host()] == [sent.platform_message_id]


async def test_when_x_refuses_the_host_is_told_and_the_chat_goes_on_locally(
    fake: FakeX, store: AsyncStore, x: XPlatform, tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> None:
    no_error_logs.allow(r"bot\.facilitator$")  # the failure is logged at ERROR by design
    local = LocalPlatform(tmp_path / "local.db")
    await local.start()
    try:
        chat = live_chat(targets=(Target("x"), Target("local", "main")))
        await store.add_chat(chat)
        facilitator = Facilitator(
            store, {"x": x, "local": local}, publisher=no_publish, post_backoff=0.01
        )
        told: list[str] = []

        async def notify(chat: Chat, text: str) -> None:
            told.append(text)

        facilitator.notifiers.append(notify)
        fake.fail_next(POST, 402, method="POST")

        for target in chat.targets:
            await facilitator.post(chat, "q1", target, "Q1: anything? #WeDocs")
    finally:
        await local.stop()

    statuses = {p.platform: p.status for p in await store.posts(chat.id)}
    assert statuses == {"x": "failed", "local": "sent"}
    assert len(told) == 1 and "q1 on x" in told[0] and "X credits are exhausted" in told[0]
    assert len(fake.requests_to(POST, "POST")) == 1


# -- capture -------------------------------------------------------------------------------------


async def test_a_poll_captures_hashtag_posts_with_author_and_permalink(
    fake: FakeX, store: AsyncStore, x: XPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    await with_chat(store, x)
    tweet = fake.add_tweet(ALICE, "A1: We co-design with @bob_qi #WeDocs")

    assert await x.poll_once() == 1

    [msg] = await store.messages("wedocs")
    assert (msg.platform_id, msg.author_handle, msg.author_name) == (tweet, "alice", "Alice A.")
    assert msg.kind == MessageKind.ANSWER and msg.question_keys == ("1",)
    assert msg.permalink == f"https://x.com/alice/status/{tweet}"
    assert msg.mentions == ("bob_qi",)


async def test_text_is_stored_as_written_though_x_escapes_it_and_shortens_links(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    # X returns "&", "<", ">" as HTML entities and every link as t.co (entities.urls keeps
    # the original): the transcript must quote what the participant wrote.
    await with_chat(store, x)
    written = "A1: patients & carers <first> https://example.org/qi?a=1&b=2 #WeDocs"
    fake.add_tweet(ALICE, written)

    assert await x.poll_once() == 1

    [msg] = await store.messages("wedocs")
    assert msg.text == written
    # The fake is faithful: what went over the wire was escaped and shortened.
    async with fake.session().get(
        f"{fake.base_url}/2/tweets",
        params={"ids": msg.platform_id},
        headers={"Authorization": f"Bearer {fake.bearer_token}"},
    ) as response:
        wire = (await response.json())["data"][0]["text"]
    assert "&amp; carers &lt;first&gt;" in wire and "https://t.co/" in wire


async def test_find_post_finds_our_post_in_the_timeline_as_x_returns_it(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    text = "Q1: Patients & carers: what works? https://example.org/guide #WeDocs"
    sent = await x.send("", text)
    fake.add_tweet(ALICE, text)  # the same words by someone else are not ours

    found = await x.find_post("", text, since)

    assert found is not None and found.platform_message_id == sent.platform_message_id
    assert found.permalink == f"https://x.com/i/status/{sent.platform_message_id}"
    assert await x.find_post("", "Q2: never posted #WeDocs", since) is None
    request = fake.requests_to(f"/2/users/{fake.host_user['id']}/tweets")[0]
    assert request.query["exclude"] == "retweets" and request.auth == "bearer"


async def test_find_post_raises_when_x_cannot_be_asked(fake: FakeX, x: XPlatform) -> None:
    # Not knowing is not "not posted": the facilitator must keep the intent, never repost.
    fake.fail_next(f"/2/users/{fake.host_user['id']}/tweets", 503, times=10)

    with pytest.raises(XPostError):
        await x.find_post("", "Q1: anything #WeDocs", datetime.now(UTC) - timedelta(hours=1))


async def test_a_full_width_hashtag_that_x_returns_is_captured(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    # Issue 14: typed with an East Asian input method; X's search treats it as #WeDocs.
    await with_chat(store, x)
    tweet = fake.add_tweet(ALICE, "A1: 患者と一緒に #ＷｅＤｏｃｓ")

    assert await x.poll_once() == 1

    [msg] = await store.messages("wedocs")
    assert (msg.platform_id, msg.question_keys) == (tweet, ("1",))


async def test_a_post_whose_author_is_missing_from_includes_links_by_id(
    fake: FakeX, store: AsyncStore, x: XPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    # Issue 14: X answered with the post but without its author in includes.users (a
    # partial error instead); the transcript showed "Unknown" and no link.
    await with_chat(store, x)
    fake.users_left_out.add(ALICE["id"])
    tweet = fake.add_tweet(ALICE, "A1: We co-design #WeDocs")

    assert await x.poll_once() == 1

    [msg] = await store.messages("wedocs")
    assert msg.permalink == f"https://x.com/i/status/{tweet}"
    assert (msg.author_id, msg.author_handle, msg.author_name) == ("2001", "", "X user 2001")
    chat = await store.get_chat("wedocs")
    transcript = render_markdown(chat, [msg], compute_stats(chat, iter([msg])))
    assert "Unknown" not in transcript and "**X user 2001**" in transcript
    assert f"https://x.com/i/status/{tweet}" in transcript


async def test_the_search_asks_for_the_fields_capture_needs_without_retweets(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)

    await x.poll_once()

    [request] = fake.requests_to(SEARCH)
    assert request.auth == "bearer"
    assert request.query["query"] == "#WeDocs -is:retweet"
    assert set(request.query["expansions"].split(",")) == {"author_id", "referenced_tweets.id"}
    assert {"created_at", "referenced_tweets", "entities", "edit_history_tweet_ids"} <= set(
        request.query["tweet.fields"].split(",")
    )
    assert set(request.query["user.fields"].split(",")) == {"username", "name"}


async def test_since_id_is_stored_and_used_by_the_next_poll(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    first = fake.add_tweet(ALICE, "Hello #WeDocs")
    await x.poll_once()
    second = fake.add_tweet(BOB, "Hi all #WeDocs")

    assert await x.poll_once() == 1

    assert await store.get_state("x:since:#wedocs") == second
    assert fake.requests_to(SEARCH)[-1].query["since_id"] == first
    assert len(await store.messages("wedocs")) == 2


async def test_a_since_id_left_by_last_weeks_chat_gives_way_to_the_start_time(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    last_week = fake.add_tweet(ALICE, "Old #WeDocs", at=datetime.now(UTC) - timedelta(days=7))
    await store.set_state("x:since:#wedocs", last_week)
    fake.add_tweet(BOB, "Hello #WeDocs")

    assert await x.poll_once() == 1

    query = fake.requests_to(SEARCH)[0].query
    assert "since_id" not in query and "start_time" in query


async def test_a_rate_limited_search_waits_for_the_reset_and_goes_on(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    fake.add_tweet(ALICE, "Hello #WeDocs")
    reset = int(time.time()) + 2  # at least a whole second away, whatever the fraction now
    fake.fail_next(SEARCH, 429, headers={"x-rate-limit-reset": str(reset)})

    assert await x.poll_once() == 1

    assert time.time() >= reset - 0.05
    assert [r.status for r in fake.requests_to(SEARCH)] == [429, 200]


async def test_polling_pauses_when_the_search_rate_limit_is_used_up(
    store: AsyncStore, no_error_logs: ErrorLogCatcher
) -> None:
    async with FakeX(rate_limits={"GET /2/tweets/search/recent": 2}) as fake:
        await store.add_chat(live_chat())
        platform = XPlatform(x_config(fake, poll_interval=0.05), environ=environ_for(fake))
        platform.use_services(PlatformServices(store=store))
        Facilitator(store, {"x": platform}, publisher=no_publish)
        await platform.start()
        try:
            await asyncio.sleep(0.6)  # a dozen poll intervals
        finally:
            await platform.stop()

    assert [r.status for r in fake.requests_to(SEARCH)] == [200, 200]


async def test_a_search_whose_connection_drops_is_retried(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    fake.add_tweet(ALICE, "Hello #WeDocs")
    fake.drop_next(SEARCH, times=2)  # aiohttp itself silently retries a GET once

    assert await x.poll_once() == 1

    assert [r.status for r in fake.requests_to(SEARCH)] == [0, 0, 200]


async def test_every_page_is_walked_and_emitted_oldest_first(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    ids = [fake.add_tweet(ALICE, f"Thought {n} #WeDocs") for n in range(25)]

    assert await x.poll_once() == 25

    assert len(fake.requests_to(SEARCH)) == 3
    assert "next_token" in fake.requests_to(SEARCH)[-1].query
    stored = await store.read(
        lambda s: [r[0] for r in s.conn.execute("SELECT platform_id FROM messages ORDER BY id")]
    )
    assert stored == ids
    assert await store.get_state("x:since:#wedocs") == ids[-1]


async def test_a_reply_to_the_question_post_without_hashtag_is_attributed(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    facilitator = await with_chat(store, x)
    chat = await store.get_chat("wedocs")
    question = await facilitator.post(chat, "q1", Target("x"), "Q1: How? #WeDocs")
    assert question is not None
    reply = fake.add_tweet(BOB, "We ask them first", reply_to=question.platform_message_id)

    await x.poll_once()

    assert (
        f"conversation_id:{question.platform_message_id}"
        in (fake.requests_to(SEARCH)[-1].query["query"])
    )
    by_id = {m.platform_id: m for m in await store.messages("wedocs")}
    assert by_id[reply].question_keys == ("1",)
    assert by_id[reply].reply_to == question.platform_message_id
    assert by_id[question.platform_message_id].kind == MessageKind.QUESTION


@pytest.mark.parametrize("way", ["reply", "quote"])
async def test_each_way_of_answering_a_question_without_the_hashtag_is_captured(
    fake: FakeX, store: AsyncStore, x: XPlatform, way: str
) -> None:
    # Issue 14: a quote starts its own conversation, so conversation_id: never found it.
    facilitator = await with_chat(store, x)
    chat = await store.get_chat("wedocs")
    question = await facilitator.post(chat, "q1", Target("x"), "Q1: How? #WeDocs")
    assert question is not None
    q1 = question.platform_message_id
    answer = fake.add_tweet(
        BOB,
        "We ask them first",
        reply_to=q1 if way == "reply" else None,
        quote_of=q1 if way == "quote" else None,
    )

    await x.poll_once()

    query = fake.requests_to(SEARCH)[-1].query["query"]
    assert f"conversation_id:{q1}" in query and f"quotes_of_tweet_id:{q1}" in query
    by_id = {m.platform_id: m for m in await store.messages("wedocs")}
    assert by_id[answer].kind == MessageKind.ANSWER
    assert (by_id[answer].question_keys, by_id[answer].reply_to) == (("1",), q1)


def test_search_queries_stay_within_x_limits_newest_posts_first() -> None:
    ids = [str(2127538752673808393 - n) for n in range(40)]

    queries = search_queries("#WeDocs", ids)

    assert len(queries) == MAX_QUERIES and all(len(q) <= MAX_QUERY for q in queries)
    assert queries[0].startswith("(#WeDocs OR conversation_id:2127538752673808393 OR ")
    assert f"quotes_of_tweet_id:{ids[0]}" in queries[0]
    assert ids[-1] not in " ".join(queries)  # the oldest posts give way
    assert search_queries("#WeDocs") == ["#WeDocs -is:retweet"]


async def test_the_posts_of_a_long_chat_spread_over_a_few_searches_of_x_length(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    questions = tuple(Question(n, f"Question {n}?", timedelta(minutes=n)) for n in range(1, 11))
    facilitator = await with_chat(store, x, live_chat(questions=questions))
    chat = await store.get_chat("wedocs")
    posts = []
    for n in range(1, 11):
        sent = await facilitator.post(chat, f"q{n}", Target("x"), f"Q{n}: Question {n}? #WeDocs")
        assert sent is not None
        posts.append(sent.platform_message_id)
    first_quote = fake.add_tweet(ALICE, "Back to the first one", quote_of=posts[0])
    last_reply = fake.add_tweet(BOB, "And the last", reply_to=posts[-1])

    await x.poll_once()

    queries = list(dict.fromkeys(r.query["query"] for r in fake.requests_to(SEARCH)))
    assert len(queries) == 2 and all(len(q) <= 512 for q in queries)
    assert queries[0].startswith("(#WeDocs OR ")
    assert all(f"quotes_of_tweet_id:{p}" in " ".join(queries) for p in posts)
    by_id = {m.platform_id: m for m in await store.messages("wedocs")}
    assert by_id[first_quote].question_keys == ("1",)
    assert by_id[last_reply].question_keys == ("10",)
    assert await store.get_state("x:since:#wedocs") == last_reply


async def test_a_post_of_the_last_seconds_before_the_grace_end_is_in_the_transcript(
    fake: FakeX, store: AsyncStore, x: XPlatform, tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> None:
    # Issue 14: the transcript was published at the grace end, after the last poll. Here the
    # adapter's poll loop is idle (one poll an hour): only the sweep before publishing can
    # find the post.
    now = datetime.now(UTC)
    chat = live_chat(
        start=now - timedelta(minutes=60),
        end=now - timedelta(minutes=5),
        grace=timedelta(minutes=5, seconds=30),  # ends 30 s from now
        status=ChatStatus.ENDED,
    )
    await store.add_chat(chat)

    async def publish(chat: Chat) -> PublishResult:
        return await store.write(publish_chat, chat, tmp_path / "out")

    facilitator = Facilitator(store, {"x": x}, publisher=publish)
    x.sweep_settle = 0.0  # the fake's search has every post at once
    last = fake.add_tweet(ALICE, "A1: just in time #WeDocs")

    await facilitator.publish(chat, announce=False)

    assert "just in time" in (tmp_path / "out" / f"{chat.id}.md").read_text()
    assert [m.platform_id for m in await store.messages(chat.id)] == [last]


async def test_the_sweep_waits_for_x_to_settle_after_the_window_ends(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    now = datetime.now(UTC)
    chat = live_chat(start=now - timedelta(minutes=60), end=now, grace=timedelta(0))
    await store.add_chat(chat)
    Facilitator(store, {"x": x}, publisher=no_publish)
    x.sweep_settle = 0.3

    await x.sweep(chat)

    assert datetime.now(UTC) >= chat.grace_end + timedelta(seconds=0.3)
    assert len(fake.requests_to(SEARCH)) == 1


async def test_an_edit_updates_the_first_version_instead_of_adding_a_row(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    original = fake.add_tweet(ALICE, "A1: we co-desing #WeDocs")
    await x.poll_once()
    fake.edit_tweet(original, "A1: we co-design #WeDocs")

    await x.poll_once()

    [msg] = await store.messages("wedocs")
    assert msg.platform_id == original
    assert msg.text == "A1: we co-design #WeDocs"
    assert msg.edited_at is not None and msg.edited_at >= msg.created_at


async def test_a_retweet_is_never_captured(fake: FakeX, store: AsyncStore, x: XPlatform) -> None:
    await with_chat(store, x)
    original = fake.add_tweet(ALICE, "A1: co-design #WeDocs")
    fake.add_tweet(BOB, "", retweet_of=original)

    await x.poll_once()

    assert [m.platform_id for m in await store.messages("wedocs")] == [original]


async def test_a_quote_points_at_the_quoted_post(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    original = fake.add_tweet(ALICE, "A1: co-design #WeDocs")
    quote = fake.add_tweet(BOB, "So true #WeDocs", quote_of=original)

    await x.poll_once()

    by_id = {m.platform_id: m for m in await store.messages("wedocs")}
    assert by_id[quote].reply_to == original


async def test_no_search_outside_the_capture_window(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    await with_chat(store, x, live_chat(start=later, end=later + timedelta(hours=1)))

    assert await x.poll_once() == 0
    assert fake.requests_to(SEARCH) == []


async def test_a_failed_search_keeps_since_id_for_the_next_poll(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    fake.add_tweet(ALICE, "Hello #WeDocs")
    await x.poll_once()
    since = await store.get_state("x:since:#wedocs")
    fake.add_tweet(BOB, "Hi #WeDocs")
    fake.fail_next(SEARCH, 503, times=4)

    with pytest.raises(XPostError):
        await x.poll_once()
    assert await store.get_state("x:since:#wedocs") == since
    assert await x.poll_once() == 1


# -- deletions -----------------------------------------------------------------------------------


async def test_existing_looks_up_in_batches_of_100_and_omits_deleted_posts(
    fake: FakeX, x: XPlatform
) -> None:
    ids = [fake.add_tweet(ALICE, f"Thought {n} #WeDocs") for n in range(150)]
    fake.delete_tweet(ids[3])
    fake.delete_tweet(ids[120])

    still = await x.existing(ids)

    assert still == set(ids) - {ids[3], ids[120]}
    assert [len(r.query["ids"].split(",")) for r in fake.requests_to("/2/tweets", "GET")] == [
        100,
        50,
    ]


async def test_existing_cannot_tell_when_x_fails(fake: FakeX, x: XPlatform) -> None:
    ids = [fake.add_tweet(ALICE, "Hello #WeDocs")]
    fake.fail_next("/2/tweets", 401, method="GET")

    assert await x.existing(ids) is None


async def test_an_edited_post_still_exists_under_its_first_id(fake: FakeX, x: XPlatform) -> None:
    original = fake.add_tweet(ALICE, "A1: typo #WeDocs")
    fake.edit_tweet(original, "A1: fixed #WeDocs")

    assert await x.existing([original]) == {original}


# -- cost ----------------------------------------------------------------------------------------


async def test_reads_and_posts_add_up_to_the_cost_line(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    for n in range(3):
        fake.add_tweet(ALICE, f"A{n + 1}: yes #WeDocs")
    await x.send("", "Q1: How? #WeDocs")
    await x.send("", "Transcript: https://example.org/wedocs #WeDocs")
    await x.poll_once()  # the 3 answers and the bot's 2 posts

    note = await x.cost_note(live_chat())

    expected = XUsage(reads=5, posts=1, posts_with_url=1)
    assert note == cost_line(expected, x.config)
    assert note.startswith("X API cost estimate: 5 posts read, 2 posts created ≈ $0.24")
    assert stored_cost_note(store.sync, "wedocs", x.config) == note  # from the store alone


def test_the_cost_line_names_the_prices() -> None:
    line = cost_line(XUsage(reads=412, posts=9), XConfig())

    assert line == (
        "X API cost estimate: 412 posts read, 9 posts created ≈ $2.15 (at $0.005/read, $0.01/post)"
    )


def test_the_cost_line_uses_the_configured_prices() -> None:
    prices = XConfig(price_per_read=0.001, price_per_post=0.02, price_per_post_with_url=0.5)
    line = cost_line(XUsage(reads=100, posts=2, posts_with_url=3), prices)

    assert line == (
        "X API cost estimate: 100 posts read, 5 posts created ≈ $1.64"
        " (at $0.001/read, $0.02/post, $0.50/post with a link)"
    )


async def test_a_chat_that_never_used_x_has_no_cost_line(x: XPlatform) -> None:
    assert await x.cost_note(live_chat("local-only-chat")) == ""


@pytest.mark.parametrize(("days", "gone"), [(7, 1), (2, 0)])
async def test_deletions_are_rechecked_for_recheck_days_after_a_chat(
    fake: FakeX, store: AsyncStore, x: XPlatform, days: int, gone: int
) -> None:
    """``x.recheck_days``: a chat whose grace ended four days ago is still re-checked with
    7 days, and left alone with 2."""
    x.config = replace(x.config, recheck_days=days)
    ended = datetime.now(UTC) - timedelta(days=4)
    chat = live_chat(start=ended - timedelta(hours=1), end=ended, status=ChatStatus.PUBLISHED)
    await store.add_chat(chat)
    tweet = fake.add_tweet(ALICE, "A1: yes #WeDocs")
    await store.save_messages(
        [
            CapturedMessage(
                chat.id, "x", tweet, ALICE["id"], ALICE["name"], ALICE["username"],
                "A1: yes #WeDocs", ended - timedelta(minutes=30), MessageKind.ANSWER, ("1",),
            )
        ]
    )  # fmt: skip
    await store.set_state(f"x:rechecked:{chat.id}", "2000-01-01T00:00:00+00:00")
    fake.delete_tweet(tweet)

    assert await x.recheck_deletions() == gone
    assert await store.message_ids(chat.id, "x") == ([] if gone else [tweet])


# -- engagement (highlights) ---------------------------------------------------------------------


async def test_public_metrics_come_with_the_deletion_recheck_at_no_extra_cost(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await with_chat(store, x)
    liked = fake.add_tweet(ALICE, "A1: liked #WeDocs")
    quoted = fake.add_tweet(ALICE, "A1: quoted #WeDocs")
    fake.like(liked, 4)
    fake.add_tweet(ALICE, "so true", quote_of=quoted)
    await x.poll_once()
    usage_before = await x.cost_note(live_chat())

    assert await x.existing([liked, quoted]) == {liked, quoted}  # the re-check at publishing
    lookups = len(fake.requests_to("/2/tweets", "GET"))
    counts = await x.engagement([liked, quoted])

    assert len(fake.requests_to("/2/tweets", "GET")) == lookups  # nothing read twice
    assert (counts[liked].likes, counts[liked].reposts, counts[liked].quotes) == (4, 0, 0)
    assert (counts[quoted].likes, counts[quoted].quotes) == (0, 1)
    request = fake.requests_to("/2/tweets", "GET")[-1]
    assert "public_metrics" in request.query["tweet.fields"]
    # The lookup is in the cost estimate (2 posts read), once.
    after = await x.cost_note(live_chat())
    assert after != usage_before and "posts read" in after
    # Without a re-check first, engagement looks the posts up itself, and counts the reads.
    fake.like(liked)
    again = await x.engagement([liked])
    assert again[liked].likes == 5
    assert len(fake.requests_to("/2/tweets", "GET")) == lookups + 1
