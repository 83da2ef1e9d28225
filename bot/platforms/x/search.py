"""Reading X: the recent-search request the bot makes and the mapping of its tweets to messages.

Pure: no client, no clock. `tweet_message` turns one tweet of a search (or lookup) payload,
with the users of its ``includes``, into the neutral `IncomingMessage` that capture reads.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from archive.highlights import Engagement
from archive.models import IncomingMessage

TWEPOCH_MS = 1288834974657  # the epoch of X's snowflake ids
EXPANSIONS = ("author_id", "referenced_tweets.id")
TWEET_FIELDS = (
    "created_at",
    "author_id",
    "conversation_id",
    "referenced_tweets",
    "entities",
    "edit_history_tweet_ids",
)
USER_FIELDS = ("username", "name")


MAX_QUERY = 512  # X's limit on a recent-search query
MAX_QUERIES = 3  # searches a poll may make for one hashtag (each is one request per poll)


def search_queries(hashtag: str, post_ids: Sequence[str] = ()) -> list[str]:
    """The recent-search queries of one poll for a chat's hashtag; retweets are never wanted.

    Besides the hashtag, each of the bot's posts for the chat (a question, the intro; newest
    first) brings the two ways of answering it that may lack the hashtag: a reply, found by
    its conversation (``conversation_id:``), and a quote, which starts a conversation of its
    own and is found by what it quotes (``quotes_of_tweet_id:``). Terms go into the first
    query while it stays within X's limit, then into further ones, at most `MAX_QUERIES`;
    the oldest posts' terms are left out beyond that.
    """
    queries: list[str] = []
    terms = [hashtag]
    for post_id in post_ids:
        pair = [f"conversation_id:{post_id}", f"quotes_of_tweet_id:{post_id}"]
        if len(_join([*terms, *pair])) <= MAX_QUERY:
            terms.extend(pair)
            continue
        queries.append(_join(terms))
        if len(queries) == MAX_QUERIES:
            return queries
        terms = pair
    queries.append(_join(terms))
    return queries


def _join(terms: Sequence[str]) -> str:
    if len(terms) == 1:
        return f"{terms[0]} -is:retweet"
    return f"({' OR '.join(terms)}) -is:retweet"


def since_key(hashtag: str) -> str:
    """The state key holding the newest tweet id already captured for a hashtag."""
    return f"x:since:{hashtag.casefold()}"


def snowflake_time(tweet_id: str) -> datetime:
    """The creation instant encoded in an X id (used for the first version of an edited post)."""
    ms = (int(tweet_id) >> 22) + TWEPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse_x_time(text: str) -> datetime:
    """``2026-03-02T18:00:00.000Z`` as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def users_by_id(payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    users = (payload.get("includes") or {}).get("users") or []
    return {str(u["id"]): u for u in users if "id" in u}


def _reference(tweet: Mapping[str, Any], kind: str) -> str:
    for ref in tweet.get("referenced_tweets") or ():
        if ref.get("type") == kind:
            return str(ref.get("id", ""))
    return ""


def tweet_text(tweet: Mapping[str, Any]) -> str:
    """A post's text as its author wrote it: X's API returns ``text`` with ``&``, ``<`` and
    ``>`` as HTML entities and every link as a t.co link, the original in
    ``entities.urls[].expanded_url`` (X API v2 "Post object"; the escaping is long-standing,
    see tweepy issue #1080). Links are put back first, then the entities decoded once."""
    text = str(tweet.get("text", ""))
    for url in (tweet.get("entities") or {}).get("urls") or ():
        short, expanded = url.get("url"), url.get("expanded_url")
        if short and expanded:
            text = text.replace(str(short), html.escape(str(expanded), quote=False))
    return html.unescape(text)


def tweet_message(
    tweet: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], *, bot_user_id: str = ""
) -> IncomingMessage:
    """One tweet as an `IncomingMessage`.

    An edited post keeps the id of its first version (so the stored row is updated, not
    duplicated) and its creation time; ``edited_at`` is when the newest version was made.
    A reply or a quote points at the post it answers, so replies to a question post count.
    An author missing from ``users`` is named ``X user <id>``, and the permalink is then
    ``https://x.com/i/status/<id>``, which X resolves for any post.
    """
    tweet_id = str(tweet["id"])
    history = [str(i) for i in tweet.get("edit_history_tweet_ids") or (tweet_id,)]
    first_id = history[0]
    created = parse_x_time(tweet["created_at"]) if tweet.get("created_at") else None
    version_time = created or snowflake_time(tweet_id)
    edited = len(history) > 1 and first_id != tweet_id
    author_id = str(tweet.get("author_id", ""))
    author = users.get(author_id, {})
    handle = str(author.get("username", ""))
    # X may leave a post's author out of ``includes`` (an account suspended or deactivated
    # meanwhile): name them by id, and link the post by the form that needs no handle.
    name = str(author.get("name") or handle or (f"X user {author_id}" if author_id else "X user"))
    mentions = tuple(
        str(m["username"])
        for m in (tweet.get("entities") or {}).get("mentions") or ()
        if m.get("username")
    )
    permalink = f"https://x.com/{handle or 'i'}/status/{tweet_id}"
    return IncomingMessage(
        platform="x",
        platform_id=first_id,
        channel="",
        author_id=author_id,
        author_name=name,
        author_handle=handle,
        text=tweet_text(tweet),
        created_at=snowflake_time(first_id) if edited else version_time,
        reply_to=_reference(tweet, "replied_to") or _reference(tweet, "quoted"),
        is_repost=bool(_reference(tweet, "retweeted")),
        is_bot=bool(bot_user_id) and author_id == bot_user_id,
        permalink=permalink,
        edited_at=version_time if edited else None,
        mentions=mentions,
        raw={"tweet": dict(tweet), "author": dict(author)},
    )


