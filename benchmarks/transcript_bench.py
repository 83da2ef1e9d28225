"""Transcript cost: statistics + Markdown + HTML + JSON of one chat, at 10k, 100k and 1M
messages, in time and peak memory.

Each size runs in a fresh subprocess (``python -m benchmarks.transcript_bench --worker``)
on a real store built beforehand through capture and ``Store.save_messages``. The worker
publishes the chat (``archive.publish.publish_chat``: statistics, the three renderings,
files written) and reports its wall time and ``ru_maxrss``; the table shows the peak RSS
minus that of a worker publishing an empty chat (the interpreter and imports). A second
worker run under ``tracemalloc`` gives the peak of Python allocations.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from archive.capture import capture
from archive.publish import publish_chat
from archive.store import Store
from benchmarks import BenchResult, bench_chat, bench_context, incoming_messages, median

logger = logging.getLogger(__name__)

NAME = "transcript"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
TARGET_SIZE = 100_000
TARGET_SECONDS = 3.0
TARGET_MB = 300.0
GENERATED_AT = datetime(2026, 12, 1, 21, 45, tzinfo=UTC)


def build_store(path: Path, n: int, *, chat_id: str = "bench-chat") -> int:
    """A store holding one chat with ``n`` incoming messages captured; returns the rows
    left undeleted (what the statistics count as messages)."""
    chat = bench_chat(chat_id=chat_id)
    ctx = bench_context(chat)
    store = Store(path)
    try:
        store.add_chat(chat)
        batch = []
        stored = 0
        for msg in incoming_messages(n, chat, id_prefix=f"{chat_id}-"):
            got = capture(msg, ctx)
            if got is not None:
                batch.append(got)
            if len(batch) >= 5000:
                stored += store.save_messages(batch)
                batch = []
        stored += store.save_messages(batch)
        # A few deletions and an opt-out, so the transcripts do their filtering work.
        for i in range(0, n, 997):
            store.mark_deleted("local", f"{chat_id}-{i}", GENERATED_AT)
        store.opt_out("local", "u7", "user7")
        logger.debug("stored %d messages for %s", stored, chat_id)
        return store.count_messages(chat_id)
    finally:
        store.close()


def peak_rss_kib() -> int:
    """This process's peak RSS. ``VmHWM`` is reset by exec; ``ru_maxrss`` is not, so a
    worker forked from a big parent would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def worker(db: Path, chat_id: str, out_dir: Path, *, trace: bool) -> dict[str, float]:
    """Publish one chat; returns seconds, peak RSS (KiB) and the tracemalloc peak (bytes)."""
    if trace:
        tracemalloc.start()
    store = Store(db)
    try:
        chat = store.get_chat(chat_id)
        t0 = time.perf_counter()
        result = publish_chat(store, chat, out_dir, generated_at=GENERATED_AT)
        seconds = time.perf_counter() - t0
    finally:
        store.close()
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    return {
        "seconds": seconds,
        "maxrss_kib": peak_rss_kib(),
        "traced_peak": peak,
        "messages": result.stats.messages,
        "bytes_written": sum(p.stat().st_size for p in result.paths.values()),
    }


def _spawn(db: Path, chat_id: str, out_dir: Path, *, trace: bool = False) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.transcript_bench", "--worker", str(db), chat_id]
    cmd += ["--out", str(out_dir)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(
    *, quick: bool = False, sizes: tuple[int, ...] | None = None, repeats: int | None = None
) -> BenchResult:
    """Time and peak memory of publishing chats of each size (fresh process per run)."""
    sizes = sizes or (QUICK_SIZES if quick else SIZES)
    repeats = repeats or (1 if quick else 3)
    result = BenchResult(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-transcript-") as tmp:
        base = Path(tmp)
        empty_db = base / "empty.db"
        build_store(empty_db, 0, chat_id="empty")
        baseline = _spawn(empty_db, "empty", base / "out-empty")["maxrss_kib"]
        result.add("baseline RSS of an empty publish", f"{baseline / 1024:.0f} MB")
        per_message: list[float] = []
        all_ok = True
        for n in sizes:
            db = base / f"chat-{n}.db"
            stored = build_store(db, n)
            # One run of the largest size: it takes minutes, and its growth is the point.
            times = repeats if n <= TARGET_SIZE else 1
            runs = [_spawn(db, "bench-chat", base / f"out-{n}") for _ in range(times)]
            # 1M under tracemalloc takes minutes; the RSS figure is the honest one there.
            traced = (
                _spawn(db, "bench-chat", base / f"out-{n}", trace=True) if n <= 100_000 else None
            )
            seconds = median([r["seconds"] for r in runs])
            rss_mb = (median([r["maxrss_kib"] for r in runs]) - baseline) / 1024
            per_message.append(seconds / n)
            shown = f"{seconds:.2f} s, +{rss_mb:.0f} MB RSS" + (
                f", {traced['traced_peak'] / 2**20:.0f} MB traced" if traced else ""
            )
            is_target = n == TARGET_SIZE
            result.add(
                f"publish {n:,} msgs (stats+md+html+json)",
                shown,
                f"< {TARGET_SECONDS:.0f} s, < {TARGET_MB:.0f} MB" if is_target else "",
                (seconds < TARGET_SECONDS and rss_mb < TARGET_MB) if is_target else None,
            )
            all_ok &= all(r["messages"] == stored and r["bytes_written"] > 0 for r in runs)
        if len(per_message) > 1:
            growth = per_message[-1] / per_message[0]
            result.add(
                f"time per message, {sizes[-1]:,} vs {sizes[0]:,}",
                f"x{growth:.2f}",
                "<= ~1 (linear)",
                growth <= 1.3,
            )
        result.checks["every size published every stored, undeleted message"] = all_ok
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=2, metavar=("DB", "CHAT_ID"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args(argv)
    db, chat_id = args.worker
    print(json.dumps(worker(Path(db), chat_id, args.out, trace=args.trace)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
