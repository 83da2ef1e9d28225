"""One duration parser, one meaning of a bare number (minutes), at every entry point:
chat files, the config file, the CLI (``tweetchat extend``) and the Discord schedule form.
Each rejects a bad duration with a message that names what is wrong and where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question
from archive.store import Store
from bot.cli import build_parser, main
from bot.config import ConfigError, config_from_dict
from bot.platforms.discord.commands import form_plan_data, form_problem
from scheduler.plan import PlanError, parse_chat_plan

NOT_A_DURATION = '"soon" is not a duration like "90s", "10m", "1h30m", "2d", or a whole number'


def plan_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Patients in QI",
        "hashtag": "#WeDocs",
        "start": "2026-12-01T20:00:00",
        "timezone": "Europe/London",
        "duration": "60m",
        "questions": ["One?", "Two?"],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("interval", [8, "8", " 8 ", "8m", "480s"])
def test_chat_file_reads_a_bare_number_as_minutes(interval: object) -> None:
    plan = parse_chat_plan(plan_data(interval=interval, first_question="5m"))
    q1, q2 = plan.chat.questions
    assert q2.offset - q1.offset == timedelta(minutes=8)


def test_chat_file_names_the_key_of_a_bad_duration() -> None:
    with pytest.raises(PlanError) as info:
        parse_chat_plan(plan_data(interval="soon"))
    [problem] = info.value.problems
    assert problem.path == "interval"
    assert NOT_A_DURATION in problem.message


@pytest.mark.parametrize("value", [5, "5", "5m", "300s"])
def test_config_reads_a_bare_number_as_minutes(value: object) -> None:
    config = config_from_dict({"scheduler": {"wrapup_lead": value}}, source="c.toml")
    assert config.scheduler.wrapup_lead == timedelta(minutes=5)


def test_config_names_the_key_of_a_bad_duration() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"scheduler": {"reminders": ["1h", "soon"]}}, source="c.toml")
    assert str(info.value).startswith(f"c.toml: scheduler.reminders[1]: {NOT_A_DURATION}")


@pytest.mark.parametrize(("text", "minutes"), [("15", 15), ("15m", 15), ("1h30m", 90), ("2h", 120)])
def test_cli_extend_takes_a_duration(text: str, minutes: int) -> None:
    assert build_parser().parse_args(["extend", "wedocs", text]).minutes == minutes


@pytest.mark.parametrize(
    ("text", "why"), [("soon", NOT_A_DURATION), ("90s", "must be whole minutes, not 1m30s")]
)
def test_cli_extend_names_the_argument_and_the_problem(
    text: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["extend", "wedocs", text])
    assert info.value.code == 2
    assert f"tweetchat extend: error: argument DURATION: {why}" in capsys.readouterr().err


def test_cli_extend_15m_extends_a_live_chat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tweetchat extend CHAT 15m` was refused with "invalid int value"."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    store = Store(tmp_path / "t.db")
    store.add_chat(
        Chat(
            id="wedocs-live",
            title="T",
            hashtag="#WeDocs",
            start=start,
            end=start + timedelta(hours=1),
            timezone="UTC",
            questions=(Question(1, "One?", timedelta(minutes=30)),),
            status=ChatStatus.LIVE,
        )
    )
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'database = "{tmp_path / "t.db"}"\n', encoding="utf-8")
    assert main(["--config", str(config), "extend", "wedocs-live", "15m"]) == 0
    assert "Extended by 15 min" in capsys.readouterr().out
    store = Store(tmp_path / "t.db")
    try:
        assert store.get_chat("wedocs-live").end == start + timedelta(minutes=75)
    finally:
        store.close()


FORM = {"title": "T", "hashtag": "#WeDocs", "start": "2026-12-01 20:00", "questions": "A?\nB?"}


@pytest.mark.parametrize("interval", ["10", "10m", "600s"])
def test_discord_form_reads_a_bare_number_as_minutes(interval: str) -> None:
    data = form_plan_data(
        {**FORM, "interval": interval}, channel_id="1", host="discord:2", default_zone="UTC"
    )
    assert data["duration"] == "1800s"  # three intervals: two questions and the last answers
    plan = parse_chat_plan(data)
    assert plan.chat.questions[1].offset - plan.chat.questions[0].offset == timedelta(minutes=10)


def test_discord_form_names_the_field_of_a_bad_interval() -> None:
    data = form_plan_data(
        {**FORM, "interval": "soon"}, channel_id="1", host="discord:2", default_zone="UTC"
    )
    with pytest.raises(PlanError) as info:
        parse_chat_plan(data)
    messages = [form_problem(p) for p in info.value.problems]
    assert f"Question interval: {NOT_A_DURATION} of minutes" in messages
