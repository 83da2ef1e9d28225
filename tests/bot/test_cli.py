"""The command line: help without heavy imports, transcript and stats commands."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.store import Store
from archive.store import connection as store_connection
from tests.bot.helpers import config_file, tweetchat

EXPORT = Path(__file__).parents[1] / "archive" / "data" / "wedocs_discord.json"

HEAVY = ("discord", "tweepy", "aiohttp", "apscheduler", "markdown", "nh3")


def test_help_imports_no_client_library() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n"
        "    except SystemExit:\n        pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "run",
        "demo",
        "schedule",
        "check",
        "chats",
        "show",
        "cancel",
        "transcript",
        "stats",
        "next",
        "pause",
        "resume",
        "extend",
        "end",
        "skip",
        "start",
    ):
        assert f"    {name}" in out, name


def test_transcript_and_stats_commands_on_a_demo_archive(tmp_path: Path) -> None:
    out_dir = tmp_path / "demo"
    demo = tweetchat(
        ["demo", "--out", str(out_dir), "--speed", "1200", "--participants", "12"],
        config_file(tmp_path),
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    config = tmp_path / "demo.toml"
    # The demo's organisers keep a roster; the config is where the archive learns of it.
    config.write_text(
        f'database = "{out_dir / "demo.db"}"\n[groups]\nroster = "{out_dir / "roster.csv"}"\n',
        encoding="utf-8",
    )
    csv_path = tmp_path / "messages.csv"
    result = tweetchat(["transcript", "wedocs", "--format", "csv", "--out", str(csv_path)], config)
    assert result.returncode == 0, result.stderr
    header = csv_path.read_text(encoding="utf-8").splitlines()[0]
    assert "text" in header and "author" in header
    stats = json.loads(tweetchat(["stats", "wedocs", "--json"], config).stdout)
    md = tweetchat(["transcript", "wedocs"], config).stdout
    assert md.startswith("# Patients as partners in quality improvement")
    assert stats["answers"] > 0
    assert f"| Answers | {stats['answers']} (" in md  # the summary row agrees with stats --json
    human = tweetchat(["stats", "wedocs"], config).stdout
    assert "participants" in human and "Q6" in human
    # Each format on its own, to stdout and to a file, is the published document: the
    # file itself while nothing it shows has changed (the bot's announcement of it is no
    # such change), and rendered anew with --fresh (but for when it was generated: the
    # demo's clock said 21:10, this one says now).
    published = {p.suffix[1:]: p for p in (out_dir / "transcripts").iterdir()}
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    for fmt in ("md", "html", "json"):
        expected = _undated(published[fmt].read_text(encoding="utf-8"))
        shown = tweetchat(["transcript", "wedocs", "--format", fmt], config)
        assert shown.returncode == 0 and shown.stdout == published[fmt].read_text("utf-8"), fmt
        fresh = tweetchat(["transcript", "wedocs", "--format", fmt, "--fresh"], config)
        assert fresh.returncode == 0 and _undated(fresh.stdout) == expected, fmt
        assert fmt == "json" or f"({today} " in fresh.stdout
        path = tmp_path / "one" / f"t.{fmt}"
        written = tweetchat(["transcript", "wedocs", "--format", fmt, "--out", str(path)], config)
        assert written.stdout == f"wrote {path}\n"
        assert _undated(path.read_text(encoding="utf-8")) == expected
        assert sorted(p.name for p in path.parent.iterdir()) == sorted(
            f"t.{f}" for f in ("md", "html", "json")[: ("md", "html", "json").index(fmt) + 1]
        )  # no spill or hidden Markdown left behind


def _undated(text: str) -> str:
    return re.sub(r"Generated [^*<\n]*", "Generated (when)", text)


@pytest.mark.parametrize(
    "command",
    [
        ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", "drsmith"],
        ["chats"],
    ],
    ids=["import", "chats"],
)
def test_a_busy_archive_is_one_line_naming_it_not_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    from bot.cli import main

    monkeypatch.setattr(store_connection, "BUSY_TIMEOUT", 0.2)  # not 5 s
    config = config_file(tmp_path)
    database = tmp_path / "db.sqlite"
    Store(database).close()
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process, writing for a while
    try:
        code = main(["--config", str(config), *command])
    finally:
        other.execute("ROLLBACK")
        other.close()
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"tweetchat: the archive {database} is busy: another process holds it (database is "
        "locked, after waiting 0.2 s); try again when it is done\n"
    )
    store = Store(database)
    try:
        assert store.list_chats() == []  # nothing written
    finally:
        store.close()
