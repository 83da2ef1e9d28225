"""The one-screen summaries the command line prints."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archive.stats import compute_stats
from bot.reports import format_stats
from tests.archive.test_stats import CHAT


@pytest.mark.parametrize(
    ("title", "head"),
    [
        ("Test chat", "Test chat #Test — "),
        # An imported chat's title names its hashtag: not twice (found by a tester:
        # "#WeDocs in #qi-chat #WeDocs — Tue 03 Mar 2026").
        ("#Test in #qi-chat", "#Test in #qi-chat — "),
        ("#test in #qi-chat", "#test in #qi-chat — "),
        ("#TestChat in #qi-chat", "#TestChat in #qi-chat #Test — "),  # another hashtag
    ],
)
def test_the_stats_head_names_the_hashtag_once(title: str, head: str) -> None:
    chat = replace(CHAT, title=title)
    first = format_stats(chat, compute_stats(chat, iter([]))).splitlines()[0]
    assert first.startswith(head)


def test_one_answer_is_one_answer() -> None:
    """Found by a tester: "Q3      1 answers"."""
    from tests.archive.test_stats import msg

    stats = compute_stats(CHAT, iter([msg("Ann", 6)]))
    lines = format_stats(CHAT, stats).splitlines()
    assert any(line.startswith("  Q1      1 answer   First?") for line in lines), lines
    assert any(line.startswith("  Q2      0 answers  Second?") for line in lines), lines
