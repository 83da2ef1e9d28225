"""Capture throughput: incoming messages through the real capture path into the real schema,
against the floor of raw ``sqlite3.executemany`` of the same rows into the same table.

Timed path, per batch: ``archive.capture.capture`` on every message (with the context the
facilitator builds), then ``Store.save_messages`` (one transaction per batch) into a fresh
SQLite file. The floor inserts the very rows ``save_messages`` writes, pre-built, with the
same batch size, pragmas and schema (so the same indexes), and writes the search index of
each batch with the same ``INSERT ... SELECT`` the store runs. Runs are interleaved (capture, floor, capture...), so
both see the same machine state; the figures are medians.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.capture import CaptureContext, capture
from archive.models import CapturedMessage, IncomingMessage
from archive.store import Store, iso
from archive.store.messages import message_row, raw_json
from benchmarks import BenchResult, bench_chat, bench_context, incoming_messages, median

logger = logging.getLogger(__name__)

NAME = "capture"
DEFAULT_N = 200_000
QUICK_N = 20_000
BATCH = 1000
TARGET_RATE = 50_000
TARGET_RATIO = 0.5

_COLUMNS = (
    "chat_id, platform, platform_id, channel, author_id, author_name, author_handle, text,"
    " created_at, kind, question_keys, late, reply_to, permalink, edited_at, deleted_at,"
    " mentions, reactions, raw, captured_at, attachments"
)
_RAW_INSERT = f"INSERT INTO messages ({_COLUMNS}) VALUES ({','.join('?' * 21)})"
_RAW_INDEX = "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ?"


def _row(m: CapturedMessage, raw: Mapping[str, Any], now: str) -> tuple[object, ...]:
    """The row ``Store.save_messages`` writes for ``m``, built by the store's own code."""
    return message_row(m, raw_json(raw), now)


def _fresh_store(path: Path, ctx: CaptureContext) -> Store:
    store = Store(path)
    store.add_chat(ctx.chat)
    return store


def run_capture(
    messages: Sequence[IncomingMessage], ctx: CaptureContext, path: Path, batch: int = BATCH
) -> tuple[float, int]:
    """Capture and store ``messages`` in batches; returns (seconds, messages captured)."""
    store = _fresh_store(path, ctx)
    try:
        captured = 0
        gc.collect()
        t0 = time.perf_counter()
        for start in range(0, len(messages), batch):
            chunk = messages[start : start + batch]
            kept = []
            raws = []
            for msg in chunk:
                got = capture(msg, ctx)
                if got is not None:
                    kept.append(got)
                    raws.append(msg.raw)
            if kept:
                store.save_messages(kept, raws)
                captured += len(kept)
        elapsed = time.perf_counter() - t0
    finally:
        store.close()
    return elapsed, captured


def run_floor(
    rows: Sequence[tuple[object, ...]], ctx: CaptureContext, path: Path, batch: int = BATCH
) -> float:
    """Raw executemany of pre-built ``rows`` into the same schema; returns seconds."""
    _fresh_store(path, ctx).close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        gc.collect()
        t0 = time.perf_counter()
        indexed = 0
        for start in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_RAW_INSERT, rows[start : start + batch])
            # The same search-index write as Store.save_messages (migration 3), bare.
            conn.execute(_RAW_INDEX, (indexed,))
            indexed = conn.execute("SELECT MAX(id) FROM messages").fetchone()[0]
            conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        conn.close()


def _stored(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(str(path))
    try:
        total, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT platform || ':' || platform_id) FROM messages"
        ).fetchone()
        return int(total), int(distinct)
    finally:
        conn.close()


def run(*, quick: bool = False, n: int | None = None, repeats: int | None = None) -> BenchResult:
    """Median capture and floor throughput over ``repeats`` interleaved runs."""
    n = n or (QUICK_N if quick else DEFAULT_N)
    repeats = repeats or (3 if quick else 5)
    chat = bench_chat()
    ctx = bench_context(chat)
    messages = list(incoming_messages(n, chat))
    now = iso(datetime.now(UTC))
    expected = [(m, got) for m in messages if (got := capture(m, ctx)) is not None]
    rows = [_row(got, m.raw, now) for m, got in expected]

    result = BenchResult(NAME)
    cap_times: list[float] = []
    floor_times: list[float] = []
    captured_counts: set[int] = set()
    stored_ok = True
    # The pre-built inputs (~1.5M objects at N = 200,000) are no part of either path, and a
    # running bot never holds them; frozen, full collections do not walk them.
    gc.collect()
    gc.freeze()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
            for i in range(repeats):
                cap_path = Path(tmp) / f"capture-{i}.db"
                elapsed, captured = run_capture(messages, ctx, cap_path)
                cap_times.append(elapsed)
                captured_counts.add(captured)
                total, distinct = _stored(cap_path)
                stored_ok &= total == distinct == len(expected)
                floor_path = Path(tmp) / f"floor-{i}.db"
                floor_times.append(run_floor(rows, ctx, floor_path))
                stored_ok &= _stored(floor_path)[0] == len(rows)
                for p in Path(tmp).glob("*"):
                    p.unlink()
    finally:
        gc.unfreeze()

    cap_rate = n / median(cap_times)
    floor_rate = len(rows) / median(floor_times)
    # Per stored row, like the floor: the ratio compares the same work.
    ratio = (len(rows) / median(cap_times)) / floor_rate
    result.add(
        f"capture+store msg/s (N={n:,}, median of {repeats})",
        f"{cap_rate:,.0f}",
        f">= {TARGET_RATE:,}",
        cap_rate >= TARGET_RATE,
    )
    result.add(f"raw executemany floor rows/s ({len(rows):,} rows)", f"{floor_rate:,.0f}")
    result.add(
        "capture / floor (stored rows/s)",
        f"{ratio:.2f}",
        f">= {TARGET_RATIO}",
        ratio >= TARGET_RATIO,
    )
    result.checks["every captured message stored exactly once"] = stored_ok
    result.checks["capture is deterministic across runs"] = captured_counts == {len(expected)}
    result.checks["chatter without the hashtag is dropped"] = 0 < len(expected) < n
    return result
