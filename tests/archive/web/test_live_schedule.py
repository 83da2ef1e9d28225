"""The chat page of a live chat shows its schedule as it now stands, as `tweetchat show` does
(issue 12: after `next` and `pause` the page must not show the original plan)."""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from archive.store import Store
from archive.web.templates import Site
from archive.web.views import chat_page
from scheduler.standing import standing_source
from tests.bot.helpers import chat_file, config_file, env_for, start_bot, tweetchat, wait_for
from tests.bot.test_healthz import free_port
from tests.scheduler.test_live_chats import posted

_ROW = re.compile(
    r'<tr(?: class="next")?><td>(.*?)</td><th scope="row">(.*?)</th><td>(.*?)</td></tr>'
)


def page(port: int, chat_id: str) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/chats/{chat_id}", timeout=5) as r:
            return str(r.read().decode("utf-8"))
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def page_rows(text: str) -> list[tuple[str, str, str]]:
    """(time, step, state) of each row of the page's schedule table, in page order."""
    table = text.split('<table class="schedule">', 1)[1].split("</table>", 1)[0]
    return [tuple(html.unescape(cell) for cell in row) for row in _ROW.findall(table)]  # type: ignore[misc]


def shown_rows(config: Path, chat_id: str) -> list[tuple[str, str, str]]:
    """(time, step, state) of each line of `tweetchat show`'s schedule."""
    out = tweetchat(["show", chat_id], config).stdout
    body = out.split("schedule (", 1)[1].split("\n", 1)[1]
    rows = []
    for line in body.splitlines():
        if not line.startswith("    "):
            break
        when, label, state = line.split(maxsplit=2)
        rows.append((when, label, state))
    return rows


