"""Scheduler lateness: how late posts go out against their scheduled time.

Several chats, each with an intro, many questions spaced 100-200 ms apart and a close,
run through the real App (Runner + Facilitator + local platform) with the SystemClock.
Lateness is ``posted_at`` recorded for each post (the instant the local platform was asked
to send it) minus the action's time in the chat's timeline.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.models import Chat, ChatStatus, Question, Target
from archive.store import Store
from benchmarks import HASHTAG, BenchResult, median, percentile
from bot.app import App
from bot.config import config_from_dict
from scheduler.timeline import timeline

NAME = "schedule"
CHATS = 5
QUESTIONS = 38  # + intro + close = 40 posts per chat
QUICK_CHATS = 2
QUICK_QUESTIONS = 8
TARGET_P99_MS = 100.0


def spaced_chat(index: int, start: datetime, questions: int, rng: random.Random) -> Chat:
    """A chat whose questions follow each other every 100-200 ms."""
    offsets = []
    at = 0.0
    for _ in range(questions):
        at += rng.uniform(0.1, 0.2)
        offsets.append(at)
    qs = tuple(
        Question(i + 1, f"Question {i + 1}?", timedelta(seconds=off))
        for i, off in enumerate(offsets)
    )
    return Chat(
        id=f"sched-{index}",
        title=f"Scheduler chat {index}",
        hashtag=HASHTAG,
        start=start,
        end=start + timedelta(seconds=at + rng.uniform(0.1, 0.2)),
        timezone="UTC",
        questions=qs,
        grace=timedelta(seconds=1),
        targets=(Target("local", f"room{index}"),),
    )


async def _published(app: App, chats: list[Chat]) -> int:
    assert app.store is not None
    return sum([(await app.store.get_chat(c.id)).status == ChatStatus.PUBLISHED for c in chats])


async def _run(tmp: Path, chats: int, questions: int) -> tuple[list[float], int, int]:
    config = config_from_dict(
        {
            "database": str(tmp / "archive.db"),
            "transcripts_dir": str(tmp / "transcripts"),
            "local": {"network": str(tmp / "network.db"), "poll_interval": 0.05},
            "scheduler": {"reminders": []},
        },
        base_dir=tmp,
    )
    rng = random.Random(11)
    start = datetime.now(UTC) + timedelta(seconds=2)
    planned = [
        spaced_chat(i, start + timedelta(seconds=0.03 * i), questions, rng) for i in range(chats)
    ]
    store = Store(config.database)
    for chat in planned:
        store.add_chat(chat)
    store.close()
    app = App(config)
    await app.start()
    try:
        last = max(c.grace_end for c in planned)
        await asyncio.sleep((last + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
        # Publishing runs at grace_end; wait for it to finish (bounded).
        for _ in range(100):
            if await _published(app, planned) == len(planned):
                break
            await asyncio.sleep(0.1)
        lateness: list[float] = []
        expected = 0
        for chat in planned:
            when = {a.key: a.at for a in timeline(chat)}
            posts = await app.store.posts(chat.id)  # type: ignore[union-attr]
            for p in posts:
                if p.action_key in when and p.action_key != "publish" and p.posted_at:
                    lateness.append((p.posted_at - when[p.action_key]).total_seconds() * 1000)
            expected += sum(1 for a in timeline(chat) if a.key != "publish")
        published = await _published(app, planned)
    finally:
        await app.stop()
    return lateness, expected, published


def run(
    *, quick: bool = False, chats: int | None = None, questions: int | None = None
) -> BenchResult:
    """Lateness of every scheduled post (median, p99, max)."""
    chats = chats or (QUICK_CHATS if quick else CHATS)
    questions = questions or (QUICK_QUESTIONS if quick else QUESTIONS)
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        lateness, expected, published = asyncio.run(_run(Path(tmp), chats, questions))
    result = BenchResult(NAME)
    p99 = percentile(lateness, 99)
    result.add(
        f"post lateness, {len(lateness)} posts ({chats} chats): median / p99 / max",
        f"{median(lateness) if lateness else 0:.1f} / {p99:.1f} / {max(lateness, default=0):.1f} ms",
        f"p99 < {TARGET_P99_MS:.0f} ms",
        p99 < TARGET_P99_MS if lateness else False,
    )
    result.checks["every scheduled post went out exactly once"] = len(lateness) == expected
    result.checks["no post went out early"] = all(ms >= -1.0 for ms in lateness)
    result.checks["every chat was published"] = published == chats
    return result
