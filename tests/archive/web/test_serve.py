"""`tweetchat serve` and `tweetchat run` with `[web] enabled` serve the archive over HTTP."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from bot.app import App
from bot.config import load_config
from tests.archive.web.conftest import build_archive

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, port: int, enabled: bool) -> Path:
    db = build_archive(tmp_path / "archive.db")
    cfg = tmp_path / "tweetchat.toml"
    cfg.write_text(
        f'database = "{db}"\n\n[local]\nenabled = false\n\n'
        f'[web]\nenabled = {str(enabled).lower()}\nhost = "127.0.0.1"\nport = {port}\n'
        'base_url = "https://example.org/archive"\n',
        encoding="utf-8",
    )
    return cfg


async def _get(url: str, attempts: int = 100) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        for _ in range(attempts):
            try:
                async with session.get(url) as resp:
                    return resp.status, await resp.text()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


async def test_serve_command_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    cfg = _config(tmp_path, port, enabled=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(cfg),
        "serve",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        status, text = await _get(f"http://127.0.0.1:{port}/archive/chats/wedocs-past")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert status == 200 and "patient council" in text
    assert proc.returncode == 0, err.decode()


async def test_run_starts_and_stops_the_web_archive_when_enabled(tmp_path: Path) -> None:
    port = _free_port()
    config = load_config(_config(tmp_path, port, enabled=True))
    app = App(config, platforms={})
    await app.start()
    try:
        status, _ = await _get(f"http://127.0.0.1:{port}/archive/")
    finally:
        await app.stop()
    assert status == 200
    assert app.web_runner is None