def without_countdown(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The rows with "next, in 6 min" cut to "next" (the page and `show` are read moments
    apart, on either side of a minute)."""
    return [
        (w, label, state.split(",")[0] if state.startswith("next,") else state)
        for w, label, state in rows
    ]


def test_a_live_chats_page_shows_the_schedule_as_it_stands_after_next_and_pause(
    tmp_path: Path,
) -> None:
    port, serve_port = free_port(), free_port()
    config = config_file(tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n')
    net = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=10,  # two CLI runs first, on a loaded machine
        questions=("One?", "Two?", "Three?"),
        first_question="1s",
        interval="120s",
        duration="600s",
        grace="4s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    (chat_id,) = [line.split()[0] for line in tweetchat(["chats"], config).stdout.splitlines()[1:2]]
    # Upcoming: the page (rendered as the server does) has the plan, the intro next.
    store = Store.open_readonly(tmp_path / "db.sqlite")
    try:
        upcoming = chat_page(
            store,
            Site(),
            chat_id,
            schedule=standing_source(),
            now=datetime.now(UTC),
        )
    finally:
        store.close()
    rows = page_rows(upcoming)
    assert [label for _, label, _ in rows] == [
        "intro", "Q1", "Q2", "Q3", "wrap-up", "close", "publish",
    ]  # fmt: skip
    assert rows[0][2].startswith("next, ") and rows[1][2] == "pending"
    bot = start_bot(config)
    # The archive served alone (`tweetchat serve`) from the same file says the same.
    served = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(serve_port)],
        env=env_for(config),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: page(port, chat_id), timeout=60, what="the web archive")
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        assert tweetchat(["next", chat_id], config).returncode == 0
        wait_for(lambda: posted(net, "Q2:"), what="Q2 after next")
        assert tweetchat(["pause", chat_id], config).returncode == 0

        text = page(port, chat_id)
        assert text is not None
        live = page_rows(text)
        shown = shown_rows(config, chat_id)
        # What `tweetchat show` prints, row for row, in the same (time) order.
        assert without_countdown(live) == without_countdown(shown)
        assert [label for _, label, _ in live] == [
            "intro", "Q1", "Q2", "Q3", "wrap-up", "close", "publish",
        ]  # fmt: skip
        states = [state for _, _, state in live]
        assert [s.split(" at ")[0] for s in states[:3]] == ["posted"] * 3
        assert [when for when, _, _ in live[:3]] == [s.split(" at ")[1] for s in states[:3]]
        # Q2 went out early, on `next`: before its planned time, and in order.
        assert live[1][0] <= live[2][0]
        assert states[3] == states[4] == "held until the chat is resumed"
        assert live[3][0] == live[4][0] == "--:--"
        assert states[5].startswith("next, in")  # the close, while the clock is held
        assert states[6] == "pending"
        assert '<tr class="next"><td>' in text and "Schedule as it stands" in text
        alone = wait_for(lambda: page(serve_port, chat_id), timeout=60, what="tweetchat serve")
        assert without_countdown(page_rows(alone)) == without_countdown(live)

        assert tweetchat(["resume", chat_id], config).returncode == 0
        text = page(port, chat_id)
        assert text is not None
        resumed = page_rows(text)
        assert [label for _, label, _ in resumed][3:] == ["Q3", "wrap-up", "close", "publish"]
        assert resumed[3][2].startswith("next, in") and resumed[3][0] != "--:--"
        assert [label for _, label, _ in resumed] == [label for _, label, _ in shown]
        assert tweetchat(["end", chat_id], config).returncode == 0
        published = wait_for(
            lambda: "Schedule as it stands" not in (page(port, chat_id) or "Schedule as it stands"),
            timeout=60,
            what="the published page",
        )
        assert published
    finally:
        for proc in (bot, served):
            proc.send_signal(signal.SIGTERM)
        for proc in (bot, served):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_french_chats_page_words_the_schedule_in_french_and_show_stays_english(
    tmp_path: Path,
) -> None:
    """A chat in French: its page, fetched over HTTP, gives the states, the bot's own step
    names and reasons, and the times in French (``publiée à 20 h 05``, ``-- h --`` for a
    step that never went out); `tweetchat show`, the host's tool, stays in English."""
    port = free_port()
    config = config_file(tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\n')
    net = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=10,
        questions=("Un ?", "Deux ?", "Trois ?"),
        first_question="1s",
        interval="120s",
        duration="600s",
        grace="4s",
        extra='language = "fr"',
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    (chat_id,) = [line.split()[0] for line in tweetchat(["chats"], config).stdout.splitlines()[1:2]]
    bot = start_bot(config)
    try:
        wait_for(lambda: page(port, chat_id), timeout=60, what="the web archive")
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        assert tweetchat(["skip", chat_id], config).returncode == 0  # Q2

        text = page(port, chat_id)
        assert text is not None
        rows = page_rows(text)
        assert [label for _, label, _ in rows] == [
            "introduction", "Q1", "Q2", "Q3", "synthèse", "clôture", "publication",
        ]  # fmt: skip
        (intro_at, _, intro), (q1_at, _, q1), (q2_at, _, q2) = rows[:3]
        assert re.fullmatch(r"\d\d h \d\d", intro_at) and intro == f"publiée à {intro_at}"
        assert q1 == f"publiée à {q1_at}"
        assert q2_at == "-- h --"
        assert re.fullmatch(r"sautée \(sautée par cli:\S+\)", q2), q2
        assert re.fullmatch(r"prochaine étape, dans \d+ min", rows[3][2]), rows[3]
        assert [state for _, _, state in rows[4:]] == ["à venir"] * 3
        cells = " | ".join(cell for row in rows for cell in row)
        for english in ("posted", "skipped", "next", "pending", "--:--", " at ", "intro "):
            assert english not in cells, english
        assert "Déroulement prévu à ce stade" in text

        shown = shown_rows(config, chat_id)
        assert [label for _, label, _ in shown][:3] == ["intro", "Q1", "Q2"]
        assert shown[0][2].startswith("posted at ") and shown[2][0] == "--:--"
        assert shown[2][2].startswith("skipped (skipped by cli:")
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=60)
        except subprocess.TimeoutExpired:
            bot.kill()