def page_messages(
    pages: Sequence[Mapping[str, Any]], *, bot_user_id: str = ""
) -> list[IncomingMessage]:
    """Every tweet of a walk through search pages (newest first), as messages oldest first;
    a tweet that several searches of a poll returned is there once."""
    tweets: dict[int, IncomingMessage] = {}
    for payload in pages:
        users = users_by_id(payload)
        for tweet in payload.get("data") or ():
            tweets[int(tweet["id"])] = tweet_message(tweet, users, bot_user_id=bot_user_id)
    return [tweets[tweet_id] for tweet_id in sorted(tweets)]


def posts_read(payload: Mapping[str, Any]) -> int:
    """How many posts X bills for one response: the results and the referenced posts."""
    data = payload.get("data") or ()
    if isinstance(data, Mapping):
        data = (data,)
    included = (payload.get("includes") or {}).get("tweets") or ()
    return len(data) + len(included)


def public_metrics(payload: Mapping[str, Any]) -> dict[str, Engagement]:
    """Post id -> its counts, from a lookup asked for ``tweet.fields=public_metrics``
    (``like_count``, ``retweet_count``, ``quote_count``, ``reply_count``; X API v2 post
    object). Each count is also given under every id of the post's edit history, so a post
    captured under its first version's id finds them."""
    out: dict[str, Engagement] = {}
    data = payload.get("data") or ()
    if isinstance(data, Mapping):
        data = (data,)
    for tweet in data:
        metrics = tweet.get("public_metrics")
        if not isinstance(metrics, Mapping):
            continue
        counts = Engagement(
            likes=int(metrics.get("like_count") or 0),
            reposts=int(metrics.get("retweet_count") or 0),
            quotes=int(metrics.get("quote_count") or 0),
            replies=int(metrics.get("reply_count") or 0),
        )
        for i in (tweet["id"], *(tweet.get("edit_history_tweet_ids") or ())):
            out[str(i)] = counts
    return out
