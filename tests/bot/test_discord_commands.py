"""The /tweetchat slash commands, run by the real discord.py client inside a real App."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive import publish
from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind, Target
from archive.store import Store
from bot.app import App
from bot.config import Config, DiscordConfig, LocalConfig, SchedulerConfig
from bot.platforms.discord.adapter import DiscordPlatform
from bot.platforms.discord.commands import form_plan_data
from tests.bot.helpers import tweetchat
from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord, FakeInteraction, FakeUser
from tests.fakes.discord_state import ALL_PERMISSIONS

pytestmark = pytest.mark.timeout(60)

no_error_logs = fake_fixtures.no_error_logs
fake_discord = fake_fixtures.fake_discord

ATTACHMENT_OPTION = 11  # the fake's invoke_command does not build attachment options


@dataclass
class Running:
    app: App
    platform: DiscordPlatform
    config: Config
    fake: FakeDiscord

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.config.database)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def chat_ids(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT id FROM chats ORDER BY id")]


def discord_config(tmp_path: Path, fake: FakeDiscord, **discord: Any) -> Config:
    return Config(
        database=tmp_path / "tweetchat.db",
        transcripts_dir=tmp_path / "transcripts",
        scheduler=SchedulerConfig(reminders=()),
        local=LocalConfig(enabled=False),
        discord=DiscordConfig(enabled=True, guilds=(str(fake.guild_id),), **discord),
    )


async def start_app(config: Config, fake: FakeDiscord, **platform_options: Any) -> Running:
    """Start an App with a DiscordPlatform talking to `fake`; `platform_options` go to the
    platform as keyword arguments, over these fast test defaults."""
    options: dict[str, Any] = {"backoff": 0.01, "guild_ready_timeout": 0.05, "ready_timeout": 5}
    platform = DiscordPlatform(
        config.discord,
        environ={"DISCORD_TOKEN": fake.token},
        **(options | platform_options),
    )
    app = App(config, platforms={"discord": platform})
    await app.start()
    return Running(app, platform, config, fake)


@pytest.fixture
async def running(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[Running]:
    run = await start_app(discord_config(tmp_path, fake_discord), fake_discord)
    try:
        yield run
    finally:
        await run.app.stop()


def local_start(in_future: timedelta = timedelta(days=2)) -> str:
    """A start time as a host types it: London wall-clock time and the zone."""
    at = (datetime.now(UTC) + in_future).astimezone(ZoneInfo("Europe/London"))
    return f"{at:%Y-%m-%d %H:%M} Europe/London"


def form(**changes: str) -> dict[str, str]:
    values = {
        "title": "Patients in QI",
        "hashtag": "#WeDocs",
        "start": local_start(),
        "interval": "10m",
        "questions": "How do you involve patients?\nWhat would you change?",
    }
    return values | changes


async def submit_form(
    fake: FakeDiscord, values: dict[str, str], user: FakeUser | None = None
) -> FakeInteraction:
    opened = fake.invoke_command("tweetchat", "schedule", user=user)
    response = await fake.wait_for_response(opened)
    assert response["type"] == 9, response  # a modal
    submitted = fake.submit_modal(opened, values)
    await fake.wait_for_response(submitted)
    return submitted


def invoke_with_file(fake: FakeDiscord, filename: str, data: bytes) -> FakeInteraction:
    """/tweetchat schedule file:<attachment>, built by hand (the fake lacks attachment options)."""
    attachment = fake.store_attachment(fake.channel_id, filename, data, "application/toml")
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
                "options": [{"type": ATTACHMENT_OPTION, "name": "file", "value": attachment["id"]}],
            }
        ],
        "resolved": {"attachments": {attachment["id"]: attachment}},
    }
    return fake._send_interaction(
        2, payload, fake.owner, ALL_PERMISSIONS, fake.channel_id, fake.guild_id, "en-US"
    )


def chat_file(start: datetime) -> bytes:
    return (
        'title = "Patients in QI"\nhashtag = "#WeDocs"\n'
        f'start = "{start:%Y-%m-%dT%H:%M:%S}"\ntimezone = "UTC"\nduration = "60m"\n'
        '[[questions]]\ntext = "How do you involve patients?"\n'
    ).encode()


# -- scheduling -----------------------------------------------------------------------------


async def test_a_host_schedules_a_chat_through_the_form(running: Running) -> None:
    fake = running.fake
    submitted = await submit_form(fake, form())
    assert submitted.ephemeral
    assert "Scheduled" in submitted.content and "2 questions" in submitted.content
    (chat_id,) = running.chat_ids()
    store = Store(running.config.database)
    try:
        chat = store.get_chat(chat_id)
    finally:
        store.close()
    assert chat.targets == (Target("discord", str(fake.channel_id)),)
    assert chat.hosts == (f"discord:{fake.owner.id}",)
    assert [q.text for q in chat.questions] == [
        "How do you involve patients?",
        "What would you change?",
    ]
    assert chat.duration == timedelta(minutes=30)


async def test_scheduling_creates_a_scheduled_event(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form())
    events = await fake.wait_until(fake.scheduled_events, what="a scheduled event")
    assert [e["name"] for e in events] == ["Patients in QI #WeDocs"]
    assert events[0]["entity_metadata"]["location"] == "#general on Discord"


async def test_a_host_schedules_a_chat_from_a_chat_file(running: Running) -> None:
    fake = running.fake
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    interaction = invoke_with_file(fake, "wedocs.toml", chat_file(start))
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral and "Scheduled" in interaction.content
    (row,) = running.rows("SELECT start, targets FROM chats")
    assert datetime.fromisoformat(row[0]) == start
    assert str(fake.channel_id) in row[1]


async def test_a_chat_file_that_is_not_toml_is_refused_and_nothing_stored(
    running: Running,
) -> None:
    fake = running.fake
    interaction = invoke_with_file(fake, "wedocs.toml", b"title = \n")
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral
    assert "wedocs.toml: not valid TOML" in interaction.content
    assert running.chat_ids() == []


async def test_bad_form_input_names_each_field_to_fix_and_stores_nothing(
    running: Running,
) -> None:
    fake = running.fake
    submitted = await submit_form(
        fake,
        form(hashtag="#we docs", start="2026-13-01 20:00 Europe/Londn", questions=" \n"),
    )
    assert submitted.ephemeral
    text = submitted.content
    assert text.startswith("Nothing was scheduled. Please fix:")
    assert "Hashtag: '#we docs' contains a space" in text
    assert 'Start time (time zone): unknown time zone "Europe/Londn"' in text
    assert "Questions: at least one question is needed" in text
    assert running.chat_ids() == []
    assert fake.scheduled_events() == []


async def test_an_unparseable_start_time_is_named(running: Running) -> None:
    submitted = await submit_form(running.fake, form(start="next tuesday 8pm"))
    assert "Start time: " in submitted.content
    assert running.chat_ids() == []


def test_form_lines_lose_typed_labels_and_the_zone_defaults() -> None:
    data = form_plan_data(
        {"start": "2026-12-01 20:00", "questions": "Q1: One?\n2) Two?", "interval": "5m"},
        channel_id="1",
        host="discord:2",
        default_zone="Europe/Paris",
    )
    assert (data["start"], data["timezone"]) == ("2026-12-01 20:00", "Europe/Paris")
    assert data["questions"] == ["One?", "Two?"]
    assert data["duration"] == "900s"


# -- who may do what ------------------------------------------------------------------------


async def test_a_member_who_is_not_a_host_is_refused_ephemerally(running: Running) -> None:
    fake = running.fake
    alice = fake.add_user("alice")
    interaction = fake.invoke_command("tweetchat", "schedule", user=alice)
    response = await fake.wait_for_response(interaction)
    assert response["type"] == 4  # a message, not the form
    assert interaction.ephemeral
    assert "Only hosts" in interaction.content and "Tweetchat Host" in interaction.content


async def test_a_member_with_the_host_role_may_host(running: Running) -> None:
    fake = running.fake
    role = fake.add_role("Tweetchat Host")
    bob = fake.add_user("bob", roles=[role])
    submitted = await submit_form(fake, form(), user=bob)
    assert "Scheduled" in submitted.content
    assert len(running.chat_ids()) == 1


async def test_optout_is_open_to_everyone_and_confirmed_ephemerally(running: Running) -> None:
    fake = running.fake
    alice = fake.add_user("alice")
    interaction = fake.invoke_command("tweetchat", "optout", user=alice)
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral and "opted out" in interaction.content
    assert running.rows("SELECT author_id FROM optouts") == [(str(alice.id),)]


async def test_optout_and_iam_answer_in_the_language_of_the_channels_chat(
    running: Running,
) -> None:
    fake = running.fake
    now = datetime.now(UTC)
    chat = Chat(
        id="wedocs-fr",
        title="Patients partenaires",
        hashtag="#WeDocs",
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=55),
        timezone="America/Toronto",
        questions=(),
        targets=(Target("discord", str(fake.channel_id)),),
        status=ChatStatus.LIVE,
        language="fr",
    )
    store = Store(running.config.database)
    try:
        store.add_chat(chat)
    finally:
        store.close()
    alice = fake.add_user("alice")

    out = fake.invoke_command("tweetchat", "optout", user=alice)
    await fake.wait_for_response(out)
    back = fake.invoke_command("tweetchat", "optin", user=alice)
    await fake.wait_for_response(back)
    iam = fake.invoke_command("tweetchat", "iam", {"group": "clinician"}, user=alice)
    await fake.wait_for_response(iam)

    assert out.ephemeral and out.content.startswith("Vous vous êtes retiré(e) :")
    assert "`/tweetchat optin` annule ce choix" in out.content
    assert back.content == "Votre retrait est annulé : les transcriptions incluent vos messages."
    assert "Clinicien" in iam.content and "WeDocs" in iam.content, iam.content


# -- commands on a chat ---------------------------------------------------------------------


async def test_cancel_cancels_the_chat_and_deletes_its_event(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form())
    await fake.wait_until(fake.scheduled_events, what="a scheduled event")
    interaction = fake.invoke_command("tweetchat", "cancel")
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral and "Cancelled" in interaction.content
    assert running.rows("SELECT status FROM chats") == [(ChatStatus.CANCELLED.value,)]
    # Recorded through the control API, with who and when, like every other control.
    [(kind, by, at)] = running.rows("SELECT kind, by, at FROM controls")
    assert (kind, by) == ("cancelled", f"discord:{interaction.user.id}") and at
    await fake.wait_until(lambda: not fake.scheduled_events(), what="the event deleted")


async def test_a_control_that_does_not_fit_says_why(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form())
    interaction = fake.invoke_command("tweetchat", "next")
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral and "is not live yet" in interaction.content


async def test_list_and_show_describe_the_chats(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form())
    (chat_id,) = running.chat_ids()
    listed = fake.invoke_command("tweetchat", "list")
    await fake.wait_for_response(listed)
    assert chat_id in listed.content
    shown = fake.invoke_command("tweetchat", "show", {"chat": chat_id[:6]})
    await fake.wait_for_response(shown)
    assert "Q2: What would you change?" in shown.content
    schedule = shown.content.split("```")[1].splitlines()[1:]
    labels = [line.split()[1] for line in schedule]
    assert labels == ["intro", "Q1", "Q2", "wrap-up", "close", "publish"]
    assert "next, in 2 days" in schedule[0]


async def test_show_gives_the_schedule_as_it_now_stands(running: Running) -> None:
    """After `next`, `show` still gave the plan; it gives what went out and what is next."""
    fake = running.fake
    await submit_form(fake, form())
    (chat_id,) = running.chat_ids()
    _make_live(running, chat_id)
    nexted = fake.invoke_command("tweetchat", "next", {"chat": chat_id})
    await fake.wait_for_response(nexted)
    assert nexted.content.startswith("Q1 goes out now")

    async def shown_schedule() -> list[str]:
        shown = fake.invoke_command("tweetchat", "show", {"chat": chat_id})
        await fake.wait_for_response(shown)
        return shown.content.split("```")[1].splitlines()[1:]

    def state(lines: list[str]) -> dict[str, str]:
        return {line.split()[1]: line.split()[2] for line in lines}

    for _ in range(600):  # the bot posts the intro (a minute late) and Q1 at once
        lines = await shown_schedule()
        if [state(lines)[k] for k in ("intro", "Q1")] == ["posted", "posted"]:
            break
        await asyncio.sleep(0.05)
    assert [state(lines)[k] for k in ("intro", "Q1", "Q2")] == ["posted", "posted", "next,"]
    assert [line.split()[1] for line in lines][2:] == ["Q2", "wrap-up", "close", "publish"]


def _make_live(running: Running, chat_id: str) -> Chat:
    """Make the scheduled chat live, as if it had started a minute ago (another connection,
    as another process would)."""
    store = Store(running.config.database)
    try:
        chat = store.get_chat(chat_id)
        start = datetime.now(UTC) - timedelta(minutes=1)
        live = replace(chat, start=start, end=start + chat.duration, status=ChatStatus.LIVE)
        store.add_chat(live, replace_existing=True)
        return live
    finally:
        store.close()


async def test_extend_takes_a_duration_as_everywhere_else(running: Running) -> None:
    """`extend` took a number only, though durations are written `15m` everywhere else."""
    fake = running.fake
    await submit_form(fake, form())
    (chat_id,) = running.chat_ids()
    live = _make_live(running, chat_id)
    bad = fake.invoke_command("tweetchat", "extend", {"duration": "soon", "chat": chat_id})
    await fake.wait_for_response(bad)
    assert bad.ephemeral and bad.content.startswith('Duration: "soon" is not a duration')
    done = fake.invoke_command("tweetchat", "extend", {"duration": "15m", "chat": chat_id})
    await fake.wait_for_response(done)
    assert done.content.startswith("Extended by 15 min"), done.content
    (row,) = running.rows("SELECT end FROM chats")
    assert datetime.fromisoformat(row[0]) == live.end + timedelta(minutes=15)


async def test_naming_an_unknown_chat_is_answered(running: Running) -> None:
    fake = running.fake
    interaction = fake.invoke_command("tweetchat", "pause", {"chat": "nope"})
    await fake.wait_for_response(interaction)
    assert interaction.ephemeral and "no chat with id 'nope'" in interaction.content


# -- transcripts on demand --------------------------------------------------------------------


def _answer(chat_id: str, pid: str, text: str, at: datetime) -> CapturedMessage:
    return CapturedMessage(
        chat_id=chat_id,
        platform="discord",
        platform_id=pid,
        author_id="77",
        author_name="Alice",
        author_handle="alice",
        text=text,
        created_at=at,
        kind=MessageKind.ANSWER,
        question_keys=("1",),
    )


async def _chat_with_answer(running: Running, text: str) -> str:
    await submit_form(running.fake, form())
    (chat_id,) = running.chat_ids()
    store = Store(running.config.database)  # another connection, as another process would
    try:
        chat = store.get_chat(chat_id)
        store.save_messages([_answer(chat_id, "9001", text, chat.start + timedelta(minutes=11))])
    finally:
        store.close()
    return chat_id


async def test_transcript_command_posts_the_markdown_and_a_summary(running: Running) -> None:
    fake = running.fake
    chat_id = await _chat_with_answer(running, "A1: patients chair our board #WeDocs")
    interaction = fake.invoke_command("tweetchat", "transcript", {"chat": chat_id})
    assert (await fake.wait_for_response(interaction))["type"] == 5  # "thinking..."
    (followup,) = await fake.wait_for_followups(interaction, within=15)
    assert followup["content"] == "Transcript of Patients in QI #WeDocs"
    assert "Participants" in str(followup["embeds"][0])
    (md,) = [a for a in fake.attachments(fake.channel_id) if a.filename == f"{chat_id}.md"]
    assert md.data.decode().startswith("# Patients in QI")
    assert "patients chair our board" in md.data.decode()


async def test_a_transcript_too_big_to_attach_is_named_not_sent(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "ATTACHMENT_LIMIT", 100)
    fake = running.fake
    chat_id = await _chat_with_answer(running, "A1: a long answer #WeDocs")
    interaction = fake.invoke_command("tweetchat", "transcript", {"chat": chat_id})
    (followup,) = await fake.wait_for_followups(interaction, within=15)
    assert "too big to attach here" in followup["content"]
    assert f"`tweetchat transcript {chat_id}` writes it" in followup["content"]
    assert fake.attachments(fake.channel_id) == [] and followup["embeds"]


# -- scheduled events follow changes made elsewhere --------------------------------------------


def _event_start(fake: FakeDiscord) -> datetime | None:
    events = fake.scheduled_events()
    return datetime.fromisoformat(events[0]["scheduled_start_time"]) if events else None


async def test_a_chat_cancelled_from_the_command_line_loses_its_event(
    running: Running, tmp_path: Path
) -> None:
    fake = running.fake
    await submit_form(fake, form())
    await fake.wait_until(fake.scheduled_events, what="a scheduled event")
    (chat_id,) = running.chat_ids()
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'database = "{running.config.database}"\n', encoding="utf-8")
    done = await asyncio.to_thread(tweetchat, ["cancel", chat_id], cli_config)
    assert done.returncode == 0, done.stderr
    await fake.wait_until(lambda: not fake.scheduled_events(), what="the event deleted", within=10)


async def test_a_chat_moved_by_another_process_moves_its_event(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form())
    await fake.wait_until(fake.scheduled_events, what="a scheduled event")
    (chat_id,) = running.chat_ids()
    other = Store(running.config.database)  # e.g. `tweetchat schedule --replace`
    try:
        chat = other.get_chat(chat_id)
        later = replace(
            chat, start=chat.start + timedelta(days=1), end=chat.end + timedelta(days=1)
        )
        other.add_chat(later, replace_existing=True)
    finally:
        other.close()
    await fake.wait_until(
        lambda: _event_start(fake) == later.start, what="the event moved", within=10
    )
    assert len(fake.scheduled_events()) == 1


async def _scheduled_by_a_bot_since_stopped(config: Config, fake: FakeDiscord) -> str:
    """A chat scheduled with /tweetchat schedule (so with an event); the bot then stops."""
    first = await start_app(config, fake)
    try:
        await submit_form(fake, form())
        await fake.wait_until(fake.scheduled_events, what="a scheduled event")
        (chat_id,) = first.chat_ids()
    finally:
        await first.app.stop()
    return chat_id


async def test_a_chat_cancelled_while_the_bot_was_down_loses_its_event_at_start_up(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    config = discord_config(tmp_path, fake_discord)
    chat_id = await _scheduled_by_a_bot_since_stopped(config, fake_discord)
    store = Store(config.database)
    try:
        store.set_status(chat_id, ChatStatus.CANCELLED)
    finally:
        store.close()
    second = await start_app(config, fake_discord)
    try:
        await fake_discord.wait_until(
            lambda: not fake_discord.scheduled_events(), what="the event deleted", within=10
        )
    finally:
        await second.app.stop()


async def test_unchanged_events_are_not_edited_at_start_up(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    config = discord_config(tmp_path, fake_discord)
    first = await start_app(config, fake_discord)
    try:
        await submit_form(fake_discord, form(title="Kept"))
        await submit_form(fake_discord, form(title="Moved", start=local_start(timedelta(days=3))))
        await fake_discord.wait_until(
            lambda: len(fake_discord.scheduled_events()) == 2, what="two events"
        )
    finally:
        await first.app.stop()
    ids = {e["name"]: e["id"] for e in fake_discord.scheduled_events()}
    store = Store(config.database)  # while the bot is down, one chat moves
    try:
        (moved,) = [c for c in store.list_chats() if c.title == "Moved"]
        store.add_chat(replace(moved, end=moved.end + timedelta(hours=1)), replace_existing=True)
    finally:
        store.close()
    second = await start_app(config, fake_discord)
    try:
        # The start-up reconciliation edits the moved chat's event, and only that one.
        await fake_discord.wait_until(
            lambda: _event_end(fake_discord, "Moved #WeDocs") == moved.end + timedelta(hours=1),
            what="the new end",
        )
        patches = fake_discord.requests_to("PATCH /guilds/*/scheduled-events/*")
        assert {r.path.rsplit("/", 1)[1] for r in patches} == {ids["Moved #WeDocs"]}
    finally:
        await second.app.stop()


def _event_end(fake: FakeDiscord, name: str) -> datetime | None:
    for event in fake.scheduled_events():
        if event["name"] == name:
            return datetime.fromisoformat(event["scheduled_end_time"])
    return None


async def test_a_chat_scheduled_from_the_command_line_gets_an_event(
    running: Running, tmp_path: Path
) -> None:
    fake = running.fake
    start = datetime.now(UTC) + timedelta(days=3)
    chat_path = tmp_path / "cli-chat.toml"
    chat_path.write_bytes(
        chat_file(start)
        + f'[[targets]]\nplatform = "discord"\nchannel = "{fake.channel_id}"\n'.encode()
    )
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(f'database = "{running.config.database}"\n', encoding="utf-8")
    done = await asyncio.to_thread(tweetchat, ["schedule", str(chat_path)], cli_config)
    assert done.returncode == 0, done.stderr
    (event,) = await fake.wait_until(fake.scheduled_events, what="the event", within=10)
    assert event["name"] == "Patients in QI #WeDocs"
    assert datetime.fromisoformat(event["scheduled_start_time"]) == start.replace(microsecond=0)
    assert event["entity_metadata"]["location"] == "#general on Discord"


async def test_an_event_a_host_deleted_is_not_made_again(running: Running) -> None:
    fake = running.fake
    await submit_form(fake, form(title="Kept"))
    await submit_form(fake, form(title="Deleted", start=local_start(timedelta(days=3))))
    events = await fake.wait_until(
        lambda: len(fake.scheduled_events()) == 2 and fake.scheduled_events(), what="two events"
    )
    deleted = next(e for e in events if e["name"] == "Deleted #WeDocs")
    fake.delete_scheduled_event(fake.guild_id, int(deleted["id"]))  # a host, in Discord
    # The deleted chat changes: the bot looks for its event and finds it gone.
    _extend_chats(running, ["Deleted"])
    await fake.wait_until(
        lambda: fake.requests_to(f"GET /guilds/*/scheduled-events/{deleted['id']}"),
        what="the bot looking for the event",
        within=10,
    )
    # Both chats change in one write: once the kept chat's event has moved, the sync of
    # that change has run for the deleted chat too, and made nothing.
    (kept,) = _extend_chats(running, ["Kept", "Deleted"])[:1]
    await fake.wait_until(
        lambda: _event_end(fake, "Kept #WeDocs") == kept.end, what="the kept event moved"
    )
    assert [e["name"] for e in fake.scheduled_events()] == ["Kept #WeDocs"]


def _extend_chats(running: Running, titles: list[str]) -> list[Chat]:
    """Move the end of the chats with these titles 5 minutes later, as another process."""
    store = Store(running.config.database)
    try:
        with store.transaction():
            changed = [
                replace(c, end=c.end + timedelta(minutes=5))
                for title in titles
                for c in store.list_chats()
                if c.title == title
            ]
            for chat in changed:
                store.add_chat(chat, replace_existing=True)
    finally:
        store.close()
    return changed


async def test_a_bot_that_connects_late_registers_its_commands_and_events(
    tmp_path: Path, fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    no_error_logs.allow(r"discord\.client$")  # discord.py logs each failed connect at ERROR
    config = discord_config(tmp_path, fake_discord)
    chat_id = await _scheduled_by_a_bot_since_stopped(config, fake_discord)
    fake_discord.commands.clear()  # as if the commands had never been registered
    store = Store(config.database)
    try:
        store.set_status(chat_id, ChatStatus.CANCELLED)  # while the bot was down
    finally:
        store.close()
    fake_discord.refuse_connections = True
    late = await start_app(config, fake_discord, ready_timeout=0.2)  # gives up waiting
    try:
        assert fake_discord.scheduled_events() and not fake_discord.find_command(
            "tweetchat", fake_discord.guild_id
        )
        fake_discord.refuse_connections = False
        await fake_discord.wait_until(
            lambda: fake_discord.find_command("tweetchat", fake_discord.guild_id),
            what="the commands registered",
            within=10,
        )
        await fake_discord.wait_until(
            lambda: not fake_discord.scheduled_events(), what="the event deleted", within=10
        )
    finally:
        await late.app.stop()


async def test_the_schedule_command_takes_the_chat_s_language(running: Running) -> None:
    """`/tweetchat schedule language:Cymraeg` opens the form; the chat is then Welsh (its
    posts, checked against Discord's limit when scheduled, are Welsh too)."""
    fake = running.fake
    command = fake.find_command("tweetchat", fake.guild_id)
    assert command is not None
    (schedule,) = [o for o in command["options"] if o["name"] == "schedule"]
    (language,) = [o for o in schedule.get("options", []) if o["name"] == "language"]
    assert [(c["name"], c["value"]) for c in language["choices"]] == [
        ("English", "en"),
        ("Français", "fr"),
        ("Cymraeg", "cy"),
    ]
    opened = fake.invoke_command("tweetchat", "schedule", options={"language": "cy"})
    response = await fake.wait_for_response(opened)
    assert response["type"] == 9, response
    submitted = fake.submit_modal(opened, form())
    await fake.wait_for_response(submitted)
    assert "Scheduled" in submitted.content
    (row,) = running.rows("SELECT language FROM chats")
    assert row[0] == "cy"


def test_the_form_s_language_goes_into_the_chat_file_data() -> None:
    data = form_plan_data(
        {"start": "2026-12-01 20:00", "questions": "Un?", "interval": "5m", "language": "fr"},
        channel_id="1",
        host="discord:2",
        default_zone="America/Toronto",
    )
    assert data["language"] == "fr"
    assert "language" not in form_plan_data(
        {"start": "2026-12-01 20:00", "questions": "Un?", "interval": "5m"},
        channel_id="1",
        host="discord:2",
        default_zone="America/Toronto",
    )
