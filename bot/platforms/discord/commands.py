"""The `/tweetchat` slash commands: hosts schedule and steer chats, participants opt out.

Hosts are members with the Manage Events permission or the role named by
``[discord] host_role``; everyone else gets an ephemeral refusal (``optout``, ``optin`` and
``iam``, a participant's stakeholder group, are for everyone). Replies that only concern the host are ephemeral. Bad input gets an ephemeral
message naming each thing to fix, and nothing is stored. Live controls go through the one
control API (`scheduler.controls.apply_control`) on the store thread, then the runner reloads
at once so the change takes effect now.
"""

from __future__ import annotations

import logging
import re
import tempfile
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import discord
from discord import app_commands

from archive.groups import group_label, say
from archive.i18n import Translator, translator
from archive.labels import DEFAULT_LABELS, LabelError, Labels, labels_from
from archive.models import OPEN_STATUSES, Chat, ChatStatus, Target
from archive.store import DuplicateChatError, NotFoundError, Store, StoreError
from bot.config import DiscordConfig
from bot.platforms.discord.embeds import summary_embed
from bot.platforms.discord.scheduled_events import ChatEvents, EventsHost
from scheduler.controls import ControlError, apply_control
from scheduler.durations import duration_from, whole_minutes_from
from scheduler.plan import ChatPlan, PlanError, Problem, parse_chat_plan
from scheduler.series import occurrences
from scheduler.standing import chat_standing, standing_lines

if TYPE_CHECKING:
    from bot.platforms.base import PlatformServices


def chats_translator(chats: Sequence[Chat]) -> Translator:
    """The translator of these chats' one language; English when none or several."""
    languages = {c.language for c in chats}
    return translator(languages.pop() if len(languages) == 1 else "en")


class CommandsHost(EventsHost, Protocol):
    """What the commands need of the adapter (a protocol, so this module does not import the
    adapter that installs it): its config besides what the Scheduled Events need."""

    @property
    def config(self) -> DiscordConfig: ...


logger = logging.getLogger(__name__)

MAX_CHAT_FILE = 256 * 1024
SERIES_OCCURRENCES = 6
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "cy": "Cymraeg"}
"""The ``language`` choices of ``/tweetchat schedule``: each language in its own name."""
MODAL_FIELDS = {
    "title": "Title",
    "hashtag": "Hashtag",
    "start": "Start time",
    "timezone": "Start time (time zone)",
    "interval": "Question interval",
    "duration": "Question interval",
    "first_question": "Question interval",
    "language": "Language",
}
_QUESTION_PATH = re.compile(r"^questions\[(\d+)\]")
_LEADING_LABEL = r"^\s*(?:{letter}\s?\d{{1,2}}[a-z]?|\d{{1,2}})\s*[.:)\-]\s*"
_TIME_TOKEN = re.compile(r"^[\dT:.+\-Z]+$")


class ScheduleModal(discord.ui.Modal, title="Schedule a tweetchat"):
    """The form a host fills in to schedule a chat."""

    chat_title: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Title", custom_id="title", max_length=200
    )
    hashtag: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Hashtag", custom_id="hashtag", placeholder="#WeDocs", max_length=100
    )
    start: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Start time with zone",
        custom_id="start",
        placeholder="2026-12-01 20:00 Europe/London",
        max_length=60,
    )
    interval: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Question interval", custom_id="interval", default="10m", max_length=20
    )
    questions: discord.ui.TextInput[ScheduleModal] = discord.ui.TextInput(
        label="Questions, one per line",
        custom_id="questions",
        style=discord.TextStyle.paragraph,
        max_length=4000,
    )

    def __init__(self, commands: HostCommands, labels: str = "", language: str = "") -> None:
        super().__init__()
        self.commands = commands
        self.labels = labels  # the command's `labels` option, "" when not given
        self.language = language  # the command's `language` option, "" when not given

    async def on_submit(self, interaction: discord.Interaction) -> None:
        values = {
            "title": self.chat_title.value,
            "hashtag": self.hashtag.value,
            "start": self.start.value,
            "interval": self.interval.value,
            "questions": self.questions.value,
            "labels": self.labels,
        }
        if self.language:
            values["language"] = self.language
        await self.commands.schedule_from_form(interaction, values)


