"""The README documents every CLI command (a test, so the docs cannot silently fall behind)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from bot.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(subs.choices)


def test_every_command_is_in_the_readme() -> None:
    missing = [c for c in _commands() if not re.search(rf"tweetchat {re.escape(c)}\b", README)]
    assert missing == [], f"README.md does not mention: {', '.join(missing)}"


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```", 2)[1]
    assert "make demo" in first_block and "make test" in first_block


def test_discord_invite_link_grants_exactly_the_listed_permissions() -> None:
    import discord

    needed = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        read_message_history=True,
        attach_files=True,
        embed_links=True,
        add_reactions=True,
        manage_events=True,
    )
    assert re.search(rf"permissions={needed.value}(?!\d)", README)
