"""Bluesky's configuration, its post limit in graphemes, and chat files checked against it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import BlueskyConfig, ConfigError, config_from_dict, required_secrets
from bot.platforms.bluesky.limits import count_graphemes, post_limit
from bot.platforms.registry import post_limits
from scheduler.plan import PlanError, parse_chat_plan
from tests.scheduler.test_plan import with_


def load(data: dict[str, object]) -> Any:
    return config_from_dict(data, source="config.toml", base_dir=Path("/srv/bot"))


def test_defaults() -> None:
    config = load({}).bluesky
    assert config == BlueskyConfig()
    assert (config.enabled, config.handle, config.app_password_env) == (
        False,
        "",
        "BLUESKY_APP_PASSWORD",
    )
    assert config.service == "https://bsky.social"
    assert config.jetstream == "wss://jetstream.us-east.bsky.network"
    assert (config.replay_window, config.max_post_length) == (timedelta(hours=36), 300)


def test_values_are_read() -> None:
    config = load(
        {
            "bluesky": {
                "enabled": True,
                "handle": "@WeDocs.bsky.social",
                "app_password_env": "WEDOCS_BSKY",
                "service_url": "http://127.0.0.1:8123/",
                "jetstream_url": "ws://127.0.0.1:8124",
                "replay_window": "2h",
                "search_page_size": 25,
                "idle_reconnect": 5,
                "profile_cache": "10m",
            }
        }
    ).bluesky
    assert config.handle == "wedocs.bsky.social"
    assert config.service == "http://127.0.0.1:8123"
    assert config.jetstream == "ws://127.0.0.1:8124"
    assert (config.replay_window, config.search_page_size) == (timedelta(hours=2), 25)
    assert required_secrets(load({"bluesky": {"enabled": True, "handle": "a.bsky.social"}})) == (
        "BLUESKY_APP_PASSWORD",
    )


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"enabled": True}, "bluesky.handle", "must be set when Bluesky is enabled"),
        ({"handle": "not a handle"}, "bluesky.handle", "must be a Bluesky handle"),
        ({"handle": "nodots"}, "bluesky.handle", "must be a Bluesky handle"),
        ({"app_password_env": "abcd-efgh-ijkl-mnop"}, "bluesky.app_password_env", "NAME"),
        ({"service_url": "bsky.social"}, "bluesky.service_url", "must be empty or a URL"),
        ({"jetstream_url": "https://jet.example"}, "bluesky.jetstream_url", "wss://"),
        ({"replay_window": "0s"}, "bluesky.replay_window", "longer than zero"),
        ({"search_page_size": 101}, "bluesky.search_page_size", "from 1 to 100"),
        ({"max_post_length": 0}, "bluesky.max_post_length", "from 1 to 3000"),
        ({"handel": "a.bsky.social"}, "bluesky.handel", "did you mean 'handle'?"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({"bluesky": table})
    assert info.value.key == key
    assert message in str(info.value)


def test_a_pasted_app_password_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load({"bluesky": {"app_password_env": "abcd-efgh-ijkl-mnop"}})
    assert "abcd" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "graphemes"),
    [
        ("hello", 5),
        ("e\u0301", 1),  # e + combining acute accent
        ("👩‍👩‍👧‍👦", 1),  # a family joined by ZWJs
        ("🇬🇧🇫🇷", 2),  # two flags (regional indicator pairs)
        ("患者", 2),
        ("\r\n", 1),
    ],
)
def test_graphemes_are_counted_as_bluesky_counts(text: str, graphemes: int) -> None:
    assert count_graphemes(text) == graphemes


def test_the_limit_is_300_graphemes_not_code_points() -> None:
    limit = post_limit()
    assert limit.problem("👩‍👩‍👧‍👦" * 300) is None  # 2,100 code points, 300 graphemes
    problem = limit.problem("a" * 301)
    assert problem == (
        "too long for Bluesky: 301 graphemes (characters as Bluesky counts them); at most 300"
    )


def test_the_registry_gives_the_configured_limit() -> None:
    limits = post_limits(load({"bluesky": {"max_post_length": 250}}))
    assert limits["bluesky"].max_length == 250
    assert limits["bluesky"].network == "Bluesky"


ON_BLUESKY = {"targets": [{"platform": "bluesky"}]}


def test_a_question_over_300_graphemes_is_refused_when_scheduled_and_named() -> None:
    limits = post_limits(load({}))
    questions = ["How do you involve patients?", "w" * 290, "What would you change?"]
    with pytest.raises(PlanError) as info:
        parse_chat_plan(with_(ON_BLUESKY | {"questions": questions}), post_limits=limits)
    (problem,) = info.value.problems
    assert problem.path == "questions[1].text"
    assert "too long for Bluesky: 302 graphemes" in problem.message  # "Q2: " + text + tag
    assert "with the label and hashtag" in problem.message


def test_emoji_questions_that_fit_in_graphemes_are_accepted() -> None:
    question = "Which of these fits your team? " + "👩‍⚕️" * 200
    limits = post_limits(load({}))
    plan = parse_chat_plan(with_(ON_BLUESKY | {"questions": [question]}), post_limits=limits)
    assert plan.chat.questions[0].text == question


def test_bluesky_targets_take_no_channel() -> None:
    with pytest.raises(PlanError) as info:
        parse_chat_plan(with_({"targets": [{"platform": "bluesky", "channel": "x"}]}))
    assert any("Bluesky has no channels" in p.message for p in info.value.problems)
