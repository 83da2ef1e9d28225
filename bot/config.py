"""The bot's configuration: one TOML file, parsed at start-up into frozen dataclasses.

Nothing is read at import time. The CLI resolves the file (``--config`` or the
``TWEETCHAT_CONFIG`` environment variable, see :func:`resolve_config_path`) and calls
:func:`load_config`; with no file every default works. Secrets are never stored here: the
config holds the *names* of environment variables, and :func:`secret` reads a value only
when a platform starts. Every problem becomes one :class:`ConfigError` whose text is a
single line naming the file and the dotted key (or the line, for TOML syntax errors).
Durations are read by the chat files' parser (:func:`scheduler.durations.duration_from`):
``"90s"``, ``"10m"``, ``"1h30m"``, ``"24h"``, or a bare number of minutes.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from archive.groups import DEFAULT_GROUPS, GROUP_KEY_RE
from archive.i18n import language_tag
from archive.labels import Labels, label_letter
from scheduler.durations import duration_from

logger = logging.getLogger(__name__)

CONFIG_ENV_VAR: Final = "TWEETCHAT_CONFIG"
DEFAULT_X_API_BASE_URL: Final = "https://api.x.com"
DEFAULT_BLUESKY_SERVICE_URL: Final = "https://bsky.social"
DEFAULT_JETSTREAM_URL: Final = "wss://jetstream.us-east.bsky.network"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
MissedQuestions = Literal["catch_up", "skip"]
CaptureMode = Literal["channel", "thread"]
LOG_LEVELS: Final[tuple[LogLevel, ...]] = ("DEBUG", "INFO", "WARNING", "ERROR")
LogFormat = Literal["text", "json"]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("text", "json")
MISSED_QUESTION_POLICIES: Final[tuple[MissedQuestions, ...]] = ("catch_up", "skip")
CAPTURE_MODES: Final[tuple[CaptureMode, ...]] = ("channel", "thread")
Visibility = Literal["public", "unlisted", "private"]
VISIBILITIES: Final[tuple[Visibility, ...]] = ("public", "unlisted", "private")


class ConfigError(Exception):
    """A configuration problem; ``str()`` is one line: ``file: key: what is wrong``."""

    def __init__(
        self, message: str, *, source: str = "", key: str = "", line: int | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.key = key
        self.line = line
        where = f"line {line}" if line is not None else ""
        text = ": ".join(part for part in (source, key, where, message) if part)
        super().__init__(_one_line(text))


class ConfigProblems(ConfigError):
    """Several problems in one config file: ``str()`` is one line per problem, each
    ``file: key: what is wrong``; ``problems`` holds them."""

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        super().__init__(first.message, source=first.source, key=first.key, line=first.line)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """When reminders go out and what happens to actions missed while the bot was down."""

    reminders: tuple[timedelta, ...] = (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )  # before the start, longest first
    missed_questions: MissedQuestions = "catch_up"
    misfire_grace: timedelta = timedelta(minutes=10)
    wrapup_lead: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class LocalConfig:
    """The in-process platform used by the demo and end-to-end tests."""

    enabled: bool = True
    room: str = "main"
    # The local "network" is a SQLite file that plays the remote service, so participants in
    # another process (the demo, tests, `tweetchat local say`) can talk to a running bot.
    network: Path = Path("tweetchat-local.db")
    poll_interval: float = 0.1  # seconds between reads of the network file


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    enabled: bool = False
    token_env: str = "DISCORD_TOKEN"  # the variable's name, never the token
    guilds: tuple[str, ...] = ()  # guild ids (snowflakes) as strings
    host_role: str = "Tweetchat Host"
    capture_mode: CaptureMode = "channel"
    api_base_url: str = ""  # "" = discord.py's default
    gateway_url: str = ""  # "" = the gateway Discord announces
    announce_channel: str = ""
    # Discord role id or name -> stakeholder group key ([groups]); read from the roles a
    # member has when they post in a chat.
    group_roles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class GroupsConfig:
    """Stakeholder groups (archive/groups.py): the groups with their labels, in order, and
    the organisers' roster file (CSV: platform, handle or id, group), if any."""

    labels: tuple[tuple[str, str], ...] = DEFAULT_GROUPS
    roster: Path | None = None


