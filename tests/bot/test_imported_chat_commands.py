"""The bot never runs an imported chat (ended until its transcripts are written): Discord
commands typed in a channel without naming a chat never pick one, and the facilitator
neither captures for it nor backfills its channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from archive.importers.discord_export import source_key
from archive.models import OPEN_STATUSES, ChatStatus, Target
from archive.store import AsyncStore, Store
from bot.facilitator import Facilitator
from bot.platforms.discord.commands import _pick_chat
from tests.scheduler.test_runner_settings import CHAT

CHANNEL = "900000000000000042"


def test_a_command_without_a_chat_picks_the_channels_scheduled_chat(tmp_path: Path) -> None:
    here = (Target("discord", CHANNEL),)
    imported = replace(CHAT, id="imported", status=ChatStatus.ENDED, targets=here)
    upcoming = replace(
        CHAT,
        id="upcoming",
        status=ChatStatus.SCHEDULED,
        targets=here,
        start=CHAT.start + timedelta(days=30),
        end=CHAT.end + timedelta(days=30),
    )
    store = Store(tmp_path / "t.db")
    try:
        store.add_chat(imported, source=source_key(CHANNEL, "800000000000000001"))
        store.add_chat(upcoming, source="chats/wedocs.toml")
        assert _pick_chat(store, None, CHANNEL, OPEN_STATUSES).id == "upcoming"
        assert _pick_chat(store, "imported", CHANNEL, OPEN_STATUSES).id == "imported"  # named
    finally:
        store.close()


async def test_the_facilitator_neither_captures_for_nor_backfills_an_imported_chat(
    tmp_path: Path,
) -> None:
    here = (Target("discord", CHANNEL),)
    store = AsyncStore(tmp_path / "t.db")
    try:
        await store.add_chat(
            replace(CHAT, id="imported", status=ChatStatus.ENDED, targets=here),
            source=source_key(CHANNEL, "800000000000000001"),
        )
        await store.add_chat(replace(CHAT, id="ended", status=ChatStatus.ENDED))

        async def publisher(chat: object) -> object:
            raise AssertionError("nothing is published here")

        facilitator = Facilitator(store, {}, publisher=publisher)  # type: ignore[arg-type]
        assert [ctx.chat.id for ctx in await facilitator._fresh()] == ["ended"]
    finally:
        await store.aclose()
