"""The stakeholder groups' config: labels, the roster file, Discord's role mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.groups import DEFAULT_GROUPS
from archive.store import Store
from bot.config import Config, ConfigError, config_from_dict, load_config
from bot.groups import roster_entries, sync_groups
from tests.bot.helpers import config_file, tweetchat


def load(data: dict[str, object], base: Path = Path("/srv/bot")) -> Config:
    return config_from_dict(data, source="config.toml", base_dir=base)


def test_the_default_groups_and_no_roster() -> None:
    config = load({})
    assert config.groups.labels == DEFAULT_GROUPS
    assert config.groups.roster is None
    assert roster_entries(config) == ()


def test_labels_keep_the_files_order_and_the_roster_path_is_resolved() -> None:
    config = load(
        {
            "groups": {"labels": {"pt": "Patient·e", "hcp": "Soignant·e"}, "roster": "r.csv"},
            "discord": {"group_roles": {"Patient leaders": "pt", "123": "hcp"}},
        }
    )
    assert config.groups.labels == (("pt", "Patient·e"), ("hcp", "Soignant·e"))
    assert config.groups.roster == Path("/srv/bot/r.csv")
    assert config.discord.group_roles == (("Patient leaders", "pt"), ("123", "hcp"))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"groups": {"labels": {"Bad Key": "x"}}},
            "config.toml: groups.labels.Bad Key: a group key",
        ),
        ({"groups": {"labels": {}}}, "config.toml: groups.labels: must name at least one group"),
        ({"groups": {"labels": {"pt": 3}}}, "config.toml: groups.labels.pt: must be its label"),
        (
            {"discord": {"group_roles": {"Nurses": "nurse"}}},
            "config.toml: discord.group_roles.Nurses: unknown group 'nurse'",
        ),
    ],
)
def test_bad_group_settings_are_named(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(data)
    assert str(info.value).startswith(problem)


def test_a_bad_roster_stops_the_bot_naming_the_file_and_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("platform,handle,group\nx,@ann,patient\nx,@bob,astronaut\n", "utf-8")
    config = config_file(tmp_path, f'[groups]\nroster = "{roster}"\n')
    result = tweetchat(["stats", "nothing"], config)
    assert result.returncode != 0
    assert f"{roster}: line 3: unknown group 'astronaut'" in result.stderr
    assert "Traceback" not in result.stderr


def test_sync_puts_the_config_in_the_archive(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("x,@Ann,Patient\nlocal,u7,carer\n", "utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        f'[groups]\nroster = "{roster.name}"\nlabels = {{ patient = "Patient", carer = "Carer" }}\n',
        "utf-8",
    )
    config = load_config(path)
    store = Store(tmp_path / "a.db")
    try:
        sync_groups(store, config)
        assert [g.key for g in store.configured_groups()] == ["patient", "carer"]
        written = store.conn.total_changes
        sync_groups(store, config)  # the same again: nothing is written
        assert store.conn.total_changes == written
        sources = store.group_sources("#Any")
        assert sources.group_of("x", "999", "ann") == "patient"
        assert sources.group_of("local", "u7", "whoever") == "carer"
    finally:
        store.close()
    missing = load({"groups": {"roster": str(tmp_path / "nope.csv")}})
    with pytest.raises(ConfigError, match=r"nope\.csv: cannot read the roster file"):
        roster_entries(missing)


def test_a_command_run_without_the_roster_says_it_dropped_the_archives(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("x,@Ann,patient\nlocal,u7,carer\n", "utf-8")
    with_roster = config_file(tmp_path, f'[groups]\nroster = "{roster.name}"\n')
    listed = tweetchat(["chats"], with_roster)
    assert listed.returncode == 0, listed.stderr
    assert "roster" not in listed.stderr  # the archive learns the roster: nothing to say
    again = tweetchat(["chats"], with_roster)
    assert again.returncode == 0 and again.stderr == ""
    bare = tmp_path / "other"
    bare.mkdir()
    without = config_file(bare).rename(tmp_path / "bare.toml")  # the same archive, no roster
    dropped = tweetchat(["chats"], without)
    assert dropped.returncode == 0, dropped.stderr
    assert "the config has no roster; 2 roster entries the archive held were dropped" in (
        dropped.stderr
    )
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.group_sources("#Any").group_of("x", "9", "ann") is None
    finally:
        store.close()
    quiet = tweetchat(["chats"], without)  # nothing more to drop
    assert quiet.returncode == 0 and "roster" not in quiet.stderr


def test_the_bots_answers_are_recognised_with_or_without_a_mention() -> None:
    from archive.groups import say
    from bot.groups import is_group_reply

    for text in (
        say("declared", label="Patient", hashtag="WeDocs"),
        say("unknown_group", group="x", groups="patient"),
        say("which_group", groups="patient"),
        say("no_chat"),
    ):
        assert is_group_reply(text) and is_group_reply("@ann@nurses.example " + text)
    assert not is_group_reply("Thank you all, see you next week #WeDocs")
