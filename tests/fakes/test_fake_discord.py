"""The fake Discord server, exercised through the real discord.py 2.7 client."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import discord
import pytest
from discord import app_commands

from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.discord_server import FakeDiscord, connected_client

pytestmark = pytest.mark.timeout(30)


def make_client(**options: object) -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    return discord.Client(intents=intents, guild_ready_timeout=0.05, **options)  # type: ignore[arg-type]


@pytest.fixture
async def client(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[discord.Client]:
    async with connected_client(make_client(), fake_discord) as running:
        yield running


class Events:
    """Records client events into queues so tests can await them."""

    def __init__(self, client: discord.Client, *names: str) -> None:
        self.queues: dict[str, asyncio.Queue[tuple[object, ...]]] = {}
        for name in names:
            queue: asyncio.Queue[tuple[object, ...]] = asyncio.Queue()
            self.queues[name] = queue

            async def handler(
                *args: object, _queue: asyncio.Queue[tuple[object, ...]] = queue
            ) -> None:
                _queue.put_nowait(args)

            handler.__name__ = f"on_{name}"
            client.event(handler)

    async def next(self, name: str) -> tuple[object, ...]:
        return await asyncio.wait_for(self.queues[name].get(), 5)


# -- connection -------------------------------------------------------------------------


async def test_ready_client_has_guild_channel_and_bot_member_cached(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    guild = client.get_guild(fake_discord.guild_id)
    assert guild is not None
    assert guild.get_channel(fake_discord.channel_id) is not None
    assert guild.me.id == fake_discord.bot_user.id
    assert client.application_id == fake_discord.application_id
    assert fake_discord.unhandled == []


async def test_wrong_token_is_a_login_failure(fake_discord: FakeDiscord) -> None:
    bot = make_client()
    try:
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")
    finally:
        await bot.close()


# -- messages ---------------------------------------------------------------------------


async def test_sent_message_is_stored_and_read_back(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("Q1: How do you involve patients? #WeDocs")
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "Q1: How do you involve patients? #WeDocs"
    assert fetched.author.id == fake_discord.bot_user.id
    assert [m["content"] for m in fake_discord.messages(fake_discord.channel_id)] == [sent.content]


async def test_on_message_fires_for_a_user_message_with_reply(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "message")
    alice = fake_discord.add_user("alice", global_name="Alice")
    question = fake_discord.post_user_message(
        fake_discord.channel_id, fake_discord.owner, "Q1 #WeDocs"
    )
    await events.next("message")
    fake_discord.post_user_message(
        fake_discord.channel_id, alice, "A1: yes #WeDocs", reply_to=question["id"]
    )
    (message,) = await events.next("message")
    assert isinstance(message, discord.Message)
    assert message.content == "A1: yes #WeDocs"
    assert message.author.display_name == "Alice"
    assert isinstance(message.author, discord.Member)
    assert message.reference is not None and message.reference.message_id == int(question["id"])


async def test_user_edit_dispatches_raw_message_edit(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "raw_message_edit")
    alice = fake_discord.add_user("alice")
    posted = fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: draft")
    fake_discord.edit_message(fake_discord.channel_id, int(posted["id"]), "A1: final #WeDocs")
    (raw,) = await events.next("raw_message_edit")
    assert isinstance(raw, discord.RawMessageUpdateEvent)
    assert raw.message_id == int(posted["id"])
    assert raw.message.content == "A1: final #WeDocs"
    assert raw.message.edited_at is not None


async def test_user_delete_dispatches_raw_message_delete(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "raw_message_delete")
    alice = fake_discord.add_user("alice")
    posted = fake_discord.post_user_message(fake_discord.channel_id, alice, "oops")
    fake_discord.delete_message(fake_discord.channel_id, int(posted["id"]))
    (raw,) = await events.next("raw_message_delete")
    assert isinstance(raw, discord.RawMessageDeleteEvent)
    assert raw.message_id == int(posted["id"])
    assert fake_discord.messages(fake_discord.channel_id) == []


async def test_reaction_dispatches_raw_reaction_add(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "raw_reaction_add")
    alice = fake_discord.add_user("alice")
    posted = fake_discord.post_user_message(fake_discord.channel_id, fake_discord.owner, "Q1")
    fake_discord.add_reaction(fake_discord.channel_id, int(posted["id"]), alice, "❤️")
    (raw,) = await events.next("raw_reaction_add")
    assert isinstance(raw, discord.RawReactionActionEvent)
    assert (raw.user_id, str(raw.emoji)) == (alice.id, "❤️")
    assert fake_discord.message(fake_discord.channel_id, posted["id"])["reactions"][0]["count"] == 1


async def test_history_pages_backdated_messages_in_order(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    alice = fake_discord.add_user("alice")
    start = datetime.now(UTC) - timedelta(days=2)
    for i in range(230):
        fake_discord.post_user_message(
            fake_discord.channel_id, alice, f"m{i}", at=start + timedelta(seconds=i)
        )
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    newest_first = [m.content async for m in channel.history(limit=None)]
    assert newest_first == [f"m{i}" for i in reversed(range(230))]
    assert len(fake_discord.requests_to("GET /channels/*/messages")) == 3


async def test_history_after_a_time_returns_only_later_messages(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    alice = fake_discord.add_user("alice")
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(10):
        fake_discord.post_user_message(
            fake_discord.channel_id, alice, f"m{i}", at=start + timedelta(minutes=i)
        )
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    after = start + timedelta(minutes=6, seconds=30)
    got = [m.content async for m in channel.history(after=after, limit=None)]
    assert got == ["m7", "m8", "m9"]


async def test_uploaded_attachment_keeps_bytes_and_filename(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    transcript = b"# #WeDocs transcript\n\nA1: yes\n"
    sent = await channel.send("Transcript", file=discord.File(io.BytesIO(transcript), "wedocs.md"))
    (stored,) = fake_discord.attachments(fake_discord.channel_id)
    assert (stored.filename, stored.data, stored.message_id) == ("wedocs.md", transcript, sent.id)
    assert await sent.attachments[0].read() == transcript


async def test_empty_message_is_rejected_like_discord(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    with pytest.raises(discord.HTTPException) as info:
        await client.http.send_message(
            fake_discord.channel_id, params=discord.http.handle_message_parameters(content="")
        )
    assert info.value.code == 50006


async def test_user_content_is_blank_without_the_message_content_intent(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    intents = discord.Intents.default()
    intents.message_content = False
    bot = discord.Client(intents=intents, guild_ready_timeout=0.05)
    async with connected_client(bot, fake_discord):
        events = Events(bot, "message")
        alice = fake_discord.add_user("alice")
        fake_discord.post_user_message(fake_discord.channel_id, alice, "A1: hidden")
        (message,) = await events.next("message")
        assert isinstance(message, discord.Message)
        assert message.content == ""


async def test_messages_get_snowflakes_and_timestamps_from_the_fake_clock(
    no_error_logs: ErrorLogCatcher,
) -> None:
    frozen = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    async with FakeDiscord(clock=lambda: frozen) as fake:
        bot = make_client()
        async with connected_client(bot, fake):
            channel = bot.get_channel(fake.channel_id)
            assert isinstance(channel, discord.TextChannel)
            sent = await channel.send("Q1")
            assert sent.created_at == frozen
            assert discord.utils.snowflake_time(sent.id) == frozen


async def test_bot_receives_its_own_rest_message_as_message_create(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "message")
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("Q1")
    (message,) = await events.next("message")
    assert isinstance(message, discord.Message)
    assert (message.id, message.author.id) == (sent.id, fake_discord.bot_user.id)


# -- threads and scheduled events -------------------------------------------------------


async def test_thread_created_from_message_is_cached(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    starter = await channel.send("Q1")
    thread = await starter.create_thread(name="Q1 answers")
    await thread.send("welcome")
    assert thread.id == starter.id
    assert client.get_channel(thread.id) is not None
    assert [m["content"] for m in fake_discord.messages(thread.id)] == ["welcome"]


async def test_scheduled_event_create_edit_delete(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    guild = client.get_guild(fake_discord.guild_id)
    assert guild is not None
    start = datetime.now(UTC) + timedelta(days=3)
    event = await guild.create_scheduled_event(
        name="#WeDocs chat",
        start_time=start,
        end_time=start + timedelta(hours=1),
        entity_type=discord.EntityType.external,
        location="Discord #general",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    assert [e["name"] for e in fake_discord.scheduled_events()] == ["#WeDocs chat"]
    edited = await event.edit(
        name="#WeDocs December chat",
        start_time=start + timedelta(hours=1),
        end_time=start + timedelta(hours=2),
    )
    assert edited.name == "#WeDocs December chat"
    assert (
        fake_discord.scheduled_events()[0]["scheduled_start_time"]
        == (start + timedelta(hours=1)).isoformat()
    )
    await event.delete()
    assert fake_discord.scheduled_events() == []


async def test_scheduled_event_in_the_past_is_rejected(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    guild = client.get_guild(fake_discord.guild_id)
    assert guild is not None
    start = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(discord.HTTPException) as info:
        await guild.create_scheduled_event(
            name="late",
            start_time=start,
            end_time=start + timedelta(hours=1),
            entity_type=discord.EntityType.external,
            location="here",
            privacy_level=discord.PrivacyLevel.guild_only,
        )
    assert info.value.code == 50035


# -- application commands ---------------------------------------------------------------


class NoteModal(discord.ui.Modal, title="Add a note"):
    note: discord.ui.TextInput[NoteModal] = discord.ui.TextInput(
        label="Note", custom_id="note", max_length=200
    )

    def __init__(self, received: asyncio.Future[str]) -> None:
        super().__init__()
        self.received = received

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.received.set_result(self.note.value)
        await interaction.response.send_message("Noted.", ephemeral=True)


def build_tree(
    client: discord.Client, guild_id: int, notes: asyncio.Future[str]
) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)
    chat = app_commands.Group(name="chat", description="Run a tweetchat")

    @chat.command(name="start", description="Start a chat now")
    @app_commands.describe(hashtag="The chat's hashtag", questions="How many questions")
    async def start(interaction: discord.Interaction, hashtag: str, questions: int = 5) -> None:
        await interaction.response.send_message(
            f"Starting {hashtag} with {questions} questions", ephemeral=True
        )

    @app_commands.command(name="note", description="Add a note to the chat")
    async def note(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NoteModal(notes))

    @app_commands.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as exc:
            notes.set_result(f"rejected {exc.code}")

    @app_commands.command(name="publish", description="Publish the transcript")
    @app_commands.default_permissions(manage_events=True)
    async def publish(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content="Transcript ready")
        await interaction.followup.send(
            "Here it is", file=discord.File(io.BytesIO(b"A1: yes"), "transcript.md")
        )

    guild = discord.Object(guild_id)
    tree.add_command(chat, guild=guild)
    tree.add_command(publish, guild=guild)
    tree.add_command(note, guild=guild)
    tree.add_command(slow, guild=guild)
    return tree


@pytest.fixture
async def command_client(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[tuple[discord.Client, asyncio.Future[str]]]:
    notes: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    bot = make_client()
    tree = build_tree(bot, fake_discord.guild_id, notes)
    async with connected_client(bot, fake_discord):
        await tree.sync(guild=discord.Object(fake_discord.guild_id))
        yield bot, notes


async def test_tree_sync_registers_guild_commands(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    names = sorted(c["name"] for c in fake_discord.commands[fake_discord.guild_id].values())
    assert names == ["chat", "note", "publish", "slow"]
    (chat,) = [
        c for c in fake_discord.commands[fake_discord.guild_id].values() if c["name"] == "chat"
    ]
    assert [o["name"] for o in chat["options"]] == ["start"]


async def test_slash_subcommand_is_answered_ephemerally(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    alice = fake_discord.add_user("alice")
    interaction = fake_discord.invoke_command(
        "chat", "start", {"hashtag": "#WeDocs", "questions": 4}, alice
    )
    response = await fake_discord.wait_for_response(interaction)
    assert response["type"] == 4
    assert response["data"]["content"] == "Starting #WeDocs with 4 questions"
    assert interaction.ephemeral
    assert fake_discord.messages(fake_discord.channel_id) == []


async def test_slash_command_modal_submission_reaches_the_bot(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    _, notes = command_client
    opened = fake_discord.invoke_command("note")
    assert (await fake_discord.wait_for_response(opened))["type"] == 9
    submitted = fake_discord.submit_modal(opened, {"Note": "Great chat"})
    assert await asyncio.wait_for(notes, 5) == "Great chat"
    assert (await fake_discord.wait_for_response(submitted))["data"]["content"] == "Noted."


async def test_deferred_command_edits_original_and_sends_followup(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    interaction = fake_discord.invoke_command("publish")
    assert (await fake_discord.wait_for_response(interaction))["type"] == 5
    (followup,) = await fake_discord.wait_for_followups(interaction)
    assert interaction.content == "Transcript ready"
    assert followup["content"] == "Here it is"
    (stored,) = fake_discord.attachments(fake_discord.channel_id)
    assert (stored.filename, stored.data) == ("transcript.md", b"A1: yes")


async def test_member_without_default_permissions_cannot_invoke(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    alice = fake_discord.add_user("alice")
    with pytest.raises(PermissionError):
        fake_discord.invoke_command("publish", user=alice)


async def test_interaction_answered_after_the_deadline_is_unknown(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    _, notes = command_client
    fake_discord.interaction_deadline = 0.1
    fake_discord.invoke_command("slow")
    assert await asyncio.wait_for(notes, 5) == "rejected 10062"


async def test_invoking_an_unregistered_command_fails_in_the_test(
    fake_discord: FakeDiscord, command_client: tuple[discord.Client, asyncio.Future[str]]
) -> None:
    with pytest.raises(LookupError):
        fake_discord.invoke_command("nope")


# -- resilience ---------------------------------------------------------------------------


async def test_gateway_disconnect_resumes_and_replays_missed_events(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    events = Events(client, "resumed", "message")
    alice = fake_discord.add_user("alice")
    assert fake_discord.disconnect_all() == 1
    fake_discord.post_user_message(fake_discord.channel_id, alice, "sent while away")
    await events.next("resumed")
    (message,) = await events.next("message")
    assert isinstance(message, discord.Message)
    assert message.content == "sent while away"
    assert fake_discord.gateway.resume_count == 1
    assert fake_discord.gateway.identify_count == 1


class EagerClient(discord.Client):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before a repeated IDENTIFY, to keep the test fast."""


