"""Chats run end to end on X: bot.app.App, the real tweepy client, the X fake, a real database."""

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
from bot.cli import main as cli_main
from bot.config import Config, LocalConfig, SchedulerConfig, XConfig
from bot.platforms.x.adapter import XPlatform
from scheduler.plan import parse_chat_plan
from tests.bot.helpers import until
from tests.bot.test_x_platform import environ_for
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.x_server import FakeX

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records

ALICE = {"id": "3001", "username": "alice", "name": "Alice A."}
BOB = {"id": "3002", "username": "bob_qi", "name": "Bob"}
CAROL = {"id": "3003", "username": "carol", "name": "Carol"}
DAVE = {"id": "3004", "username": "dave", "name": "Dave"}
ERIN = {"id": "3005", "username": "erin", "name": "Erin"}
SEARCH = "/2/tweets/search/recent"


@pytest.fixture
async def fake() -> AsyncIterator[FakeX]:
    async with FakeX() as server:
        yield server


def app_config(tmp_path: Path, fake: FakeX) -> Config:
    return Config(
        database=tmp_path / "tweetchat.db",
        transcripts_dir=tmp_path / "transcripts",
        scheduler=SchedulerConfig(reminders=()),
        local=LocalConfig(enabled=False),
        x=XConfig(enabled=True, api_base_url=fake.base_url, poll_interval=0.2, max_results=10),
    )


def schedule(config: Config, questions: list[dict[str, str]], *, duration: str, grace: str) -> str:
    """Store a #WeDocs chat on X starting two seconds from now; returns its id."""
    start = datetime.now(UTC) + timedelta(seconds=2)
    plan = parse_chat_plan(
        {
            "title": "Patients in QI",
            "hashtag": "#WeDocs",
            "start": start.isoformat(),
            "timezone": "UTC",
            "duration": duration,
            "grace": grace,
            "targets": [{"platform": "x"}],
            "questions": questions,
        }
    )
    store = Store(config.database)
    try:
        store.add_chat(plan.chat)
    finally:
        store.close()
    return plan.chat.id


def host_post(fake: FakeX, prefix: str) -> str:
    return next((t.id for t in fake.posts_by_host() if t.text.startswith(prefix)), "")