@dataclass(frozen=True, slots=True)
class XConfig:
    enabled: bool = False
    bearer_token_env: str = "X_BEARER_TOKEN"
    consumer_key_env: str = "X_CONSUMER_KEY"
    consumer_secret_env: str = "X_CONSUMER_SECRET"
    access_token_env: str = "X_ACCESS_TOKEN"
    access_token_secret_env: str = "X_ACCESS_TOKEN_SECRET"
    poll_interval: float = 60.0  # seconds
    max_results: int = 100
    price_per_read: float = 0.005  # USD
    price_per_post: float = 0.01
    price_per_post_with_url: float = 0.20
    max_post_length: int = 280
    api_base_url: str = ""  # "" = DEFAULT_X_API_BASE_URL
    recheck_days: int = 7

    @property
    def api_url(self) -> str:
        """The API base URL actually used: the configured one or the public X API."""
        return self.api_base_url or DEFAULT_X_API_BASE_URL

    @property
    def secret_env_names(self) -> tuple[str, ...]:
        return (
            self.bearer_token_env,
            self.consumer_key_env,
            self.consumer_secret_env,
            self.access_token_env,
            self.access_token_secret_env,
        )


@dataclass(frozen=True, slots=True)
class MastodonConfig:
    """A Mastodon (or compatible) instance: the bot's account posts and follows the hashtag."""

    enabled: bool = False
    api_base_url: str = ""  # the instance, e.g. "https://mastodon.social"; needed when enabled
    access_token_env: str = "MASTODON_ACCESS_TOKEN"  # the variable's name, never the token
    visibility: Visibility = "public"  # only public statuses appear in hashtag timelines
    poll_interval: float = 30.0  # seconds between timeline reads that fill stream gaps
    max_post_length: int = 500  # until the instance says less (/api/v2/instance)
    stream: bool = True  # follow the hashtag stream live (else poll only)


@dataclass(frozen=True, slots=True)
class BlueskyConfig:
    """Bluesky: posts through the account's PDS, capture from Jetstream (v2)."""

    enabled: bool = False
    handle: str = ""  # the bot's account, e.g. "wedocs.bsky.social"; required when enabled
    app_password_env: str = "BLUESKY_APP_PASSWORD"  # the variable's name, never the password
    service_url: str = ""  # "" = DEFAULT_BLUESKY_SERVICE_URL (the account's PDS or entryway)
    jetstream_url: str = ""  # "" = DEFAULT_JETSTREAM_URL
    replay_window: timedelta = timedelta(hours=36)  # how far back Jetstream replays a cursor
    search_page_size: int = 100  # posts per searchPosts page when backfilling (1 to 100)
    idle_reconnect: float = 60.0  # seconds without a Jetstream frame before redialling
    profile_cache: timedelta = timedelta(hours=1)  # how long a resolved handle/name is kept
    max_post_length: int = 300  # graphemes

    @property
    def service(self) -> str:
        """The XRPC service actually used: the configured one or bsky.social."""
        return self.service_url or DEFAULT_BLUESKY_SERVICE_URL

    @property
    def jetstream(self) -> str:
        """The Jetstream host actually used: the configured one or Bluesky's."""
        return self.jetstream_url or DEFAULT_JETSTREAM_URL


@dataclass(frozen=True, slots=True)
class WebConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""  # public URL prefix behind a reverse proxy, no trailing slash
    page_size: int = 50


@dataclass(frozen=True, slots=True)
class LabelsConfig:
    """The label convention of chats that set none (``[labels]`` in a chat file)."""

    question: str = "Q"  # one letter: Q1, Q2... ("C" for Welsh chats)
    answer: str = "A"  # one letter: A1, A2... ("R" for French chats; = question for topics)

    @property
    def convention(self) -> Labels:
        return Labels(self.question, self.answer)


