"""The opt command rule the live bot and the importer share."""

from __future__ import annotations

import pytest

from archive.optouts import opt_command


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("!optout", "optout"),
        ("  !optout  ", "optout"),
        ("optout", "optout"),
        ("Opt out", "optout"),
        ("!OPT-OUT", "optout"),
        ("@tweetchat !optout", "optout"),
        ("@bot @other opt-in", "optin"),
        ("!optin", "optin"),
        ("", None),
        ("   ", None),
        ("A1 optout", None),
        ("!optouts", None),
        ("please !optout", None),
        ("!optout #WeDocs", "optout"),  # on X, only posts with the hashtag reach the bot
        ("@tweetchat opt in #WeDocs #NHSQI", "optin"),
        ("!optout #WeDocs please", None),
        ("oh, hi", None),
    ],
)
def test_opt_command(text: str, word: str | None) -> None:
    assert opt_command(text) == word
