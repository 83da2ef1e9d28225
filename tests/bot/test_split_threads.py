"""Long intros and closings go out as threads (issue 14, item 1; ``split_long_posts``):
whole chats through bot.app.App with the real tweepy and atproto clients against the X and
Bluesky fakes, and `tweetchat run` on the local platform, asserting the posts each network
received (how many, in order, each a reply to the one before, each within the limit) and
that the transcript has each such post once, whole."""

from __future__ import annotations

import itertools
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus
from archive.store import Store
from bot.app import App
from bot.config import Config, LocalConfig, SchedulerConfig, XConfig
from bot.platforms.bluesky.limits import post_limit as bluesky_limit
from bot.platforms.local.adapter import LocalNetwork
from bot.platforms.local.limits import POST_LIMIT as LOCAL_LIMIT
from bot.platforms.x.adapter import XPlatform
from bot.platforms.x.length import post_limit as x_limit
from scheduler.plan import parse_chat_plan
from scheduler.threads import split_post
from scheduler.timeline import format_close, format_intro
from tests.bot.helpers import chat_file, config_file, tweetchat, until, wait_for
from tests.bot.networks import bluesky_config
from tests.bot.test_crash_reconcile import run_bot
from tests.bot.test_x_platform import environ_for
from tests.fakes import conftest as fake_fixtures
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.x_server import FakeX

pytestmark = pytest.mark.timeout(120)

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records
fake_discord = fake_fixtures.fake_discord

INTRO = (
    "Welcome to #WeDocs, the monthly chat on patients as partners in quality improvement. "
    "Tonight Dr. Jane Smith of St. Mary's hospital is our guest host, and she brings stories "
    "from ten years of co-design with patients and carers. "
    "We go through two questions, a few minutes apart, with room for your own stories. "
    "Please be kind: people share real experiences here, and some of them are hard. "
    "The reading list is at https://example.org/wedocs/reading-list.html if you want it."
)
CLOSING = (
    "Thank you all for joining tonight, and thank you Dr. Smith for hosting. "
    "Your stories on co-design were generous and practical, and we will share them widely. "
    "We could not have done it without the patients and carers who joined us tonight. "
    "Next month we talk about measuring what matters to patients, same time, same hashtag. "
    "Transcript to follow."
)
NUMBER = re.compile(r" \((\d+)/(\d+)\)$")


def schedule(config: Config, platform: str, start_in: float = 2) -> Chat:
    """Store a #WeDocs chat with a long intro and closing, split_long_posts on, checked
    against the network's limit as `tweetchat schedule` does."""
    from bot.platforms.registry import post_limits

    start = datetime.now(UTC) + timedelta(seconds=start_in)
    plan = parse_chat_plan(
        {
            "title": "Patients in QI",
            "hashtag": "#WeDocs",
            "start": start.isoformat(),
            "timezone": "UTC",
            "duration": "8s",
            "grace": "2s",
            "intro": INTRO,
            "closing": CLOSING,
            "split_long_posts": True,
            "targets": [{"platform": platform}],
            "questions": [
                {"text": "How do you involve patients?", "offset": "1s"},
                {"text": "What would you change?", "offset": "4s"},
            ],
        },
        post_limits=post_limits(config),
    )
    store = Store(config.database)
    try:
        store.add_chat(plan.chat)
    finally:
        store.close()
    return plan.chat


def ledger(db: Path, chat_id: str) -> dict[str, tuple[str, str]]:
    """action key -> (status, platform message id)."""
    conn = sqlite3.connect(db)
    try:
        return {
            k: (s, m)
            for k, s, m in conn.execute(
                "SELECT action_key, status, platform_message_id FROM posts WHERE chat_id = ?",
                (chat_id,),
            )
        }
    finally:
        conn.close()


def status(db: Path, chat_id: str) -> str:
    conn = sqlite3.connect(db)
    try:
        found = conn.execute("SELECT status FROM chats WHERE id = ?", (chat_id,)).fetchone()
        return str(found[0]) if found else ""
    finally:
        conn.close()


def check_numbered(texts: list[str]) -> None:
    """Each part ends with its number, (1/n) to (n/n)."""
    found = [NUMBER.search(t) for t in texts]
    assert [(int(m.group(1)), int(m.group(2))) for m in found if m] == [
        (i, len(texts)) for i in range(1, len(texts) + 1)
    ], texts


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", NUMBER.sub("", text))


