"""Chats run end to end on Bluesky: bot.app.App, the real atproto client and Jetstream client,
the Bluesky fake, a real database."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import ChatStatus
from archive.store import Store
from bot.app import App
from bot.config import Config, LocalConfig, SchedulerConfig
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import start_bot, until
from tests.bot.networks import bluesky_config
from tests.fakes import conftest as fake_fixtures
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.conftest import ErrorLogCatcher

pytestmark = pytest.mark.timeout(60)

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records


@pytest.fixture
async def fake() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


def app_config(tmp_path: Path, fake: FakeBluesky) -> Config:
    return Config(
        database=tmp_path / "tweetchat.db",
        transcripts_dir=tmp_path / "transcripts",
        scheduler=SchedulerConfig(reminders=()),
        local=LocalConfig(enabled=False),
        bluesky=bluesky_config(fake),
    )


def environ(fake: FakeBluesky) -> dict[str, str]:
    return {"BLUESKY_APP_PASSWORD": fake.password}


def schedule(config: Config, questions: list[dict[str, str]], *, duration: str, grace: str) -> str:
    """Store a #WeDocs chat on Bluesky starting two seconds from now; returns its id."""
    start = datetime.now(UTC) + timedelta(seconds=2)
    plan = parse_chat_plan(
        {
            "title": "Patients in QI",
            "hashtag": "#WeDocs",
            "start": start.isoformat(),
            "timezone": "UTC",
            "duration": duration,
            "grace": grace,
            "targets": [{"platform": "bluesky"}],
            "questions": questions,
        }
    )
    store = Store(config.database)
    try:
        store.add_chat(plan.chat)
    finally:
        store.close()
    return plan.chat.id