@dataclass(frozen=True, slots=True)
class DemoConfig:
    participants: int = 40
    speed: float = 200.0  # time compression: chat seconds per real second
    output_dir: Path = Path("demo-output")


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. Paths from :func:`config_from_dict` are absolute."""

    database: Path = Path("tweetchat.db")
    transcripts_dir: Path = Path("transcripts")
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"  # "json": one JSON object a line, for log collectors
    timezone: str = "UTC"  # default IANA zone for chats that name none
    highlights_per_question: int = 3  # answers a question's Highlights keep (0: no section)
    language: str = "en"  # default BCP 47 tag of the bot's words, for chats that name none
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    x: XConfig = field(default_factory=XConfig)
    bluesky: BlueskyConfig = field(default_factory=BlueskyConfig)
    web: WebConfig = field(default_factory=WebConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)
    mastodon: MastodonConfig = field(default_factory=MastodonConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    groups: GroupsConfig = field(default_factory=GroupsConfig)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_SECTIONS: Final[dict[str, type]] = {
    "scheduler": SchedulerConfig,
    "local": LocalConfig,
    "discord": DiscordConfig,
    "x": XConfig,
    "bluesky": BlueskyConfig,
    "web": WebConfig,
    "demo": DemoConfig,
    "mastodon": MastodonConfig,
    "labels": LabelsConfig,
    "groups": GroupsConfig,
}


# --------------------------------------------------------------------------- public helpers


def resolve_config_path(cli_value: str | None, environ: Mapping[str, str]) -> Path | None:
    """The config file chosen by ``--config`` or else ``TWEETCHAT_CONFIG``; None for defaults."""
    for value in (cli_value, environ.get(CONFIG_ENV_VAR)):
        if value is not None and value.strip():
            return Path(value.strip()).expanduser()
    return None


def load_config(path: Path | None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at ``path``; all defaults when there is none.

    ``environ`` is consulted only when ``path`` is None, for ``TWEETCHAT_CONFIG``.
    Relative paths in the file are resolved against the file's directory.
    """
    if path is None and environ is not None:
        path = resolve_config_path(None, environ)
    if path is None:
        logger.debug("no config file; using defaults")
        return config_from_dict({}, source="<defaults>", base_dir=Path.cwd())
    source = str(path)
    try:
        # utf-8-sig: tolerate the byte-order mark some Windows editors add.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("config file not found", source=source) from None
    except UnicodeDecodeError:
        raise ConfigError("config file is not valid UTF-8", source=source) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read config file: {reason}", source=source) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, source) from None
    config = config_from_dict(data, source=source, base_dir=path.absolute().parent)
    logger.debug("loaded config from %s", source)
    return config