def check_transcript(markdown: str) -> None:
    """The intro is quoted in the header and listed once, whole, as the bot's post; no
    part of it or of the closing is listed on its own."""
    assert markdown.count("Tonight Dr. Jane Smith") == 2  # the header's quote and the post
    assert markdown.count("if you want it.") == 2
    assert markdown.count("Next month we talk about measuring") == 1
    assert not any(f"({n}/{total})" in markdown for total in (2, 3) for n in (1, 2, 3))


@pytest.fixture
async def fake_x() -> AsyncIterator[FakeX]:
    async with FakeX() as server:
        yield server


async def test_a_long_intro_and_closing_go_out_on_x_as_threads_of_replies(
    tmp_path: Path, fake_x: FakeX, no_error_logs: ErrorLogCatcher
) -> None:
    fake_x.block_unsummoned_replies = True  # as X does since 2026: our own thread is allowed
    config = Config(
        database=tmp_path / "tweetchat.db",
        transcripts_dir=tmp_path / "transcripts",
        scheduler=SchedulerConfig(reminders=()),
        local=LocalConfig(enabled=False),
        x=XConfig(enabled=True, api_base_url=fake_x.base_url, poll_interval=0.2, max_results=10),
    )
    chat = schedule(config, "x")
    x = XPlatform(
        config.x, environ=environ_for(fake_x), backoff=0.01, recheck_interval=0.3, sweep_settle=0
    )
    app = App(config, platforms={"x": x})
    await app.start()
    try:
        await until(
            "publishing",
            lambda: status(config.database, chat.id) == ChatStatus.PUBLISHED,
            within=60,
        )
    finally:
        await app.stop()

    limit = x_limit()
    posts = fake_x.posts_by_host()
    intro_parts = split_post(format_intro(chat), limit)
    closing_parts = split_post(format_close(chat), limit)
    assert len(intro_parts) == 3 and len(closing_parts) == 2
    texts = [t.text for t in posts]
    # In order: the intro's parts, Q1, Q2, the closing's parts (then the announcement).
    assert texts[: len(intro_parts)] == intro_parts
    assert texts[3].startswith("Q1:") and texts[4].startswith("Q2:")
    assert texts[5:7] == closing_parts
    for thread in (posts[0:3], posts[5:7]):
        check_numbered([t.text for t in thread])
        assert thread[0].reply_to is None
        for before, after in itertools.pairwise(thread):
            assert after.reply_to == before.id  # each a reply to the part before
    assert all(limit.count(t) <= 280 for t in texts)
    assert "".join(squeezed(p) for p in intro_parts) == squeezed(format_intro(chat))
    assert posts[3].reply_to is None  # questions stay standalone on X

    rows = ledger(config.database, chat.id)
    assert rows["intro"] == ("sent", posts[0].id)
    assert [rows[f"intro#{n}"] for n in (1, 2, 3)] == [("sent", t.id) for t in posts[0:3]]
    assert rows["close"] == ("sent", posts[5].id)
    check_transcript((config.transcripts_dir / f"{chat.id}.md").read_text())


@pytest.fixture
async def fake_bluesky() -> AsyncIterator[FakeBluesky]:
    async with FakeBluesky() as server:
        yield server


