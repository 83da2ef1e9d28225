"""GET /healthz: each network connection and the runner, 200 or 503 (issue 18)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.bot.helpers import chat_file, config_file, env_for, tweetchat, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_healthz_reports_each_part_and_a_failing_network(tmp_path: Path) -> None:
    port = free_port()
    config = config_file(tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n')
    chat_file(tmp_path / "chat.toml", start_in=3, duration="5m", interval="1m")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env_for(config),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = wait_for(lambda: health(port), timeout=60, what="the web archive")
        assert first == (
            200,
            {"status": "ok", "checks": {"database": "ok", "runner": "ok", "local": "ok"}},
        )
        # Every write of the bot fails (a full disk): capture fails and says so.
        subprocess.run(["prlimit", f"--pid={bot.pid}", "--fsize=0:unlimited"], check=True)
        from bot.platforms.local.adapter import LocalNetwork, LocalUser

        net = LocalNetwork(tmp_path / "net.sqlite")
        try:
            from datetime import UTC, datetime

            net.post("main", LocalUser("a", "Ann", "ann"), "hello #WeDocs", at=datetime.now(UTC))
        finally:
            net.close()

        def failing() -> dict[str, object] | None:
            found = health(port)
            return found[1] if found is not None and found[0] == 503 else None

        report = wait_for(failing, timeout=60, interval=0.02, what="a 503")
        assert report["status"] == "failing"
        checks = report["checks"]
        assert isinstance(checks, dict)
        assert str(checks["local"]).startswith("local: capture: ")
        assert checks["runner"] == "ok" or "runner" in str(checks["runner"])

        subprocess.run(["prlimit", f"--pid={bot.pid}", "--fsize=unlimited:unlimited"], check=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the task restarts after its back-off
            found = health(port)
            if found is not None and found[0] == 200:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no 200 after the fault: {health(port)}")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)


async def test_the_archive_alone_checks_its_database(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from archive.web.app import make_app
    from tests.archive.web.conftest import build_archive

    app = make_app(build_archive(tmp_path / "archive.db"))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "checks": {"database": "ok"}}
        assert resp.headers["Cache-Control"] == "no-store"
