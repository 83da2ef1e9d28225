"""Mastodon's post limit: how an instance counts (links 23, mentions without their domain),
the config behind it, and chat files checked against it when scheduled."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, config_from_dict, required_secrets
from bot.platforms.mastodon.limits import graphemes, mastodon_length, post_limit
from bot.platforms.registry import post_limits
from scheduler.plan import PlanError, parse_chat_plan


def load(data: dict[str, object]):  # type: ignore[no-untyped-def]
    return config_from_dict(data, source="config.toml", base_dir=Path("/srv/bot"))


def test_plain_text_counts_characters() -> None:
    assert mastodon_length("Q1: What helps? #WeDocs") == len("Q1: What helps? #WeDocs")


def test_a_link_counts_23_whatever_its_length() -> None:
    long = "https://example.org/" + "a" * 200
    assert mastodon_length(f"see {long} now") == len("see ") + 23 + len(" now")
    assert mastodon_length("http://x.io") == 23


def test_a_mention_counts_without_its_domain() -> None:
    assert mastodon_length("@ann@very.long.instance.example hi") == len("@ann hi")
    assert mastodon_length("@ann hi") == len("@ann hi")
    assert mastodon_length("mail me: ann@example.org") == len("mail me: ann@example.org")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e\u0301", 1),  # e + combining acute (NFC makes it one code point anyway)
        ("\U0001f44d\U0001f3fd", 1),  # thumbs up, medium skin tone
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", 1),  # family (ZWJ sequence)
        ("\U0001f1ec\U0001f1e7", 1),  # flag: GB
        ("\u2764\ufe0f", 1),  # heart with emoji presentation
        ("ab", 2),
    ],
)
def test_common_grapheme_clusters_count_once(text: str, expected: int) -> None:
    assert graphemes(text) == expected


@given(st.text(max_size=300))
@settings(max_examples=200)
def test_never_counts_more_than_code_points_plus_links(text: str) -> None:
    # Links may count more than they are long (23), everything else never more than its
    # code points: a safe upper bound of Mastodon's grapheme count.
    assert mastodon_length(text) <= len(text) + 23 * text.count("http")
    assert mastodon_length(text) >= 0


def test_limit_problem_names_mastodon_and_the_unit() -> None:
    problem = post_limit(20).problem("x" * 21)
    assert problem is not None
    assert "Mastodon" in problem and "21 characters as Mastodon counts them" in problem


def test_config_defaults() -> None:
    config = load({})
    m = config.mastodon
    assert (m.enabled, m.api_base_url, m.access_token_env) == (False, "", "MASTODON_ACCESS_TOKEN")
    assert (m.visibility, m.poll_interval, m.max_post_length, m.stream) == ("public", 30, 500, True)
    assert post_limits(config)["mastodon"].max_length == 500


def test_config_reads_the_section() -> None:
    config = load(
        {
            "mastodon": {
                "enabled": True,
                "api_base_url": "https://social.example/",
                "access_token_env": "MY_TOKEN",
                "visibility": "Unlisted",
                "poll_interval": 10,
                "max_post_length": 1000,
                "stream": False,
            }
        }
    )
    m = config.mastodon
    assert (m.api_base_url, m.visibility, m.max_post_length, m.stream) == (
        "https://social.example",
        "unlisted",
        1000,
        False,
    )
    assert required_secrets(config) == ("MY_TOKEN",)
    assert post_limits(config)["mastodon"].max_length == 1000


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"enabled": True}, "mastodon.api_base_url"),
        ({"api_base_url": "mastodon.social"}, "mastodon.api_base_url"),
        ({"visibility": "direct"}, "mastodon.visibility"),
        ({"poll_interval": 1}, "mastodon.poll_interval"),
        ({"max_post_length": 0}, "mastodon.max_post_length"),
        ({"access_token_env": "abc def"}, "mastodon.access_token_env"),
        ({"stream": "yes"}, "mastodon.stream"),
        ({"max_post_lenght": 400}, "mastodon.max_post_lenght"),
    ],
)
def test_bad_keys_are_named(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({"mastodon": section})
    assert f"config.toml: {key}:" in str(info.value)


def test_a_pasted_token_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load({"mastodon": {"access_token_env": "s3cr3t-t0ken value"}})
    assert "s3cr3t" not in str(info.value)


CHAT = """
title = "Fediverse QI"
hashtag = "#QIchat"
timezone = "Europe/London"
start = 2030-01-08T20:00:00
duration = "60m"
intro = "Hi"  # short: the intro (with the bot's line on how to answer) must fit 100 as well
questions = ["Short one?", "{long}"]
[[targets]]
platform = "mastodon"
"""


def test_chat_file_names_the_question_too_long_for_the_instance() -> None:
    config = load({"mastodon": {"max_post_length": 100}})
    text = CHAT.replace("{long}", "Why " * 30)
    with pytest.raises(PlanError) as info:
        parse_chat_plan(
            tomllib.loads(text),
            now=datetime(2029, 1, 1, tzinfo=UTC),
            post_limits=post_limits(config),
        )
    message = str(info.value)
    assert "questions[1]" in message and "too long for Mastodon" in message
    assert "at most 100" in message


def test_chat_file_fits_with_a_long_link() -> None:
    config = load({"mastodon": {"max_post_length": 100}})
    text = CHAT.replace("{long}", "Read https://example.org/" + "p" * 150 + " first?")
    chat = parse_chat_plan(
        tomllib.loads(text), now=datetime(2029, 1, 1, tzinfo=UTC), post_limits=post_limits(config)
    )
    chat = chat.chat
    assert chat.targets[0].platform == "mastodon" and chat.targets[0].channel == ""


def test_chat_file_refuses_a_mastodon_channel() -> None:
    text = CHAT.replace("{long}", "ok?") + 'channel = "general"\n'
    with pytest.raises(PlanError) as info:
        parse_chat_plan(tomllib.loads(text), now=datetime(2029, 1, 1, tzinfo=UTC))
    assert "targets[0].channel" in str(info.value) and "Mastodon has no channels" in str(info.value)
