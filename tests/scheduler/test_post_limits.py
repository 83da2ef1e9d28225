"""Every post the bot makes for a chat fits every network it runs on, checked when the chat
is scheduled (issue 14: an intro Discord refused at the start; an X intro never checked)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import config_from_dict
from bot.platforms.registry import post_limits
from bot.platforms.x.length import post_limit as x_post_limit
from scheduler.plan import PlanError, Problem, parse_chat_plan
from tests.bot.helpers import config_file, tweetchat

LIMITS = post_limits(config_from_dict({}, base_dir=Path(".")))
ON_DISCORD = [{"platform": "discord", "channel": "123"}]
ON_X = [{"platform": "x"}]


def chat(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Involving patients in QI",
        "hashtag": "WeDocs",
        "start": datetime(2030, 12, 3, 20, 0),  # noqa: DTZ001 - a TOML local time
        "timezone": "Europe/London",
        "duration": "60m",
        "reminders": [],
        "questions": [{"text": "How do you involve patients?"}, {"text": "What got in the way?"}],
    }
    data.update(changes)
    return data


def problems(data: dict[str, Any], **options: Any) -> list[Problem]:
    with pytest.raises(PlanError) as caught:
        parse_chat_plan(data, post_limits=LIMITS, **options)
    return caught.value.problems


def sentence(n: int) -> str:
    return ("We met patients on the ward every week. " * (n // 40 + 1))[:n].rstrip() + "."


def test_an_intro_discord_would_refuse_is_refused_when_scheduled() -> None:
    (problem,) = problems(chat(targets=ON_DISCORD, intro=sentence(2405)))
    assert problem.path == "intro"
    assert problem.message.startswith("too long for Discord: 24")
    assert "characters with the line the bot adds on how to answer; at most 2000" in problem.message


def test_every_long_post_on_x_is_listed_with_its_field() -> None:
    found = problems(
        chat(
            targets=ON_X,
            intro=sentence(2300),
            closing=sentence(300),
            questions=[{"text": "Short?"}, {"text": sentence(290)}],
        )
    )
    assert [p.path for p in found] == ["questions[1].text", "intro", "closing"]
    assert all("too long for X" in p.message and "at most 280" in p.message for p in found)
    assert 'with "Transcript to follow." and the hashtag' in found[2].message


def test_a_title_too_long_for_a_reminder_names_the_reminder() -> None:
    (problem,) = problems(chat(targets=ON_X, title="T" * 240, intro="Hi", reminders=["24h"]))
    assert problem.path == "title"
    assert problem.message.startswith("the reminder 1d before the start is too long for X")


def test_a_post_that_fits_one_network_is_refused_for_another_it_also_runs_on() -> None:
    intro = sentence(600)  # fine on Discord, too long on X
    assert parse_chat_plan(chat(targets=ON_DISCORD, intro=intro), post_limits=LIMITS)
    (problem,) = problems(chat(targets=ON_DISCORD + ON_X, intro=intro))
    assert problem.path == "intro" and "too long for X" in problem.message


def test_the_wrap_up_is_checked_as_the_configured_lead_writes_it() -> None:
    # The wrap-up says how many minutes are left and carries the hashtag: it must fit too.
    narrow = {"x": x_post_limit(120)}  # [x] max_post_length = 120
    with pytest.raises(PlanError) as caught:
        parse_chat_plan(
            chat(targets=ON_X, hashtag="W" * 40, intro="Hi", closing="Bye"),
            post_limits=narrow,
            wrapup_lead=timedelta(minutes=5),
        )
    found = caught.value.problems
    (wrapup,) = [p for p in found if p.path == "hashtag"]
    assert "too long for X" in wrapup.message and "(the wrap-up the bot posts)" in wrapup.message


def test_a_series_date_with_its_own_long_intro_is_named() -> None:
    data = chat(
        targets=ON_X,
        series={
            "id": "wedocs-monthly",
            "day_of_week": "tue",
            "occurrence": [{"date": "2030-12-10", "intro": sentence(400)}],
        },
    )
    (problem,) = problems(data)
    assert problem.path == "series.occurrence[0].intro"
    assert "too long for X" in problem.message


def test_check_and_schedule_refuse_it_from_the_command_line(tmp_path: Path) -> None:
    config = config_file(tmp_path, extra="[discord]\nenabled = false\n")
    long_intro = sentence(2405)
    (tmp_path / "long.toml").write_text(
        'title = "Patients in QI"\nhashtag = "WeDocs"\nstart = 2030-12-03T20:00:00\n'
        'timezone = "Europe/London"\nduration = "60m"\nreminders = []\n'
        f'intro = "{long_intro}"\n'
        '[[targets]]\nplatform = "discord"\nchannel = "123"\n'
        '[[questions]]\ntext = "One?"\n',
        encoding="utf-8",
    )
    for command in ("check", "schedule"):
        result = tweetchat([command, "long.toml"], config)
        assert result.returncode == 2, result.stdout
        assert "intro: too long for Discord" in result.stderr
        assert "at most 2000" in result.stderr
    assert tweetchat(["chats"], config).stdout.startswith("No chats yet")


def test_problems_name_questions_as_hosts_number_them() -> None:
    order = chat(
        questions=[{"text": "First?", "offset": "20m"}, {"text": "Second?", "offset": "10m"}]
    )
    with pytest.raises(PlanError) as caught:
        parse_chat_plan(order, post_limits=LIMITS)
    assert "questions[1].offset (Q2): must be after Q1 (20m)" in str(caught.value)
    parts = chat(targets=ON_X, questions=[{"text": "One?"}, {"parts": ["Part a?", sentence(300)]}])
    with pytest.raises(PlanError) as caught:
        parse_chat_plan(parts, post_limits=LIMITS)
    assert "questions[1].parts[1] (Q2b): too long for X" in str(caught.value)


# -- split_long_posts: a long intro or closing as a thread (issue 14, item 1) --------------


def test_without_the_setting_a_long_intro_or_closing_names_the_setting() -> None:
    found = problems(chat(targets=ON_X, intro=sentence(600), closing=sentence(400)))
    assert [p.path for p in found] == ["intro", "closing"]
    for p in found:
        assert "too long for X" in p.message
        assert "or set split_long_posts = true to post it as a thread" in p.message


def test_with_the_setting_long_intros_and_closings_that_split_are_accepted() -> None:
    plan = parse_chat_plan(
        chat(
            targets=ON_DISCORD + ON_X,
            intro=sentence(2405),
            closing=sentence(900),
            split_long_posts=True,
        ),
        post_limits=LIMITS,
    )
    assert plan.chat.split_long_posts


def test_with_the_setting_questions_and_reminders_are_still_refused_whole() -> None:
    found = problems(
        chat(
            targets=ON_X,
            split_long_posts=True,
            title="T" * 240,
            reminders=["1h"],
            questions=[{"text": "Short?"}, {"text": sentence(290)}],
        )
    )
    assert [p.path for p in found] == ["questions[1].text", "title"]
    assert not any("split" in p.message for p in found)


def test_with_the_setting_a_sentence_longer_than_a_post_is_refused_and_named() -> None:
    endless = "Our guest tonight " + "and her colleagues " * 20 + "will join us"
    (problem,) = problems(
        chat(targets=ON_X, intro=f"Welcome. {endless}. Enjoy.", split_long_posts=True)
    )
    assert problem.path == "intro"
    assert problem.message.startswith("too long for X: ")
    assert "and it cannot be split into a thread: the sentence 'Our guest tonight" in (
        problem.message
    )
    assert problem.message.endswith("alone is 417 with its part number")


def test_the_setting_must_be_true_or_false() -> None:
    (problem,) = problems(chat(split_long_posts="yes"))
    assert problem.path == "split_long_posts"
    assert problem.message.startswith("expected true or false")


def test_check_and_schedule_accept_it_with_the_setting_and_the_store_keeps_it(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, extra="[discord]\nenabled = false\n")
    (tmp_path / "long.toml").write_text(
        'title = "Patients in QI"\nhashtag = "WeDocs"\nstart = 2030-12-03T20:00:00\n'
        'timezone = "Europe/London"\nduration = "60m"\nreminders = []\n'
        f'intro = "{sentence(2405)}"\nsplit_long_posts = true\n'
        '[[targets]]\nplatform = "discord"\nchannel = "123"\n'
        '[[questions]]\ntext = "One?"\n',
        encoding="utf-8",
    )
    for command in ("check", "schedule"):
        result = tweetchat([command, "long.toml"], config)
        assert result.returncode == 0, result.stderr
    from archive.store import Store

    store = Store(tmp_path / "db.sqlite")
    try:
        (stored,) = store.list_chats()
        assert stored.split_long_posts and len(stored.intro) > 2000
    finally:
        store.close()