def form_plan_data(
    values: dict[str, str],
    *,
    channel_id: str,
    host: str,
    default_zone: str,
    default_labels: Labels = DEFAULT_LABELS,
) -> dict[str, Any]:
    """Chat-file data from the schedule form (the same validation then applies).

    ``values["language"]``, when given (the command's ``language`` option), is the chat's
    language; otherwise the config's default applies.

    The chat lasts one interval more than its questions: Q1 comes one interval after the
    start, and the last answers get an interval too. ``values["labels"]`` is the command's
    ``labels`` option (``"Q/R"``; :class:`LabelError` when it is not a convention); a label
    a host typed before a question (``Q1:``, ``C1:`` in a Welsh chat, ``1.``) is dropped.
    """
    option = values.get("labels", "").strip()
    labels = labels_from(option, "Labels") if option else default_labels
    leading = re.compile(_LEADING_LABEL.format(letter=re.escape(labels.question)), re.IGNORECASE)
    start_text = values.get("start", "").strip()
    tokens = start_text.split()
    zone = default_zone
    if len(tokens) >= 2 and not _TIME_TOKEN.fullmatch(tokens[-1]):
        zone = tokens[-1]
        start_text = " ".join(tokens[:-1])
    questions = [
        leading.sub("", line).strip()
        for line in values.get("questions", "").splitlines()
        if line.strip()
    ]
    interval = values.get("interval", "").strip()
    try:
        length = duration_from(interval) * (len(questions) + 1)
    except ValueError:
        length = timedelta(hours=1)  # the interval's own problem is reported
    data: dict[str, Any] = {
        "title": values.get("title", ""),
        "hashtag": values.get("hashtag", ""),
        "start": start_text,
        "timezone": zone,
        "interval": interval,
        "duration": f"{int(length.total_seconds())}s",
        "questions": questions,
        "targets": [{"platform": "discord", "channel": channel_id}],
        "hosts": [host],
        "labels": {"question": labels.question, "answer": labels.answer},
    }
    if values.get("language", "").strip():
        data["language"] = values["language"].strip()
    return data


def form_problem(problem: Problem) -> str:
    """A chat-file problem in the words of the form's fields."""
    match = _QUESTION_PATH.match(problem.path)
    if match:
        return f"Questions, line {int(match.group(1)) + 1}: {problem.message}"
    field = MODAL_FIELDS.get(problem.path, problem.path.capitalize() or "Form")
    return f"{field}: {problem.message}"


def _fix_message(lines: Sequence[str]) -> str:
    text = "Nothing was scheduled. Please fix:\n" + "\n".join(f"• {line}" for line in lines)
    return text[:1900]


def _local(chat: Chat, at: Any) -> str:
    return str(at.astimezone(chat.zone).strftime("%a %d %b %Y %H:%M %Z"))


def _add_chats(store: Store, chats: Sequence[Chat], plan: ChatPlan, source: str) -> None:
    with store.transaction():
        for chat in chats:
            store.add_chat(chat, reminders=plan.reminders, source=source)


def _pick_chat(
    store: Store, ref: str | None, channel_id: str, statuses: Sequence[ChatStatus]
) -> Chat:
    """The chat a host named (id or unique prefix), else this channel's live or next chat."""
    if ref:
        return store.find_chat(ref.strip())
    here = Target("discord", channel_id)
    # Not an imported chat (ended until its transcripts are written): the bot never runs one.
    chats = [c for c in store.list_chats(statuses, imported=False) if here in c.targets]
    live = [c for c in chats if c.status == ChatStatus.LIVE]
    if not (live or chats):
        raise NotFoundError("no chat runs in this channel; name one (see /tweetchat list)")
    return (live or chats)[0]