def rows(config: Config, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(config.database)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def captured(config: Config, platform_id: str) -> bool:
    return bool(rows(config, "SELECT 1 FROM messages WHERE platform_id = ?", platform_id))


def status(config: Config, chat_id: str) -> str:
    found = rows(config, "SELECT status FROM chats WHERE id = ?", chat_id)
    return str(found[0][0]) if found else ""


async def test_a_chat_on_x_is_captured_and_published_without_deleted_posts(
    tmp_path: Path, fake: FakeX, no_error_logs: ErrorLogCatcher
) -> None:
    config = app_config(tmp_path, fake)
    chat_id = schedule(
        config,
        [
            # Q2 well after Q1: an unlabelled answer belongs to the question open when it
            # was posted, and a loaded machine can take seconds to get the Q1 answers in.
            {"text": "How do you involve patients?", "offset": "1s"},
            {"text": "What would you change?", "offset": "8s"},
        ],
        duration="11s",
        grace="2s",
    )
    x = XPlatform(
        config.x, environ=environ_for(fake), backoff=0.01, recheck_interval=0.3, sweep_settle=0
    )
    app = App(config, platforms={"x": x})
    await app.start()
    try:
        await until("Q1 on X", lambda: host_post(fake, "Q1:"))
        q1 = host_post(fake, "Q1:")
        labelled = fake.add_tweet(ALICE, "A1: We co-desing with our council #WeDocs")
        reply = fake.add_tweet(BOB, "We ask patients first", reply_to=q1)
        unlabelled = fake.add_tweet(CAROL, "Patients sit on our QI board #WeDocs")
        quote = fake.add_tweet(DAVE, "Same here #WeDocs", quote_of=labelled)
        quoted_q1 = fake.add_tweet(ERIN, "Patients on every interview panel", quote_of=q1)
        fake.add_tweet(ERIN, "", retweet_of=labelled)
        regretted = fake.add_tweet(DAVE, "A1: something I regret #WeDocs")
        await until("the first answers", lambda: captured(config, regretted))
        fake.edit_tweet(labelled, "A1: We co-design with our council #WeDocs")
        fake.delete_tweet(regretted)
        await until("Q2 on X", lambda: host_post(fake, "Q2:"))
        answer2 = fake.add_tweet(BOB, "A2: more time for patients #WeDocs")
        await until("publishing", lambda: status(config, chat_id) == ChatStatus.PUBLISHED)

        markdown = (config.transcripts_dir / f"{chat_id}.md").read_text()
        before_q2, q2_section = markdown.split("## Q2")
        q1_section = before_q2.split("## Q1")[1]
        assert "A1: We co-design with our council" in q1_section  # the edit, once
        assert "desing" not in markdown
        assert "We ask patients first" in q1_section  # a reply to the question post
        assert "Patients sit on our QI board" in q1_section  # unlabelled, while Q1 was open
        assert "Same here" in q1_section  # a quote
        assert "Patients on every interview panel" in q1_section  # a quote of Q1, no tag
        assert "more time for patients" in q2_section
        assert "regret" not in markdown
        assert "RT @alice" not in markdown
        assert "X API cost estimate" in markdown
        ids = {str(r[0]) for r in rows(config, "SELECT platform_id FROM messages")}
        assert {labelled, reply, unlabelled, quote, quoted_q1, answer2} <= ids
        assert len(ids) == len(rows(config, "SELECT platform_id FROM messages"))
        [quote_reply] = rows(config, "SELECT reply_to FROM messages WHERE platform_id=?", quote)
        assert quote_reply == (labelled,)

        # Deleted after publishing: the daily re-check (fast here) regenerates the transcript.
        fake.delete_tweet(unlabelled)
        transcript = config.transcripts_dir / f"{chat_id}.md"
        await until(
            "the transcript without the deleted post",
            lambda: "Patients sit on our QI board" not in transcript.read_text(),
        )
    finally:
        await app.stop()
    posted = [t.text.split(":")[0] for t in fake.posts_by_host()]
    assert posted[:3] == ["Welcome to #WeDocs! Tonight", "Q1", "Q2"]
    assert all("#WeDocs" in t.text for t in fake.posts_by_host())
    assert len([t for t in fake.posts_by_host() if t.text.startswith("Thank you")]) == 1


async def test_a_restart_resumes_capture_from_since_id_without_gap_or_duplicate(
    tmp_path: Path, fake: FakeX, no_error_logs: ErrorLogCatcher, capsys: pytest.CaptureFixture[str]
) -> None:
    config = app_config(tmp_path, fake)
    chat_id = schedule(
        config,
        [{"text": "How do you involve patients?", "offset": "1s"}],
        duration="1h",
        grace="5m",
    )
    first = App(config, environ=environ_for(fake))
    await first.start()
    try:
        await until("Q1 on X", lambda: host_post(fake, "Q1:"))
        before = fake.add_tweet(ALICE, "A1: before the restart #WeDocs")
        await until("the first answer", lambda: captured(config, before))
    finally:
        await first.stop()
    since = rows(config, "SELECT value FROM state WHERE key = 'x:since:#wedocs'")[0][0]
    searches_before = len(fake.requests_to(SEARCH))
    while_down = [
        fake.add_tweet(BOB, f"A1: said while the bot was down {n} #WeDocs") for n in range(12)
    ]

    second = App(config, environ=environ_for(fake))
    await second.start()
    try:
        await until("the answers posted while down", lambda: captured(config, while_down[-1]))
        after = fake.add_tweet(CAROL, "A1: after the restart #WeDocs")
        await until("an answer after the restart", lambda: captured(config, after))
    finally:
        await second.stop()

    resumed = fake.requests_to(SEARCH)[searches_before]
    assert resumed.query["since_id"] == since
    ids = [str(r[0]) for r in rows(config, "SELECT platform_id FROM messages")]
    assert len(ids) == len(set(ids))
    assert {before, *while_down, after} <= set(ids)
    assert len([t for t in fake.posts_by_host() if t.text.startswith("Q1:")]) == 1

    config_file = tmp_path / "tweetchat.toml"
    config_file.write_text(f'database = "{config.database}"\n')
    assert cli_main(["--config", str(config_file), "show", chat_id]) == 0
    shown = capsys.readouterr().out
    assert "X cost so far: X API cost estimate:" in shown
    assert "posts created" in shown


def test_config_reaches_the_adapter_through_build_platforms(tmp_path: Path) -> None:
    from bot.platforms.registry import build_platforms
    from scheduler.clock import SystemClock

    config = replace(Config(), x=XConfig(enabled=True), local=LocalConfig(enabled=False))

    platforms = build_platforms(config, SystemClock(), {})

    assert isinstance(platforms["x"], XPlatform)
    assert platforms["x"].config is config.x