async def test_a_long_intro_and_closing_go_out_on_bluesky_in_the_chat_thread(
    tmp_path: Path, fake_bluesky: FakeBluesky, no_error_logs: ErrorLogCatcher
) -> None:
    fake = fake_bluesky
    config = Config(
        database=tmp_path / "tweetchat.db",
        transcripts_dir=tmp_path / "transcripts",
        scheduler=SchedulerConfig(reminders=()),
        local=LocalConfig(enabled=False),
        bluesky=bluesky_config(fake),
    )
    chat = schedule(config, "bluesky")
    app = App(config, environ={"BLUESKY_APP_PASSWORD": fake.password})
    await app.start()
    try:
        await until(
            "publishing",
            lambda: status(config.database, chat.id) == ChatStatus.PUBLISHED,
            within=60,
        )
    finally:
        await app.stop()

    limit = bluesky_limit()
    intro_parts = split_post(format_intro(chat), limit)
    closing_parts = split_post(format_close(chat), limit)
    assert len(intro_parts) == 3 and len(closing_parts) == 2
    posts = fake.bot_posts()
    thread = posts[:7]  # no wrap-up in an 8-second chat
    texts = [p.text for p in thread]
    assert texts[:3] == intro_parts
    assert texts[3].startswith("Q1:") and texts[4].startswith("Q2:")
    assert texts[5:7] == closing_parts
    assert len(posts) == 8 and "reply" not in posts[7].record  # the announcement, alone
    check_numbered(texts[:3])
    check_numbered(texts[5:7])
    assert all(limit.count(t) <= 300 for t in texts)
    # One thread: the intro's first part is its root, each post replies to the one before.
    root = thread[0]
    assert "reply" not in root.record
    for before, post in itertools.pairwise(thread):
        reply = post.record["reply"]
        assert (reply["root"]["uri"], reply["root"]["cid"]) == (root.uri, root.cid)
        assert (reply["parent"]["uri"], reply["parent"]["cid"]) == (before.uri, before.cid)
    check_transcript((config.transcripts_dir / f"{chat.id}.md").read_text())


def local_messages(net_path: Path) -> list[sqlite3.Row]:
    net = LocalNetwork(net_path)
    try:
        return [r for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()


def test_a_long_intro_goes_out_on_the_local_platform_as_consecutive_messages(
    tmp_path: Path,
) -> None:
    long_intro = " ".join(
        f"Story {n}: we met patients on the ward every week and wrote down what they said."
        for n in range(60)
    )
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=8,  # check and schedule take seconds on a loaded machine
        questions=("One?",),
        first_question="2s",
        duration="5s",
        grace="1s",
        intro=long_intro,
        extra="split_long_posts = true",
    )
    checked = tweetchat(["check", "chat.toml"], config)
    assert checked.returncode == 0, checked.stderr
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    result = tweetchat(["run", "--until-idle"], config, timeout=90)
    assert result.returncode == 0, result.stderr
    store = Store(tmp_path / "db.sqlite")
    try:
        (chat,) = store.list_chats()
    finally:
        store.close()
    parts = split_post(format_intro(chat), LOCAL_LIMIT)
    assert len(parts) == 2
    posted = [r["text"] for r in local_messages(tmp_path / "net.sqlite")]
    assert posted[:2] == parts  # consecutive, unnumbered, each within 4,000
    assert posted[2].startswith("Q1:")
    assert all(len(t) <= 4000 for t in posted)
    assert not any(NUMBER.search(t) for t in posted)
    markdown = next((tmp_path / "out").glob("*.md")).read_text()
    assert markdown.count("Story 59: we met patients") == 2  # the header, and the post once


# -- a crash between parts -----------------------------------------------------------------

THREE_PART_INTRO = " ".join(
    f"Story {n}: we met patients on the ward every week and wrote down what they said."
    for n in range(110)
)


