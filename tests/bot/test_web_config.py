"""The ``[web]`` table reaches the archive that `tweetchat run` serves: ``page_size``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.bot.helpers import chat_file, config_file, env_for, tweetchat, wait_for
from tests.bot.test_healthz import free_port


def home(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            return resp.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_the_home_page_lists_page_size_upcoming_chats(tmp_path: Path) -> None:
    port = free_port()
    config = config_file(
        tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\npage_size = 2\n'
    )
    for n, tag in enumerate(("WeDocs", "WeNurses", "WeCarers")):
        chat_file(tmp_path / f"{tag}.toml", start_in=3600 * (n + 1), hashtag=tag)
        assert tweetchat(["schedule", f"{tag}.toml"], config).returncode == 0
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env_for(config),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = wait_for(lambda: home(port), timeout=60, what="the web archive")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=60)
    upcoming = page.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    # The two soonest of the three, as `page_size = 2` asks.
    assert re.findall(r"#We\w+", upcoming) == ["#WeDocs", "#WeNurses"]
