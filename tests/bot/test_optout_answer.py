"""The answer to ``!optout`` is a courtesy given once per message; when the network refuses
it, the next delivery of the same message (a backfill, the last sweep) tries again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, IncomingMessage, Question, Target
from archive.store import AsyncStore
from bot.facilitator import OPTED_OUT_REPLY, Facilitator
from bot.platforms.base import PostError
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform, LocalUser
from tests.bot.test_late_note import no_publish

ANN = LocalUser("a1", "Ann Nurse", "ann")


async def test_a_refused_optout_answer_is_tried_again_at_the_next_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    chat = Chat(
        id="wedocs-optout",
        title="Opt-out",
        hashtag="#WeDocs",
        start=now - timedelta(minutes=5),
        end=now + timedelta(hours=1),
        timezone="Europe/London",
        questions=(Question(1, "One?", timedelta(minutes=1)),),
        targets=(Target("local", "main"),),
        status=ChatStatus.LIVE,
    )
    store = AsyncStore(tmp_path / "db.sqlite")
    await store.add_chat(chat)
    platform = LocalPlatform(tmp_path / "net.sqlite")
    facilitator = Facilitator(store, {"local": platform}, publisher=no_publish)
    refusals = [PostError("local: the network is down")]
    reply = platform.reply

    async def refused_once(message: IncomingMessage, text: str) -> object:
        if refusals:
            raise refusals.pop()
        return await reply(message, text)

    monkeypatch.setattr(platform, "reply", refused_once)
    await platform.start()
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        text = "!optout"
        msg = IncomingMessage(
            "local", net.post("main", ANN, text, at=now), "main", ANN.id, ANN.name,
            ANN.handle, text, now,
        )  # fmt: skip

        def answers() -> list[str]:
            return [r["text"] for r in net.messages("main") if r["is_bot"]]

        await facilitator.capture_messages([msg])  # live: the answer is refused
        assert answers() == [] and not refusals
        await facilitator.capture_messages([msg])  # the same message from a backfill
        await facilitator.capture_messages([msg])  # and from the last sweep
        found = answers()
    finally:
        net.close()
        await platform.stop()
        await store.aclose()
    assert found == [OPTED_OUT_REPLY]
    assert opted_out(tmp_path) == frozenset({"local:a1"})


def opted_out(tmp_path: Path) -> frozenset[str]:
    from archive.store import Store

    store = Store(tmp_path / "db.sqlite")
    try:
        return store.opted_out()
    finally:
        store.close()
