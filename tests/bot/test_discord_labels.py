"""/tweetchat schedule labels:... : the label convention from Discord, run by the real
discord.py client inside a real App against the fake Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.labels import Labels
from archive.models import Chat
from archive.store import Store
from bot.config import LabelsConfig
from bot.platforms.discord.commands import form_plan_data
from tests.bot.test_discord_commands import (
    ATTACHMENT_OPTION,
    Running,
    chat_file,
    discord_config,
    form,
    start_app,
)
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_state import ALL_PERMISSIONS

pytestmark = pytest.mark.timeout(60)

STRING_OPTION = 3

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord


@pytest.fixture
async def running(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[Running]:
    run = await start_app(discord_config(tmp_path, fake_discord), fake_discord)
    try:
        yield run
    finally:
        await run.app.stop()


def stored(run: Running) -> list[Chat]:
    store = Store(run.config.database)
    try:
        return store.list_chats()
    finally:
        store.close()


async def schedule_with_labels(fake: FakeDiscord, labels: str, values: dict[str, str]) -> str:
    opened = fake.invoke_command("tweetchat", "schedule", options={"labels": labels})
    response = await fake.wait_for_response(opened)
    if response["type"] != 9:  # not a modal: refused at once
        return opened.content
    submitted = fake.submit_modal(opened, values)
    await fake.wait_for_response(submitted)
    return submitted.content


async def test_the_labels_option_sets_the_chats_convention(running: Running) -> None:
    fake = running.fake
    reply = await schedule_with_labels(fake, "C/A", form(questions="C1: Un?\nC2) Dau?\nTri?"))
    assert "Scheduled" in reply, reply
    (chat,) = stored(running)
    assert chat.labels == Labels("C", "A")
    assert [q.text for q in chat.questions] == ["Un?", "Dau?", "Tri?"]
    # The chat's Scheduled Event lists the questions with the chat's labels.
    events = await fake.wait_until(fake.scheduled_events, what="a scheduled event")
    assert "C1: Un?" in events[0]["description"]


async def test_a_bad_labels_option_is_refused_before_the_form(running: Running) -> None:
    reply = await schedule_with_labels(running.fake, "Q/RR", form())
    assert "Nothing was scheduled" in reply and "Labels" in reply and "RR" in reply
    assert stored(running) == []


async def test_the_labels_option_stands_in_for_a_files_missing_table(running: Running) -> None:
    """/tweetchat schedule file:<chat file> labels:Q/R (the payload built by hand: the fake
    does not build attachment options)."""
    fake = running.fake
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    attachment = fake.store_attachment(fake.channel_id, "fr.toml", chat_file(start), "text/plain")
    command = fake.find_command("tweetchat", fake.guild_id)
    assert command is not None
    payload = {
        "id": command["id"],
        "name": "tweetchat",
        "type": 1,
        "guild_id": str(fake.guild_id),
        "options": [
            {
                "type": 1,
                "name": "schedule",
                "options": [
                    {"type": ATTACHMENT_OPTION, "name": "file", "value": attachment["id"]},
                    {"type": STRING_OPTION, "name": "labels", "value": "Q/R"},
                ],
            }
        ],
        "resolved": {"attachments": {attachment["id"]: attachment}},
    }
    sent = fake._send_interaction(
        2, payload, fake.owner, ALL_PERMISSIONS, fake.channel_id, fake.guild_id, "en-US"
    )
    await fake.wait_for_response(sent)
    assert "Scheduled" in sent.content, sent.content
    (chat,) = stored(running)
    assert chat.labels == Labels("Q", "R")


async def test_the_configs_labels_are_the_forms_default(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    config = replace(discord_config(tmp_path, fake_discord), labels=LabelsConfig("Q", "R"))
    run = await start_app(config, fake_discord)
    try:
        opened = fake_discord.invoke_command("tweetchat", "schedule")
        await fake_discord.wait_for_response(opened)
        submitted = fake_discord.submit_modal(opened, form())
        await fake_discord.wait_for_response(submitted)
        assert "Scheduled" in submitted.content
        (chat,) = stored(run)
        assert chat.labels == Labels("Q", "R")
    finally:
        await run.app.stop()


def test_form_lines_lose_the_chats_own_typed_labels() -> None:
    values = {"start": "2026-12-01 20:00", "questions": "C1: Un?\n2) Dau?", "interval": "5m"}
    data = form_plan_data(
        values,
        channel_id="1",
        host="discord:2",
        default_zone="Europe/London",
        default_labels=Labels("C", "A"),
    )
    assert data["questions"] == ["Un?", "Dau?"]
    assert data["labels"] == {"question": "C", "answer": "A"}
    english = form_plan_data(
        values | {"labels": "Q/A"}, channel_id="1", host="discord:2", default_zone="UTC"
    )
    assert english["questions"] == ["C1: Un?", "Dau?"]


def test_the_summary_embed_names_the_busiest_question_in_the_chats_letter() -> None:
    from archive.stats import compute_stats
    from bot.platforms.discord.embeds import summary_embed
    from tests.archive.test_transcript_labels import relabelled

    chat, messages = relabelled(Labels("C", "A"))
    embed = summary_embed(chat, compute_stats(chat, iter(messages)))
    busiest = next(f.value for f in embed.fields if f.name == "Busiest question")
    assert busiest is not None and busiest.startswith("C")
    assert busiest.split(":")[0] in {"C1", "C2", "C3"}
