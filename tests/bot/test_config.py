"""Tests for bot.config: loading, defaults, validation errors, secrets and the example file."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import (
    Config,
    ConfigError,
    config_from_dict,
    load_config,
    required_secrets,
    resolve_config_path,
    secret,
)
from scheduler.durations import duration_from

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(data: dict[str, object]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, source="config.toml", base_dir=Path("/srv/bot"))
    return info.value


def load(data: dict[str, object]) -> Config:
    return config_from_dict(data, source="config.toml", base_dir=Path("/srv/bot"))


# --------------------------------------------------------------------------- defaults


def test_defaults_are_the_documented_values() -> None:
    config = load({})
    assert (config.log_level, config.timezone) == ("INFO", "UTC")
    assert config.scheduler.reminders == (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )
    assert (config.scheduler.missed_questions, config.scheduler.misfire_grace) == (
        "catch_up",
        timedelta(minutes=10),
    )
    assert config.scheduler.wrapup_lead == timedelta(minutes=5)
    assert (config.local.enabled, config.local.room) == (True, "main")
    assert dataclasses.astuple(config.discord) == (
        False,
        "DISCORD_TOKEN",
        (),
        "Tweetchat Host",
        "channel",
        "",
        "",
        "",
        (),
    )
    assert (config.x.enabled, config.x.poll_interval, config.x.max_results) == (False, 60, 100)
    assert (config.x.price_per_read, config.x.price_per_post) == (0.005, 0.01)
    assert (config.x.price_per_post_with_url, config.x.max_post_length) == (0.20, 280)
    assert (config.x.api_url, config.x.recheck_days) == ("https://api.x.com", 7)
    assert dataclasses.astuple(config.web) == (False, "127.0.0.1", 8080, "", 50)
    assert (config.local.poll_interval, config.demo.participants, config.demo.speed) == (
        0.1,
        40,
        200.0,
    )


def test_default_paths_resolve_against_base_dir() -> None:
    config = load({})
    assert config.database == Path("/srv/bot/tweetchat.db")
    assert config.transcripts_dir == Path("/srv/bot/transcripts")
    assert config.demo.output_dir == Path("/srv/bot/demo-output")
    assert config.local.network == Path("/srv/bot/tweetchat-local.db")


def test_no_file_gives_defaults_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.database == tmp_path / "tweetchat.db"


# --------------------------------------------------------------------------- files and paths


def test_relative_paths_resolve_against_the_config_file_directory(tmp_path: Path) -> None:
    path = write(tmp_path, 'database = "data/chats.db"\n[demo]\noutput_dir = "../out"\n')
    config = load_config(path)
    assert config.database == tmp_path / "data" / "chats.db"
    assert config.demo.output_dir == tmp_path / ".." / "out"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    config = load({"transcripts_dir": str(tmp_path / "t")})
    assert config.transcripts_dir == tmp_path / "t"


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load({"database": "~/bot.db"}).database == tmp_path / "bot.db"


def test_empty_path_is_rejected() -> None:
    assert error_for({"database": " "}).key == "database"


def test_file_values_override_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, 'log_level = "debug"\ntimezone = "Europe/London"\n[web]\nport = 9000\n')
    config = load_config(path)
    assert (config.log_level, config.timezone, config.web.port) == ("DEBUG", "Europe/London", 9000)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(f"{path}: config file not found")):
        load_config(path)


def test_directory_instead_of_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '# comment\nlog_level = "INFO"\ntimezone = \n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}: line 3: invalid TOML: ")


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'room = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path)


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbflog_level = "ERROR"\n')
    assert load_config(path).log_level == "ERROR"


# --------------------------------------------------------------------------- choosing the file


def test_cli_value_wins_over_environment() -> None:
    env = {"TWEETCHAT_CONFIG": "/etc/env.toml"}
    assert resolve_config_path("/etc/cli.toml", env) == Path("/etc/cli.toml")


def test_environment_variable_used_without_cli_value() -> None:
    assert resolve_config_path(None, {"TWEETCHAT_CONFIG": "/etc/env.toml"}) == Path("/etc/env.toml")


def test_no_cli_value_and_no_variable_means_no_file() -> None:
    assert resolve_config_path(None, {"TWEETCHAT_CONFIG": "  "}) is None


def test_load_config_without_path_reads_tweetchat_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[local]\nroom = "lobby"\n')
    assert load_config(None, environ={"TWEETCHAT_CONFIG": str(path)}).local.room == "lobby"


# --------------------------------------------------------------------------- error messages


def test_error_is_one_line_naming_file_and_dotted_key() -> None:
    assert str(error_for({"x": {"poll_interval": "fast"}})) == (
        "config.toml: x.poll_interval: must be a number of seconds >= 5, got 'fast'"
    )


def test_error_stays_on_one_line_for_keys_with_newlines() -> None:
    assert "\n" not in str(error_for({"web": {"po\nrt": 1}}))


def test_unknown_key_suggests_the_close_one() -> None:
    err = error_for({"discord": {"guild": ["1"]}})
    assert (err.key, "did you mean 'guilds'?" in str(err)) == ("discord.guild", True)


def test_misspelt_section_suggests_the_close_one() -> None:
    assert "did you mean 'discord'?" in str(error_for({"discrod": {}}))


def test_key_from_another_section_names_its_table() -> None:
    assert "belongs in the [x] table" in str(error_for({"recheck_days": 3}))


def test_section_that_is_not_a_table_is_rejected() -> None:
    assert error_for({"web": 8080}).key == "web"


# --------------------------------------------------------------------------- types and values


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"web": {"port": True}}, "web.port"),  # bool is not an int
        ({"x": {"max_results": 50.0}}, "x.max_results"),
        ({"x": {"poll_interval": False}}, "x.poll_interval"),
        ({"local": {"enabled": 1}}, "local.enabled"),
        ({"local": {"room": ["main"]}}, "local.room"),
        ({"log_level": 10}, "log_level"),
        ({"discord": {"guilds": "123"}}, "discord.guilds"),
        ({"database": 1}, "database"),
    ],
)
def test_wrong_type_is_rejected(data: dict[str, object], key: str) -> None:
    assert error_for(data).key == key


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"web": {"port": 0}}, "web.port"),
        ({"web": {"port": 65536}}, "web.port"),
        ({"web": {"page_size": 0}}, "web.page_size"),
        ({"web": {"host": "local host"}}, "web.host"),
        ({"x": {"poll_interval": -60}}, "x.poll_interval"),
        ({"x": {"poll_interval": 4.9}}, "x.poll_interval"),
        ({"x": {"poll_interval": float("inf")}}, "x.poll_interval"),
        ({"x": {"max_results": 9}}, "x.max_results"),
        ({"x": {"max_results": 101}}, "x.max_results"),
        ({"x": {"price_per_read": -0.01}}, "x.price_per_read"),
        ({"x": {"price_per_post": float("nan")}}, "x.price_per_post"),
        ({"x": {"max_post_length": 0}}, "x.max_post_length"),
        ({"x": {"recheck_days": -1}}, "x.recheck_days"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "localtime"}, "timezone"),
        ({"log_level": "verbose"}, "log_level"),
        ({"discord": {"capture_mode": "both"}}, "discord.capture_mode"),
        ({"discord": {"host_role": ""}}, "discord.host_role"),
        ({"local": {"room": "  "}}, "local.room"),
        ({"local": {"poll_interval": 0}}, "local.poll_interval"),
        ({"local": {"network": ""}}, "local.network"),
        ({"scheduler": {"missed_questions": "later"}}, "scheduler.missed_questions"),
        ({"demo": {"speed": 0}}, "demo.speed"),
        ({"demo": {"participants": 0}}, "demo.participants"),
    ],
)
def test_impossible_value_is_rejected(data: dict[str, object], key: str) -> None:
    assert error_for(data).key == key


def test_unknown_zone_suggests_a_close_name() -> None:
    assert "did you mean 'Europe/London'?" in str(error_for({"timezone": "Europe/Londn"}))


def test_choices_ignore_case() -> None:
    config = load({"log_level": "warning", "discord": {"capture_mode": "Thread"}})
    assert (config.log_level, config.discord.capture_mode) == ("WARNING", "thread")


def test_integer_accepted_where_a_float_is_expected() -> None:
    assert load({"x": {"price_per_post": 1}}).x.price_per_post == 1.0


def test_guild_ids_accept_strings_and_integers_and_drop_duplicates() -> None:
    config = load({"discord": {"guilds": ["123", 456, " 123 "]}})
    assert config.discord.guilds == ("123", "456")


def test_guild_id_must_be_numeric() -> None:
    assert error_for({"discord": {"guilds": ["1", "my server"]}}).key == "discord.guilds[1]"


# --------------------------------------------------------------------------- URLs


def test_url_trailing_slash_is_removed() -> None:
    config = load({"web": {"base_url": "https://example.org/chats/"}})
    assert config.web.base_url == "https://example.org/chats"


def test_loopback_api_url_is_accepted() -> None:
    assert load({"x": {"api_base_url": "http://127.0.0.1:8123"}}).x.api_url == (
        "http://127.0.0.1:8123"
    )


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"web": {"base_url": "example.org/chats"}}, "web.base_url"),
        ({"web": {"base_url": "ftp://example.org"}}, "web.base_url"),
        ({"x": {"api_base_url": "http://127.0.0.1:99999"}}, "x.api_base_url"),
        ({"discord": {"gateway_url": "https://gateway.example"}}, "discord.gateway_url"),
    ],
)
def test_bad_url_is_rejected(data: dict[str, object], key: str) -> None:
    assert error_for(data).key == key


def test_gateway_url_takes_websocket_scheme() -> None:
    url = "ws://127.0.0.1:9000"
    assert load({"discord": {"gateway_url": url}}).discord.gateway_url == url


# --------------------------------------------------------------------------- durations
# Config durations are read by the chat files' parser (scheduler.durations.duration_from).


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("24h", timedelta(hours=24)),
        ("2d", timedelta(days=2)),
        ("1H 5M 3S", timedelta(hours=1, minutes=5, seconds=3)),
        ("600", timedelta(minutes=600)),  # a bare number is minutes, as in chat files
        ("0s", timedelta(0)),
    ],
)
def test_duration_from_accepts(text: str, expected: timedelta) -> None:
    assert duration_from(text) == expected


@pytest.mark.parametrize("text", ["", "h", "-5m", "1.5h", "30m1h", "1h30", "10 minutes", "٣m"])
def test_duration_from_rejects_non_durations(text: str) -> None:
    with pytest.raises(ValueError):
        duration_from(text)


@given(
    st.integers(0, 300),  # within MAX_DURATION (366 days)
    st.integers(0, 48),
    st.integers(0, 120),
    st.integers(0, 120),
)
@settings(max_examples=200)
def test_duration_from_round_trips(d: int, h: int, m: int, s: int) -> None:
    text = f"{d}d{h}h{m}m{s}s"
    assert duration_from(text) == timedelta(days=d, hours=h, minutes=m, seconds=s)


@given(st.text(max_size=20))
@settings(max_examples=200)
def test_duration_from_returns_or_raises_value_error(text: str) -> None:
    try:
        result = duration_from(text)
    except ValueError:
        return
    assert result >= timedelta(0)


def test_reminders_are_sorted_longest_first_without_duplicates() -> None:
    config = load({"scheduler": {"reminders": ["10m", "1h", 10, "1d"]}})
    assert config.scheduler.reminders == (
        timedelta(days=1),
        timedelta(hours=1),
        timedelta(minutes=10),
    )


def test_reminders_may_be_empty() -> None:
    assert load({"scheduler": {"reminders": []}}).scheduler.reminders == ()


def test_bad_reminder_is_named_by_index() -> None:
    assert error_for({"scheduler": {"reminders": ["24h", "soon"]}}).key == "scheduler.reminders[1]"


def test_zero_reminder_is_rejected() -> None:
    assert error_for({"scheduler": {"reminders": ["0s"]}}).key == "scheduler.reminders[0]"


def test_a_bare_number_is_minutes_as_in_chat_files() -> None:
    assert load({"scheduler": {"misfire_grace": 90}}).scheduler.misfire_grace == timedelta(
        minutes=90
    )
    assert load({"scheduler": {"wrapup_lead": "3"}}).scheduler.wrapup_lead == timedelta(minutes=3)


def test_a_bad_duration_is_named_with_its_key_and_what_is_expected() -> None:
    error = error_for({"scheduler": {"misfire_grace": "soon"}})
    assert str(error) == (
        'config.toml: scheduler.misfire_grace: "soon" is not a duration like "90s", "10m",'
        ' "1h30m", "2d", or a whole number of minutes'
    )


def test_zero_wrapup_lead_is_allowed() -> None:
    assert load({"scheduler": {"wrapup_lead": "0s"}}).scheduler.wrapup_lead == timedelta(0)


@pytest.mark.parametrize("value", ["0s", -5, "400d", 10**40, 1.5])
def test_impossible_misfire_grace_is_rejected(value: object) -> None:
    assert error_for({"scheduler": {"misfire_grace": value}}).key == "scheduler.misfire_grace"


# --------------------------------------------------------------------------- secrets


def test_secret_reads_the_named_variable() -> None:
    assert secret("DISCORD_TOKEN", {"DISCORD_TOKEN": "abc.def\n"}) == "abc.def"


@pytest.mark.parametrize("env", [{}, {"DISCORD_TOKEN": ""}, {"DISCORD_TOKEN": " \n"}])
def test_missing_secret_names_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="environment variable DISCORD_TOKEN is not set"):
        secret("DISCORD_TOKEN", env)


def test_env_name_error_never_echoes_the_value() -> None:
    token = "MTIzNDU2.Gx7abc.very-secret-token"
    err = error_for({"discord": {"token_env": token}})
    assert (err.key, token in str(err)) == ("discord.token_env", False)


def test_unknown_secret_key_error_never_echoes_the_value() -> None:
    token = "MTIzNDU2.Gx7abc.very-secret-token"
    assert token not in str(error_for({"discord": {"token": token}}))


def test_repr_holds_variable_names_not_secret_values(tmp_path: Path) -> None:
    path = write(tmp_path, '[discord]\nenabled = true\ntoken_env = "MY_TOKEN"\n')
    config = load_config(path, environ={"MY_TOKEN": "s3cr3t-value"})
    assert ("MY_TOKEN" in repr(config), "s3cr3t-value" in repr(config)) == (True, False)


def test_required_secrets_follow_enabled_platforms() -> None:
    config = load({"discord": {"enabled": True}, "x": {"enabled": False}})
    assert required_secrets(config) == ("DISCORD_TOKEN",)


def test_required_secrets_for_x_are_all_five_credentials() -> None:
    assert len(set(required_secrets(load({"x": {"enabled": True}})))) == 5


# --------------------------------------------------------------------------- the example file


def test_example_loads_and_matches_defaults() -> None:
    assert load_config(EXAMPLE) == config_from_dict({}, base_dir=EXAMPLE.parent)


def _fields_of(instance: object, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for f in dataclasses.fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            names.add(f"[{f.name}]")
            names |= _fields_of(value, f"{f.name}.")
        else:
            names.add(prefix + f.name)
    return names


def _keys_of(table: dict[str, object], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for key, value in table.items():
        if isinstance(value, dict) and not prefix:  # a table in a section is a key's value
            names.add(f"[{key}]")
            names |= _keys_of(value, f"{key}.")
        else:
            names.add(prefix + key)
    return names


def test_example_documents_exactly_the_dataclass_fields() -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert _keys_of(example) == _fields_of(Config())


def test_every_example_key_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    key_line = re.compile(r"^[a-z_]+ = ")
    undocumented = []
    for index, line in enumerate(lines):
        if not key_line.match(line):
            continue
        above = index - 1
        while above >= 0 and key_line.match(lines[above]):  # a group shares one comment
            above -= 1
        if above < 0 or not lines[above].startswith("#"):
            undocumented.append(line)
    assert undocumented == []


# --------------------------------------------------------------------------- robustness

_KNOWN_KEYS = sorted({name.split(".")[-1].strip("[]") for name in _fields_of(Config())})
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["24h", "0s", "catch_up", "thread", "UTC", "http://x", "~/x", "DEBUG"])
    | st.datetimes()
)
_keys = st.sampled_from(_KNOWN_KEYS) | st.text(max_size=8)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_keys, _values, max_size=6))
@settings(max_examples=200, deadline=None)
def test_random_dicts_give_a_config_or_a_config_error(data: dict[str, object]) -> None:
    try:
        config = config_from_dict(data, source="config.toml", base_dir=Path("/srv/bot"))
    except ConfigError as exc:
        # One line per problem, each naming the file; a single problem is a single line.
        lines = str(exc).splitlines()
        assert lines and all(line.startswith("config.toml") for line in lines)
        assert len(lines) == len(getattr(exc, "problems", [exc]))
    else:
        assert isinstance(config, Config)


def test_every_problem_of_a_config_file_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {
                "log_level": "LOUD",
                "x": {"poll_interval": "fast", "enabeld": True},
                "local": {"poll_interval": -1},
                "web": "yes",
            },
            source="config.toml",
            base_dir=Path("/srv/bot"),
        )
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "log_level",
        "local.poll_interval",
        "x.enabeld",
        "x.poll_interval",
        "web",
    ]
    assert all(line.startswith("config.toml: ") for line in lines)
