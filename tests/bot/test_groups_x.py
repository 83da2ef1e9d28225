"""Stakeholder groups on X (the real tweepy client against the fake): `!iam` in a post with
the hashtag declares; X refuses automated replies nobody summoned, so nothing is posted;
a post delivered twice is one declaration."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from archive.models import IncomingMessage
from archive.store import AsyncStore
from bot.platforms.x.adapter import XPlatform
from tests.bot import test_x_platform as xt
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.x_server import FakeX

fake = xt.fake
store = xt.store
x = xt.x
no_error_logs = xt.no_error_logs

pytestmark = pytest.mark.timeout(60)


async def test_a_declaration_on_x_is_stored_silently_and_once(
    fake: FakeX, store: AsyncStore, x: XPlatform, no_error_logs: ErrorLogCatcher
) -> None:
    facilitator = await xt.with_chat(store, x)
    delivered: list[IncomingMessage] = []
    capture = facilitator.capture_messages

    async def recording(messages: Sequence[IncomingMessage]) -> int:
        delivered.extend(messages)
        return await capture(messages)

    facilitator.capture_messages = recording  # type: ignore[method-assign]
    declared = fake.add_tweet(xt.ALICE, "!iam Patient #WeDocs")
    fake.add_tweet(xt.BOB, "A1: patient reps on every board !iam clinician #WeDocs")

    await x.poll_once()
    sources = await store.read(lambda s: s.group_sources("#wedocs"))
    assert sources.own == {("x", "2001"): "patient", ("x", "2002"): "clinician"}
    assert fake.requests_to(xt.POST, "POST") == []  # no reply on X

    # The same post again (a backfill): no second declaration, nothing captured.
    [again] = [m for m in delivered if m.platform_id == declared]
    assert await capture([again]) == 0
    rows = await store.read(
        lambda s: s.conn.execute("SELECT COUNT(*) FROM group_declarations").fetchone()[0]
    )
    assert rows == 2
    # Bob's answer is a message of the chat; Alice's post, a declaration only, is not.
    [msg] = await store.messages("wedocs")
    assert msg.author_id == "2002" and "!iam clinician" in msg.text
