"""The hosts: one rule for who is a host (capture, statistics, participants and groups read
it alike, whatever spelling the chat file or ``--host`` used), and the transcript's
"Hosted by" names a host given by account id by the handle they posted with."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path

import pytest

from archive.capture import is_host
from archive.hosts import author_is_host, host_idents, shown_hosts
from archive.importers.discord_export import import_discord_export
from archive.models import CapturedMessage, MessageKind
from archive.publish import PublishOptions
from archive.stats import compute_stats, counts_as_participant
from archive.store import Store
from tests.archive import test_stats
from tests.archive.test_capture import CHAT as CAPTURE_CHAT
from tests.archive.test_capture import message
from tests.archive.test_discord_import import EXPORT, HOST_ID
from tests.bot.helpers import config_file

K = MessageKind

# Every way a chat file or --host may name the author @Host (x, id 1001), and ways that
# name someone else.
SPELLINGS = [
    ("host", True),
    ("@HOST", True),
    (" Host ", True),
    ("1001", True),
    ("x:1001", True),
    ("X:@host", True),
    ("x:host", True),
    ("discord:1001", False),
    ("discord:host", False),
    ("x: host", True),
    (" x : @1001 ", True),
    ("10011", False),
    ("", False),
]


def host_message(minute: float, kind: MessageKind = K.QUESTION) -> CapturedMessage:
    return replace(test_stats.msg("Host", minute, kind), author_id="1001")


@pytest.mark.parametrize(("spelling", "expected"), SPELLINGS)
def test_statistics_know_a_host_by_every_spelling_capture_knows(
    spelling: str, expected: bool
) -> None:
    chat = replace(test_stats.CHAT, hosts=(spelling,))
    incoming = message(platform="x", author_handle="host", author_id="1001")
    assert is_host(incoming, dataclasses.replace(CAPTURE_CHAT, hosts=(spelling,))) is expected
    stats = compute_stats(chat, iter([host_message(5), test_stats.msg("Ann", 8)]))
    # A host's question post counts them as a host and a participant; anyone else posting
    # questions without being a host is the bot, and not a participant.
    assert stats.hosts == (1 if expected else 0)
    assert stats.participants == (2 if expected else 1)
    assert counts_as_participant(chat, "x", "host", "1001", True) is expected


def test_the_rule_is_by_handle_or_id_bare_or_with_the_network() -> None:
    hosts = host_idents(["@DrSmith", "discord:42"])
    assert author_is_host(hosts, "discord", "drsmith", "7")
    assert author_is_host(hosts, "x", "DRSMITH", "7")
    assert author_is_host(hosts, "discord", "someone", "42")
    assert not author_is_host(hosts, "x", "someone", "42")
    assert not author_is_host(frozenset(), "x", "drsmith", "7")


def test_shown_hosts_name_a_host_who_posted_by_the_handle_posted_with() -> None:
    authors = [("discord", "drsmith", "42"), ("x", "nurse_sam", "77")]
    assert shown_hosts(
        ["42", "x:77", "@Alice", "99", " ", "mastodon:ann@example.social"], authors
    ) == [
        "drsmith",
        "nurse_sam",
        "Alice",
        "99",
        "ann@example.social",
    ]
    assert shown_hosts(["x:42"], authors) == ["42"]  # 42 is someone on discord


def test_two_spellings_of_one_host_are_shown_once() -> None:
    """Found by a tester: "--host drsmith --host 100000000000000001" gave "Hosted by:
    @drsmith, @drsmith", and "discord:@DrSmith" was shown as "@discord:@DrSmith"."""
    authors = [("discord", "drsmith", "42")]
    spellings = ["drsmith", "42", "discord:42", "@DrSmith", "discord:@DrSmith", "discord: drsmith"]
    assert shown_hosts(spellings, authors) == ["drsmith"]
    assert shown_hosts(["Carol", "@carol", "x:@CAROL"], authors) == ["Carol"]  # not here


def test_the_transcript_names_a_host_given_by_id_by_handle(tmp_path: Path) -> None:
    store = Store(tmp_path / "archive.sqlite")
    try:
        for hosts, out in (
            ((HOST_ID,), "by-id"),
            ((f"discord:{HOST_ID}",), "by-network-id"),
            ((HOST_ID, "drsmith", "discord:@DrSmith"), "three-spellings"),  # shown once
        ):
            result = import_discord_export(
                store,
                EXPORT,
                hashtag="WeDocs",
                hosts=hosts,
                timezone="Europe/London",
                publish=PublishOptions(tmp_path / out),
            )
            md = (tmp_path / out / f"{result.chat.id}.md").read_text(encoding="utf-8")
            assert "- **Hosted by:** @drsmith\n" in md
            html = (tmp_path / out / f"{result.chat.id}.html").read_text(encoding="utf-8")
            assert "<strong>Hosted by:</strong> @drsmith</li>" in html
            assert result.chat.hosts == hosts  # the chat keeps what was given
    finally:
        store.close()


def test_an_opted_out_host_is_not_named_by_handle(tmp_path: Path) -> None:
    from bot.cli import main

    config = config_file(tmp_path)
    store = Store(tmp_path / "db.sqlite")
    store.opt_out("discord", HOST_ID, "drsmith")
    store.close()
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", HOST_ID]
    assert main(["--config", str(config), *args]) == 0
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert f"- **Hosted by:** @{HOST_ID}\n" in md
    assert "drsmith" not in md


def test_the_import_names_a_host_no_author_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a tester: ``--host x:drsmith`` on a Discord export matched nobody (no
    questions found) without a word about which --host was wrong."""
    from bot.cli import main

    config = config_file(tmp_path)
    args = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs"]
    hosts = ["--host", HOST_ID, "--host", "x:drsmith", "--host", "Dr Smith"]
    assert main(["--config", str(config), *args, *hosts]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("  --host")] == [
        "  --host x:drsmith: no author of the export is this host (a Discord username or user"
        " id, as in the export)",
        "  --host Dr Smith: no author of the export is this host (a Discord username or user"
        " id, as in the export)",
    ]
    store = Store(tmp_path / "db.sqlite")
    try:
        (chat,) = store.list_chats()
        assert store.hosts_not_met(chat) == ["x:drsmith", "Dr Smith"]
        assert store.hosts_not_met(replace(chat, hosts=("drsmith", "@DRSMITH"))) == []
    finally:
        store.close()
