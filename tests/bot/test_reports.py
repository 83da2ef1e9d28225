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
