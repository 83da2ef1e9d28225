"""The `tweetchat` command line. Heavy modules are imported inside each command, so that
`tweetchat --help` answers at once."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bot import version
from bot.config import Config, load_config, resolve_config_path
from bot.reports import format_stats, headline, local_time
from scheduler.durations import whole_minutes_from

if TYPE_CHECKING:
    from archive.importers.discord_export import Declaration, ImportResult, PublishFailed
    from archive.models import Chat
    from archive.publish import PublishOptions
    from archive.store import Store
    from scheduler.series import ChatPlan

logger = logging.getLogger("tweetchat")


class UsageError(Exception):
    """A command was given something it cannot use; the message says what to fix."""


Handler = Callable[[argparse.Namespace, Config], int]
COMMANDS: dict[str, Handler] = {}


def whole_minutes(text: str) -> int:
    """An argparse ``type=``: a duration as chat files write it (``15m``, ``1h30m``, or a bare
    number of minutes, ``15``) as whole minutes.

    Raises argparse.ArgumentTypeError (argparse prefixes the argument's name) when the text
    is no duration or not whole minutes.
    """
    try:
        return whole_minutes_from(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked for (reading the
    package metadata costs more than a short command's whole work)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"tweetchat {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tweetchat",
        description="Schedule hashtag chats, post the questions, capture the answers, publish transcripts.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $TWEETCHAT_CONFIG, or built-in defaults)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="log lines as text or one JSON object each (default: the config's log_format)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "run", help="run the bot: post scheduled chats and capture answers until stopped"
    )
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="exit once no chat is left to run (for scripts and tests)",
    )

    p = sub.add_parser(
        "demo", help="run a complete simulated chat on the local platform (about 30 s)"
    )
    p.add_argument("--out", metavar="DIR", help="where to write the demo database and transcripts")
    p.add_argument("--speed", type=float, help="time compression (chat seconds per real second)")
    p.add_argument("--participants", type=int, help="number of simulated participants")
    p.add_argument("--seed", type=int, default=7, help="random seed for the simulated participants")
    p.add_argument(
        "--labels",
        metavar="Q/A",
        help="the chat's question and answer letters, e.g. Q/R, C/A, T (topics); "
        "default: the config's [labels]",
    )
    p.add_argument(
        "--language",
        metavar="TAG",
        help="the language of the bot's words and transcripts: en, fr or cy (default: the "
        "config's); French and Welsh demos use Q/R and C/A labels unless --labels says otherwise",
    )

    p = sub.add_parser("schedule", help="schedule a chat (or a series) from a chat file")
    p.add_argument("file", type=Path, help="the chat file (TOML), e.g. examples/wedocs.toml")
    p.add_argument(
        "--replace", action="store_true", help="replace a scheduled chat with the same id"
    )
    p.add_argument(
        "--occurrences",
        type=int,
        default=6,
        help="for a series: how many upcoming dates to schedule (default 6)",
    )

    p = sub.add_parser("check", help="validate a chat file without scheduling it")
    p.add_argument("file", type=Path)

    p = sub.add_parser("chats", help="list chats: upcoming, live and ended")
    p.add_argument("--all", action="store_true", help="include cancelled chats")

    p = sub.add_parser("show", help="show one chat: times, questions, posts, counts")
    p.add_argument("chat", help="chat id (or a unique prefix)")

    p = sub.add_parser("cancel", help="cancel a scheduled chat (nothing more is posted)")
    p.add_argument("chat")

    p = sub.add_parser("transcript", help="write (or print) a chat's transcript")
    p.add_argument("chat")
    p.add_argument(
        "--format",
        choices=TRANSCRIPT_FORMATS,
        help="md, html, json or csv (default: from --out's extension, else md)",
    )
    p.add_argument(
        "--out", metavar="PATH", help="file to write (default: print to standard output)"
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="render the transcript even when the published file is current (see README)",
    )

    p = sub.add_parser("stats", help="print a chat's participation statistics")
    p.add_argument("chat")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("local", help="talk on the local platform (try the bot without any account)")
    lsub = p.add_subparsers(dest="local_command", metavar="ACTION", required=True)
    s = lsub.add_parser("say", help="post a message as a participant")
    s.add_argument("text")
    s.add_argument("--as", dest="author", default="you", help="participant handle (default: you)")
    s.add_argument("--reply-to", default="", help="id of the message replied to")
    s.add_argument("--room", help="room (default: the config's local.room)")
    s = lsub.add_parser("edit", help="edit a message")
    s.add_argument("id")
    s.add_argument("text")
    s = lsub.add_parser("delete", help="delete a message")
    s.add_argument("id")
    s = lsub.add_parser("react", help="react to a message (counts toward the highlights)")
    s.add_argument("id")
    s.add_argument("--remove", action="store_true", help="take one reaction back")
    s = lsub.add_parser("log", help="print the room's messages")
    s.add_argument("--room")

    for name, hlp in (
        ("next", "post the next question of a live chat now (later ones move up)"),
        ("pause", "pause the question clock of a live chat"),
        ("resume", "resume a paused chat (its end moves by the pause)"),
        ("end", "end a live chat now (late answers and publishing still happen)"),
        ("skip", "skip the next question of a live chat"),
        ("start", "start a scheduled chat now instead of at its time"),
    ):
        p = sub.add_parser(name, help=hlp)
        p.add_argument("chat", help="chat id (or a unique prefix)")
    p = sub.add_parser("extend", help="extend a live chat, e.g. by 15m (a bare number is minutes)")
    p.add_argument("chat")
    p.add_argument(
        "minutes",
        metavar="DURATION",
        type=whole_minutes,
        help='how much longer: "15m", "1h", or a number of minutes',
    )

    p = sub.add_parser(
        "backup", help="copy the archive (and the local network) while the bot may be running"
    )
    p.add_argument(
        "dir", type=Path, help="folder to write archive.sqlite (and local-network.sqlite) into"
    )

    p = sub.add_parser("serve", help="serve the web archive (read-only) until stopped")
    p.add_argument("--host", help="address to listen on (default: the config's web.host)")
    p.add_argument("--port", type=int, help="port to listen on (default: the config's web.port)")

    p = sub.add_parser("import", help="archive a chat that ran before the bot, from an export file")
    isub = p.add_subparsers(dest="import_format", metavar="FORMAT", required=True)
    s = isub.add_parser("discord-export", help="DiscordChatExporter JSON exports, one channel each")
    s.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="an export (JSON), or a folder: every *.json in it; each becomes one chat",
    )
    s.add_argument("--hashtag", required=True, help="the chat's hashtag, e.g. WeDocs")
    s.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="ID",
        help="a host's Discord user id or username (repeat for several)",
    )
    s.add_argument("--title", default="", help='default: "#tag in #channel-name"')
    s.add_argument("--timezone", metavar="ZONE", help="default: the config's timezone")
    s.add_argument(
        "--labels",
        metavar="Q/A",
        help="the question and answer letters, e.g. Q/R (French), C/A (Welsh), T (topics: "
        "T1 for both); default: the config's [labels]",
    )
    s.add_argument(
        "--language",
        metavar="TAG",
        help="the chat's language (en, fr, cy; transcripts in it); default: the config's language",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    try:
        config = load_config(resolve_config_path(args.config, os.environ))
    except Exception as exc:  # ConfigError: one line a problem, no traceback
        for line in str(exc).splitlines():
            print(f"tweetchat: {line}", file=sys.stderr)
        return 2
    level = getattr(logging, config.log_level)
    if args.command not in ("run", "serve"):
        # One-shot commands print their own results; only problems are worth a log line.
        level = max(level, logging.WARNING)
    log_handler = logging.StreamHandler()
    if (args.log_format or config.log_format) == "json":
        from pythonjsonlogger.json import JsonFormatter

        # One JSON object a line: time, level, logger and message, for log collectors.
        log_handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                json_ensure_ascii=False,
            )
        )
    else:
        log_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    logging.basicConfig(level=logging.DEBUG if args.verbose else level, handlers=[log_handler])
    # APScheduler logs every job at INFO; our own log lines say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    handler = COMMANDS[args.command]
    try:
        return handler(args, config)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from archive.store import StoreError
        from bot.config import ConfigError
        from bot.instance_lock import AlreadyRunning
        from scheduler.plan import PlanError

        if isinstance(exc, PlanError | StoreError | UsageError | ConfigError | AlreadyRunning):
            print(f"tweetchat: {exc}", file=sys.stderr)
            return 2
        raise


# ---- helpers -----------------------------------------------------------------------------


def open_store(config: Config) -> Store:
    from archive.store import Store
    from bot.roster import sync_groups

    store = Store(config.database)
    try:
        sync_groups(store, config)  # the groups and roster the transcripts use
    except BaseException:
        store.close()
        raise
    return store


def _now() -> datetime:
    return datetime.now(UTC)


def _zone_doubt(name: str) -> str | None:
    """Why the (valid) zone ``name`` is probably not what was meant (an abbreviation or a
    fixed offset, not a place): :func:`scheduler.durations.zone_warning`."""
    from zoneinfo import ZoneInfo

    from scheduler.durations import zone_warning

    return zone_warning(ZoneInfo(name))


def _user() -> str:
    return os.environ.get("USER", "host")


def _status_of(config: Config, chat_id: str) -> Any:
    """The stored status of a chat, or None when there is no such chat."""
    from archive.store import NotFoundError

    store = open_store(config)
    try:
        return store.get_chat(chat_id).status
    except NotFoundError:
        return None
    finally:
        store.close()


# ---- commands ----------------------------------------------------------------------------


def load_plan(path: Path, config: Config, now: datetime | None) -> ChatPlan:
    """Read and check a chat file as the config says (post limits, reminders, wrap-up lead);
    print a warning on standard error for what works but is likely not what the host meant:
    a zone that is not a place, a network the config does not turn on. Raises PlanError."""
    from bot.platforms.registry import enabled_networks, post_limits
    from scheduler.plan import load_chat_file

    plan = load_chat_file(
        path,
        default_reminders=config.scheduler.reminders,
        default_labels=config.labels.convention,
        now=now,
        post_limits=post_limits(config),
        wrapup_lead=config.scheduler.wrapup_lead,
        default_language=config.language,
    )
    warnings = [f"{where}: {text}" for where, text in plan.warnings]
    on = enabled_networks(config)
    for i, target in enumerate(plan.chat.targets):
        if target.platform not in on:
            warnings.append(
                f"targets[{i}]: the config does not enable {target.platform} "
                f"([{target.platform}] enabled = false), so nothing will be posted or "
                f"captured there; enable it, or run the chat on the local platform"
            )
    for line in warnings:
        print(f"tweetchat: {path}: warning: {line}", file=sys.stderr)
    return plan


@command("schedule")
def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    from archive.models import ChatStatus
    from archive.store import DuplicateChatError, StoreError
    from scheduler.controls import ControlError, revise_started_chat
    from scheduler.plan import PlanError
    from scheduler.series import occurrences

    now = _now()

    def load(at: datetime | None) -> ChatPlan:
        return load_plan(args.file, config, at)

    try:
        plan = load(now)
    except PlanError:
        # A live chat's own file starts in the past: --replace may still fix the wording
        # of what is to come (revise_started_chat says what may change).
        if not args.replace:
            raise
        plan = load(None)
        if plan.series is not None or _status_of(config, plan.chat.id) in (
            None,
            ChatStatus.SCHEDULED,
        ):
            raise
    chats = (
        occurrences(plan, after=now, limit=args.occurrences)
        if plan.series is not None
        else [plan.chat]
    )
    store = open_store(config)
    try:
        for chat in chats:
            if plan.series is None and args.replace:
                try:
                    existing = store.get_chat(chat.id)
                except StoreError:
                    existing = None
                if existing is not None and existing.status != ChatStatus.SCHEDULED:
                    # Started or over: never back to "scheduled" to replay its life.
                    try:
                        print(
                            revise_started_chat(store, existing, chat, now=now, by=f"cli:{_user()}")
                        )
                    except ControlError as exc:
                        raise UsageError(f"{args.file}: {exc}") from None
                    continue
            if plan.series is not None:
                try:
                    existing = store.get_chat(chat.id)
                except StoreError:
                    existing = None
                if existing is not None and not args.replace:
                    print(f"already scheduled {chat.id} (use --replace to update it from the file)")
                    continue
                if existing is not None and existing.status != ChatStatus.SCHEDULED:
                    print(f"left {chat.id} alone: it is {existing.status}")
                    continue
            try:
                store.add_chat(
                    chat,
                    reminders=plan.reminders,
                    source=str(args.file),
                    replace_existing=args.replace,
                )
            except DuplicateChatError:
                raise UsageError(
                    f"{args.file}: chat {chat.id} is already scheduled "
                    "(use --replace to replace it, or `tweetchat cancel` first)"
                ) from None
            print(
                f"scheduled {chat.id}: {chat.title} {chat.hashtag}, {local_time(chat, chat.start)}, "
                f"{len(chat.questions)} questions"
            )
    finally:
        store.close()
    return 0


@command("check")
def cmd_check(args: argparse.Namespace, config: Config) -> int:
    from scheduler.timeline import timeline

    plan = load_plan(args.file, config, _now())
    chat = plan.chat
    print(f"{args.file}: OK: {chat.title} {chat.hashtag}, {local_time(chat, chat.start)}")
    for action in timeline(
        chat, reminders=plan.reminders, wrapup_lead=config.scheduler.wrapup_lead
    ):
        text = " ".join(action.text.split())  # one line per action
        print(f"  {local_time(chat, action.at)}  {action.key:<10} {text[:70]}")
    return 0


@command("chats")
def cmd_chats(args: argparse.Namespace, config: Config) -> int:
    from archive.models import ChatStatus

    store = open_store(config)
    try:
        chats = store.list_chats()
    finally:
        store.close()
    groups = [
        ("Live", [ChatStatus.LIVE]),
        ("Upcoming", [ChatStatus.SCHEDULED]),
        ("Ended", [ChatStatus.ENDED, ChatStatus.PUBLISHED]),
    ]
    if args.all:
        groups.append(("Cancelled", [ChatStatus.CANCELLED]))
    if not chats:
        print("No chats yet. Schedule one with: tweetchat schedule examples/wedocs.toml")
        return 0
    for title, statuses in groups:
        rows = [c for c in chats if c.status in statuses]
        if title == "Ended":
            rows.reverse()  # newest first
        if not rows:
            continue
        print(f"{title}:")
        for c in rows:
            series = " (series)" if c.series_id else ""
            print(
                f"  {c.id:<28} {local_time(c, c.start):<30} {c.hashtag:<14} {c.status:<10} {c.title}{series}"
            )
    return 0


@command("show")
def cmd_show(args: argparse.Namespace, config: Config) -> int:
    from archive.models import ChatStatus
    from bot.platforms.x.cost import stored_cost_note
    from scheduler.standing import chat_standing, standing_lines

    now = _now()
    store = open_store(config)
    try:
        chat = store.find_chat(args.chat)
        steps = chat_standing(store, chat, now, wrapup_lead=config.scheduler.wrapup_lead)
        count = store.count_messages(chat.id)
        controls = store.controls(chat.id)
        transcripts = store.transcripts(chat.id)
        imported = store.is_imported(chat.id)
        cost = stored_cost_note(store, chat.id, config.x)
    finally:
        store.close()
    print(f"{headline(chat)}  [{chat.id}] {chat.status}")
    print(
        f"  {local_time(chat, chat.start)} – {chat.end.astimezone(chat.zone):%H:%M} ({chat.timezone})"
    )
    print(
        f"  platforms: {', '.join(f'{t.platform}:{t.channel}' if t.channel else t.platform for t in chat.targets)}"
    )
    if chat.hosts:
        print(f"  hosts: {', '.join(chat.hosts)}")
    print(f"  captured messages: {count}")
    if cost:
        print(f"  X cost so far: {cost}")
    if imported:
        # The bot posted nothing (no post ledger): the questions as the export has them.
        print(f"  imported from an export; its questions went out at ({chat.zone.key}):")
        for q in chat.questions:
            at = chat.question_time(q).astimezone(chat.zone)
            print(f"    {at:%H:%M}  {chat.label(q):<4} {q.text[:60]}")
    else:
        # The schedule as it now stands (every control applied), from the post ledger.
        print(f"  schedule ({chat.zone.key}, as of {now.astimezone(chat.zone):%H:%M}):")
        for line in standing_lines(chat, steps, now):
            print(f"    {line}")
    for at, kind, detail, by in controls:
        print(f"  control {local_time(chat, at)}: {kind} {detail} ({by})")
    for fmt, path in sorted(transcripts.items()):
        print(f"  transcript ({fmt}): {path}")
    if imported and chat.status == ChatStatus.ENDED:  # its publication failed
        print("  transcripts not written: run the same import again to write them")
    return 0


TRANSCRIPT_FORMATS = ("md", "html", "json", "csv")
_EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"} | {
    ".json": "json",
    ".csv": "csv",
}


def transcript_format(asked: str | None, out: Path | None) -> str:
    """The format to write: ``--format`` if given, else the one ``--out``'s extension names,
    else Markdown. Raises UsageError when the two disagree (``--format md --out x.html``)."""
    implied = _EXTENSIONS.get(out.suffix.lower()) if out is not None else None
    if asked and implied and asked != implied:
        raise UsageError(
            f"--format {asked} does not match --out {out} (a .{implied} file); "
            f"use --format {implied} or name the file .{asked}"
        )
    return asked or implied or "md"


@command("transcript")
def cmd_transcript(args: argparse.Namespace, config: Config) -> int:
    from archive.models import ChatStatus
    from bot.platforms.x.cost import stored_cost_note

    out = Path(args.out) if args.out else None
    args.format = transcript_format(args.format, out)
    store = open_store(config)
    try:
        chat = store.find_chat(args.chat)
        if chat.status == ChatStatus.CANCELLED:
            raise UsageError(f"chat {chat.id} was cancelled: it has no transcript")
        if args.format == "csv":  # never published: always rendered
            _write_csv(store, chat, out)
        else:
            cost_note = stored_cost_note(store, chat.id, config.x)
            highlights = config.highlights_per_question
            if args.fresh or not _copy_published(
                store, chat.id, args.format, out, cost_note=cost_note, highlights=highlights
            ):
                _render_transcript(
                    store, chat, args.format, out, cost_note=cost_note, highlights=highlights
                )
    finally:
        store.close()
    if out is not None:
        print(f"wrote {args.out}")
    return 0


def _stdout_bytes() -> IO[bytes]:
    """Standard output for bytes (transcripts are UTF-8 files, written as they are)."""
    sys.stdout.flush()
    return sys.stdout.buffer


def _copy_published(
    store: Store, chat_id: str, fmt: str, out: Path | None, *, cost_note: str, highlights: int
) -> bool:
    """Serve the chat's published ``fmt`` transcript, when it is current (see
    ``archive.published``), to ``out`` or standard output; whether it was."""
    from archive.published import copy_transcript, current_transcript, transcript_options

    options = transcript_options(cost_note=cost_note, highlights=highlights)
    record = current_transcript(store, chat_id, fmt, options)
    if record is None or not copy_transcript(record, out if out is not None else _stdout_bytes()):
        logger.info("chat %s: no current published %s transcript: rendering it", chat_id, fmt)
        return False
    logger.info(
        "chat %s: the published %s transcript is current (archive generation %d): copied %s",
        chat_id,
        fmt,
        record.generation,
        record.path,
    )
    return True


def _render_transcript(
    store: Store, chat: Chat, fmt: str, out: Path | None, *, cost_note: str, highlights: int
) -> None:
    """Render the chat's ``fmt`` transcript (md, html, json) to ``out`` or standard output.
    Streamed like a publication (the chat's messages read once, nothing whole in memory),
    and only the format asked for is rendered."""
    import shutil
    import tempfile

    from archive.publish import write_transcripts

    def write(path: Path) -> None:
        write_transcripts(
            store,
            chat,
            {fmt: path},
            cost_note=cost_note,
            generated_at=datetime.now(UTC),  # like a publication, it says when it was made
            highlights=highlights,
        )

    if out is not None:
        write(out)
        return
    with tempfile.TemporaryDirectory(prefix="tweetchat-transcript-") as tmp:
        path = Path(tmp) / f"{chat.id}.{fmt}"
        write(path)
        with path.open("rb") as fh:
            shutil.copyfileobj(fh, _stdout_bytes())


def _write_csv(store: Store, chat: Chat, out: Path | None) -> None:
    """The chat's messages as CSV, to ``out`` or standard output (never published: always
    rendered)."""
    from archive.publish import write_atomic_chunks
    from archive.transcripts.csvfmt import csv_chunks

    with store.snapshot():
        opted_out = store.opted_out()
        groups = store.group_mix(chat, opted_out)
        chunks = csv_chunks(
            store.iter_messages(chat.id, include_deleted=False),
            hide=store.opted_out_handles(chat.id),
            opted_out=opted_out,
            zone=chat.zone,
            engagement=store.engagement_scores(chat.id),
            attachments=store.has_attachments(chat.id),
            groups=None if groups is None else groups.member_groups,
        )
        if out is not None:
            write_atomic_chunks(out, chunks)
        else:
            sys.stdout.writelines(chunks)


@command("stats")
def cmd_stats(args: argparse.Namespace, config: Config) -> int:
    import json

    from archive.publish import chat_stats

    store = open_store(config)
    try:
        chat = store.find_chat(args.chat)
        stats = chat_stats(store, chat)
        groups = store.group_mix(chat, store.opted_out())
    finally:
        store.close()
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2, sort_keys=True))
        return 0
    print(format_stats(chat, stats, groups))
    return 0


@command("run")
def cmd_run(args: argparse.Namespace, config: Config) -> int:
    import asyncio
    import signal

    from bot.app import App

    async def main_async() -> None:
        app = App(config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await app.start()
        print("tweetchat running; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            if args.until_idle:
                assert app.runner is not None
                idle = asyncio.create_task(_wait_idle(app))
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({idle, stopper}, return_when=asyncio.FIRST_COMPLETED)
                idle.cancel()
                stopper.cancel()
            else:
                await stop.wait()
        finally:
            await asyncio.wait_for(app.stop(), timeout=10)
        print("tweetchat stopped", file=sys.stderr, flush=True)

    asyncio.run(main_async())
    return 0


async def _wait_idle(app: Any) -> None:
    """Return once no chat has anything left to do (nor any published chat to write again
    after an opt-out)."""
    import asyncio

    from archive.models import OPEN_STATUSES

    while True:
        await asyncio.sleep(0.5)
        chats = await app.store.list_chats(OPEN_STATUSES, imported=False)  # as the runner
        if not chats and not app.republishing:
            return


@command("demo")
def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    from archive.i18n import language_tag
    from archive.labels import LabelError, labels_from
    from bot.demo import CUSTOMARY_LABELS, run_demo

    try:
        language = language_tag(args.language) if args.language else config.language
    except ValueError as exc:
        raise UsageError(f"--language: {exc}") from None
    try:
        if args.labels:
            labels = labels_from(args.labels, "--labels")
        elif args.language:
            labels = labels_from(CUSTOMARY_LABELS[language.split("-")[0]], "--language")
        else:
            labels = config.labels.convention
    except LabelError as exc:
        raise UsageError(str(exc)) from None
    return run_demo(args, config, labels=labels, language=language)


@command("local")
def cmd_local(args: argparse.Namespace, config: Config) -> int:
    from bot.platforms.local.adapter import LocalNetwork, LocalUser

    where = config.local.network.resolve()
    if not where.is_file():
        # Never a new, empty network by accident (run from another folder, another config):
        # the bot would never see what is said there.
        raise UsageError(
            f"no local network at {where}: start `tweetchat run` with this config first, or "
            "run this from the bot's folder or with its --config"
        )
    net = LocalNetwork(where)
    try:
        if args.local_command == "say":
            user = LocalUser(args.author, args.author, args.author)
            room = args.room or config.local.room
            mid = net.post(room, user, args.text, at=_now(), reply_to=args.reply_to)
            print(f"posted message {mid} in {room} (local network {where})")
        elif args.local_command == "edit":
            net.edit(args.id, args.text, at=_now())
        elif args.local_command == "delete":
            net.delete(args.id, at=_now())
        elif args.local_command == "react":
            if args.id not in net.reaction_counts([args.id]):
                raise UsageError(f"no message {args.id} on the local network {where}")
            net.react(args.id, at=_now(), remove=args.remove)
            count = net.reaction_counts([args.id])[args.id]
            print(f"message {args.id} has {count} reaction{'' if count == 1 else 's'}")
        elif args.local_command == "log":
            for row in net.messages(args.room or config.local.room):
                who = "bot" if row["is_bot"] else row["author_handle"]
                print(f"{row['seq']:>6} {row['created_at'][:19]} {who:<14} {row['text']}")
    finally:
        net.close()
    return 0


def cmd_control(args: argparse.Namespace, config: Config) -> int:
    """Live controls; a running bot picks the change up within a couple of seconds."""
    from scheduler.controls import ControlError, apply_control

    store = open_store(config)
    try:
        message = apply_control(
            store,
            args.chat,
            args.command,
            now=_now(),
            by=f"cli:{_user()}",
            minutes=getattr(args, "minutes", 0),
        )
    except ControlError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    print(message)
    return 0


for _name in ("next", "pause", "resume", "end", "skip", "start", "extend", "cancel"):
    COMMANDS[_name] = cmd_control


@command("backup")
def cmd_backup(args: argparse.Namespace, config: Config) -> int:
    from archive.backup import BackupError, backup_sqlite

    copies = [(config.database, args.dir / "archive.sqlite")]
    if config.local.enabled and config.local.network.is_file():
        copies.append((config.local.network, args.dir / "local-network.sqlite"))
    for source, destination in copies:
        try:
            pages = backup_sqlite(source, destination)
        except BackupError as exc:
            raise UsageError(str(exc)) from None
        print(f"backed up {source} to {destination} ({pages} pages)")
    return 0


@command("serve")
def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    import asyncio
    import signal

    from archive.store import Store
    from archive.web import WebArchiveError, start_server
    from scheduler.standing import standing_source

    # The web app only reads; opening the store once here creates or migrates the file.
    Store(config.database).close()
    web = config.web

    async def main_async() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        host, port = args.host or web.host, args.port or web.port
        try:
            runner = await start_server(
                config.database,
                host=host,
                port=port,
                base_url=web.base_url,
                page_size=web.page_size,
                highlights=config.highlights_per_question,
                schedule=standing_source(wrapup_lead=config.scheduler.wrapup_lead),
            )
        except (OSError, WebArchiveError) as exc:
            raise UsageError(f"cannot serve the archive on {host}:{port}: {exc}") from exc
        print(f"web archive on http://{host}:{port}/; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(main_async())
    return 0


def _note_stale(
    store: Store, result: ImportResult, stale: dict[str, Chat], private: set[str]
) -> None:
    """Add to ``stale`` the hashtag's later published chats that the import ``result``
    changes (:func:`archive.publish.later_chats_changed`): a chat created, a longer export's
    new messages, which may bring it new participants, or a chat captured again under other
    rules (those that share a participant whose taking part changed); and, after an
    opt-out in the export, every published chat whose files still show that participant
    (their ids in ``private`` too: said apart, they are not "later chats")."""
    from archive.publish import later_chats_behind, later_chats_changed

    changed: list[Chat] = []  # the later chats this import changes
    if result.earlier is not None:
        # Captured again under other rules: the later chats in which someone whose taking
        # part in this chat changed takes part; under another hashtag, those of the old
        # hashtag that counted its participants, and those of the new one that now do.
        now = store.participants_of(result.chat)
        before = result.earlier_participants
        if result.earlier.hashtag.casefold() == result.chat.hashtag.casefold():
            changed = later_chats_changed(store, result.chat, among=before ^ now)
        else:
            changed = later_chats_changed(store, result.earlier, among=before)
            changed += later_chats_changed(store, result.chat)
    elif result.created or result.new_messages:
        changed = later_chats_changed(store, result.chat)
    elif not result.changed:
        # Imported before, run again as it was: what an interrupted (or failed) run left
        # to publish again. (A re-import with other presentation options republishes the
        # chat itself, whose later chats then look behind: they are left for a plain run.)
        changed = later_chats_behind(store, result.chat)
    for later in changed:
        stale.setdefault(later.id, later)
    if result.opt_commands:
        for shown in store.chats_showing_opted_out():
            if shown.id != result.chat.id:
                stale.setdefault(shown.id, shown)
                private.add(shown.id)


def _republish(
    store: Store, stale: dict[str, Chat], private: set[str], options: PublishOptions
) -> None:
    """Publish again the chats an import made stale (:func:`cmd_import`), said per hashtag;
    one that fails is reported and the others still go."""
    from archive.publish import publish_with

    by_tag: dict[str, list[str]] = {}
    hidden: list[str] = []
    for chat_id in stale:
        try:
            chat = store.get_chat(chat_id)  # as stored now (a later file may have changed it)
            publish_with(store, chat, options)
        except (OSError, ValueError) as exc:
            print(f"tweetchat: {chat_id}: could not be published again: {exc}", file=sys.stderr)
            continue
        if chat_id in private:
            hidden.append(chat_id)
        else:
            by_tag.setdefault(chat.hashtag, []).append(chat.id)
    for tag, ids in by_tag.items():
        chats = "chat" if len(ids) == 1 else "chats"
        print(f"republished {len(ids)} later {chats} of {tag}: {', '.join(ids)}")
    if hidden:
        chats = "chat" if len(hidden) == 1 else "chats"
        print(
            f"republished {len(hidden)} {chats} without a participant who opted out:"
            f" {', '.join(hidden)}"
        )


@command("import")
def cmd_import(args: argparse.Namespace, config: Config) -> int:
    from archive.importers.discord_export import (
        ExportError,
        PublishFailed,
        RunProgress,
        check_options,
        terminal_progress,
    )
    from archive.importers.export_files import export_files, in_time_order
    from archive.importers.one_pass import import_discord_export
    from archive.importers.streams import is_stream
    from archive.labels import LabelError, labels_from
    from archive.publish import PublishOptions

    timezone = args.timezone or config.timezone
    try:
        check_options(args.hashtag, timezone)
        labels = (
            labels_from(args.labels, "--labels")
            if args.labels is not None
            else config.labels.convention
        )
    except (ExportError, LabelError) as exc:
        raise UsageError(str(exc)) from None
    # The same doubt as `tweetchat check` has about a chat file's zone (EST, GMT...).
    if (doubt := _zone_doubt(timezone)) is not None:
        option = "--timezone" if args.timezone else "the config's timezone"
        print(f"tweetchat: warning: {option}: {doubt}", file=sys.stderr)
    files, problems = export_files(args.files)
    # Earlier chats first (a folder's files come in name order: april.json before
    # february.json): each later chat's statistics then count them when first published.
    files = in_time_order(files)
    failed = len(problems)
    for problem in problems:
        print(f"tweetchat: {problem}", file=sys.stderr)
    screen = terminal_progress(sys.stderr)
    run = RunProgress(screen, files) if screen is not None else None
    unpublished = 0  # imported, but their transcripts not written
    publish = PublishOptions(config.transcripts_dir, highlights=config.highlights_per_question)
    # The published chats of the same hashtag after a chat this run creates (or captures
    # again) that it changes: their participation statistics count it. Republished once,
    # after every file (a chat created earlier in the run may be among them: a file whose
    # first time could not be read, an earlier chat in a later run...).
    stale: dict[str, Chat] = {}
    private: set[str] = set()  # of those, the chats republished after an opt-out
    done: list[str] = []  # the chats of this run imported and published, in order
    index, republishing = 0, False  # where an interrupt came (see stopped_line)
    # SIGTERM and SIGHUP end the import as Ctrl-C does: the staging folder removed, the
    # archive as committed, one line saying what stands.
    with terminated_as_interrupt():
        store = open_store(config)
        try:
            for position, path in enumerate(files):
                index = position  # for an interrupt's message (stopped_line)
                if screen is not None and is_stream(path):  # the log says so otherwise
                    print(
                        f"{path}: not a regular file: copying it beside the archive first",
                        file=sys.stderr,
                    )
                progress = run.file(path) if run is not None else None
                # Read back if the file is interrupted: whether anything of it was committed.
                generation = store.generation()
                try:
                    result = import_discord_export(
                        store,
                        path,
                        hashtag=args.hashtag,
                        hosts=tuple(args.host),
                        title=args.title,
                        timezone=timezone,
                        progress=progress,
                        labels=labels,
                        language=args.language or config.language,
                        publish=publish,
                    )
                    chat = result.chat
                    published = result.published
                    assert published is not None  # asked for
                    if progress is not None:
                        progress("published", result.read, 1.0)
                except ExportError as exc:
                    if screen is not None:
                        screen.done()
                    print(f"tweetchat: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                except PublishFailed as exc:
                    # The import stands; the next file is imported all the same.
                    if screen is not None:
                        screen.done()
                    print(f"tweetchat: {unpublished_line(path, exc)}", file=sys.stderr)
                    if exc.interrupted:
                        return 130
                    unpublished += 1
                    _note_stale(store, exc.result, stale, private)
                    continue
                except KeyboardInterrupt:
                    # An interrupt after the commit is a PublishFailed (above); this one came
                    # before it, so the file's transaction was rolled back, unless it fell in
                    # the instant between the two: the archive's generation tells which.
                    if screen is not None:
                        screen.done()
                    print(
                        f"tweetchat: {interrupted_line(path, store, generation, done)}",
                        file=sys.stderr,
                    )
                    return 130
                if screen is not None:
                    screen.done()
                options = ", ".join(result.changed)
                if result.created:
                    head = f"imported {chat.id}"
                elif result.recaptured:  # its messages captured again under the new rules
                    head = f"re-imported {chat.id} with the new options ({options})"
                elif result.changed:  # how it is shown: its messages are as they were
                    head = f"updated {chat.id} with the new options ({options})"
                else:
                    head = f"already imported as {chat.id}"
                repeated = (
                    f" ({result.repeated} listed more than once, counted once)"
                    if result.repeated
                    else ""
                )
                print(
                    f"{head}: {chat.title}, {local_time(chat, chat.start)}, "
                    f"{len(chat.questions)} questions, {result.captured} of {result.read}"
                    f" messages captured{repeated}, {result.new_messages} new"
                    f" message{'' if result.new_messages == 1 else 's'}"
                )
                for command in result.opt_commands:
                    print(
                        f"  {command.who} opted out in the export: left out of every transcript"
                        if command.word == "optout"
                        else f"  {command.who} opted back in in the export"
                    )
                if result.declarations:
                    keys = tuple(g.key for g in store.configured_groups())
                    for line in declaration_lines(result.declarations, keys):
                        print(line)
                for host in store.hosts_not_met(chat):
                    print(
                        f"  --host {host}: no author of the export is this host (a Discord"
                        " username or user id, as in the export)"
                    )
                if not chat.questions:
                    print("  no question posts found: give the hosts with --host (id or username)")
                print(f"  transcript: {published.paths['md']}")
                done.append(chat.id)
                _note_stale(store, result, stale, private)
            republishing = True
            _republish(store, stale, private, publish)
        except KeyboardInterrupt:
            # Between files (a file's report) or while republishing: what stands is each
            # file imported so far, and the same import run again finishes the rest.
            if screen is not None:
                screen.done()
            print(f"tweetchat: {stopped_line(files, index, republishing, stale)}", file=sys.stderr)
            return 130
        finally:
            if screen is not None:
                screen.done()
            store.close()
    total = len(files) + len(problems)
    if failed and total > 1:
        print(f"tweetchat: {failed} of {total} exports not imported (see above)", file=sys.stderr)
    if unpublished and total > 1:
        print(
            f"tweetchat: {unpublished} of {total} exports imported without their transcripts"
            " (see above)",
            file=sys.stderr,
        )
    return 2 if failed or unpublished else 0


def stopped_line(
    files: Sequence[Path], index: int, republishing: bool, stale: Mapping[str, Chat]
) -> str:
    """What the user is told of an import interrupted outside a file's import: after
    ``files[index]`` was imported (while it was reported), or while republishing the chats
    it changed (``stale``). One line; the same import run again finishes the rest."""
    again = "run the same import again to finish (what was imported is not imported twice)"
    if republishing:
        return (
            "interrupted while publishing again the chats this import changes"
            f" ({', '.join(stale)}); {again}"
        )
    rest = files[index + 1 :]
    left = f"; not imported: {', '.join(str(p) for p in rest)}" if rest else ""
    return f"interrupted after {files[index]} was imported{left}; {again}"


def interrupted_line(path: Path, store: Store, generation: int, done: Sequence[str]) -> str:
    """What the user is told when an import is interrupted before its commit (Ctrl-C,
    SIGTERM, SIGHUP): that nothing of ``path`` was imported (the archive is still at
    ``generation``), what the run imported before it (``done``, chat ids), and how to
    import it (a piped export must be piped again: its copy is gone). One line."""
    import sqlite3

    from archive.importers.streams import is_stream

    before = ""
    if done:
        shown = ", ".join(done[:3]) + (f" and {len(done) - 3} more" if len(done) > 3 else "")
        before = f" (imported before it, and kept: {shown})"
    try:
        untouched = store.generation() == generation
    except sqlite3.Error as exc:
        # Cannot tell (the archive busy or unreadable now): what holds either way.
        return (
            f"{path}: interrupted; whether its messages were saved cannot be read now"
            f" ({exc}){before}; {_run_again(path)}: it imports the file, or says it"
            " is already imported and writes its transcripts"
        )
    if not untouched:
        # Committed, the interrupt came before its publication began (the search index,
        # the checkpoint): saved, the transcripts not written.
        return (
            f"{path}: interrupted once its messages were saved, before its transcripts"
            f" were written{before}; {_run_again(path)} to write them"
        )
    again = _run_again(path) + ("" if is_stream(path) else " to import it")
    return f"{path}: interrupted before it was imported: nothing of it was saved{before}; {again}"


def declaration_lines(declarations: Sequence[Declaration], keys: Sequence[str]) -> list[str]:
    """What an import says of the ``!iam`` declarations it met: each participant's group
    once (their last declaration of the export, whether it stands or a later one of theirs
    does), then each word that names no group (of ``keys``), once per participant."""
    last: dict[str, Declaration] = {}
    unknown: dict[tuple[str, str], None] = {}
    for declared in declarations:
        if declared.group:
            last[declared.who] = declared
        else:
            unknown[(declared.who, declared.word)] = None
    lines = [
        f"  {who} declared their group in the export: {d.group}"
        if d.stands
        else f"  {who} declared {d.group} in the export; a later declaration of theirs stands"
        for who, d in last.items()
    ]
    lines += [
        f"  {who}: !iam {word or '(no group)'} in the export names none of the groups"
        f" ({', '.join(keys)}): not recorded"
        for who, word in unknown
    ]
    return lines


def _run_again(path: Path) -> str:
    """How to import ``path`` again: a piped export's copy is gone, so it is piped again."""
    from archive.importers.streams import is_stream

    if is_stream(path):
        return "pipe the export into the same import again"
    return "run the same import again"