class HostCommands:
    """The `/tweetchat` group, bound to the bot through its `PlatformServices`."""

    def __init__(self, platform: CommandsHost, services: PlatformServices) -> None:
        self.platform = platform
        self.services = services
        self.store = services.store
        self.events = ChatEvents(platform, services.store)

    # ---- registration ---------------------------------------------------------------------

    def install(self, tree: app_commands.CommandTree[Any]) -> HostCommands:
        group = self.group()
        guilds = [discord.Object(int(g)) for g in self.platform.config.guilds]
        if guilds:
            tree.add_command(group, guilds=guilds, override=True)
        else:
            tree.add_command(group, override=True)
        return self

    def group(self) -> app_commands.Group:
        group = app_commands.Group(name="tweetchat", description="Run hashtag chats")
        chat_help = "chat id or a unique prefix (default: this channel's live or next chat)"

        @group.command(name="schedule", description="Schedule a chat (a form, or a chat file)")
        @app_commands.describe(
            file="a chat file (TOML) instead of the form",
            labels="question and answer letters: Q/A, Q/R (French), C/A (Welsh), T (topics)",
            language="the language of the bot's posts and transcripts (default: the config's)",
        )
        @app_commands.choices(
            language=[app_commands.Choice(name=n, value=v) for v, n in LANGUAGE_NAMES.items()]
        )
        async def schedule(
            interaction: discord.Interaction,
            file: discord.Attachment | None = None,
            labels: str | None = None,
            language: str | None = None,
        ) -> None:
            if await self._refuse(interaction):
                return
            if labels:
                try:  # checked before the form opens, so nothing typed in it is lost
                    labels_from(labels, "Labels")
                except LabelError as exc:
                    await self._reply(interaction, _fix_message([str(exc)]))
                    return
            if file is None:
                await interaction.response.send_modal(
                    ScheduleModal(self, labels or "", language or "")
                )
            else:
                await self.schedule_from_file(interaction, file, labels or "", language or "")

        @group.command(name="list", description="Upcoming, live and ended chats")
        async def list_chats(interaction: discord.Interaction) -> None:
            if not await self._refuse(interaction):
                await self._reply(interaction, await self._list_text())

        @group.command(name="show", description="One chat: times, questions, counts")
        @app_commands.describe(chat=chat_help)
        async def show(interaction: discord.Interaction, chat: str | None = None) -> None:
            await self._with_chat(interaction, chat, self._show, statuses=tuple(ChatStatus))

        group.add_command(
            self._control_command("cancel", "Cancel a chat (nothing more is posted)", chat_help)
        )

        @group.command(name="transcript", description="Post the chat's transcript and summary")
        @app_commands.describe(chat=chat_help)
        async def transcript(interaction: discord.Interaction, chat: str | None = None) -> None:
            statuses = (*OPEN_STATUSES, ChatStatus.PUBLISHED)
            await self._with_chat(interaction, chat, self._transcript, statuses=statuses)

        for kind, text in (
            ("start", "Start a scheduled chat now"),
            ("next", "Post the next question now"),
            ("pause", "Pause the question clock"),
            ("resume", "Resume the question clock"),
            ("end", "End the chat now"),
            ("skip", "Skip the next question"),
        ):
            group.add_command(self._control_command(kind, text, chat_help))

        @group.command(name="extend", description="Extend a live chat")
        @app_commands.describe(
            duration='how much longer: "15m", "1h", or a number of minutes', chat=chat_help
        )
        async def extend(
            interaction: discord.Interaction, duration: str, chat: str | None = None
        ) -> None:
            if await self._refuse(interaction):
                return
            # One duration syntax wherever a host types one (chat files, the CLI, here).
            try:
                minutes = whole_minutes_from(duration)
            except ValueError as exc:
                await self._reply(interaction, f"Duration: {exc}")
                return

            async def run(i: discord.Interaction, found: Chat) -> None:
                await self._control(i, found, "extend", minutes)

            await self._with_chat(interaction, chat, run)

        @group.command(name="optout", description="Leave your messages out of transcripts")
        async def optout(interaction: discord.Interaction) -> None:
            user = interaction.user
            await self.store.opt_out("discord", str(user.id), user.name)
            tr = await self._channel_translator(interaction)
            await self._reply(
                interaction,
                tr.gettext(
                    "You are opted out: your messages are left out of every transcript "
                    "(they may still count, anonymously). `/tweetchat optin` undoes it."
                ),
            )

        self._add_iam(group)

        @group.command(name="optin", description="Include your messages in transcripts again")
        async def optin(interaction: discord.Interaction) -> None:
            await self.store.opt_in("discord", str(interaction.user.id))
            tr = await self._channel_translator(interaction)
            await self._reply(
                interaction, tr.gettext("You are opted in: transcripts include your messages.")
            )

        return group

    def _add_iam(self, group: app_commands.Group) -> None:
        """``/tweetchat iam group:<choice>``: the member's stakeholder group on the hashtags
        of this channel's open chats (archive/groups.py); answered ephemerally."""
        choices = [app_commands.Choice(name=g.label, value=g.key) for g in self.services.groups]
        labels = {g.key: g.label for g in self.services.groups}

        @group.command(name="iam", description="Say which group you take part as")
        @app_commands.describe(group="patient, carer, clinician...")
        @app_commands.choices(group=choices[:25])
        async def iam(interaction: discord.Interaction, group: app_commands.Choice[str]) -> None:
            user = interaction.user
            here = Target("discord", self._channel_id(interaction))
            chats = await self.store.read(Store.list_chats, OPEN_STATUSES, imported=False)
            hashtags = list(dict.fromkeys(c.hashtag for c in chats if here in c.targets))
            tr = chats_translator([c for c in chats if here in c.targets])
            if not hashtags:
                await self._reply(interaction, say("no_chat", tr))
                return
            for hashtag in hashtags:
                await self.store.declare_group(
                    hashtag,
                    "discord",
                    str(user.id),
                    group.value,
                    interaction.created_at,
                    handle=user.name,
                )
            label = labels.get(group.value, group.name)
            await self._reply(
                interaction,
                say(
                    "declared",
                    tr,
                    label=group_label(group.value, label, tr),
                    hashtag=" ".join(h.lstrip("#") for h in hashtags),
                ),
            )

    def _control_command(
        self, kind: str, text: str, chat_help: str
    ) -> app_commands.Command[Any, Any, Any]:
        async def callback(interaction: discord.Interaction, chat: str | None = None) -> None:
            async def run(i: discord.Interaction, found: Chat) -> None:
                await self._control(i, found, kind)

            statuses = (ChatStatus.SCHEDULED,) if kind == "start" else OPEN_STATUSES
            await self._with_chat(interaction, chat, run, statuses=statuses)

        described = app_commands.describe(chat=chat_help)(callback)
        return app_commands.Command(name=kind, description=text, callback=described)

    # ---- checks and replies ---------------------------------------------------------------

    def is_host(self, interaction: discord.Interaction) -> bool:
        perms = interaction.permissions
        if perms.manage_events or perms.administrator:
            return True
        user = interaction.user
        role = self.platform.config.host_role
        return isinstance(user, discord.Member) and any(r.name == role for r in user.roles)

    async def _refuse(self, interaction: discord.Interaction) -> bool:
        """Refuse (ephemerally) anyone who is not a host; True when refused."""
        if self.is_host(interaction):
            return False
        role = self.platform.config.host_role
        await self._reply(
            interaction,
            f"Only hosts can do that: members with the Manage Events permission "
            f"or the “{role}” role.",
        )
        return True

    async def _reply(
        self,
        interaction: discord.Interaction,
        text: str,
        *,
        ephemeral: bool = True,
        **options: Any,
    ) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=ephemeral, **options)
        else:
            await interaction.response.send_message(text, ephemeral=ephemeral, **options)

    async def _with_chat(
        self,
        interaction: discord.Interaction,
        ref: str | None,
        action: Callable[[discord.Interaction, Chat], Awaitable[None]],
        *,
        statuses: Sequence[ChatStatus] = OPEN_STATUSES,
    ) -> None:
        if await self._refuse(interaction):
            return
        channel_id = self._channel_id(interaction)
        try:
            chat = await self.store.read(_pick_chat, ref, channel_id, statuses)
        except StoreError as exc:
            await self._reply(interaction, str(exc))
            return
        await action(interaction, chat)

    async def _channel_translator(self, interaction: discord.Interaction) -> Translator:
        """The language of the open chats of the channel the command was typed in (English
        when there are none, or when they differ)."""
        here = Target("discord", self._channel_id(interaction))
        chats = await self.store.read(Store.list_chats, OPEN_STATUSES, imported=False)
        return chats_translator([c for c in chats if here in c.targets])

    def _channel_id(self, interaction: discord.Interaction) -> str:
        channel = interaction.channel
        if isinstance(channel, discord.Thread) and channel.parent_id:
            return str(channel.parent_id)
        return str(interaction.channel_id or "")

    # ---- scheduling -----------------------------------------------------------------------

    async def schedule_from_form(
        self, interaction: discord.Interaction, values: dict[str, str]
    ) -> None:
        data = form_plan_data(
            values,
            channel_id=self._channel_id(interaction),
            host=f"discord:{interaction.user.id}",
            default_zone=self.services.default_timezone,
            default_labels=self.services.default_labels,
        )
        try:
            plan = self._plan(data, "the schedule form")
        except PlanError as exc:
            await self._reply(interaction, _fix_message([form_problem(p) for p in exc.problems]))
            return
        await self._store_plan(interaction, plan, "discord:form")

    async def schedule_from_file(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        labels: str = "",
        language: str = "",
    ) -> None:
        """Schedule the attached chat file; ``labels`` (the command's option, ``"Q/R"``)
        stands in for a ``[labels]`` table the file does not have, and ``language`` (the
        command's option) for its ``language``."""
        name = file.filename
        if file.size > MAX_CHAT_FILE:
            await self._reply(
                interaction, _fix_message([f"{name}: larger than 256 KB; is it a chat file?"])
            )
            return
        try:
            text = (await file.read()).decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            await self._reply(
                interaction, _fix_message([f"{name}: not UTF-8 text; save it as UTF-8"])
            )
            return
        except tomllib.TOMLDecodeError as exc:
            await self._reply(interaction, _fix_message([f"{name}: not valid TOML: {exc}"]))
            return
        except (discord.HTTPException, OSError) as exc:
            await self._reply(interaction, f"Could not read {name}: {exc}")
            return
        data.setdefault(
            "targets", [{"platform": "discord", "channel": self._channel_id(interaction)}]
        )
        data.setdefault("hosts", [f"discord:{interaction.user.id}"])
        if language:
            data.setdefault("language", language)
        if labels:
            given = labels_from(labels, "Labels")
            data.setdefault("labels", {"question": given.question, "answer": given.answer})
        try:
            plan = self._plan(data, name)
        except PlanError as exc:
            await self._reply(interaction, _fix_message([f"{name}: {p}" for p in exc.problems]))
            return
        await self._store_plan(interaction, plan, f"discord:{name}")

    def _plan(self, data: dict[str, Any], source: str) -> ChatPlan:
        return parse_chat_plan(
            data,
            source=source,
            default_reminders=self.services.default_reminders,
            default_labels=self.services.default_labels,
            now=self.platform.clock.now(),
            post_limits=self.services.post_limits,
            wrapup_lead=self.services.wrapup_lead,
            default_language=self.services.default_language,
        )

    async def _store_plan(
        self, interaction: discord.Interaction, plan: ChatPlan, source: str
    ) -> None:
        now = self.platform.clock.now()
        chats = (
            occurrences(plan, after=now, limit=SERIES_OCCURRENCES)
            if plan.series is not None
            else [plan.chat]
        )
        try:
            await self.store.write(_add_chats, chats, plan, source)
        except DuplicateChatError as exc:
            await self._reply(
                interaction,
                f"Nothing was scheduled: {exc} (cancel it first, or pick another date).",
            )
            return
        await self._reload()
        lines = [
            f"Scheduled **{c.id}**: {c.title} {c.hashtag}, {_local(c, c.start)}, "
            f"{len(c.questions)} questions."
            for c in chats
        ]
        # (The reload above also creates each chat's Scheduled Event: chats_changed.)
        await self._reply(interaction, "\n".join(lines)[:1900])

    async def _reload(self) -> None:
        await self.services.refresh()

    # ---- chat commands --------------------------------------------------------------------

    async def _list_text(self) -> str:
        chats = [
            c
            for c in await self.store.list_chats((*OPEN_STATUSES, ChatStatus.PUBLISHED))
            if any(t.platform == "discord" for t in c.targets)
        ]
        if not chats:
            return "No chats yet. Schedule one with `/tweetchat schedule`."
        recent = chats[-20:]
        return "\n".join(
            f"`{c.id}` {c.status}: {c.title} {c.hashtag}, {_local(c, c.start)}" for c in recent
        )[:1900]

    async def _show(self, interaction: discord.Interaction, chat: Chat) -> None:
        now = self.platform.clock.now()
        count = await self.store.count_messages(chat.id)
        controls = await self.store.controls(chat.id)
        steps = await self.store.read(
            chat_standing, chat, now, wrapup_lead=self.services.wrapup_lead
        )
        channels = ", ".join(f"<#{t.channel}>" for t in chat.targets if t.platform == "discord")
        # The schedule as it now stands (every control applied), from the post ledger.
        lines = [
            f"**{chat.title}** {chat.hashtag} `{chat.id}`: {chat.status}",
            f"{_local(chat, chat.start)} to {chat.end.astimezone(chat.zone):%H:%M} in {channels}",
            f"Captured messages: {count}",
            f"Schedule ({chat.zone.key}, as of {now.astimezone(chat.zone):%H:%M}):",
            "```",
            *standing_lines(chat, steps, now),
            "```",
            *(f"{chat.label(q)}: {q.text}" for q in chat.questions),
            *(f"{kind} {detail} ({by})" for _at, kind, detail, by in controls),
        ]
        await self._reply(interaction, "\n".join(lines)[:1900])

    async def _control(
        self, interaction: discord.Interaction, chat: Chat, kind: str, minutes: int = 0
    ) -> None:
        try:
            message = await self.store.write(
                apply_control,
                chat.id,
                kind,
                now=self.platform.clock.now(),
                by=f"discord:{interaction.user.id}",
                minutes=minutes,
            )
        except (ControlError, StoreError) as exc:
            await self._reply(interaction, str(exc))
            return
        await self._reload()  # which also moves the chat's Scheduled Event (chats_changed)
        await self._reply(interaction, message)

    async def _transcript(self, interaction: discord.Interaction, chat: Chat) -> None:
        from archive import publish

        await interaction.response.defer(thinking=True)
        base = self.services.web_base_url
        link = f"{base.rstrip('/')}/chats/{chat.id}" if base else ""
        # Only the Markdown, streamed to a file like a publication: a chat of any size is
        # never whole in memory, and a file Discord would refuse is not sent.
        with tempfile.TemporaryDirectory(prefix="tweetchat-") as tmp:
            path = Path(tmp) / f"{chat.id}.md"
            stats = await self.store.write(
                publish.write_transcripts,
                chat,
                {"md": path},
                generated_at=self.platform.clock.now(),
            )
            embed = summary_embed(chat, stats, link)
            size = path.stat().st_size
            if size <= publish.ATTACHMENT_LIMIT:
                await interaction.followup.send(
                    f"Transcript of {chat.title} {chat.hashtag}",
                    embed=embed,
                    file=discord.File(path, filename=f"{chat.id}.md"),
                )
                return
        where = f"read it at {link}" if link else f"`tweetchat transcript {chat.id}` writes it"
        await interaction.followup.send(
            f"Transcript of {chat.title} {chat.hashtag}: {size / 2**20:.1f} MiB of Markdown, "
            f"too big to attach here; {where}.",
            embed=embed,
        )
