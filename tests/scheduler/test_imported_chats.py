"""An imported chat is ended until its transcripts are written; the bot never runs it: no
close, no announcement posted to the channel it was exported from, no job at all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from archive.importers.discord_export import source_key
from archive.models import OPEN_STATUSES, ChatStatus, Target
from archive.store import AsyncStore
from scheduler.runner import Runner
from scheduler.standing import StepState, chat_standing
from tests.scheduler.test_runner_settings import CHAT, START, FixedClock, M, Recorder

IMPORTED = replace(
    CHAT, id="imported", status=ChatStatus.ENDED, targets=(Target("discord", "900000000000000042"),)
)
ENDED = replace(CHAT, id="ended", status=ChatStatus.ENDED)  # the bot's own: closed, to publish


class Watcher(Recorder):
    async def chats_changed(self, chat_ids: Sequence[str]) -> None:
        pass

    def invalidate(self) -> None:
        pass


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "t.db")
    await s.add_chat(IMPORTED, source=source_key("900000000000000042", "800000000000000001"))
    await s.add_chat(ENDED, source="chats/wedocs.toml")  # a chat file's path
    yield s
    await s.aclose()


async def test_the_runner_schedules_no_step_of_an_imported_chat(store: AsyncStore) -> None:
    runner = Runner(store, Watcher(done=set()), clock=FixedClock(START + 120 * M))
    await runner.reload(force=True)
    chats = {job.id.split(":", 1)[0] for job in runner.scheduler.get_jobs()}
    assert chats == {"ended"}


async def test_listing_leaves_out_imported_chats_only_when_asked(store: AsyncStore) -> None:
    every = await store.list_chats(OPEN_STATUSES)
    assert {c.id for c in every} == {"imported", "ended"}
    run = await store.list_chats(OPEN_STATUSES, imported=False)
    assert [c.id for c in run] == ["ended"]
    assert [c.id for c in await store.list_chats(imported=False)] == ["ended"]


async def test_an_imported_chats_publication_is_not_shown_as_to_come(store: AsyncStore) -> None:
    steps = {
        step.key: step.state for step in await store.read(chat_standing, IMPORTED, START + 120 * M)
    }
    assert steps["publish"] == StepState.NOT_POSTED
    assert steps["close"] == StepState.NOT_POSTED
    ended = {s.key: s.state for s in await store.read(chat_standing, ENDED, START + 120 * M)}
    assert ended["publish"] == StepState.NEXT  # the bot's own chat: its runner publishes it
