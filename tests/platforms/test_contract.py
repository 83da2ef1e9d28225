"""The platform contract, run against every adapter through its network's fake.

Each test is one behaviour the facilitator relies on. A test is skipped only where the
adapter's `Capabilities` say the network cannot do it, and then it first checks that the
adapter really behaves as declared (no history: `history()` is empty, and so on).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.highlights import Engagement
from archive.models import Chat, ChatStatus, IncomingMessage, PostStatus
from archive.publish import PublishResult, publish_chat
from archive.store import Store
from bot.config import Config, config_from_dict
from bot.facilitator import Facilitator, opt_reply_key
from bot.platforms.base import MessageDeleted, Platform, PostTooLong
from bot.platforms.registry import build_platforms, post_limits
from scheduler.clock import SystemClock
from scheduler.runner import StepFailed
from tests.platforms.harness import HARNESSES, TAG, Harness, _no_publish, until

pytestmark = pytest.mark.timeout(30)

ADAPTER_MODULES = sorted(
    p.parent.name
    for p in (Path(__file__).resolve().parents[2] / "bot" / "platforms").glob("*/adapter.py")
)


def is_aware_utc(at: datetime | None) -> bool:
    return at is not None and at.utcoffset() == timedelta(0)


async def _publish_nothing(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published here")


def since_a_moment_ago() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=2)


# ---- every adapter is declared and has a harness ---------------------------------------------


@pytest.mark.parametrize("module_name", ADAPTER_MODULES)
def test_adapter_module_defines_a_complete_platform(module_name: str) -> None:
    module = importlib.import_module(f"bot.platforms.{module_name}.adapter")
    adapters = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Platform)
        and obj is not Platform
        and obj.__module__ == module.__name__
    ]
    assert adapters, f"bot/platforms/{module_name}/adapter.py defines no Platform subclass"
    for cls in adapters:
        assert not inspect.isabstract(cls), (
            f"{cls.__name__} leaves {cls.__abstractmethods__} abstract"
        )
        assert isinstance(cls.name, str) and cls.name


def test_every_network_runs_the_contract_suite() -> None:
    assert sorted(HARNESSES) == ADAPTER_MODULES, "add a harness in tests/platforms/harness.py"


def test_app_builds_every_enabled_platform_from_the_config(tmp_path: Path) -> None:
    config: Config = config_from_dict(
        {"local": {"enabled": True}, "x": {"enabled": True}}, base_dir=tmp_path
    )
    env = {
        "X_BEARER_TOKEN": "b",
        "X_CONSUMER_KEY": "k",
        "X_CONSUMER_SECRET": "s",
        "X_ACCESS_TOKEN": "1-t",
        "X_ACCESS_TOKEN_SECRET": "ts",
    }
    platforms = build_platforms(config, SystemClock(), env)
    assert set(platforms) == {"local", "x"}
    assert all(isinstance(p, Platform) for p in platforms.values())


# ---- 1. posting ---------------------------------------------------------------------------------


async def test_send_returns_the_id_of_the_post_the_network_holds(adapter: Harness) -> None:
    platform = adapter.platform
    text = f"Q1: How do you involve patients? {TAG}"

    sent = await platform.send(adapter.channel, text)

    assert adapter.stored_text(sent.platform_message_id) == text
    assert is_aware_utc(sent.posted_at)
    action = await platform.post_action(adapter.chat, "q1", adapter.channel, f"Q1 again {TAG}")
    assert adapter.stored_text(action.platform_message_id) == f"Q1 again {TAG}"
    assert action.platform_message_id != sent.platform_message_id
    assert is_aware_utc(action.posted_at)


# Networks where a post split into a thread (`split_long_posts`) replies to the part before;
# elsewhere (Discord, local) the parts are consecutive messages.
THREADED = {"x", "bluesky", "mastodon"}


async def test_a_later_part_of_a_split_post_follows_the_part_before(adapter: Harness) -> None:
    platform = adapter.platform
    first = await platform.post_action(
        adapter.chat, "intro", adapter.channel, f"Welcome, part one. {TAG} (1/2)"
    )
    text = f"Part two, the rest of it. {TAG} (2/2)"

    second = await platform.post_part(
        adapter.chat, "intro", adapter.channel, text, first=first, previous=first
    )
    await adapter.deliver()

    assert adapter.stored_text(second.platform_message_id) == text
    assert second.platform_message_id != first.platform_message_id
    assert is_aware_utc(second.posted_at)
    (msg,) = adapter.messages(second.platform_message_id)
    threaded = platform.name in THREADED
    assert msg.reply_to == (first.platform_message_id if threaded else ""), msg
    # Parts are numbered exactly where each is read on its own, as a reply.
    assert platform.post_limit.number_parts == threaded


# ---- 2. receiving -------------------------------------------------------------------------------


async def test_a_participants_reply_arrives_as_an_incoming_message(adapter: Harness) -> None:
    platform = adapter.platform
    question = await platform.send(adapter.channel, f"Q1: How? {TAG}")
    text = f"A1: We ask them first {TAG}"

    platform_id = await adapter.user_posts(text, reply_to=question.platform_message_id)
    await adapter.deliver()

    (msg,) = adapter.messages(platform_id)
    assert (msg.platform, msg.platform_id, msg.text) == (platform.name, platform_id, text)
    assert msg.channel == adapter.chat.targets[0].channel
    assert (msg.author_id, msg.author_handle) == (adapter.user_id, adapter.user_handle)
    assert msg.author_name and not msg.is_bot and not msg.is_repost
    assert is_aware_utc(msg.created_at) and msg.edited_at is None
    assert msg.reply_to == question.platform_message_id
    (own,) = adapter.messages(question.platform_message_id)
    assert own.is_bot, "the bot's own post arrives marked as the bot's"


# ---- 3. edits -----------------------------------------------------------------------------------


async def test_an_edit_arrives_for_the_same_message(adapter: Harness) -> None:
    platform_id = await adapter.user_posts(f"A1: we co-desing {TAG}")
    await adapter.deliver()

    await adapter.user_edits(platform_id, f"A1: we co-design {TAG}")
    await adapter.deliver()

    edits = [m for m in adapter.messages(platform_id) if m.edited_at is not None]
    if not adapter.platform.capabilities.edits:
        assert edits == [], "edits arrive although capabilities.edits is false"
        pytest.skip(f"{adapter.name}: the network reports no edits")
    assert [m.text for m in edits] == [f"A1: we co-design {TAG}"]
    (edit,) = edits
    assert edit.edited_at is not None and is_aware_utc(edit.edited_at)
    assert edit.edited_at >= edit.created_at
    assert edit.author_id == adapter.user_id


# ---- 4. deletions -------------------------------------------------------------------------------


async def test_a_deletion_is_pushed_or_found_by_existing(adapter: Harness) -> None:
    platform = adapter.platform
    kept = await adapter.user_posts(f"A1: kept {TAG}")
    gone = await adapter.user_posts(f"A1: gone {TAG}")
    await adapter.deliver()

    await adapter.user_deletes(gone)
    await adapter.deliver()

    pushed = [e for e in adapter.events if isinstance(e, MessageDeleted)]
    for deleted in pushed:
        assert (deleted.platform, deleted.platform_id) == (platform.name, gone)
        assert is_aware_utc(deleted.at)
    still = await platform.existing([kept, gone])
    if platform.capabilities.existence:
        assert still == {kept}
    else:
        assert still is None, "existing() answers although capabilities.existence is false"
    assert pushed or platform.capabilities.existence, "the deletion can never be noticed"


# ---- 4b. engagement, read once at publishing -----------------------------------------------


async def test_engagement_is_read_for_the_posts_asked(adapter: Harness) -> None:
    platform = adapter.platform
    liked = await adapter.user_posts(f"A1: liked {TAG}")
    plain = await adapter.user_posts(f"A1: plain {TAG}")
    await adapter.deliver()

    await adapter.others_engage(liked, 2)
    await adapter.deliver()
    counts = await platform.engagement([liked, plain])

    if not platform.capabilities.engagement:
        assert counts == {}, "engagement() answers although capabilities.engagement is false"
        pytest.skip(f"{adapter.name}: the network reports no engagement")
    assert set(counts) <= {liked, plain}

    def score(platform_id: str) -> int:
        e = counts.get(platform_id, Engagement())
        return (e.reactions or 0) + e.likes + e.reposts + e.quotes

    assert (score(liked), score(plain)) == (2, 0)
    # Recorded, the counts make the answer the chat's highlight.
    await adapter.store.write(Store.set_engagement, platform.name, counts)
    chat = adapter.chat
    found = await adapter.store.read(Store.highlights, chat, 3, opted_out=frozenset())
    assert [h.message.platform_id for h in found["1"]] == [liked]
    assert found["1"][0].score == 2


# ---- 5. backfill after downtime -----------------------------------------------------------------


async def test_what_was_posted_while_down_comes_back_after_a_restart(adapter: Harness) -> None:
    since = since_a_moment_ago()
    before = await adapter.user_posts(f"A1: before the outage {TAG}")
    await adapter.go_down()
    missed = [await adapter.user_posts(f"A{n}: while the bot was down {TAG}") for n in (2, 3)]

    await adapter.come_back()

    platform = adapter.platform
    window = await platform.history(
        adapter.channel, since, datetime.now(UTC) + timedelta(seconds=1)
    )
    if platform.capabilities.history:
        found = [m for m in window if m.platform_id in {before, *missed}]
        assert [m.platform_id for m in found] == [before, *missed]
        assert all(isinstance(m, IncomingMessage) and is_aware_utc(m.created_at) for m in found)
        assert [m.text for m in found][1:] == [
            f"A{n}: while the bot was down {TAG}" for n in (2, 3)
        ]
        # The adapter asked its sink to backfill when it came back: the store has them.
        assert adapter.recorder.reconnects >= 1
        stored = {m.platform_id for m in await adapter.store.messages(adapter.chat.id)}
        assert {before, *missed} <= stored
        return
    assert list(window) == [], "history() answers although capabilities.history is false"
    # No history: the adapter's stored cursor must carry it across the restart. What was
    # posted while down arrives once; what arrived before may arrive again once after the
    # restart (Mastodon's stream does not move its timeline cursor: the timeline is the source
    # of truth), and the sink keeps it once.
    await adapter.deliver()
    for platform_id in missed:
        assert len(adapter.messages(platform_id)) == 1, f"{platform_id} not delivered once"
    delivered = {p: len(adapter.messages(p)) for p in (before, *missed)}
    assert delivered[before] in (1, 2), f"{before} delivered {delivered[before]} times"
    await adapter.deliver()  # and one more poll: nothing is delivered again
    assert {p: len(adapter.messages(p)) for p in delivered} == delivered
    rows = [m.platform_id for m in await adapter.store.messages(adapter.chat.id)]
    assert all(rows.count(p) == 1 for p in delivered), "the store holds a message twice"


# ---- 5b. the sweep before publishing ------------------------------------------------------------


async def test_a_sweep_delivers_a_post_the_live_feed_lost(adapter: Harness) -> None:
    # Just before publishing, the facilitator sweeps each of the chat's networks: once
    # `sweep` returns, a post of the window's last seconds that the live feed never carried
    # has reached the sink, and a second sweep leaves it one row in the store.
    lost = await adapter.user_posts_unseen(f"A1: lost in flight {TAG}")
    now = datetime.now(UTC)
    closing = replace(
        adapter.chat,
        end=now - timedelta(seconds=10),
        grace=timedelta(seconds=40),  # the grace period ends half a minute from now
        status=ChatStatus.ENDED,
    )

    await adapter.platform.sweep(closing)

    assert adapter.messages(lost), f"{adapter.name}: the sweep did not deliver the lost post"
    await adapter.platform.sweep(closing)
    rows = [m.platform_id for m in await adapter.store.messages(adapter.chat.id)]
    assert rows.count(lost) == 1


# ---- 6. finding our own post after a crash ------------------------------------------------------


async def test_find_post_finds_our_own_post(adapter: Harness) -> None:
    platform = adapter.platform
    since = since_a_moment_ago()
    text = f"Q2: Who decides? {TAG}"
    await adapter.user_posts(text)  # a participant's post with the same text is not ours

    sent = await platform.send(adapter.channel, text)

    found = await platform.find_post(adapter.channel, text, since)
    if not platform.capabilities.find_posts:
        assert found is None, "find_post() answers although capabilities.find_posts is false"
        pytest.skip(f"{adapter.name}: the network cannot find our posts")
    assert found is not None and found.platform_message_id == sent.platform_message_id
    assert is_aware_utc(found.posted_at)
    assert await platform.find_post(adapter.channel, f"Q3: never posted {TAG}", since) is None


async def test_an_outage_longer_than_the_adapters_retries_is_retried_later(
    adapter: Harness,
) -> None:
    """A network that keeps failing with server errors is not a refusal: the post's intent
    stays (with the reason, for `show`), the runner is told to try again, and once the
    network is back the post goes out exactly once."""
    platform = adapter.platform
    if not adapter.outage(True):
        pytest.skip(f"{adapter.name}: no server that can fail")
    facilitator = Facilitator(
        adapter.store, {adapter.name: platform}, publisher=_publish_nothing, post_backoff=0.01
    )
    target = adapter.chat.targets[0]
    text = f"Q1: How do you involve patients? {TAG}"
    try:
        with pytest.raises(StepFailed):
            await facilitator.post(adapter.chat, "q1", target, text)
    finally:
        adapter.outage(False)
    [row] = [p for p in await adapter.store.posts(adapter.chat.id) if p.action_key == "q1"]
    assert row.status == PostStatus.INTENT and row.error, row

    sent = await facilitator.post(adapter.chat, "q1", target, text)

    assert sent is not None and adapter.stored_text(sent.platform_message_id) == text
    [row] = [p for p in await adapter.store.posts(adapter.chat.id) if p.action_key == "q1"]
    assert row.status == PostStatus.SENT


# ---- 7. the post limit --------------------------------------------------------------------------


async def test_a_post_one_over_the_limit_is_refused_before_the_network_sees_it(
    adapter: Harness,
) -> None:
    platform = adapter.platform
    limit = platform.post_limit
    too_long = "a" * (limit.max_length + 1)  # ASCII: one unit each on every network
    assert limit.count(too_long) == limit.max_length + 1
    requests = adapter.post_requests()

    with pytest.raises(PostTooLong) as refused:
        await platform.send(adapter.channel, too_long)
    with pytest.raises(PostTooLong):
        await platform.post_action(adapter.chat, "q1", adapter.channel, too_long)
    with pytest.raises(PostTooLong):
        await platform.send_file(adapter.channel, too_long, "chat.md", b"# chat")

    message = str(refused.value)
    assert limit.network in message
    assert str(limit.max_length + 1) in message and f"at most {limit.max_length}" in message
    assert adapter.post_requests() == requests
    fits = "a" * limit.max_length
    sent = await platform.send(adapter.channel, fits)
    assert adapter.stored_text(sent.platform_message_id) == fits


# ---- 8. the registry ----------------------------------------------------------------------------


async def test_the_registry_agrees_with_the_adapter(adapter: Harness) -> None:
    platform = adapter.platform
    listed = post_limits(adapter.config)[platform.name]
    ours = platform.post_limit
    assert (listed.network, listed.max_length, listed.unit) == (
        ours.network,
        ours.max_length,
        ours.unit,
    )
    sample = f"Q1: Café, naïve, 患者 and https://example.org/a {TAG}"
    assert listed.count(sample) == ours.count(sample)
    built = build_platforms(adapter.config, SystemClock(), adapter.environ)
    assert type(built[platform.name]) is type(platform)
    assert built[platform.name].post_limit == ours


# ---- 9. announcing a transcript -----------------------------------------------------------------


async def test_announce_posts_the_announcement(adapter: Harness) -> None:
    platform = adapter.platform
    chat = adapter.chat
    result = await adapter.store.write(publish_chat, chat, adapter.tmp_path / "out")
    assert result.attachment is not None

    sent = await platform.announce(chat, adapter.channel, result)

    stored = adapter.stored(sent.platform_message_id)
    assert stored.text == result.announcement
    if platform.capabilities.attachments:
        assert stored.attachment == result.attachment
    else:
        assert stored.attachment is None
    assert stored.embeds == adapter.announce_embeds


# ---- replies to a participant ---------------------------------------------------------------


async def test_reply_answers_the_participant_where_the_network_allows_it(adapter: Harness) -> None:
    """`!optout` is answered with `Platform.reply`: a reply linked to the participant's
    message; on X (automated replies nobody summoned are refused) nothing is posted."""
    platform = adapter.platform
    platform_id = await adapter.user_posts(f"Please leave me out {TAG}")
    await adapter.deliver()
    (msg,) = adapter.messages(platform_id)
    before = adapter.post_requests()

    sent = await platform.reply(msg, "You are opted out.")

    if adapter.name == "x":
        assert sent is None and adapter.post_requests() == before
        return
    assert sent is not None and is_aware_utc(sent.posted_at)
    # Mastodon notifies only whom a status mentions: its reply starts with the @mention
    # (shown as @user in the status's text).
    mention = f"@{msg.author_handle.split('@')[0]} " if adapter.name == "mastodon" else ""
    assert adapter.stored_text(sent.platform_message_id) == f"{mention}You are opted out."
    if adapter.name == "mastodon":
        # The bot's reply carries no hashtag, so the hashtag's timeline never brings it
        # back: the instance itself says what it replies to.
        status = adapter.fake.statuses[sent.platform_message_id]  # type: ignore[attr-defined]
        assert str(status["in_reply_to_id"]) == platform_id
        return
    await adapter.deliver()
    (own,) = adapter.messages(sent.platform_message_id)
    assert own.is_bot and own.reply_to == platform_id


async def test_a_replayed_optout_is_answered_once(adapter: Harness) -> None:
    """The same `!optout` met again (a backfill after a reconnect, the sweep before
    publishing) was answered each time: one answer per message id, on every network."""
    platform = adapter.platform
    question = await platform.post_action(
        adapter.chat, "q1", adapter.channel, f"Q1: How do you involve patients? {TAG}"
    )
    platform_id = await adapter.user_posts("!optout", reply_to=question.platform_message_id)
    await adapter.deliver()
    if not adapter.messages(platform_id):
        # Mastodon brings replies to the bot with its catch-up (at every (re)connect).
        await adapter.go_down()
        await adapter.come_back()
        platform = adapter.platform
        if adapter.name != "x":  # the catch-up runs in the background: wait for it
            await until(
                f"{adapter.name} to deliver the !optout", lambda: adapter.messages(platform_id)
            )
    delivered = adapter.messages(platform_id)
    if adapter.name == "x":
        # X refuses automated replies nobody summoned: `!optout` is never answered there
        # (test_reply_answers_the_participant_where_the_network_allows_it).
        pytest.skip("x: the bot answers no !optout")
    assert delivered, f"{adapter.name} did not deliver the !optout"
    msg = delivered[0]
    # A facilitator that answers on this network (the harness's own sink answers nowhere).
    answering = Facilitator(adapter.store, {adapter.name: platform}, publisher=_no_publish)
    before = adapter.post_requests()

    await answering.capture_messages([msg])
    assert adapter.post_requests() == before + 1, "the first delivery was not answered"
    await answering.capture_messages([msg])  # the same message, delivered again
    await answering.backfill(platform)  # and what a backfill after a reconnect reads again
    await answering.capture_messages([replace(msg, raw=dict(msg.raw))])  # as the sweep brings it

    assert adapter.post_requests() == before + 1, "a replayed !optout was answered again"
    assert await adapter.store.mark_once(opt_reply_key(adapter.name, platform_id), "x") is False
