"""A note the runner adds to a late post ("(posted late)") never makes the post too long: the
post was checked against the network's limit when the chat was scheduled, the note was not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question, Target
from archive.publish import PublishResult
from archive.store import AsyncStore
from bot.facilitator import Facilitator
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform
from bot.platforms.local.limits import POST_LIMIT
from scheduler.timeline import format_question, timeline

NOTE = "(posted late: the bot was offline)"


async def no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published here")


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Facilitator, LocalNetwork, Chat]]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    exact = "W" * (POST_LIMIT.max_length - len("Q2:  #WeDocs"))
    chat = Chat(
        id="wedocs-late",
        title="Late notes",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/London",
        questions=(
            Question(1, "Short one?", timedelta(minutes=5)),
            Question(2, exact, timedelta(minutes=10)),
        ),
        targets=(Target("local", "main"),),
        status=ChatStatus.LIVE,
    )
    assert len(format_question(chat, chat.questions[1])) == POST_LIMIT.max_length
    store = AsyncStore(tmp_path / "db.sqlite")
    await store.add_chat(chat)
    platform = LocalPlatform(tmp_path / "net.sqlite")
    facilitator = Facilitator(store, {"local": platform}, publisher=no_publish)
    await platform.start()
    net = LocalNetwork(tmp_path / "net.sqlite")
    yield facilitator, net, chat
    net.close()
    await platform.stop()
    await store.aclose()


async def test_a_late_note_is_added_where_it_fits_and_left_off_where_it_does_not(
    setup: tuple[Facilitator, LocalNetwork, Chat],
) -> None:
    facilitator, net, chat = setup
    actions = {a.key: a for a in timeline(chat)}

    await facilitator.perform(chat, actions["q1"], note=NOTE)
    await facilitator.perform(chat, actions["q2"], note=NOTE)

    texts = [row["text"] for row in net.messages("main")]
    assert texts == [f"{actions['q1'].text} {NOTE}", actions["q2"].text]
    assert len(texts[1]) == POST_LIMIT.max_length
    assert {p.action_key: p.status for p in await facilitator.store.posts(chat.id)} == {
        "q1": "sent",
        "q2": "sent",
    }
