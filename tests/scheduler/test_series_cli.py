"""A recurring series through the CLI: occurrences listed, one cancelled, re-scheduling is safe."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.bot.helpers import REPO, config_file, tweetchat


def test_series_occurrences_are_listed_and_one_can_be_cancelled(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    shutil.copy(REPO / "examples" / "wedocs-monthly.toml", tmp_path / "monthly.toml")
    first = tweetchat(["schedule", "monthly.toml", "--occurrences", "4"], config)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # no log noise from one-shot commands
    ids = [line.split()[1].rstrip(":") for line in first.stdout.splitlines()]
    assert ids == [
        "wedocs-2027-01-05",
        "wedocs-2027-02-02",
        "wedocs-2027-03-02",
        "wedocs-2027-04-06",
    ]
    listing = tweetchat(["chats"], config).stdout
    # 20:00 local on both sides of the March clock change
    assert "Tue 02 Mar 2027 20:00 GMT" in listing and "Tue 06 Apr 2027 20:00 BST" in listing
    assert "patient safety" in listing  # the per-date override's title

    assert tweetchat(["cancel", "wedocs-2027-03-02"], config).returncode == 0
    listing = tweetchat(["chats", "--all"], config).stdout
    upcoming = listing.split("Cancelled:")[0]
    assert "wedocs-2027-03-02" not in upcoming
    assert "wedocs-2027-04-06" in upcoming and "wedocs-2027-02-02" in upcoming

    again = tweetchat(["schedule", "monthly.toml", "--occurrences", "5"], config)
    assert again.returncode == 0, again.stderr
    assert "already scheduled wedocs-2027-01-05" in again.stdout
    assert "scheduled wedocs-2027-05-04" in again.stdout
    replaced = tweetchat(["schedule", "monthly.toml", "--occurrences", "3", "--replace"], config)
    assert "left wedocs-2027-03-02 alone: it is cancelled" in replaced.stdout


def test_a_series_that_never_occurs_is_refused(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    (tmp_path / "never.toml").write_text(
        'title = "Never"\nhashtag = "WeDocs"\ntimezone = "Europe/London"\nduration = "1h"\n'
        '[series]\nday = "31"\nmonths = "feb"\ntime = "20:00"\n'
        '[[questions]]\ntext = "Q?"\n',
        encoding="utf-8",
    )
    result = tweetchat(["schedule", "never.toml"], config)
    assert result.returncode == 2
    assert "series" in result.stderr and "never" in result.stderr.lower()
    assert tweetchat(["chats"], config).stdout.startswith("No chats yet")