def config_from_dict(
    data: Mapping[str, object], *, source: str = "<config>", base_dir: Path | None = None
) -> Config:
    """Validate parsed TOML (or any mapping) into a :class:`Config`, or raise ConfigError."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be a table, got {_show(data)}", source=source)
    base = (base_dir if base_dir is not None else Path.cwd()).absolute()
    problems: list[ConfigError] = []
    top = _Table(data, Config, source=source, prefix="", base_dir=base, problems=problems)

    def section(name: str, parse: Callable[[_Table], _T]) -> _T:
        raw = top.raw(name)
        if raw is _MISSING:
            raw = {}
        elif not isinstance(raw, Mapping):
            problems.append(top.error(name, f"must be a table ([{name}]), got {_show(raw)}"))
            raw = {}
        table = _Table(
            raw, _SECTIONS[name], source=source, prefix=f"{name}.", base_dir=base, problems=problems
        )
        try:
            return parse(table)
        except ConfigError as exc:  # a rule across keys (e.g. a handle needed when enabled)
            problems.append(exc)
            default: _T = _SECTIONS[name]()
            return default

    config = Config(
        database=top.path("database"),
        transcripts_dir=top.path("transcripts_dir"),
        log_level=top.choice("log_level", LOG_LEVELS, normalise=str.upper),
        log_format=top.choice("log_format", LOG_FORMATS, normalise=str.lower),
        timezone=top.zone("timezone"),
        highlights_per_question=top.integer("highlights_per_question", 0, 50),
        language=top.language("language"),
        scheduler=section("scheduler", _parse_scheduler),
        local=section("local", _parse_local),
        discord=section("discord", _parse_discord),
        x=section("x", _parse_x),
        bluesky=section("bluesky", _parse_bluesky),
        web=section("web", _parse_web),
        demo=section("demo", _parse_demo),
        mastodon=section("mastodon", _parse_mastodon),
        labels=section("labels", _parse_labels),
        groups=section("groups", _parse_groups),
    )
    if not problems:
        _check_group_roles(config, source, problems)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)
    return config


def secret(config_section_env_name: str, environ: Mapping[str, str]) -> str:
    """The value of the environment variable named in the config (e.g. ``discord.token_env``).

    Raises ConfigError naming the variable, never its value, when it is missing or empty.
    """
    value = environ.get(config_section_env_name, "")
    if not value.strip():
        raise ConfigError(
            f"environment variable {config_section_env_name} is not set or is empty; "
            "set it to the secret before enabling this platform",
            source="environment",
        )
    # Trailing newlines sneak in from `export X=$(cat file)`; tokens never contain spaces.
    return value.strip()


def required_secrets(config: Config) -> tuple[str, ...]:
    """Names of the environment variables the enabled platforms will need at start-up."""
    names: list[str] = []
    if config.discord.enabled:
        names.append(config.discord.token_env)
    if config.x.enabled:
        names.extend(config.x.secret_env_names)
    if config.mastodon.enabled:
        names.append(config.mastodon.access_token_env)
    if config.bluesky.enabled:
        names.append(config.bluesky.app_password_env)
    return tuple(names)


# --------------------------------------------------------------------------- validation


_MISSING: Final = object()
_T = TypeVar("_T")
_ENV_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SNOWFLAKE_RE: Final = re.compile(r"[0-9]{1,20}")


class _Table:
    """One TOML table being read into one dataclass: typed getters with precise errors."""

    def __init__(
        self,
        data: Mapping[Any, object],
        cls: type,
        *,
        source: str,
        prefix: str,
        base_dir: Path,
        problems: list[ConfigError],
    ) -> None:
        self.data = data
        self.problems = problems  # every problem found, shared by the tables of one file
        self.source = source
        self.prefix = prefix
        self.base_dir = base_dir
        defaults = cls()
        self.defaults = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(cls)}
        self._reject_unknown_keys()

    def _reject_unknown_keys(self) -> None:
        known = list(self.defaults)
        for key in self.data:
            if isinstance(key, str) and key in self.defaults:
                continue
            name = key if isinstance(key, str) else repr(key)
            hint = ""
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hint = f"; did you mean '{close[0]}'?"
            elif not self.prefix:
                owner = next((s for s, c in _SECTIONS.items() if name in _field_names(c)), None)
                if owner is not None:
                    hint = f"; it belongs in the [{owner}] table"
            self.problems.append(self.error(name, f"unknown key{hint}"))

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, source=self.source, key=f"{self.prefix}{key}")

    def raw(self, key: str) -> object:
        return self.data.get(key, _MISSING)

    def _get(self, key: str, convert: Callable[[object], _T]) -> _T:
        """The converted value of ``key``, or its default; ``convert`` raises ValueError."""
        value = self.raw(key)
        if value is _MISSING:
            return self.defaults[key]  # type: ignore[no-any-return]
        try:
            return convert(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def boolean(self, key: str) -> bool:
        def convert(value: object) -> bool:
            if not isinstance(value, bool):
                raise ValueError(f"must be true or false, got {_show(value)}")
            return value

        return self._get(key, convert)

    def integer(self, key: str, low: int, high: int | None = None) -> int:
        def convert(value: object) -> int:
            bounds = f"from {low} to {high}" if high is not None else f">= {low}"
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"must be a whole number {bounds}, got {_show(value)}")
            if value < low or (high is not None and value > high):
                raise ValueError(f"must be a whole number {bounds}, got {value}")
            return value

        return self._get(key, convert)

    def number(self, key: str, what: str, *, low: float, strict: bool) -> float:
        """A finite int or float, > ``low`` when ``strict`` else >= ``low``."""

        def convert(value: object) -> float:
            bound = f"{'>' if strict else '>='} {low:g}"
            message = f"must be {what} {bound}, got {_show(value)}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(message)
            try:
                number = float(value)
            except OverflowError:
                raise ValueError(message) from None
            if not math.isfinite(number) or number < low or (strict and number == low):
                raise ValueError(message)
            return number

        return self._get(key, convert)

    def string(self, key: str, *, allow_empty: bool = True) -> str:
        def convert(value: object) -> str:
            if not isinstance(value, str):
                raise ValueError(f"must be a string, got {_show(value)}")
            value = value.strip()
            if not value and not allow_empty:
                raise ValueError("must not be empty")
            return value

        return self._get(key, convert)

    def choice(
        self, key: str, choices: Sequence[_T], *, normalise: Callable[[str], str] = str.lower
    ) -> _T:
        def convert(value: object) -> _T:
            allowed = ", ".join(repr(c) for c in choices)
            if isinstance(value, str):
                for option in choices:
                    if option == normalise(value.strip()):
                        return option
            raise ValueError(f"must be one of {allowed}, got {_show(value)}")

        return self._get(key, convert)

    def path(self, key: str) -> Path:
        value = self.raw(key)
        if value is _MISSING:
            return self.base_dir / self.defaults[key]
        if not isinstance(value, str):
            raise self.error(key, f"must be a path (a string), got {_show(value)}")
        if not value.strip() or "\x00" in value:
            raise self.error(key, f"must be a file system path, got {_show(value)}")
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # "~nosuchuser/x"
            raise self.error(key, f"cannot expand the home directory in {_show(value)}") from None
        return self.base_dir / path

    def duration(self, key: str, *, allow_zero: bool) -> timedelta:
        return self._get(key, functools.partial(_duration, allow_zero=allow_zero))

    def durations(self, key: str) -> tuple[timedelta, ...]:
        value = self.raw(key)
        if value is _MISSING:
            return self.defaults[key]  # type: ignore[no-any-return]
        if not isinstance(value, list | tuple):
            raise self.error(
                key, f"must be a list of durations like ['24h', '1h'], got {_show(value)}"
            )
        found: set[timedelta] = set()
        for index, item in enumerate(value):
            try:
                found.add(_duration(item, allow_zero=False))
            except ValueError as exc:
                raise self.error(f"{key}[{index}]", str(exc)) from None
        return tuple(sorted(found, reverse=True))

    def env_name(self, key: str) -> str:
        def convert(value: object) -> str:
            # Never echo the value: a user may have pasted the secret itself here.
            if not isinstance(value, str) or not _ENV_NAME_RE.fullmatch(value.strip()):
                raise ValueError(
                    "must be the NAME of an environment variable (letters, digits, '_'), "
                    "not the secret itself"
                )
            return value.strip()

        return self._get(key, convert)

    def url(self, key: str, schemes: tuple[str, ...]) -> str:
        def convert(value: object) -> str:
            example = f"{schemes[0]}://host[:port][/path]"
            message = f"must be empty or a URL like '{example}', got {_show(value)}"
            if not isinstance(value, str):
                raise ValueError(message)
            value = value.strip()
            if not value:
                return ""
            try:
                parts = urlsplit(value)
                parts.port  # noqa: B018 -- raises ValueError for a bad port
            except ValueError:
                raise ValueError(message) from None
            if (
                parts.scheme.lower() not in schemes
                or not parts.hostname
                or any(c.isspace() for c in value)
                or parts.query
                or parts.fragment
            ):
                raise ValueError(message)
            return value.rstrip("/")

        return self._get(key, convert)

    def language(self, key: str) -> str:
        """A language we have catalogues for (``archive.i18n.language_tag``)."""
        return self._get(key, language_tag)

    def zone(self, key: str) -> str:
        def convert(value: object) -> str:
            if not isinstance(value, str):
                raise ValueError(f"must be an IANA time zone name, got {_show(value)}")
            name = value.strip()
            if name in _zone_names():
                return name
            close = difflib.get_close_matches(name, _zone_names(), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else " such as 'Europe/London'"
            raise ValueError(f"must be an IANA time zone name, got {_show(value)}{hint}")

        return self._get(key, convert)

    def letter(self, key: str) -> str:
        """A label letter (:func:`archive.labels.label_letter`), upper-case."""
        return self._get(key, lambda value: label_letter(value, ""))

    def ids(self, key: str) -> tuple[str, ...]:
        """A list of Discord snowflakes, written as strings (integers are accepted too)."""
        value = self.raw(key)
        if value is _MISSING:
            return self.defaults[key]  # type: ignore[no-any-return]
        if not isinstance(value, list | tuple):
            raise self.error(
                key, f'must be a list of ids like ["123456789012345678"], got {_show(value)}'
            )
        found: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                item = str(item)
            if not isinstance(item, str) or not _SNOWFLAKE_RE.fullmatch(item.strip()):
                raise self.error(f"{key}[{index}]", f"must be a numeric id, got {_show(item)}")
            if item.strip() not in found:
                found.append(item.strip())
        return tuple(found)


def _collecting(getter: Callable[..., _T]) -> Callable[..., _T]:
    """A `_Table` getter that records its problem and returns the key's default instead of
    raising, so that one run over a config file finds every problem in it."""

    @functools.wraps(getter)
    def read(table: _Table, key: str, *args: Any, **kwargs: Any) -> _T:
        try:
            return getter(table, key, *args, **kwargs)
        except ConfigError as exc:
            table.problems.append(exc)
            default: Any = table.defaults[key]
            if isinstance(default, Path):  # paths are read relative to the config's folder
                default = table.base_dir / default
            return cast(_T, default)

    return read


for _getter in (
    "boolean",
    "integer",
    "number",
    "string",
    "choice",
    "path",
    "duration",
    "durations",
    "env_name",
    "url",
    "zone",
    "letter",
    "ids",
):
    setattr(_Table, _getter, _collecting(getattr(_Table, _getter)))


def _duration(value: object, *, allow_zero: bool) -> timedelta:
    """A duration read as chat files read them (a bare number is minutes); see
    :func:`scheduler.durations.duration_from`. Raises ValueError saying what is wrong."""
    result = duration_from(value)
    if not result and not allow_zero:
        raise ValueError(f"must be longer than zero, got {_show(value)}")
    return result


def _parse_scheduler(t: _Table) -> SchedulerConfig:
    return SchedulerConfig(
        reminders=t.durations("reminders"),
        missed_questions=t.choice("missed_questions", MISSED_QUESTION_POLICIES),
        misfire_grace=t.duration("misfire_grace", allow_zero=False),
        wrapup_lead=t.duration("wrapup_lead", allow_zero=True),
    )


def _parse_local(t: _Table) -> LocalConfig:
    return LocalConfig(
        enabled=t.boolean("enabled"),
        room=t.string("room", allow_empty=False),
        network=t.path("network"),
        poll_interval=t.number("poll_interval", "a number of seconds", low=0, strict=True),
    )


def _parse_discord(t: _Table) -> DiscordConfig:
    return DiscordConfig(
        enabled=t.boolean("enabled"),
        token_env=t.env_name("token_env"),
        guilds=t.ids("guilds"),
        host_role=t.string("host_role", allow_empty=False),
        capture_mode=t.choice("capture_mode", CAPTURE_MODES),
        api_base_url=t.url("api_base_url", ("https", "http")),
        gateway_url=t.url("gateway_url", ("wss", "ws")),
        announce_channel=t.string("announce_channel"),
        group_roles=_mapping(t, "group_roles", "a role id or name", "a group key"),
    )


def _mapping(t: _Table, key: str, what_key: str, what_value: str) -> tuple[tuple[str, str], ...]:
    """A table of non-empty strings to non-empty strings, in the file's order."""
    value = t.raw(key)
    if value is _MISSING:
        return t.defaults[key]  # type: ignore[no-any-return]
    if not isinstance(value, Mapping):
        t.problems.append(
            t.error(key, f"must be a table of {what_key} = {what_value}, got {_show(value)}")
        )
        return t.defaults[key]  # type: ignore[no-any-return]
    pairs = []
    for k, v in value.items():
        if not isinstance(v, str) or not v.strip() or not str(k).strip():
            t.problems.append(t.error(f"{key}.{k}", f"must be {what_value}, got {_show(v)}"))
            continue
        pairs.append((str(k).strip(), v.strip()))
    return tuple(pairs)