def unpublished_line(path: Path, failure: PublishFailed) -> str:
    """What the user is told of an import committed whose transcripts were not written:
    the file, the chat and its messages, why, and what to do (one line)."""
    result, cause = failure.result, failure.cause
    what = (
        f"{path}: {'imported' if result.created else 'already imported'} as"
        f" {result.chat.id} ({result.captured} messages), but"
    )
    again = f"{_run_again(path)} to write them"
    if failure.interrupted:
        return f"{what} interrupted before its transcripts were written; {again}"
    if isinstance(cause, OSError):
        if cause.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "free the space"
        elif cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = "make the transcripts' folder and its files writable"
        else:
            fix = "fix the transcripts' folder (transcripts_dir)"
        why = str(cause)
    else:  # sqlite3.Error: the files were put back, nothing recorded
        fix = "fix the archive's database"
        why = f"recording them failed: {cause}"
    return f"{what} its transcripts were not written: {why}; {fix} and {again}"


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise KeyboardInterrupt as SIGINT does (their handlers
    put back after), so a stopped command cleans up as after Ctrl-C. Only a signal left
    to its default action is taken: an ignored one stays ignored (``nohup``), and one
    that another handler took is left to it. In the main thread only (where Python runs
    signal handlers); elsewhere nothing changes."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = {}
    # SIGHUP: a closed terminal or SSH session (not on Windows).
    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    for sig in signals:
        if signal.getsignal(sig) == signal.SIG_DFL:
            taken[sig] = signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, previous in taken.items():
            signal.signal(sig, previous)
