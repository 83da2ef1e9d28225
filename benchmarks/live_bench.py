"""Live load: participants write to the local network at a steady rate while a running App
posts a chat's questions on schedule; latency from delivery to committed row.

The participants are a separate process (``--writer``), as they are in real life: each
message is its own transaction on the network file, and the writer notes the monotonic
time right after it committed ("written to the network"). In the bot, the platform's
event sink is wrapped so that the moment ``Facilitator`` returns from capturing a message
(its row committed in the archive) is noted too. CLOCK_MONOTONIC is system-wide on Linux,
so the two processes' times compare directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.models import Chat, IncomingMessage, Question, Target
from archive.store import Store
from benchmarks import HASHTAG, BenchResult, median, percentile
from bot.app import App
from bot.config import config_from_dict
from bot.platforms.base import Event, Platform
from bot.platforms.local.adapter import LocalNetwork, LocalUser

NAME = "live"
RATE = 2000
SECONDS = 60.0
QUICK_SECONDS = 5.0
POLL_INTERVAL = 0.01
TARGET_P99_MS = 50.0
TICK = 0.005


class TimingSink:
    """Wraps the facilitator as the platforms' event sink; notes when each capture returned."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.committed: dict[str, float] = {}

    async def handle(self, event: Event) -> None:
        await self.inner.handle(event)
        if isinstance(event, IncomingMessage):
            self.committed.setdefault(event.platform_id, time.monotonic())

    async def capture_messages(self, messages: Sequence[IncomingMessage]) -> int:
        written = int(await self.inner.capture_messages(messages))
        now = time.monotonic()
        for msg in messages:
            self.committed.setdefault(msg.platform_id, now)
        return written

    async def reconnected(self, platform: Platform) -> None:
        await self.inner.reconnected(platform)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def live_chat(start: datetime, seconds: float, questions: int) -> Chat:
    """A chat compressed into ``seconds``: questions evenly spread after a short intro."""
    step = seconds / (questions + 1)
    qs = tuple(
        Question(i + 1, f"Question {i + 1}?", timedelta(seconds=step * (i + 0.5)))
        for i in range(questions)
    )
    return Chat(
        id="live-bench",
        title="Live load",
        hashtag=HASHTAG,
        start=start,
        end=start + timedelta(seconds=seconds),
        timezone="UTC",
        questions=qs,
        grace=timedelta(seconds=max(2.0, seconds / 10)),
        targets=(Target("local", "main"),),
    )


def writer(network: Path, rate: float, seconds: float, out: Path, seed: int = 3) -> None:
    """Post ``rate`` messages a second for ``seconds``; write (id, monotonic time) pairs."""
    rng = random.Random(seed)
    net = LocalNetwork(network)
    # Participants are other machines: their fsyncs are not the bot's cost.
    net.conn.execute("PRAGMA synchronous=NORMAL")
    users = [LocalUser(f"p{i}", f"Participant {i}", f"part{i}") for i in range(300)]
    written: list[tuple[str, float]] = []
    t0 = time.monotonic()
    total = int(rate * seconds)
    try:
        while len(written) < total:
            due = min(total, int((time.monotonic() - t0) * rate) + 1)
            while len(written) < due:
                n = len(written)
                text = (
                    f"A{rng.randint(1, 6)}: we ask patients first, message {n} {HASHTAG}"
                    if rng.random() < 0.9
                    else f"Hello all, glad to be here {HASHTAG}"
                )
                mid = net.post("main", rng.choice(users), text, at=datetime.now(UTC))
                written.append((mid, time.monotonic()))
            time.sleep(TICK)
    finally:
        net.close()
    out.write_text(json.dumps({"written": written, "seconds": time.monotonic() - t0}))