async def test_invalid_session_makes_the_client_identify_again(
    fake_discord: FakeDiscord, no_error_logs: ErrorLogCatcher
) -> None:
    bot = EagerClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with connected_client(bot, fake_discord):
        reconnected = asyncio.ensure_future(bot.wait_for("ready"))
        fake_discord.invalidate_sessions()
        fake_discord.disconnect_all()
        await asyncio.wait_for(reconnected, 5)
        assert fake_discord.gateway.identify_count == 2
        assert bot.get_channel(fake_discord.channel_id) is not None


async def test_client_reconnects_after_an_outage(
    fake_discord: FakeDiscord, client: discord.Client, no_error_logs: ErrorLogCatcher
) -> None:
    no_error_logs.allow(r"discord\.client$")  # discord.py logs each failed reconnect at ERROR
    resumed = asyncio.ensure_future(client.wait_for("resumed"))
    fake_discord.refuse_connections = True
    fake_discord.disconnect_all()
    await fake_discord.wait_until(
        lambda: [r for r in fake_discord.requests_to("GET /gateway") if r.status == 503],
        what="a refused reconnect",
    )
    fake_discord.refuse_connections = False
    await asyncio.wait_for(resumed, 10)
    assert fake_discord.connected_sessions()


async def test_429_on_send_is_retried_by_discord_py(
    fake_discord: FakeDiscord, client: discord.Client, no_error_logs: ErrorLogCatcher
) -> None:
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake_discord.fail_next("POST /channels/*/messages", 429, times=2, retry_after=0.05)
    sent = await channel.send("Q2 #WeDocs")
    statuses = [r.status for r in fake_discord.requests_to("POST /channels/*/messages")]
    assert statuses == [429, 429, 200]
    assert [m["id"] for m in fake_discord.messages(fake_discord.channel_id)] == [str(sent.id)]


async def test_503_on_send_surfaces_as_server_error(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_channel(fake_discord.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake_discord.fail_next("POST /channels/*/messages", 503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("Q3")
    assert fake_discord.messages(fake_discord.channel_id) == []


async def test_unknown_route_is_404_and_recorded(
    fake_discord: FakeDiscord, client: discord.Client
) -> None:
    with pytest.raises(discord.NotFound):
        await client.http.request(
            discord.http.Route("GET", "/guilds/{guild_id}/audit-logs", guild_id=1)
        )
    assert fake_discord.unhandled == ["GET /guilds/1/audit-logs"]
