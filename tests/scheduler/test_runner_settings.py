"""[scheduler] misfire_grace and wrapup_lead do what config.example.toml says, on a fixed clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question
from archive.store import AsyncStore
from bot.app import runner_options
from bot.config import config_from_dict
from scheduler.runner import Runner, RunnerOptions
from scheduler.timeline import Action, timeline

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
M = timedelta(minutes=1)
CHAT = Chat(
    id="wedocs",
    title="Patients in QI",
    hashtag="#WeDocs",
    start=START,
    end=START + 60 * M,
    timezone="UTC",
    questions=(Question(1, "One?", 10 * M), Question(2, "Two?", 40 * M)),
    status=ChatStatus.LIVE,
)


class FixedClock:
    """Chat time stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def to_real(self, at: datetime) -> datetime:
        return at

    def seconds_until(self, at: datetime) -> float:
        return (at - self.at).total_seconds()


@dataclass
class Recorder:
    """A performer that records what the runner asked of it."""

    done: set[str] = field(default_factory=lambda: {"intro"})
    performed: list[tuple[str, str]] = field(default_factory=list)  # (key, note)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)

    async def perform(self, chat: Chat, action: Action, *, note: str = "") -> None:
        self.performed.append((action.key, note))
        self.done.add(action.key)

    async def skip(self, chat: Chat, action: Action, reason: str) -> None:
        self.skipped.append((action.key, reason))
        self.done.add(action.key)

    async def done_actions(self, chat: Chat) -> set[str]:
        return set(self.done)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "t.db")
    await s.add_chat(CHAT)
    yield s
    await s.aclose()


async def fire_late(
    store: AsyncStore, late: timedelta, **options: object
) -> tuple[Recorder, Runner]:
    """Start a runner before Q1 (the bot is up), then perform Q1 ``late`` after its time."""
    clock = FixedClock(START + 5 * M)
    performer = Recorder()
    runner = Runner(store, performer, clock=clock, options=RunnerOptions(**options))  # type: ignore[arg-type]
    clock.at = START + 10 * M + late
    await runner.run_due(CHAT.id)
    return performer, runner


async def test_two_minutes_late_within_the_grace_posts_as_usual(store: AsyncStore) -> None:
    performer, _ = await fire_late(store, 2 * M, misfire_grace=10 * M)
    assert performer.performed == [("q1", "")]
    assert performer.skipped == []


async def test_fifteen_minutes_late_is_missed_and_caught_up_with_a_note(
    store: AsyncStore,
) -> None:
    performer, _ = await fire_late(store, 15 * M, misfire_grace=10 * M, missed="catch_up")
    assert performer.performed == [("q1", "(posted late)")]


async def test_fifteen_minutes_late_is_missed_and_skipped_under_skip(store: AsyncStore) -> None:
    performer, _ = await fire_late(store, 15 * M, misfire_grace=10 * M, missed="skip")
    assert performer.performed == []
    assert [key for key, _ in performer.skipped] == ["q1"]


async def test_a_shorter_grace_makes_two_minutes_late_a_miss(store: AsyncStore) -> None:
    performer, _ = await fire_late(store, 2 * M, misfire_grace=1 * M)
    assert performer.performed == [("q1", "(posted late)")]


async def test_missed_while_offline_says_so(store: AsyncStore) -> None:
    clock = FixedClock(START + 25 * M)  # the bot starts 15 minutes after Q1's time
    performer = Recorder()
    runner = Runner(store, performer, clock=clock, options=RunnerOptions(misfire_grace=10 * M))
    await runner.run_due(CHAT.id)
    assert performer.performed == [("q1", "(posted late: the bot was offline)")]


@pytest.mark.parametrize(
    ("lead", "expected_at"),
    [(timedelta(0), CHAT.end), (12 * M, CHAT.end - 12 * M), (None, CHAT.end - 5 * M)],
)
async def test_wrapup_lead_sets_when_the_wrapup_goes_out(
    store: AsyncStore, lead: timedelta | None, expected_at: datetime
) -> None:
    options = RunnerOptions() if lead is None else RunnerOptions(wrapup_lead=lead)
    runner = Runner(store, Recorder(), clock=FixedClock(START), options=options)
    actions = {a.key: a for a in await runner.actions_for(CHAT)}
    assert actions["wrapup"].at == expected_at
    keys = list(actions)
    assert keys.index("wrapup") == keys.index("close") - 1  # before the close, even at the end


def test_wrapup_text_follows_the_lead() -> None:
    texts = {
        lead: next(a.text for a in timeline(CHAT, wrapup_lead=lead) if a.key == "wrapup")
        for lead in (timedelta(0), M, 5 * M, 12 * M)
    }
    assert texts[5 * M] == (
        "Last question done — 5 minutes left. Any final thoughts, or questions still on your "
        "mind? #WeDocs"
    )
    assert texts[12 * M].startswith("Last question done — 12 minutes left. ")
    assert texts[M].startswith("Last question done — 1 minute left. ")
    assert texts[timedelta(0)].startswith("Last question done. Any final thoughts")
    # The default is the documented 5 minutes.
    assert timeline(CHAT) == timeline(CHAT, wrapup_lead=5 * M)


def test_the_app_builds_the_runner_options_from_the_config() -> None:
    config = config_from_dict(
        {"scheduler": {"misfire_grace": "2m", "wrapup_lead": "0s", "missed_questions": "skip"}},
        source="c.toml",
    )
    options = runner_options(config.scheduler)
    assert (options.misfire_grace, options.wrapup_lead, options.missed) == (2 * M, 0 * M, "skip")
    defaults = runner_options(config_from_dict({}, source="c.toml").scheduler)
    assert (defaults.misfire_grace, defaults.wrapup_lead) == (10 * M, 5 * M)