def _parse_groups(t: _Table) -> GroupsConfig:
    labels = _mapping(t, "labels", "a group key", "its label")
    for k, _label in labels:
        if not GROUP_KEY_RE.fullmatch(k):
            t.problems.append(
                t.error(
                    f"labels.{k}",
                    "a group key is 1-32 lower-case letters, digits, '-' or '_',"
                    " starting with a letter or digit",
                )
            )
    if not labels:
        t.problems.append(t.error("labels", "must name at least one group"))
        labels = DEFAULT_GROUPS
    raw = t.raw("roster")
    roster = None
    if raw is not _MISSING and not (isinstance(raw, str) and not raw.strip()):
        t.defaults["roster"] = Path()  # path() resolves a missing key only
        roster = t.path("roster")
    return GroupsConfig(labels=labels, roster=roster)


def _check_group_roles(config: Config, source: str, problems: list[ConfigError]) -> None:
    keys = {k for k, _ in config.groups.labels}
    for role, group in config.discord.group_roles:
        if group not in keys:
            problems.append(
                ConfigError(
                    f"unknown group {group!r} (the [groups] labels are: {', '.join(sorted(keys))})",
                    source=source,
                    key=f"discord.group_roles.{role}",
                )
            )


def _parse_x(t: _Table) -> XConfig:
    return XConfig(
        enabled=t.boolean("enabled"),
        bearer_token_env=t.env_name("bearer_token_env"),
        consumer_key_env=t.env_name("consumer_key_env"),
        consumer_secret_env=t.env_name("consumer_secret_env"),
        access_token_env=t.env_name("access_token_env"),
        access_token_secret_env=t.env_name("access_token_secret_env"),
        poll_interval=t.number("poll_interval", "a number of seconds", low=5, strict=False),
        max_results=t.integer("max_results", 10, 100),
        price_per_read=t.number("price_per_read", "a price in USD", low=0, strict=False),
        price_per_post=t.number("price_per_post", "a price in USD", low=0, strict=False),
        price_per_post_with_url=t.number(
            "price_per_post_with_url", "a price in USD", low=0, strict=False
        ),
        max_post_length=t.integer("max_post_length", 1, 100_000),
        api_base_url=t.url("api_base_url", ("https", "http")),
        recheck_days=t.integer("recheck_days", 0, 366),
    )


