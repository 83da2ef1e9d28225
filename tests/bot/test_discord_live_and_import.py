"""The same Discord messages, live and imported, are captured alike (issue 14, item 2).

One channel of the fake Discord holds a question post and every shape of message that
people and Discord make (a plain answer, a reply, forwards, a sticker or a file alone, a
file with text, a poll, a join, a pin, a thread notice, a thread starter). The real
discord.py client captures them live through the facilitator (gateway events, then the
history backfill); DiscordChatExporter's JSON export of the same channel
(``tests/fakes/discord_export.py``) is imported into another archive. Both archives must
hold the same rows (label, kind, text, attachments), and those rows are the expected ones.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.importers.discord_export import import_discord_export
from archive.models import Chat, Question, Target
from archive.publish import PublishResult
from archive.store import AsyncStore, Store
from bot.facilitator import Facilitator
from bot.platforms.base import PlatformServices
from tests.bot.helpers import until
from tests.bot.test_discord_platform import make_platform
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_export import write_export
from tests.fakes.discord_payloads import attachment_payload, poll_payload, sticker_item_payload
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(60)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord

Row = tuple[str, str, str, list[dict[str, str]]]  # kind, question keys, text, attachments


def rows(path: Path) -> dict[str, Row]:
    """platform id -> (kind, question keys, text, attachments) of every archived message."""
    with sqlite3.connect(path) as conn:
        found = conn.execute(
            "SELECT platform_id, kind, question_keys, text, attachments FROM messages"
        ).fetchall()
    return {
        pid: (kind, keys, text, json.loads(att) if att else [])
        for pid, kind, keys, text, att in found
    }


async def _no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("nothing is published here")


def post_shapes(fake: FakeDiscord, q1_id: str) -> dict[str, str]:
    """Every shape of message, posted in the channel after Q1; name -> message id."""
    channel = fake.channel_id
    alice, bob, carol, dave, erin, fay, gus = (
        fake.add_user(n, global_name=n.title())
        for n in ("alice", "bob", "carol", "dave", "erin", "fay", "gus")
    )
    q1 = int(q1_id)
    photo = attachment_payload(
        fake.snowflakes.next(),
        "run chart.png",
        2048,
        "https://cdn.discordapp.com/attachments/1/2/run_chart.png?ex=1&is=2&hm=3",
        "image/png",
    )
    board = attachment_payload(
        fake.snowflakes.next(),
        "board.pdf",
        4096,
        "https://cdn.discordapp.com/attachments/1/3/board.pdf",
        "application/pdf",
    )
    wave = sticker_item_payload(fake.snowflakes.next(), "Wave")
    ids: dict[str, str] = {}

    def post(name: str, author: Any, content: str = "", **options: Any) -> None:
        ids[name] = fake.store_message(channel, fake.user(author), content, **options)["id"]

    post("plain answer", alice, "A1: run charts, weekly #WeDocs")
    post("reply", bob, "We track waiting times", reply_to=q1)
    post("forward of Q1", carol, forward_of=(channel, q1))
    post("forward of an answer", dave, forward_of=(channel, int(ids["plain answer"])))
    post("sticker-only reply", erin, reply_to=q1, sticker_items=[wave])
    post("attachment-only reply", fay, reply_to=q1, attachments=[photo])
    post("text with a file", gus, "A1: our board #WeDocs", attachments=[board])
    post("sticker-only, no reply", bob, sticker_items=[wave])
    post(
        "poll",
        carol,
        poll=poll_payload("A1 which? #WeDocs", ["yes", "no"], fake.now() + timedelta(hours=1)),
    )
    post("join", erin, message_type=7)
    post(
        "pin",
        alice,
        message_type=6,
        reference={"type": 0, "message_id": ids["plain answer"], "channel_id": str(channel)},
    )
    post("thread created", dave, "A1 thread #WeDocs", message_type=18)
    post(
        "thread starter",
        dave,
        message_type=21,
        reference={"type": 0, "message_id": ids["plain answer"], "channel_id": str(channel)},
    )
    post("last", alice, "A1: and one more #WeDocs")
    return ids


async def test_the_same_messages_live_and_imported_are_captured_alike(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    fake = fake_discord
    channel = str(fake.channel_id)
    start = datetime.now(UTC) - timedelta(minutes=1)
    chat = Chat(
        id="wedocs-live",
        title="Patients in QI",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/London",
        questions=(Question(1, "What do you measure?", timedelta(minutes=1)),),
        targets=(Target("discord", channel),),
    )
    platform = make_platform()
    live_db = tmp_path / "live.db"
    store = AsyncStore(live_db)
    try:
        platform.use_services(PlatformServices(store=store))
        await store.add_chat(chat)
        facilitator = Facilitator(store, {"discord": platform}, publisher=_no_publish)
        await platform.start()
        q1 = await facilitator.post(chat, "q1", chat.targets[0], "Q1: What do you measure? #WeDocs")
        assert q1 is not None
        ids = post_shapes(fake, q1.platform_message_id)

        export = write_export(fake, fake.channel_id, tmp_path / "qi-chat.json")
        imported_db = tmp_path / "imported.db"
        archive = Store(imported_db)
        try:
            import_discord_export(archive, export, hashtag="#WeDocs")
        finally:
            archive.close()
        imported = rows(imported_db)

        # Live: what the gateway delivered, then the history backfill over the same window.
        # (Waiting for the ids the import holds; any difference shows in the comparison.)
        with contextlib.suppress(AssertionError):
            await until("the live capture", lambda: rows(live_db).keys() >= imported.keys(), 15)
        gateway = rows(live_db)
        window = await platform.history(channel, start, datetime.now(UTC))
        await facilitator.capture_messages(window)
        live = rows(live_db)
    finally:
        await platform.stop()
        await store.aclose()

    name = {pid: n for n, pid in ids.items()} | {q1.platform_message_id: "Q1"}
    assert {name[pid]: row for pid, row in gateway.items()} == {
        name[pid]: row for pid, row in imported.items()
    }
    assert {name[pid]: row for pid, row in live.items()} == {
        name[pid]: row for pid, row in imported.items()
    }
    question = "Q1: What do you measure? #WeDocs"
    photo = "https://cdn.discordapp.com/attachments/1/2/run_chart.png?ex=1&is=2&hm=3"
    board = "https://cdn.discordapp.com/attachments/1/3/board.pdf"
    assert {name[pid]: row for pid, row in imported.items()} == {
        "Q1": ("question", "1", question, []),
        "plain answer": ("answer", "1", "A1: run charts, weekly #WeDocs", []),
        "reply": ("answer", "1", "We track waiting times", []),
        "forward of Q1": ("repost", "", question, []),
        "forward of an answer": ("repost", "", "A1: run charts, weekly #WeDocs", []),
        "sticker-only reply": ("answer", "1", "", [{"kind": "sticker", "name": "Wave", "url": ""}]),
        "attachment-only reply": (
            "answer",
            "1",
            "",
            [{"kind": "file", "name": "run chart.png", "url": photo}],
        ),
        "text with a file": (
            "answer",
            "1",
            "A1: our board #WeDocs",
            [{"kind": "file", "name": "board.pdf", "url": board}],
        ),
        "last": ("answer", "1", "A1: and one more #WeDocs", []),
    }


async def test_forwarding_someones_optout_opts_nobody_out(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    fake = fake_discord
    start = datetime.now(UTC) - timedelta(minutes=1)
    chat = Chat(
        id="wedocs-live",
        title="Patients in QI",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(minutes=30),
        timezone="Europe/London",
        questions=(Question(1, "What do you measure?", timedelta(minutes=1)),),
        targets=(Target("discord", str(fake.channel_id)),),
    )
    platform = make_platform()
    store = AsyncStore(tmp_path / "live.db")
    try:
        platform.use_services(PlatformServices(store=store))
        await store.add_chat(chat)
        facilitator = Facilitator(store, {"discord": platform}, publisher=_no_publish)
        await platform.start()
        alice, bob = fake.add_user("alice"), fake.add_user("bob")
        optout = fake.post_user_message(fake.channel_id, alice, "!optout")
        fake.store_message(
            fake.channel_id, bob, "", forward_of=(fake.channel_id, int(optout["id"]))
        )
        marker = fake.post_user_message(fake.channel_id, bob, "A1: still here #WeDocs")
        await until(
            "alice's opt-out and bob's answer",
            lambda: rows(tmp_path / "live.db").keys() >= {marker["id"]},
            15,
        )
        await until("alice's opt-out", lambda: bool(_opted_out(tmp_path / "live.db")), 15)
        # Once more through the history, awaited here: the forward is read again.
        window = await platform.history(str(fake.channel_id), start, datetime.now(UTC))
        assert any(m.is_repost and m.text == "!optout" for m in window)
        await facilitator.capture_messages(window)
        assert _opted_out(tmp_path / "live.db") == {"discord:" + str(alice.id)}
    finally:
        await platform.stop()
        await store.aclose()


def _opted_out(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT platform, author_id FROM optouts").fetchall()
    return {f"{platform}:{author}" for platform, author in found}