def rows(config: Config, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(config.database)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def captured(config: Config, uri: str) -> bool:
    return bool(rows(config, "SELECT 1 FROM messages WHERE platform_id = ?", uri))


def status(config: Config, chat_id: str) -> str:
    found = rows(config, "SELECT status FROM chats WHERE id = ?", chat_id)
    return str(found[0][0]) if found else ""


def bot_post(fake: FakeBluesky, prefix: str) -> str:
    return next((p.uri for p in fake.bot_posts(prefix)), "")


async def test_a_chat_on_bluesky_alone_is_threaded_captured_and_published(
    tmp_path: Path, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    config = app_config(tmp_path, fake)
    alice = fake.add_account("alice.bsky.social", "Alice A.")
    bob = fake.add_account("bob.bsky.social", "Bob")
    carol = fake.add_account("carol.bsky.social", "")
    dave = fake.add_account("dave.bsky.social", "Dave")
    chat_id = schedule(
        config,
        [
            {"text": "How do you involve patients?", "offset": "1s"},
            {"text": "What would you change?", "offset": "7s"},
        ],
        duration="10s",
        grace="2s",
    )
    app = App(config, environ=environ(fake))
    await app.start()
    try:
        await until("Q1 on Bluesky", lambda: bot_post(fake, "Q1:"))
        q1 = bot_post(fake, "Q1:")
        labelled = fake.add_post(alice, "A1: We co-desing with our council #WeDocs")
        reply = fake.add_post(bob, "We ask patients first", reply_to=q1)
        quote = fake.add_post(dave, "Same here", quote_of=q1)
        in_tags = fake.add_post(carol, "Patients sit on our QI board", tags=["wedocs"])
        fake.add_post(carol, "Unrelated #OtherChat")
        regretted = fake.add_post(dave, "A1: something I regret #WeDocs")
        await until("the first answers", lambda: captured(config, regretted))
        fake.edit_post(labelled, "A1: We co-design with our council #WeDocs")
        fake.delete_post(regretted)
        await until("Q2 on Bluesky", lambda: bot_post(fake, "Q2:"))
        answer2 = fake.add_post(bob, "A2: more time for patients #wedocs")
        await until("publishing", lambda: status(config, chat_id) == ChatStatus.PUBLISHED, 30)
    finally:
        await app.stop()

    markdown = (config.transcripts_dir / f"{chat_id}.md").read_text()
    before_q2, q2_section = markdown.split("## Q2")
    q1_section = before_q2.split("## Q1")[1]
    assert "A1: We co-design with our council" in q1_section  # the edit, once
    assert "desing" not in markdown
    assert "We ask patients first" in q1_section  # a reply to the question post
    assert "Same here" in q1_section  # a quote of the question post
    assert "Patients sit on our QI board" in q1_section  # the tag only in `tags`
    assert "more time for patients" in q2_section
    assert "regret" not in markdown
    assert "OtherChat" not in markdown
    assert "https://bsky.app/profile/alice.bsky.social/post/" in markdown
    ids = {str(r[0]) for r in rows(config, "SELECT platform_id FROM messages")}
    assert {labelled, reply, quote, in_tags, answer2} <= ids
    [name] = rows(config, "SELECT author_name FROM messages WHERE platform_id = ?", labelled)
    assert name == ("Alice A.",)  # resolved from the DID through getProfiles

    # The bot's posts: the intro alone, the rest a thread under it, every one tagged.
    intro = fake.bot_posts("Welcome")[0]
    assert "reply" not in intro.record
    threaded = [p for p in fake.bot_posts() if "reply" in p.record]
    assert [p.text.split(":")[0] for p in threaded][:2] == ["Q1", "Q2"]
    assert len(threaded) == 3  # Q1, Q2 and the closing (no wrap-up in a 10-second chat)
    previous = intro
    for post in threaded:
        root, parent = post.record["reply"]["root"], post.record["reply"]["parent"]
        assert (root["uri"], root["cid"]) == (intro.uri, intro.cid)
        assert (parent["uri"], parent["cid"]) == (previous.uri, previous.cid)
        previous = post
    for post in fake.bot_posts():
        tags = [f["features"][0] for f in post.record.get("facets", ())]
        assert {"$type": "app.bsky.richtext.facet#tag", "tag": "WeDocs"} in tags
    assert fake.sessions_created == 1


async def test_a_killed_bot_resumes_from_the_stored_cursor_without_gap_or_duplicate(
    tmp_path: Path, fake: FakeBluesky, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        'database = "tweetchat.db"\ntranscripts_dir = "out"\n'
        "[scheduler]\nreminders = []\n[local]\nenabled = false\n"
        f'[bluesky]\nenabled = true\nhandle = "{fake.bot.handle}"\n'
        f'service_url = "{fake.base_url}"\njetstream_url = "{fake.jetstream_url}"\n',
        encoding="utf-8",
    )
    config = Config(database=tmp_path / "tweetchat.db")
    chat_id = schedule(
        config,
        [{"text": "How do you involve patients?", "offset": "1s"}],
        duration="1h",
        grace="5m",
    )
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", fake.password)
    alice = fake.add_account("alice.bsky.social", "Alice")
    bob = fake.add_account("bob.bsky.social", "Bob")

    first = start_bot(config_path)
    try:
        await until("Q1 on Bluesky", lambda: bot_post(fake, "Q1:"), 30)
        before = fake.add_post(alice, "A1: before the crash #WeDocs")
        await until("the first answer", lambda: captured(config, before))
    finally:
        first.kill()  # SIGKILL: no clean shutdown, no last cursor save
        first.wait()
    [(cursor,)] = rows(config, "SELECT value FROM state WHERE key = 'bluesky:jetstream:seq'")
    dials = len(fake.subscriptions)
    while_down = [
        fake.add_post(bob, f"A1: said while the bot was down {n} #WeDocs") for n in range(5)
    ]

    second = start_bot(config_path)
    try:
        await until("the answers posted while down", lambda: captured(config, while_down[-1]), 30)
        after = fake.add_post(alice, "A1: after the restart #WeDocs")
        await until("an answer after the restart", lambda: captured(config, after))
    finally:
        second.terminate()
        second.wait(timeout=20)

    assert fake.subscriptions[dials]["cursor"] == [str(int(str(cursor)) + 1)]
    ids = [
        str(r[0])
        for r in rows(config, "SELECT platform_id FROM messages WHERE chat_id = ?", chat_id)
    ]
    assert len(ids) == len(set(ids))
    assert {before, *while_down, after} <= set(ids)
    assert len(fake.bot_posts("Q1:")) == 1
    assert fake.sessions_created == 1  # the second run reused the stored session


async def test_a_refused_cursor_is_followed_by_a_backfill_from_search_and_threads(
    tmp_path: Path, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    config = app_config(tmp_path, fake)
    chat_id = schedule(
        config,
        [{"text": "How do you involve patients?", "offset": "1s"}],
        duration="1h",
        grace="5m",
    )
    alice = fake.add_account("alice.bsky.social", "Alice")
    bob = fake.add_account("bob.bsky.social", "Bob")
    first = App(config, environ=environ(fake))
    await first.start()
    try:
        await until("Q1 on Bluesky", lambda: bot_post(fake, "Q1:"))
        before = fake.add_post(alice, "A1: before the outage #WeDocs")
        await until("the first answer", lambda: captured(config, before))
    finally:
        await first.stop()
    q1 = bot_post(fake, "Q1:")
    tagged = fake.add_post(alice, "A1: said during a long outage #WeDocs")
    untagged_reply = fake.add_post(bob, "We ask patients first", reply_to=q1)
    fake.forget_events_before(fake.last_seq + 1)  # Jetstream's window moved past our cursor

    second = App(config, environ=environ(fake))
    await second.start()
    try:
        await until("the outage's posts", lambda: captured(config, untagged_reply))
        await until("the tagged one too", lambda: captured(config, tagged))
        after = fake.add_post(bob, "A1: after the outage #WeDocs")
        await until("live capture again", lambda: captured(config, after))
    finally:
        await second.stop()
    assert fake.requests_to("app.bsky.feed.searchPosts")
    assert fake.requests_to("app.bsky.feed.getPostThread")
    ids = [
        str(r[0])
        for r in rows(config, "SELECT platform_id FROM messages WHERE chat_id = ?", chat_id)
    ]
    assert len(ids) == len(set(ids))


async def test_a_reply_of_the_last_seconds_that_jetstream_lost_is_in_the_transcript(
    tmp_path: Path, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    # The sweep before publishing reads the question post's thread and the hashtag's search
    # once more: posts Jetstream never carried (lost in flight just before the window's end)
    # are published; what came live stays one row.
    config = app_config(tmp_path, fake)
    alice = fake.add_account("alice.bsky.social", "Alice")
    bob = fake.add_account("bob.bsky.social", "Bob")
    chat_id = schedule(
        config,
        [{"text": "How do you involve patients?", "offset": "1s"}],
        duration="6s",
        grace="5s",
    )
    app = App(config, environ=environ(fake))
    await app.start()
    try:
        await until("Q1 on Bluesky", lambda: bot_post(fake, "Q1:"))
        q1 = bot_post(fake, "Q1:")
        live = fake.add_post(alice, "A1: delivered live #WeDocs")
        await until("the live answer", lambda: captured(config, live))
        # The closing is out: the last seconds of the window (its grace) have begun.
        await until(
            "the closing", lambda: len([p for p in fake.bot_posts() if "reply" in p.record]) >= 2
        )
        assert status(config, chat_id) != ChatStatus.PUBLISHED
        lost_reply = fake.add_post(bob, "We ask patients first", reply_to=q1, stream=False)
        lost_tagged = fake.add_post(alice, "A1: one more thing #WeDocs", stream=False)
        await until("publishing", lambda: status(config, chat_id) == ChatStatus.PUBLISHED, 30)
    finally:
        await app.stop()

    markdown = (config.transcripts_dir / f"{chat_id}.md").read_text()
    q1_section = markdown.split("## Q1")[1]
    assert "delivered live" in q1_section
    assert "We ask patients first" in q1_section  # an untagged reply: from Q1's thread
    assert "one more thing" in q1_section  # from the hashtag's search
    ids = [
        str(r[0])
        for r in rows(config, "SELECT platform_id FROM messages WHERE chat_id = ?", chat_id)
    ]
    assert {live, lost_reply, lost_tagged} <= set(ids)
    assert len(ids) == len(set(ids))


async def test_a_cursor_older_than_the_replay_window_gives_way_to_a_search_of_the_window(
    tmp_path: Path, fake: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    """``bluesky.replay_window`` and ``bluesky.search_page_size``: a stored cursor older than
    the window is not replayed; the chat's window is searched instead, so many posts a page."""
    config = replace(
        app_config(tmp_path, fake),
        bluesky=bluesky_config(fake, replay_window=timedelta(seconds=1), search_page_size=25),
    )
    chat_id = schedule(
        config,
        [{"text": "How do you involve patients?", "offset": "1s"}],
        duration="1h",
        grace="5m",
    )
    alice = fake.add_account("alice.bsky.social", "Alice")
    first = App(config, environ=environ(fake))
    await first.start()
    try:
        await until("Q1 on Bluesky", lambda: bot_post(fake, "Q1:"))
        before = fake.add_post(alice, "A1: before the restart #WeDocs")
        await until("the first answer", lambda: captured(config, before))
    finally:
        await first.stop()
    [(saved,)] = rows(config, "SELECT value FROM state WHERE key = 'bluesky:jetstream:time'")
    saved_at = datetime.fromisoformat(str(saved))
    await until(
        "the cursor to age past the window",
        lambda: datetime.now(UTC) - saved_at > timedelta(seconds=2),
    )
    while_away = fake.add_post(alice, "A1: said while the bot was away #WeDocs")
    dials = len(fake.subscriptions)
    second = App(config, environ=environ(fake))
    await second.start()
    try:
        await until("the post made while away", lambda: captured(config, while_away))
    finally:
        await second.stop()
    assert "cursor" not in fake.subscriptions[dials]
    searches = fake.requests_to("app.bsky.feed.searchPosts")
    assert searches and {tuple(r.query["limit"]) for r in searches} == {("25",)}
    assert status(config, chat_id) == "live"
