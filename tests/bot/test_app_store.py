"""The app's wiring of the store: its clock, and the web archive on its read pool."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from archive.web.app import POOL
from bot.app import App
from bot.config import config_from_dict
from scheduler.clock import SystemClock

FIXED = datetime(2026, 11, 30, 9, 15, 42, tzinfo=UTC)


class FixedClock(SystemClock):
    def now(self) -> datetime:
        return FIXED


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_web_archive_shares_the_stores_read_pool(tmp_path: Path) -> None:
    port = free_port()
    config = config_from_dict(
        {
            "database": "db.sqlite",
            "transcripts_dir": "out",
            "web": {"enabled": True, "host": "127.0.0.1", "port": port},
        },
        base_dir=tmp_path,
    )
    app = App(config, platforms={}, clock=FixedClock())
    await app.start()
    try:
        assert app.store is not None and app.web_runner is not None
        assert app.web_runner.app[POOL] is app.store.reads
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert response.status == 200
        assert app.store.reads.connections >= 1
        await app.store.opt_out("local", "u1", "u1")
    finally:
        await app.stop()
    import sqlite3

    conn = sqlite3.connect(tmp_path / "db.sqlite")
    try:
        (at,) = conn.execute("SELECT at FROM optouts").fetchone()
    finally:
        conn.close()
    assert at == "2026-11-30T09:15:42.000000+00:00"  # the app's clock, not the system's