@pytest.mark.parametrize(
    "fault",
    [
        "crash-after-part:intro#1",  # part 1 out and recorded; part 2 never tried
        "crash-after-send:intro#2",  # part 2 out, its record lost with the process
    ],
)
def test_a_crash_between_parts_resumes_without_posting_a_part_twice(
    tmp_path: Path, fault: str
) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=6,
        questions=("One?", "Two?"),
        first_question="2s",
        interval="4s",
        duration="9s",
        grace="1s",
        intro=THREE_PART_INTRO,
        extra="split_long_posts = true",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    db, net = tmp_path / "db.sqlite", tmp_path / "net.sqlite"
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault=fault)
        crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    before = [r["text"] for r in local_messages(net)]
    assert len(before) == (1 if fault.endswith("#1") else 2)
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        bot.wait(timeout=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    store = Store(db)
    try:
        (chat,) = store.list_chats()
    finally:
        store.close()
    parts = split_post(format_intro(chat), LOCAL_LIMIT)
    assert len(parts) == 3
    posted = local_messages(net)
    texts = [r["text"] for r in posted]
    assert texts[:3] == parts, out  # each part once, in order
    assert texts.count(parts[1]) == 1 and texts[3].startswith("Q1:")
    rows = ledger(db, chat.id)
    assert rows["intro"] == ("sent", str(posted[0]["seq"]))
    assert [rows[f"intro#{n}"] for n in (1, 2, 3)] == [("sent", str(r["seq"])) for r in posted[:3]]
    assert "Traceback" not in out
    markdown = next((tmp_path / "out").glob("*.md")).read_text()
    assert markdown.count("Story 109: we met patients") == 2  # the header, and the post once


def test_a_thread_resumed_late_goes_on_with_the_text_first_intended(tmp_path: Path) -> None:
    """The second run finds the intro past ``misfire_grace`` and would add "(posted late...)":
    the parts still to post are those of the text whose first part is out, so the thread
    reads as one post."""
    config = config_file(tmp_path, '[scheduler]\nmisfire_grace = "1s"\n')
    start = chat_file(
        tmp_path / "chat.toml",
        start_in=6,
        questions=("One?",),
        first_question="8s",
        duration="20s",
        grace="1s",
        intro=THREE_PART_INTRO,
        extra="split_long_posts = true",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    db, net = tmp_path / "db.sqlite", tmp_path / "net.sqlite"
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault="crash-after-part:intro#1")
        crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    assert len(local_messages(net)) == 1
    conn = sqlite3.connect(db)
    try:
        [(intended,)] = conn.execute("SELECT text FROM posts WHERE action_key = 'intro'")
    finally:
        conn.close()
    assert THREE_PART_INTRO[:40] in str(intended)
    # Past the grace: the intro is now late.
    wait_for(lambda: datetime.now(UTC) > start + timedelta(seconds=3), what="the grace to pass")
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        bot.wait(timeout=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    # The parts of the text the first run split (the intro, with a note only if that run
    # was itself late), not of the text the second run would write now.
    parts = split_post(str(intended), LOCAL_LIMIT)
    texts = [r["text"] for r in local_messages(net)]
    assert texts[:3] == parts, out
    assert texts[3].startswith("Q1:")


async def test_on_x_a_crash_after_a_part_resumes_with_the_next_part_replying_to_it(
    tmp_path: Path, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ_for(fake_x).items():
        monkeypatch.setenv(name, value)
    config = config_file(
        tmp_path,
        "enabled = false\n[scheduler]\nreminders = []\n"
        f'[x]\nenabled = true\napi_base_url = "{fake_x.base_url}"\npoll_interval = 5\n',
    )
    chat_file(
        tmp_path / "chat.toml",
        start_in=6,
        questions=("One?",),
        first_question="3s",
        duration="6s",
        grace="1s",
        intro=INTRO,
        extra='split_long_posts = true\n[[targets]]\nplatform = "x"\n',
    )
    result = tweetchat(["schedule", "chat.toml"], config)
    assert result.returncode == 0, result.stderr
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault="crash-after-part:intro#1")
        await until("the crash after part 1", lambda: crashing.poll() is not None, within=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    assert len(fake_x.posts_by_host()) == 1
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        await until("the second run to finish", lambda: bot.poll() is not None, within=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    posts = fake_x.posts_by_host()
    texts = [t.text for t in posts]
    # The intro's three parts each once, then Q1, the closing and the announcement.
    assert len(posts) == 6 and texts[3].startswith("Q1:"), texts
    assert texts[4].startswith("Bye") and texts[5].startswith("Thank you for joining")
    intro = posts[:3]
    assert "".join(squeezed(t.text) for t in intro).startswith(squeezed(INTRO))
    check_numbered([t.text for t in intro])
    assert intro[0].reply_to is None
    assert intro[1].reply_to == intro[0].id and intro[2].reply_to == intro[1].id
    assert all(x_limit().count(t.text) <= 280 for t in posts)


# -- Discord and Mastodon: the facilitator's thread through the real adapters ---------------


async def test_on_discord_parts_are_consecutive_messages_and_the_thread_opens_on_the_first(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    from archive.store import AsyncStore
    from bot.config import DiscordConfig
    from bot.facilitator import Facilitator
    from bot.platforms.base import PlatformServices
    from bot.platforms.discord.limits import POST_LIMIT as DISCORD_LIMIT
    from tests.bot.test_discord_platform import _no_publish, chat_in, make_platform

    platform = make_platform(DiscordConfig(enabled=True, capture_mode="thread"))
    store = AsyncStore(tmp_path / "db.sqlite")
    try:
        platform.use_services(PlatformServices(store=store))
        chat = replace(chat_in(fake_discord.channel_id), split_long_posts=True)
        await store.add_chat(chat)
        facilitator = Facilitator(store, {"discord": platform}, publisher=_no_publish)
        await platform.start()
        target = chat.targets[0]
        intro_text = THREE_PART_INTRO[:3000] + "."
        closing_text = THREE_PART_INTRO[3000:6000] + "."
        intro = await facilitator.post_thread(chat, "intro", target, intro_text)
        q1 = await facilitator.post(chat, "q1", target, "Q1: One? #WeDocs")
        close = await facilitator.post_thread(chat, "close", target, closing_text)
        assert intro is not None and q1 is not None and close is not None
        intro_parts = split_post(intro_text, DISCORD_LIMIT)
        closing_parts = split_post(closing_text, DISCORD_LIMIT)
        assert len(intro_parts) == 2 and len(closing_parts) == 2
        channel = fake_discord.messages(fake_discord.channel_id)
        # The intro's parts one after the other in the channel, unnumbered, no references.
        assert [m["content"] for m in channel] == intro_parts
        assert not any(m.get("message_reference") for m in channel)
        assert all(len(m["content"]) <= 2000 for m in channel)
        # The thread is opened on the first part; the closing's parts follow Q1 there.
        assert int(channel[0]["id"]) == int(intro.platform_message_id)
        thread = fake_discord.messages(int(intro.platform_message_id))
        assert [m["content"] for m in thread] == ["Q1: One? #WeDocs", *closing_parts]
        assert not any(m.get("message_reference") for m in thread)
    finally:
        await platform.stop()
        await store.aclose()


async def test_on_mastodon_each_part_replies_to_the_one_before_and_questions_to_the_last(
    tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> None:
    from archive.store import AsyncStore
    from bot.facilitator import Facilitator
    from bot.platforms.mastodon.limits import post_limit as mastodon_limit
    from tests.bot.test_mastodon_platform import live_chat, no_publish, started
    from tests.fakes.mastodon_server import FakeMastodon

    async with FakeMastodon() as fake:
        store = AsyncStore(tmp_path / "db.sqlite")
        platform = await started(fake, store)
        try:
            chat = live_chat(split_long_posts=True)
            await store.add_chat(chat)
            facilitator = Facilitator(store, {"mastodon": platform}, publisher=no_publish)
            target = chat.targets[0]
            intro = await facilitator.post_thread(chat, "intro", target, INTRO + " " + INTRO)
            q1 = await facilitator.post(chat, "q1", target, "Q1: One? #WeDocs")
            assert intro is not None and q1 is not None
            parts = split_post(INTRO + " " + INTRO, mastodon_limit())
            assert len(parts) == 2
            statuses = fake.by_bot()
            assert len(statuses) == 3
            assert statuses[0]["in_reply_to_id"] is None
            assert statuses[1]["in_reply_to_id"] == statuses[0]["id"]
            assert statuses[2]["in_reply_to_id"] == statuses[1]["id"]  # Q1: the intro's last
            for status in statuses[:2]:
                assert re.search(r"\((\d)/2\)</p>$", str(status["content"]))
            assert all(mastodon_limit().count(p) <= 500 for p in parts)
            # Posting again (a retry) posts nothing: every part is in the ledger.
            again = await facilitator.post_thread(chat, "intro", target, INTRO + " " + INTRO)
            assert again is None and len(fake.by_bot()) == 3
        finally:
            await platform.stop()
            await store.aclose()


async def test_a_part_refused_for_good_fails_the_whole_post_and_show_says_why(
    tmp_path: Path, fake_x: FakeX
) -> None:
    from archive.store import AsyncStore
    from bot.facilitator import Facilitator
    from bot.platforms.base import PlatformServices
    from scheduler.standing import StepState, standing
    from scheduler.timeline import timeline
    from tests.bot.test_x_platform import live_chat, no_publish, x_config

    store = AsyncStore(tmp_path / "db.sqlite")
    platform = XPlatform(
        x_config(fake_x, poll_interval=3600.0), environ=environ_for(fake_x), backoff=0.01
    )
    platform.use_services(PlatformServices(store=store))
    await platform.start()
    try:
        chat = replace(live_chat(), intro=INTRO, split_long_posts=True)
        await store.add_chat(chat)
        facilitator = Facilitator(store, {"x": platform}, publisher=no_publish)
        parts = split_post(format_intro(chat), x_limit())
        fake_x.add_tweet(fake_x.host_user, parts[1])  # X refuses part 2 as a duplicate
        target = chat.targets[0]

        first = await facilitator.post_thread(chat, "intro", target, format_intro(chat))

        assert first is None
        assert [t.text for t in fake_x.posts_by_host()] == [parts[1], parts[0]]  # no part 3
        rows = ledger(tmp_path / "db.sqlite", chat.id)
        assert rows["intro"][0] == "failed" and rows["intro#2"][0] == "failed"
        assert rows["intro#1"][0] == "sent" and "intro#3" not in rows
        posts = await store.posts(chat.id)
        (step,) = [
            s for s in standing(chat, timeline(chat), posts, datetime.now(UTC)) if s.key == "intro"
        ]
        assert step.state == StepState.FAILED
        assert "part 2 of 3" in step.note and "duplicate content" in step.note
        # Tried again, nothing more is posted.
        assert await facilitator.post_thread(chat, "intro", target, format_intro(chat)) is None
        assert len(fake_x.posts_by_host()) == 2
    finally:
        await platform.stop()
        await store.aclose()


# -- a thread resumed under another post limit ---------------------------------------------


def x_run_config(tmp_path: Path, fake_x: FakeX, max_post_length: int, local: bool) -> Path:
    """A config with X on the fake (and the local platform, where host alerts go, when
    ``local``), X's limit at ``max_post_length``."""
    return config_file(
        tmp_path,
        ("" if local else "enabled = false\n") + "[scheduler]\nreminders = []\n"
        f'[x]\nenabled = true\napi_base_url = "{fake_x.base_url}"\npoll_interval = 5\n'
        f"max_post_length = {max_post_length}\n",
    )


async def crash_after_intro_part_1(
    tmp_path: Path, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch, *, local: bool = False
) -> list[str]:
    """Schedule a chat whose intro is a thread of 3 on X (280), run it until part 1 is out
    and recorded, and SIGKILL the bot there. Returns the planned parts."""
    for name, value in environ_for(fake_x).items():
        monkeypatch.setenv(name, value)
    config = x_run_config(tmp_path, fake_x, 280, local)
    targets = '[[targets]]\nplatform = "x"\n' + (
        '[[targets]]\nplatform = "local"\nchannel = "main"\n' if local else ""
    )
    chat_file(
        tmp_path / "chat.toml",
        start_in=6,
        questions=("One?",),
        first_question="3s",
        duration="6s",
        grace="1s",
        intro=INTRO,
        extra="split_long_posts = true\n" + targets,
    )
    result = tweetchat(["schedule", "chat.toml"], config)
    assert result.returncode == 0, result.stderr
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault="crash-after-part:intro#1")
        await until("the crash after part 1", lambda: crashing.poll() is not None, within=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    store = Store(tmp_path / "db.sqlite")
    try:
        (chat,) = store.list_chats()
    finally:
        store.close()
    parts = split_post(format_intro(chat), x_limit())
    assert len(parts) == 3
    assert [t.text for t in fake_x.posts_by_host()] == parts[:1]
    return parts


async def resume(tmp_path: Path, fake_x: FakeX, max_post_length: int, local: bool) -> str:
    """Run the bot again, X's limit now ``max_post_length``, until idle; its log."""
    config = x_run_config(tmp_path, fake_x, max_post_length, local)
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        await until("the second run to finish", lambda: bot.poll() is not None, within=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    return out


async def test_a_thread_resumed_under_a_larger_limit_posts_the_parts_first_planned(
    tmp_path: Path, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1 out, then X's limit raised so that the whole intro fits one post: the rest
    of the thread goes out as planned, not the whole intro again, nor nothing."""
    parts = await crash_after_intro_part_1(tmp_path, fake_x, monkeypatch)
    assert x_limit(2000).excess(INTRO + " " + parts[-1]) is None  # it would fit one post now

    out = await resume(tmp_path, fake_x, 2000, local=False)

    posts = fake_x.posts_by_host()
    texts = [t.text for t in posts]
    assert texts[:3] == parts, out  # each part once, as planned, numbered (n/3)
    assert texts[3].startswith("Q1:"), texts
    assert posts[1].reply_to == posts[0].id and posts[2].reply_to == posts[1].id
    rows = ledger(tmp_path / "db.sqlite", next(iter(rows_chat(tmp_path))))
    assert rows["intro"] == ("sent", posts[0].id)
    assert [rows[f"intro#{n}"] for n in (1, 2, 3)] == [("sent", t.id) for t in posts[:3]]
    markdown = next((tmp_path / "out").glob("*.md")).read_text()
    assert markdown.count("Tonight Dr. Jane Smith") == 2  # the header's quote and the post
    assert markdown.count("if you want it.") == 2
    assert not any(f"({n}/3)" in markdown for n in (1, 2, 3))


async def test_a_thread_resumed_under_a_smaller_limit_fails_clearly_and_alerts_the_hosts(
    tmp_path: Path, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1 out, then X's limit lowered below the planned parts: nothing more of the
    intro goes out on X (no part cut, none split again), the intro is failed with the
    reason, the hosts are told (in the local channel), and the chat goes on."""
    parts = await crash_after_intro_part_1(tmp_path, fake_x, monkeypatch, local=True)
    smaller = 200
    assert any(x_limit(smaller).excess(p) is not None for p in parts[1:])

    out = await resume(tmp_path, fake_x, smaller, local=True)

    texts = [t.text for t in fake_x.posts_by_host()]
    assert texts[0] == parts[0] and texts[1].startswith("Q1:"), texts
    assert not any(squeezed(p)[:60] in squeezed(t) for p in parts[1:] for t in texts), texts
    (chat_id,) = rows_chat(tmp_path)
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    try:
        [(state, error)] = conn.execute(
            "SELECT status, error FROM posts WHERE action_key = 'intro' AND platform = 'x'"
        )
    finally:
        conn.close()
    assert state == "failed", out
    assert "of 3 of the thread begun earlier is too long for X" in error
    assert f"at most {smaller}" in error
    alerts = [
        r["text"] for r in local_messages(tmp_path / "net.sqlite") if "Could not post" in r["text"]
    ]
    assert len(alerts) == 1 and "intro on x" in alerts[0] and chat_id in alerts[0], alerts
    shown = tweetchat(["show", chat_id], tmp_path / "config.toml")
    assert "thread begun earlier is too long for X" in shown.stdout, shown.stdout


def rows_chat(tmp_path: Path) -> list[str]:
    """The ids of the chats in the test's archive."""
    store = Store(tmp_path / "db.sqlite")
    try:
        return [c.id for c in store.list_chats()]
    finally:
        store.close()


@pytest.mark.parametrize("max_post_length", [280, 2000])
async def test_a_thread_begun_without_a_plan_goes_on_only_where_its_parts_match(
    tmp_path: Path, fake_x: FakeX, max_post_length: int
) -> None:
    """A thread begun before plans were kept (migration 12: the ledger has the intro's
    row and part 1, no plan) goes on when the text splits into the same first part under
    today's limit; under a limit it fits whole, it fails with the reason, posting nothing."""
    from archive.store import AsyncStore
    from bot.facilitator import Facilitator
    from bot.platforms.base import PlatformServices
    from tests.bot.test_x_platform import live_chat, no_publish, x_config

    store = AsyncStore(tmp_path / "db.sqlite")
    platform = XPlatform(
        x_config(fake_x, poll_interval=3600.0, max_post_length=max_post_length),
        environ=environ_for(fake_x),
        backoff=0.01,
    )
    platform.use_services(PlatformServices(store=store))
    await platform.start()
    try:
        chat = replace(live_chat(), intro=INTRO, split_long_posts=True)
        await store.add_chat(chat)
        text = format_intro(chat)
        parts = split_post(text, x_limit())
        first = fake_x.add_tweet(fake_x.host_user, parts[0])
        await store.record_intent(chat.id, "intro", "x", "", text)  # as an older version did
        await store.record_intent(chat.id, "intro#1", "x", "", parts[0])
        await store.mark_sent(chat.id, "intro#1", "x", "", first, datetime.now(UTC))
        facilitator = Facilitator(store, {"x": platform}, publisher=no_publish)

        sent = await facilitator.post_thread(chat, "intro", chat.targets[0], text)

        texts = [t.text for t in fake_x.posts_by_host()]
        rows = ledger(tmp_path / "db.sqlite", chat.id)
        if max_post_length == 280:
            assert sent is not None and sent.platform_message_id == first
            assert texts == parts
            assert rows["intro"] == ("sent", first)
        else:
            assert sent is None and texts == parts[:1]
            assert rows["intro"][0] == "failed" and "intro#2" not in rows
            (row,) = [p for p in await store.posts(chat.id) if p.action_key == "intro"]
            assert "does not match the parts the text splits into now" in row.error
    finally:
        await platform.stop()
        await store.aclose()


class _Crash(BaseException):
    """The bot dying at a fault point, in-process (what SIGKILL does to a `tweetchat run`)."""


@pytest.mark.parametrize("instance_limit", [1000, 300])
async def test_on_mastodon_a_thread_resumed_under_the_instances_new_limit_keeps_its_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instance_limit: int
) -> None:
    """Part 1 of 2 out at 500 characters, then the bot dies; at the next start the instance
    reports another limit. Larger (the intro would fit one status now): part 2 goes out as
    planned, replying to part 1. Smaller (part 2 no longer fits): nothing more is posted,
    the intro fails with the reason and the hosts get a direct status saying so."""
    import bot.facilitator as facilitator_module
    from archive.store import AsyncStore
    from bot.facilitator import Facilitator
    from bot.platforms.mastodon.limits import post_limit as mastodon_limit
    from bot.platforms.mastodon.payloads import status_text
    from tests.bot.test_mastodon_platform import live_chat, no_publish, started
    from tests.fakes.mastodon_server import FakeMastodon

    def crash_after_part_1(name: str) -> None:
        if name == "crash-after-part:intro#1":
            raise _Crash(name)

    text = INTRO + " " + INTRO
    parts = split_post(text, mastodon_limit())
    assert len(parts) == 2
    async with FakeMastodon() as fake:
        store = AsyncStore(tmp_path / "db.sqlite")
        chat = live_chat(split_long_posts=True, hosts=("ann",))
        await store.add_chat(chat)
        target = chat.targets[0]
        platform = await started(fake, store)
        try:
            with monkeypatch.context() as m:
                m.setattr(facilitator_module, "_fault_point", crash_after_part_1)
                with pytest.raises(_Crash):
                    await Facilitator(
                        store, {"mastodon": platform}, publisher=no_publish
                    ).post_thread(chat, "intro", target, text)
        finally:
            await platform.stop()
        assert [status_text(s) for s in fake.by_bot()] == parts[:1]

        fake.max_characters = instance_limit
        platform = await started(fake, store, max_post_length=max(instance_limit, 500))
        try:
            assert platform.post_limit.max_length == instance_limit
            facilitator = Facilitator(store, {"mastodon": platform}, publisher=no_publish)
            first = await facilitator.post_thread(chat, "intro", target, text)
        finally:
            await platform.stop()
            rows = ledger(tmp_path / "db.sqlite", chat.id)
            posts = await store.posts(chat.id)
            await store.aclose()
    statuses = fake.by_bot()
    public = [s for s in statuses if s["visibility"] != "direct"]
    if instance_limit > 500:
        assert first is not None and rows["intro"] == ("sent", public[0]["id"])
        assert [status_text(s) for s in public] == parts
        assert public[1]["in_reply_to_id"] == public[0]["id"]
        assert len(statuses) == 2
    else:
        assert first is None and len(public) == 1 and "intro#2" not in rows
        (intro,) = [p for p in posts if p.action_key == "intro"]
        assert intro.status == "failed"
        assert "part 2 of 2 of the thread begun earlier is too long for Mastodon" in intro.error
        (alert,) = [s for s in statuses if s["visibility"] == "direct"]
        assert "Could not post intro on mastodon" in alert["content"]
        assert "@ann" in alert["content"]