def _stored(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(str(db))
    try:
        rows = conn.execute(
            "SELECT platform_id, COUNT(*) FROM messages WHERE chat_id = 'live-bench'"
            " AND author_id != 'tweetchat-bot' GROUP BY platform_id"
        ).fetchall()
        return {str(pid): int(n) for pid, n in rows}
    finally:
        conn.close()


async def _run(tmp: Path, rate: float, seconds: float, questions: int) -> dict[str, Any]:
    config = config_from_dict(
        {
            "database": str(tmp / "archive.db"),
            "transcripts_dir": str(tmp / "transcripts"),
            "local": {"network": str(tmp / "network.db"), "poll_interval": POLL_INTERVAL},
            "scheduler": {"reminders": []},
        },
        base_dir=tmp,
    )
    start = datetime.now(UTC) + timedelta(seconds=1)
    chat = live_chat(start, seconds + 1, questions)
    store = Store(config.database)
    store.add_chat(chat)
    store.close()
    LocalNetwork(config.local.network).close()

    app = App(config)
    await app.start()
    sink = TimingSink(app.facilitator)
    for platform in app.platforms.values():
        platform.attach(sink)
    out = tmp / "written.json"
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.live_bench",
            "--writer",
            str(config.local.network),
            str(rate),
            str(seconds),
            str(out),
        )
        await asyncio.wait_for(proc.wait(), timeout=seconds * 3 + 30)
        if proc.returncode != 0:
            raise RuntimeError(f"the writer process failed ({proc.returncode})")
        written = json.loads(out.read_text())
        ids = [mid for mid, _ in written["written"]]
        for _ in range(600):  # at most 30 s for the bot to catch up
            if all(i in sink.committed for i in ids):
                break
            await asyncio.sleep(0.05)
        last_question = max(chat.question_time(q) for q in chat.questions)
        await asyncio.sleep(max(0.0, (last_question - datetime.now(UTC)).total_seconds() + 0.5))
        questions_posted = sum(
            1
            for p in await app.store.posts(chat.id)  # type: ignore[union-attr]
            if p.action_key.startswith("q") and p.status == "sent"
        )
    finally:
        await app.stop()
    latencies = [
        (sink.committed[mid] - at) * 1000 for mid, at in written["written"] if mid in sink.committed
    ]
    return {
        "ids": ids,
        "write_seconds": written["seconds"],
        "latencies_ms": latencies,
        "stored": _stored(config.database),
        "questions_posted": questions_posted,
    }


def run(
    *, quick: bool = False, seconds: float | None = None, rate: float = RATE, questions: int = 6
) -> BenchResult:
    """p50/p99 latency from network write to committed row at ``rate`` messages/s."""
    seconds = seconds or (QUICK_SECONDS if quick else SECONDS)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        data = asyncio.run(_run(Path(tmp), rate, seconds, questions))
    ids: list[str] = data["ids"]
    lat: list[float] = data["latencies_ms"]
    stored: dict[str, int] = data["stored"]
    result = BenchResult(NAME)
    achieved = len(ids) / data["write_seconds"]
    result.add(
        f"delivered ({rate:,.0f}/s asked, {seconds:.0f} s, poll {POLL_INTERVAL * 1000:.0f} ms)",
        f"{len(ids):,} msgs at {achieved:,.0f}/s",
    )
    p99 = percentile(lat, 99)
    result.add(
        "delivery -> committed row: p50 / p99 / max",
        f"{median(lat) if lat else 0:.1f} / {p99:.1f} / {max(lat, default=0):.1f} ms",
        f"p99 < {TARGET_P99_MS:.0f} ms",
        p99 < TARGET_P99_MS if lat else False,
    )
    lost = len(set(ids) - set(stored))
    dupes = sum(1 for n in stored.values() if n > 1)
    result.add(
        "lost / duplicated / questions posted", f"{lost} / {dupes} / {data['questions_posted']}"
    )
    result.checks["every delivered message stored exactly once"] = (
        lost == 0 and dupes == 0 and set(stored) == set(ids)
    )
    result.checks["every delivered message was timed"] = len(lat) == len(ids)
    result.checks["the questions were posted on schedule"] = data["questions_posted"] == questions
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the participants' side of the live benchmark")
    parser.add_argument("--writer", nargs=4, metavar=("NETWORK", "RATE", "SECONDS", "OUT"))
    args = parser.parse_args(argv)
    network, rate, seconds, out = args.writer
    writer(Path(network), float(rate), float(seconds), Path(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
