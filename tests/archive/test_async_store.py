"""AsyncStore: one writer thread, a pool of readers, and the clock it is given."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import AsyncStore, Store
from tests.archive.test_store import START, make_chat, msg

FIXED = datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    s = AsyncStore(tmp_path / "a.db", readers=3)
    yield s
    await s.aclose()


async def test_the_typed_api_round_trips_a_chat(store: AsyncStore) -> None:
    await store.add_chat(make_chat())
    assert await store.save_messages([msg("1")]) == 1
    chat = await store.get_chat("wedocs-2026-12-01")
    assert chat.title == "Patients as partners"
    assert [m.platform_id for m in await store.messages(chat.id)] == ["1"]


async def test_writes_from_many_coroutines_run_on_one_thread_and_all_commit(
    store: AsyncStore,
) -> None:
    threads: set[int] = set()

    def write(s: Store, i: int) -> None:
        threads.add(threading.get_ident())
        s.set_state(f"k:{i:03d}", str(i))

    await asyncio.gather(
        *(store.write(write, i) for i in range(100)),
        *(store.set_state(f"k:{i:03d}", str(i)) for i in range(100, 150)),
    )
    assert threads == {store._executor.submit(threading.get_ident).result()}
    assert threading.get_ident() not in threads  # never on the event loop's thread
    assert await store.states("k:") == {f"k:{i:03d}": str(i) for i in range(150)}


async def test_writes_run_one_at_a_time_in_the_order_awaited(store: AsyncStore) -> None:
    running = 0
    most = 0
    order: list[int] = []

    def write(s: Store, i: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        with s.transaction():
            s.set_state("last", str(i))
            order.append(i)
        running -= 1

    await asyncio.gather(*(store.write(write, i) for i in range(40)))
    assert most == 1
    assert order == list(range(40))
    assert await store.get_state("last") == "39"


async def test_reads_run_concurrently_on_the_pool(store: AsyncStore) -> None:
    # Three reads that each wait for the other two: they can only finish if they run at
    # the same time, on three reader threads, while the writer thread stays free.
    barrier = threading.Barrier(3, timeout=10)
    threads: set[int] = set()

    def read(s: Store) -> int:
        threads.add(threading.get_ident())
        barrier.wait()
        return s.schema_version()

    versions = await asyncio.gather(*(store.read(read) for _ in range(3)))
    assert len(set(versions)) == 1 and versions[0] > 0
    assert len(threads) == 3
    assert store.reads.connections == 3
    writer = store._executor.submit(threading.get_ident).result()
    assert writer not in threads


async def test_the_pool_reuses_its_connections(store: AsyncStore) -> None:
    for _ in range(20):
        await store.get_state("x")
    assert 1 <= store.reads.connections <= 3


async def test_pool_connections_are_read_only(store: AsyncStore) -> None:
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
        await store.read(Store.set_state, "k", "v")
    assert await store.get_state("k") is None


async def test_a_read_awaited_after_a_write_sees_it(store: AsyncStore) -> None:
    await store.add_chat(make_chat())
    for i in range(20):
        await store.save_messages([msg(str(i), minute=i)])
        assert await store.count_messages("wedocs-2026-12-01") == i + 1


async def test_a_snapshot_on_the_writer_thread_still_works(store: AsyncStore) -> None:
    await store.add_chat(make_chat())
    await store.save_messages([msg("1")])

    def count_in_snapshot(s: Store) -> int:
        with s.snapshot():
            return len(list(s.iter_messages("wedocs-2026-12-01")))

    assert await store.write(count_in_snapshot) == 1
    assert await store.read(count_in_snapshot) == 1  # a reader may take one too


async def test_errors_raised_on_store_threads_reach_the_caller(store: AsyncStore) -> None:
    from archive.store import DuplicateChatError, NotFoundError

    with pytest.raises(NotFoundError):
        await store.get_chat("nope")
    await store.add_chat(make_chat())
    with pytest.raises(DuplicateChatError):
        await store.add_chat(make_chat())


async def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    s = AsyncStore(tmp_path / "a.db")
    await s.get_state("x")
    await s.aclose()
    await s.aclose()
    s.close()


def test_a_memory_database_has_no_read_pool() -> None:
    with pytest.raises(ValueError, match=":memory:"):
        AsyncStore(":memory:")


# ---- the clock --------------------------------------------------------------------------


def stored(path: Path, sql: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_the_store_stamps_what_it_writes_with_its_clock(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = Store(path, now=lambda: FIXED)
    try:
        chat = store.add_chat(make_chat())  # no created_at: the store's clock
        assert chat.created_at == FIXED
        store.record_intent(chat.id, "q1", "local", "main", "Q1")
        store.save_messages([msg("1")])
        store.opt_out("local", "u1", "u1")
    finally:
        store.close()
    want = "2026-11-30T09:15:42.123456+00:00"
    assert stored(path, "SELECT created_at FROM chats") == want
    assert stored(path, "SELECT intent_at FROM posts") == want
    assert stored(path, "SELECT captured_at FROM messages") == want
    assert stored(path, "SELECT at FROM optouts") == want


def test_a_chat_keeps_its_own_creation_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db", now=lambda: FIXED)
    try:
        created = START - timedelta(days=3)
        chat = replace(make_chat(), created_at=created)
        assert store.add_chat(chat).created_at == created
        assert store.get_chat(chat.id).created_at == created
    finally:
        store.close()


async def test_the_async_store_writes_with_the_clock_it_was_given(tmp_path: Path) -> None:
    ticks = iter(FIXED + timedelta(seconds=s) for s in range(100))
    store = AsyncStore(tmp_path / "c.db", now=lambda: next(ticks))
    try:
        await store.add_chat(make_chat())
        await store.record_intent("wedocs-2026-12-01", "intro", "local", "main", "Hi")
        await store.record_intent("wedocs-2026-12-01", "q1", "local", "main", "Q1")
    finally:
        await store.aclose()
    path = tmp_path / "c.db"
    assert stored(path, "SELECT created_at FROM chats") == "2026-11-30T09:15:42.123456+00:00"
    assert stored(path, "SELECT group_concat(intent_at, ' ') FROM posts") == (
        "2026-11-30T09:15:43.123456+00:00 2026-11-30T09:15:44.123456+00:00"
    )
