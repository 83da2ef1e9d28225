"""A new user's first steps (issue 18): warnings for what works but will not do what the host
means, and no silent new local network in the wrong folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.plan import parse_chat_plan
from tests.bot.helpers import chat_file, config_file, tweetchat


def chat_on(path: Path, platform: str, zone: str = "Europe/London") -> None:
    path.write_text(
        'title = "Patients in QI"\nhashtag = "WeDocs"\nstart = 2030-07-09T19:00:00\n'
        f'timezone = "{zone}"\nduration = "60m"\nreminders = []\n'
        f'[[targets]]\nplatform = "{platform}"\n'
        + ('channel = "123"\n' if platform == "discord" else "")
        + '[[questions]]\ntext = "One?"\n',
        encoding="utf-8",
    )


def test_a_chat_for_a_network_the_config_does_not_enable_is_flagged(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_on(tmp_path / "chat.toml", "discord")
    for command in ("check", "schedule"):
        result = tweetchat([command, "chat.toml"], config)
        assert result.returncode == 0, result.stderr
        assert "warning: targets[0]: the config does not enable discord" in result.stderr
    chat_on(tmp_path / "local.toml", "local")
    quiet = tweetchat(["check", "local.toml"], config)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


@pytest.mark.parametrize(
    ("zone", "suggested"),
    [
        ("EST", "America/Toronto"),
        ("GMT", "Europe/London"),
        ("CET", "Europe/Paris"),
        ("Etc/GMT+5", "IANA name"),
        ("PST8PDT", "America/Los_Angeles"),
    ],
)
def test_a_zone_that_is_not_a_place_is_flagged_with_the_name_to_use(
    zone: str, suggested: str
) -> None:
    data = {
        "title": "T",
        "hashtag": "WeDocs",
        "start": "2030-07-09T19:00:00",
        "timezone": zone,
        "duration": "60m",
        "questions": ["One?"],
    }
    plan = parse_chat_plan(data)
    ((where, text),) = plan.warnings
    assert where == "timezone"
    assert f'"{zone}" is a fixed offset or abbreviation, not a place' in text
    assert suggested in text


@pytest.mark.parametrize("zone", ["Europe/London", "America/Toronto", "UTC", "Asia/Kolkata"])
def test_places_and_utc_are_not_flagged(zone: str) -> None:
    data = {
        "title": "T",
        "hashtag": "WeDocs",
        "start": "2030-07-09T19:00:00",
        "timezone": zone,
        "duration": "60m",
        "questions": ["One?"],
    }
    assert parse_chat_plan(data).warnings == ()


def test_the_cli_shows_the_zone_warning(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_on(tmp_path / "chat.toml", "local", zone="EST")
    result = tweetchat(["check", "chat.toml"], config)
    assert result.returncode == 0
    assert 'warning: timezone: "EST" is a fixed offset' in result.stderr
    assert "19:00 EST" in result.stdout  # what it will do, shown plainly


def test_local_say_refuses_a_network_that_does_not_exist(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    result = tweetchat(["local", "say", "A1: hello #WeDocs"], config)
    assert result.returncode == 2
    assert f"no local network at {tmp_path / 'net.sqlite'}" in result.stderr
    assert not (tmp_path / "net.sqlite").exists()


def test_local_say_says_where_it_posted(tmp_path: Path) -> None:
    from bot.platforms.local.adapter import LocalNetwork

    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3600)
    LocalNetwork(tmp_path / "net.sqlite").close()
    result = tweetchat(["local", "say", "--as", "ann", "A1: hello #WeDocs"], config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("posted message ")
    assert f"in main (local network {tmp_path / 'net.sqlite'})" in result.stdout


def test_every_config_problem_is_listed_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[local]\nenabeld = true\npoll_interval = "fast"\n[scheduler]\nmisfire_grace = "soon"\n',
        encoding="utf-8",
    )
    result = tweetchat(["chats"], config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert all(line.startswith(f"tweetchat: {config}: ") for line in lines)
    assert {line.split(": ")[2] for line in lines} == {
        "local.enabeld",
        "local.poll_interval",
        "scheduler.misfire_grace",
    }
