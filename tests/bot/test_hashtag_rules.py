"""One set of hashtag rules: capture, the timeline's post texts and the X adapter's routing of
the bot's own posts give the same answer, because they call the same function."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import hashtags
from archive.capture import CaptureContext, capture
from archive.models import Chat, ChatStatus, IncomingMessage, Question, Target
from archive.store import AsyncStore
from bot.config import XConfig
from bot.platforms.base import PlatformServices
from bot.platforms.x.adapter import XPlatform
from scheduler.timeline import with_hashtag

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
CHAT = Chat(
    id="wedocs",
    title="Patients in QI",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(hours=1),
    timezone="UTC",
    questions=(Question(1, "How do you involve patients?", timedelta(minutes=10)),),
    targets=(Target("x"),),
    status=ChatStatus.LIVE,
)
EXAMPLES = [
    ("＃WeDocs A1 yes", True),  # the full-width sign X accepts
    ("A1 #WeDocs", True),
    ("A1 #WeDocś yes", False),  # 's' + combining acute: another tag
    ("A1 see https://e.com/#WeDocs", False),  # a '#' inside a link
    ("A1 #WeDocsChat", False),
]
CALLERS = (
    "archive.capture",
    "scheduler.timeline",
    "scheduler.plan",
    "bot.platforms.x.adapter",
    "archive.importers.discord_export",
)


def captured_by_capture(text: str) -> bool:
    msg = IncomingMessage(
        platform="x",
        platform_id="1",
        channel="",
        author_id="u1",
        author_name="Sam",
        author_handle="sam",
        text=text,
        created_at=START + timedelta(minutes=12),
    )
    return capture(msg, CaptureContext(chat=CHAT)) is not None


def carried_by_timeline(text: str) -> bool:
    """The timeline appends the hashtag to a post text exactly when the text lacks it."""
    return with_hashtag(text, CHAT.hashtag) == text.strip()


@pytest.fixture
async def x_platform(tmp_path: Path) -> AsyncIterator[XPlatform]:
    store = AsyncStore(tmp_path / "tweetchat.db")
    await store.add_chat(CHAT)
    platform = XPlatform(XConfig(enabled=True), environ={})
    platform.use_services(PlatformServices(store=store))
    yield platform
    await store.aclose()


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
async def test_every_path_agrees(x_platform: XPlatform, text: str, expected: bool) -> None:
    routed = await x_platform._chat_for_post(text)
    assert hashtags.has_hashtag(text, "#WeDocs") is expected
    assert captured_by_capture(text) is expected
    assert carried_by_timeline(text) is expected
    assert (routed == CHAT.id) is expected


@pytest.mark.parametrize("module", CALLERS)
def test_callers_use_the_one_set_of_rules(module: str) -> None:
    """No module keeps a hashtag helper of its own: any it names is the archive.hashtags one."""
    loaded = importlib.import_module(module)
    for name in ("has_hashtag", "find_hashtags", "normalise_hashtag", "HashtagError", "has_tag"):
        if hasattr(loaded, name):
            assert getattr(loaded, name) is getattr(hashtags, name), f"{module}.{name}"


TOKENS = ["#", "＃", "WeDocs", "wedocs", "Chat", "s", "\u0301", " ", "_", "A1", ":", "/", "."]
TEXT = st.lists(st.sampled_from([*TOKENS, "https://e.com/", "www."]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_capture_and_timeline_decide_as_has_hashtag(text: str) -> None:
    """Whatever the text, capture and the timeline see the hashtag exactly when
    archive.hashtags.has_hashtag does."""
    expected = hashtags.has_hashtag(text, CHAT.hashtag)
    assert captured_by_capture(text) is expected
    assert carried_by_timeline(text) is expected