_HANDLE_RE: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def _parse_bluesky(t: _Table) -> BlueskyConfig:
    enabled = t.boolean("enabled")
    handle = t.string("handle").lstrip("@")
    if handle and (len(handle) > 253 or not _HANDLE_RE.fullmatch(handle)):
        raise t.error(
            "handle", f"must be a Bluesky handle like 'wedocs.bsky.social', got {_show(handle)}"
        )
    if enabled and not handle:
        raise t.error("handle", "must be set when Bluesky is enabled, e.g. 'wedocs.bsky.social'")
    return BlueskyConfig(
        enabled=enabled,
        handle=handle.lower(),
        app_password_env=t.env_name("app_password_env"),
        service_url=t.url("service_url", ("https", "http")),
        jetstream_url=t.url("jetstream_url", ("wss", "ws")),
        replay_window=t.duration("replay_window", allow_zero=False),
        search_page_size=t.integer("search_page_size", 1, 100),
        idle_reconnect=t.number("idle_reconnect", "a number of seconds", low=1, strict=False),
        profile_cache=t.duration("profile_cache", allow_zero=True),
        max_post_length=t.integer("max_post_length", 1, 3000),
    )


def _parse_web(t: _Table) -> WebConfig:
    host = t.string("host", allow_empty=False)
    if any(c.isspace() for c in host):
        raise t.error("host", f"must be a host name or address, got {_show(host)}")
    return WebConfig(
        enabled=t.boolean("enabled"),
        host=host,
        port=t.integer("port", 1, 65535),
        base_url=t.url("base_url", ("https", "http")),
        page_size=t.integer("page_size", 1, 1000),
    )


