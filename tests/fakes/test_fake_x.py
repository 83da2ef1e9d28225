"""The X API fake, exercised through the real tweepy AsyncClient."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import tweepy
from hypothesis import given, settings
from hypothesis import strategies as st
from tweepy.asynchronous import AsyncClient, AsyncPaginator

from tests.fakes.x_server import FakeClock, FakeX, TweetView, parse_query, snowflake_time

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
ALICE = {"id": "2001", "username": "alice", "name": "Alice A."}
BOB = {"id": "2002", "username": "bob_qi", "name": "Bob"}
SEARCH = "/2/tweets/search/recent"
FIELDS = {
    "tweet_fields": ["created_at", "author_id", "conversation_id", "referenced_tweets", "entities"],
    "expansions": ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"],
    "user_fields": ["username", "name"],
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeX]:
    async with FakeX(clock=FakeClock(NOW)) as server:
        yield server


@pytest.fixture
async def client(fake: FakeX) -> AsyncClient:
    return fake.client()


# -- posting -----------------------------------------------------------------------------------


async def test_create_tweet_with_user_context_posts_as_the_host(
    fake: FakeX, client: AsyncClient
) -> None:
    response = await client.create_tweet(text="Q1: How do you involve patients? #WeDocs")

    assert response.data["text"] == "Q1: How do you involve patients? #WeDocs"
    assert response.data["edit_history_tweet_ids"] == [response.data["id"]]
    assert [t.id for t in fake.posts_by_host()] == [response.data["id"]]
    assert fake.requests[-1].status == 201
    assert fake.requests[-1].auth == "oauth1"


async def test_create_tweet_with_a_bad_oauth_signature_is_unauthorized(fake: FakeX) -> None:
    client = fake.client(consumer_secret="not-the-secret")

    with pytest.raises(tweepy.Unauthorized):
        await client.create_tweet(text="hello")
    assert fake.posts_by_host() == []


async def test_create_tweet_with_app_only_bearer_is_forbidden(client: AsyncClient) -> None:
    with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
        await client.create_tweet(text="hello", user_auth=False)


async def test_posting_the_same_text_twice_is_forbidden(client: AsyncClient) -> None:
    await client.create_tweet(text="Welcome to #WeDocs")

    with pytest.raises(tweepy.Forbidden, match="duplicate content"):
        await client.create_tweet(text="Welcome to #WeDocs")


async def test_reply_to_an_author_who_did_not_summon_the_host_is_forbidden(
    fake: FakeX, client: AsyncClient
) -> None:
    answer = fake.add_tweet(ALICE, "A1: we co-design #WeDocs")

    with pytest.raises(tweepy.Forbidden, match="not been mentioned"):
        await client.create_tweet(text="Thanks!", in_reply_to_tweet_id=answer)


async def test_reply_to_an_author_who_mentioned_the_host_is_allowed(
    fake: FakeX, client: AsyncClient
) -> None:
    answer = fake.add_tweet(ALICE, "@tweetchat_host when is Q2? #WeDocs")

    response = await client.create_tweet(text="In 10 minutes", in_reply_to_tweet_id=answer)

    assert fake.tweets[response.data["id"]].reply_to == answer


async def test_delete_tweet_removes_the_hosts_post(fake: FakeX, client: AsyncClient) -> None:
    posted = await client.create_tweet(text="Q1 (typo)")

    response = await client.delete_tweet(posted.data["id"])

    assert response.data == {"deleted": True}
    assert fake.posts_by_host() == []


# -- recent search -----------------------------------------------------------------------------


async def test_search_with_since_id_returns_only_newer_tweets_newest_first(
    fake: FakeX, client: AsyncClient
) -> None:
    old = fake.add_tweet(ALICE, "early #WeDocs", at=NOW - timedelta(minutes=30))
    first = fake.add_tweet(BOB, "A1: yes #WeDocs", at=NOW - timedelta(minutes=20))
    second = fake.add_tweet(ALICE, "A1: agreed #WeDocs", at=NOW - timedelta(minutes=10))

    response = await client.search_recent_tweets("#WeDocs", since_id=old, **FIELDS)

    assert [t.id for t in response.data] == [int(second), int(first)]
    assert response.meta == {
        "newest_id": second,
        "oldest_id": first,
        "result_count": 2,
    }
    assert fake.requests[-1].query["since_id"] == old


async def test_search_resolves_authors_into_tweepy_users(fake: FakeX, client: AsyncClient) -> None:
    fake.add_tweet(ALICE, "A1: yes #WeDocs")
    fake.add_tweet(BOB, "A1: no #WeDocs")
    fake.add_tweet(ALICE, "A2: maybe #WeDocs")

    response = await client.search_recent_tweets("#WeDocs", **FIELDS)

    users = response.includes["users"]
    assert all(isinstance(u, tweepy.User) for u in users)
    assert {(u.id, u.username, u.name) for u in users} == {
        (2001, "alice", "Alice A."),
        (2002, "bob_qi", "Bob"),
    }
    assert len(users) == 2


async def test_a_user_left_out_of_includes_is_a_partial_error(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.users_left_out.add(ALICE["id"])
    tweet = fake.add_tweet(ALICE, "A1: yes #WeDocs")
    fake.add_tweet(BOB, "A1: no #WeDocs")

    response = await client.search_recent_tweets("#WeDocs", **FIELDS)

    assert [t.id for t in response.data][-1] == int(tweet)
    assert [u.username for u in response.includes["users"]] == ["bob_qi"]
    [error] = response.errors
    assert error["resource_type"] == "user" and error["resource_id"] == ALICE["id"]
    assert error["type"].endswith("/resource-not-found")


async def test_search_finds_quotes_of_a_post_which_start_their_own_conversation(
    fake: FakeX, client: AsyncClient
) -> None:
    question = fake.add_tweet(fake.host_user, "Q1: What works? #WeDocs")
    quote = fake.add_tweet(ALICE, "Huddles, every morning", quote_of=question)
    fake.add_tweet(BOB, "Unrelated", reply_to=question)

    response = await client.search_recent_tweets(f"quotes_of_tweet_id:{question}", **FIELDS)

    (tweet,) = response.data
    assert tweet.id == int(quote) and tweet.conversation_id == int(quote)
    assert [(r.type, r.id) for r in tweet.referenced_tweets] == [("quoted", int(question))]
    assert [t.id for t in response.includes["tweets"]] == [int(question)]
    by_conversation = await client.search_recent_tweets(f"conversation_id:{question}")
    assert [t.id for t in by_conversation.data] != [int(quote)]


async def test_search_expands_the_tweet_replied_to(fake: FakeX, client: AsyncClient) -> None:
    question = fake.add_tweet(fake.host_user, "Q1: What works? #WeDocs")
    answer = fake.add_tweet(ALICE, "A1: huddles #WeDocs", reply_to=question)

    response = await client.search_recent_tweets("#WeDocs", since_id=question, **FIELDS)

    (tweet,) = response.data
    assert tweet.id == int(answer)
    assert [(r.type, r.id) for r in tweet.referenced_tweets] == [("replied_to", int(question))]
    assert tweet.conversation_id == int(question)
    assert [t.id for t in response.includes["tweets"]] == [int(question)]


async def test_search_renders_created_at_and_hashtag_entities(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.add_tweet(ALICE, "A1: yes #WeDocs", at=NOW - timedelta(seconds=90))

    (tweet,) = (await client.search_recent_tweets("#WeDocs", **FIELDS)).data

    assert tweet.created_at == NOW - timedelta(seconds=90)
    assert tweet.entities["hashtags"] == [{"start": 8, "end": 15, "tag": "WeDocs"}]


async def test_search_hashtag_is_case_insensitive_and_whole_token(
    fake: FakeX, client: AsyncClient
) -> None:
    wanted = fake.add_tweet(ALICE, "A1: yes #wedocs")
    fake.add_tweet(BOB, "another chat #WeDocsChat")
    fake.add_tweet(BOB, "no hashtag, just WeDocs")

    response = await client.search_recent_tweets("#WeDocs")

    assert [t.id for t in response.data] == [int(wanted)]


async def test_search_never_returns_retweets(fake: FakeX, client: AsyncClient) -> None:
    original = fake.add_tweet(ALICE, "A1: yes #WeDocs")
    fake.add_tweet(BOB, "", retweet_of=original)

    response = await client.search_recent_tweets("#WeDocs")

    assert [t.id for t in response.data] == [int(original)]


async def test_search_ignores_tweets_older_than_seven_days(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.add_tweet(ALICE, "last week #WeDocs", at=NOW - timedelta(days=7, minutes=1))
    recent = fake.add_tweet(ALICE, "this week #WeDocs", at=NOW - timedelta(days=6))

    response = await client.search_recent_tweets("#WeDocs")

    assert [t.id for t in response.data] == [int(recent)]


async def test_search_with_no_results_has_only_a_zero_count(client: AsyncClient) -> None:
    response = await client.search_recent_tweets("#WeDocs")

    assert response.data is None
    assert response.meta == {"result_count": 0}


async def test_search_pages_with_next_token_across_more_than_100_tweets(
    fake: FakeX, client: AsyncClient
) -> None:
    ids = {
        fake.add_tweet(ALICE, f"A{i}: #WeDocs", at=NOW - timedelta(seconds=i)) for i in range(250)
    }

    pages = [
        page
        async for page in AsyncPaginator(
            client.search_recent_tweets, "#WeDocs -is:retweet", max_results=100
        )
    ]

    assert [page.meta["result_count"] for page in pages] == [100, 100, 50]
    assert {str(t.id) for page in pages for t in page.data} == ids
    assert "next_token" not in pages[-1].meta
    assert len(fake.requests_to(SEARCH)) == 3


async def test_search_or_binds_looser_than_juxtaposition(fake: FakeX, client: AsyncClient) -> None:
    by_alice = fake.add_tweet(ALICE, "A1 #WeDocs")
    chat_tag = fake.add_tweet(BOB, "A1 #WeDocsChat")
    fake.add_tweet(BOB, "A1 #WeDocs")

    # X applies AND before OR: this is "#WeDocsChat OR (#WeDocs from:alice)".
    response = await client.search_recent_tweets("#WeDocsChat OR #WeDocs from:alice")

    assert {str(t.id) for t in response.data} == {by_alice, chat_tag}


async def test_search_with_an_unknown_operator_is_a_bad_request(client: AsyncClient) -> None:
    with pytest.raises(tweepy.BadRequest, match="invalid operator 'near:london'"):
        await client.search_recent_tweets("#WeDocs near:london")


async def test_search_max_results_outside_10_to_100_is_a_bad_request(
    client: AsyncClient,
) -> None:
    with pytest.raises(tweepy.BadRequest, match=r"value \[5\] is not between 10 and 100"):
        await client.search_recent_tweets("#WeDocs", max_results=5)


async def test_search_with_a_since_id_older_than_seven_days_is_a_bad_request(
    fake: FakeX, client: AsyncClient
) -> None:
    stale = fake.add_tweet(ALICE, "long ago #WeDocs", at=NOW - timedelta(days=8))

    with pytest.raises(tweepy.BadRequest, match="'since_id' must be a tweet id created after"):
        await client.search_recent_tweets("#WeDocs", since_id=stale)


async def test_search_with_user_context_signs_query_parameters_correctly(
    fake: FakeX, client: AsyncClient
) -> None:
    wanted = fake.add_tweet(ALICE, "A1: yes #WeDocs", at=NOW - timedelta(minutes=5))
    fake.add_tweet(ALICE, "warm-up #WeDocs", at=NOW - timedelta(hours=2))

    # Colons and commas in the query are where OAuth 1.0a signing usually goes wrong.
    response = await client.search_recent_tweets(
        "#WeDocs -is:retweet", start_time=NOW - timedelta(hours=1), user_auth=True, **FIELDS
    )

    assert [t.id for t in response.data] == [int(wanted)]
    assert fake.requests[-1].auth == "oauth1"


async def test_search_counts_returned_and_expanded_posts_as_billed_reads(
    fake: FakeX, client: AsyncClient
) -> None:
    question = fake.add_tweet(fake.host_user, "Q1: What works? #WeDocs")
    fake.add_tweet(ALICE, "A1: huddles #WeDocs", reply_to=question)
    fake.add_tweet(BOB, "A1: rounds #WeDocs", reply_to=question)

    await client.search_recent_tweets("#WeDocs", since_id=question, **FIELDS)

    assert fake.usage.posts_read == 3  # two answers plus the expanded question


async def test_search_with_a_wrong_bearer_token_is_unauthorized(fake: FakeX) -> None:
    client = fake.client(bearer_token="stolen")

    with pytest.raises(tweepy.Unauthorized):
        await client.search_recent_tweets("#WeDocs")


async def test_search_returns_only_the_latest_version_of_an_edited_tweet(
    fake: FakeX, client: AsyncClient
) -> None:
    first = fake.add_tweet(ALICE, "A1: typo #WeDocs")
    edited = fake.edit_tweet(first, "A1: fixed #WeDocs")

    response = await client.search_recent_tweets("#WeDocs")

    (tweet,) = response.data
    assert tweet.id == int(edited)
    assert tweet.edit_history_tweet_ids == [int(first), int(edited)]


# -- lookup and me -----------------------------------------------------------------------------


async def test_lookup_reports_deleted_ids_as_not_found_errors(
    fake: FakeX, client: AsyncClient
) -> None:
    kept = fake.add_tweet(ALICE, "A1: yes #WeDocs")
    gone = fake.add_tweet(BOB, "A1: oops #WeDocs")
    fake.delete_tweet(gone)

    response = await client.get_tweets([kept, gone])

    assert [t.id for t in response.data] == [int(kept)]
    (error,) = response.errors
    assert error["title"] == "Not Found Error"
    assert error["resource_id"] == gone
    assert error["type"] == "https://api.twitter.com/2/problems/resource-not-found"


async def test_get_me_returns_the_host_account(fake: FakeX, client: AsyncClient) -> None:
    response = await client.get_me(user_auth=True)

    assert response.data.username == fake.host_user["username"]


# -- rate limits and failures ------------------------------------------------------------------


async def test_every_response_carries_rate_limit_headers_counting_down(fake: FakeX) -> None:
    client = fake.client(return_type=aiohttp.ClientResponse)

    first = await client.search_recent_tweets("#WeDocs")
    second = await client.search_recent_tweets("#WeDocs")

    assert first.headers["x-rate-limit-limit"] == "450"
    assert first.headers["x-rate-limit-remaining"] == "449"
    assert second.headers["x-rate-limit-remaining"] == "448"
    assert int(first.headers["x-rate-limit-reset"]) == int(
        (NOW + timedelta(minutes=15)).timestamp()
    )


async def test_exhausted_rate_limit_answers_as_x_does_in_plain_text_with_the_reset() -> None:
    # X's real 429 is text/plain "Rate limit exceeded": tweepy cannot parse it, so it never
    # becomes tweepy.TooManyRequests; the status and the headers are on aiohttp's error.
    async with FakeX(clock=FakeClock(NOW), rate_limits={"GET " + SEARCH: 1}) as fake:
        client = fake.client()
        await client.search_recent_tweets("#WeDocs")

        with pytest.raises(aiohttp.ContentTypeError) as raised:
            await client.search_recent_tweets("#WeDocs")

    assert raised.value.status == 429
    assert raised.value.headers is not None
    reset = raised.value.headers["x-rate-limit-reset"]
    assert reset == str(int((NOW + timedelta(minutes=15)).timestamp()))  # whole seconds
    assert raised.value.headers["x-rate-limit-remaining"] == "0"
    assert raised.value.headers["Content-Type"].startswith("text/plain")


async def test_rate_limit_window_resets_when_the_clock_passes_it() -> None:
    async with FakeX(clock=FakeClock(NOW), rate_limits={"GET " + SEARCH: 1}) as fake:
        client = fake.client()
        await client.search_recent_tweets("#WeDocs")
        fake.clock.advance(timedelta(minutes=15))

        response = await client.search_recent_tweets("#WeDocs")

    assert response.meta == {"result_count": 0}


async def test_injected_429_is_plain_text_carrying_the_reset_header(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.fail_next(SEARCH, 429)

    with pytest.raises(aiohttp.ContentTypeError) as raised:
        await client.search_recent_tweets("#WeDocs")

    assert raised.value.status == 429
    assert raised.value.headers is not None
    assert raised.value.headers["x-rate-limit-remaining"] == "0"
    assert raised.value.headers["x-rate-limit-reset"].isdigit()


async def test_injected_429_without_headers_has_no_reset(fake: FakeX, client: AsyncClient) -> None:
    fake.fail_next(SEARCH, 429, headers={})

    with pytest.raises(aiohttp.ContentTypeError) as raised:
        await client.search_recent_tweets("#WeDocs")

    assert raised.value.headers is not None
    assert "x-rate-limit-reset" not in raised.value.headers


async def test_tweepy_waiting_on_rate_limit_cannot_wait_out_x_s_plain_text_429(
    fake: FakeX,
) -> None:
    # Why the adapter keeps tweepy's wait_on_rate_limit off and reads the headers itself.
    client = fake.client(wait_on_rate_limit=True)
    fake.fail_next(SEARCH, 429, headers={"x-rate-limit-reset": str(int(time.time()) - 5)})

    with pytest.raises(aiohttp.ContentTypeError):
        await client.search_recent_tweets("#WeDocs")
    assert [r.status for r in fake.requests_to(SEARCH)] == [429]


async def test_an_injected_json_429_still_becomes_too_many_requests(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.fail_next(SEARCH, 429, body={"title": "Too Many Requests", "status": 429})

    with pytest.raises(tweepy.TooManyRequests) as raised:
        await client.search_recent_tweets("#WeDocs")

    assert raised.value.reset_time == int(raised.value.response.headers["x-rate-limit-reset"])


async def test_injected_402_is_a_plain_http_exception_saying_credits_depleted(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.fail_next("/2/tweets", 402, method="POST")

    with pytest.raises(tweepy.HTTPException) as raised:
        await client.create_tweet(text="Q1 #WeDocs")

    assert type(raised.value) is tweepy.HTTPException
    assert "does not have any credits" in raised.value.api_messages[0]
    assert (await raised.value.response.json())["title"] == "CreditsDepleted"
    assert fake.posts_by_host() == []


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (401, tweepy.Unauthorized),
        (403, tweepy.Forbidden),
        (404, tweepy.NotFound),
        (500, tweepy.TwitterServerError),
        (503, tweepy.TwitterServerError),
    ],
)
async def test_injected_status_maps_to_the_tweepy_exception(
    fake: FakeX, client: AsyncClient, status: int, exception: type[Exception]
) -> None:
    fake.fail_next(SEARCH, status)

    with pytest.raises(exception):
        await client.search_recent_tweets("#WeDocs")


async def test_injected_html_503_surfaces_as_aiohttp_content_type_error(
    fake: FakeX, client: AsyncClient
) -> None:
    # tweepy parses every error body as JSON, so an HTML error page escapes its exceptions.
    fake.fail_next(SEARCH, 503, body="<html>Over capacity</html>")

    with pytest.raises(aiohttp.ContentTypeError):
        await client.search_recent_tweets("#WeDocs")


async def test_injected_failure_applies_only_the_given_number_of_times(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.fail_next(SEARCH, 503, times=2)

    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError):
            await client.search_recent_tweets("#WeDocs")
    response = await client.search_recent_tweets("#WeDocs")

    assert response.meta == {"result_count": 0}


async def test_dropped_post_raises_server_disconnected(
    fake: FakeX, client: AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.drop_next("/2/tweets", method="POST")

    with caplog.at_level(logging.DEBUG), pytest.raises(aiohttp.ServerDisconnectedError):
        await client.create_tweet(text="Q1 #WeDocs")

    assert [r.status for r in fake.requests] == [0]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_one_dropped_get_is_retried_by_aiohttp_unseen(
    fake: FakeX, client: AsyncClient
) -> None:
    fake.drop_next(SEARCH)

    response = await client.search_recent_tweets("#WeDocs")

    assert response.meta == {"result_count": 0}
    assert [r.status for r in fake.requests_to(SEARCH)] == [0, 200]


async def test_two_dropped_gets_raise_server_disconnected(fake: FakeX, client: AsyncClient) -> None:
    fake.drop_next(SEARCH, times=2)

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.search_recent_tweets("#WeDocs")


# -- ids and the query language ----------------------------------------------------------------


def test_ids_are_snowflakes_of_the_creation_time() -> None:
    fake = FakeX(clock=FakeClock(NOW))
    later = fake.add_tweet(ALICE, "later", at=NOW + timedelta(milliseconds=5))
    earlier = fake.add_tweet(ALICE, "earlier", at=NOW)

    assert int(earlier) < int(later)
    assert snowflake_time(later) == NOW + timedelta(milliseconds=5)


def _view(text: str) -> TweetView:
    return TweetView(text, "alice", "", "1", is_reply=False, is_quote=False, is_retweet=False)


def test_hashtag_term_matches_full_width_forms_as_x_does() -> None:
    matcher = parse_query("#WeDocs")

    assert matcher(_view("A1: yes #ＷｅＤｏｃｓ"))
    assert matcher(_view("A1: yes ＃ｗｅｄｏｃｓ!"))
    assert not matcher(_view("A1: yes #ＷｅＤｏｃｓＣｈａｔ"))


@settings(max_examples=200)
@given(
    tag=st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True),
    suffix=st.sampled_from(["", "!", " now", ":"]),
)
def test_hashtag_term_matches_any_case_but_not_longer_tags(tag: str, suffix: str) -> None:
    matcher = parse_query(f"#{tag}")

    assert matcher(_view(f"A1: yes #{tag.swapcase()}{suffix}"))
    assert not matcher(_view(f"A1: yes #{tag}x{suffix}"))