def _parse_demo(t: _Table) -> DemoConfig:
    return DemoConfig(
        participants=t.integer("participants", 1, 10_000),
        speed=t.number("speed", "a time compression factor", low=0, strict=True),
        output_dir=t.path("output_dir"),
    )


def _parse_mastodon(t: _Table) -> MastodonConfig:
    config = MastodonConfig(
        enabled=t.boolean("enabled"),
        api_base_url=t.url("api_base_url", ("https", "http")),
        access_token_env=t.env_name("access_token_env"),
        visibility=t.choice("visibility", VISIBILITIES),
        poll_interval=t.number("poll_interval", "a number of seconds", low=5, strict=False),
        max_post_length=t.integer("max_post_length", 1, 100_000),
        stream=t.boolean("stream"),
    )
    if config.enabled and not config.api_base_url:
        raise t.error(
            "api_base_url",
            "must be the instance's URL, like 'https://mastodon.social', when Mastodon is enabled",
        )
    return config


def _parse_labels(t: _Table) -> LabelsConfig:
    return LabelsConfig(question=t.letter("question"), answer=t.letter("answer"))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


@functools.cache
def _zone_names() -> frozenset[str]:
    # "localtime" is the host's zone file, not an IANA name; its meaning changes per machine.
    return frozenset(available_timezones() - {"localtime"})


def _show(value: object) -> str:
    """A short, one-line rendering of a bad value for error messages."""
    if isinstance(value, Mapping):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


_TOML_POSITION_RE: Final = re.compile(
    r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$"
)


def _toml_error(exc: tomllib.TOMLDecodeError, source: str) -> ConfigError:
    match = _TOML_POSITION_RE.match(str(exc))
    if match is None:
        return ConfigError(f"invalid TOML: {exc}", source=source)
    return ConfigError(
        f"invalid TOML: {match['msg']} (column {match['col']})",
        source=source,
        line=int(match["line"]),
    )
