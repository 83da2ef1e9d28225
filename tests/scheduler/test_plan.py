"""Chat files: loading, validation messages and their paths, and a fuzz of the loader."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.models import Target
from bot.platforms.x.length import post_limit as x_post_limit
from scheduler.plan import (
    PlanError,
    Problem,
    chat_id_for,
    load_chat_file,
    parse_chat_plan,
    parse_duration,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def local(*fields: int) -> datetime:
    """A TOML local date-time as tomllib gives it: naive, read in the file's timezone."""
    return datetime(*fields)  # noqa: DTZ001 - naive on purpose, like tomllib's value


def base() -> dict[str, Any]:
    return {
        "title": "Involving patients in QI",
        "hashtag": "WeDocs",
        "start": local(2026, 12, 1, 20, 0),
        "timezone": "Europe/London",
        "duration": "60m",
        "questions": [{"text": "How do you involve patients?"}, {"text": "What got in the way?"}],
    }


X_LIMITS = {"x": x_post_limit()}  # what bot.platforms.registry gives for the default config


def problems_of(data: dict[str, Any], **kwargs: Any) -> list[Problem]:
    with pytest.raises(PlanError) as info:
        parse_chat_plan(data, **kwargs)
    return info.value.problems


def with_(changes: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    data = base()
    data.update(copy.deepcopy(changes))
    for key in drop:
        del data[key]
    return data


# -- durations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(minutes=90)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1H 30M", timedelta(minutes=90)),
        (15, timedelta(minutes=15)),
        (0, timedelta(0)),
    ],
)
def test_parse_duration_reads_units_and_minutes(text: object, expected: timedelta) -> None:
    assert parse_duration(text, "interval") == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("10 minutes", 'is not a duration like "90s"'),
        ("", "is not a duration"),
        ("m", "is not a duration"),
        (1.5, "not a number (1.5)"),
        (True, "not a true/false value"),
        (-5, "must not be negative"),
        ("999999999d", "is too long (at most 366d)"),
        (2**62, "is too long"),
        ([1], "not a list"),
    ],
)
def test_parse_duration_rejects_with_one_problem_at_its_path(value: object, fragment: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_duration(value, "questions[2].offset")
    [problem] = info.value.problems
    assert problem.path == "questions[2].offset"
    assert fragment in problem.message


# -- a valid file ---------------------------------------------------------------------


def test_start_is_read_in_the_zone_and_stored_in_utc() -> None:
    chat = parse_chat_plan(with_({"start": local(2027, 7, 1, 20, 0)})).chat
    assert chat.start == datetime(2027, 7, 1, 19, 0, tzinfo=UTC)
    assert chat.timezone == "Europe/London"


def test_offset_datetime_and_iso_text_are_accepted() -> None:
    aware = parse_chat_plan(with_({"start": datetime(2026, 12, 1, 20, 0, tzinfo=UTC)})).chat
    text = parse_chat_plan(with_({"start": "2026-12-01 20:00"})).chat
    assert aware.start == text.start == datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def test_hashtag_is_normalised_with_hash() -> None:
    assert parse_chat_plan(base()).chat.hashtag == "#WeDocs"


def test_chat_id_comes_from_hashtag_and_local_date() -> None:
    # 00:30 local in Auckland is the previous day in UTC: the local date names the chat.
    plan = parse_chat_plan(
        with_({"start": local(2027, 1, 5, 0, 30), "timezone": "Pacific/Auckland"})
    )
    assert plan.chat.id == "wedocs-2027-01-05"
    assert chat_id_for("#WeDocs", local(2026, 12, 1, 20, 0)) == "wedocs-2026-12-01"


def test_question_offsets_default_to_first_question_then_interval() -> None:
    data = with_({"interval": "7m", "first_question": "5m", "questions": ["a", "b", "c"]})
    offsets = [q.offset for q in parse_chat_plan(data).chat.questions]
    assert offsets == [timedelta(minutes=m) for m in (5, 12, 19)]


def test_first_question_defaults_to_interval() -> None:
    data = with_({"interval": "8m"})
    assert parse_chat_plan(data).chat.questions[0].offset == timedelta(minutes=8)


def test_explicit_offset_restarts_the_cadence() -> None:
    data = with_({"questions": ["a", {"text": "b", "offset": "25m"}, "c"]})
    offsets = [q.offset for q in parse_chat_plan(data).chat.questions]
    assert offsets == [timedelta(minutes=m) for m in (10, 25, 35)]


def test_parts_become_lettered_questions_with_the_stem_before_part_a() -> None:
    data = with_(
        {"questions": ["a", {"text": "Two parts:", "parts": ["What worked?", "What not?"]}]}
    )
    questions = parse_chat_plan(data).chat.questions
    assert [(f"Q{q.key}", q.text) for q in questions] == [
        ("Q1", "a"),
        ("Q2a", "Two parts: What worked?"),
        ("Q2b", "What not?"),
    ]
    assert questions[1].offset == questions[2].offset


def test_end_gives_the_duration() -> None:
    chat = parse_chat_plan(with_({"end": local(2026, 12, 1, 21, 30)}, drop=("duration",))).chat
    assert chat.duration == timedelta(minutes=90)


def test_defaults_target_grace_and_reminders() -> None:
    plan = parse_chat_plan(base(), default_reminders=[timedelta(hours=1), timedelta(days=1)])
    assert plan.chat.targets == (Target("local", "main"),)
    assert plan.chat.grace == timedelta(minutes=30)
    assert plan.reminders == (timedelta(days=1), timedelta(hours=1))


def test_file_reminders_replace_the_default_and_sort_longest_first() -> None:
    plan = parse_chat_plan(
        with_({"reminders": ["10m", "24h"]}), default_reminders=[timedelta(hours=1)]
    )
    assert plan.reminders == (timedelta(hours=24), timedelta(minutes=10))


def test_targets_and_hosts_are_read() -> None:
    data = with_(
        {
            "targets": [{"platform": "Discord", "channel": 123456789012345678}, {"platform": "x"}],
            "hosts": ["@drjane", "discord:42"],
        }
    )
    chat = parse_chat_plan(data).chat
    assert chat.targets == (Target("discord", "123456789012345678"), Target("x", ""))
    assert chat.hosts == ("drjane", "discord:42")


def test_start_in_a_dst_gap_is_read_with_fold_0() -> None:
    # 01:30 does not exist in London on 28 Mar 2027: it is read as 01:30 GMT.
    chat = parse_chat_plan(with_({"start": local(2027, 3, 28, 1, 30)})).chat
    assert chat.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_ambiguous_start_is_the_first_of_the_two() -> None:
    # 01:30 happens twice in London on 31 Oct 2027; fold=0 is the BST one.
    chat = parse_chat_plan(with_({"start": local(2027, 10, 31, 1, 30)})).chat
    assert chat.start == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_future_start_passes_the_past_check() -> None:
    plan = parse_chat_plan(base(), now=datetime(2026, 11, 1, tzinfo=UTC))
    assert plan.chat.id == "wedocs-2026-12-01"


# -- every problem, with its path -----------------------------------------------------

VALIDATION_CASES: list[tuple[str, dict[str, Any], tuple[str, ...], str, str]] = [
    ("unknown key", {"titel": "x"}, (), "", 'unknown key "titel" (did you mean "title"?)'),
    ("missing title", {}, ("title",), "title", "missing"),
    ("empty title", {"title": "  "}, (), "title", "must not be empty"),
    ("title not text", {"title": 3}, (), "title", "expected text in quotes, not a number (3)"),
    ("bad hashtag", {"hashtag": "#we docs"}, (), "hashtag", "contains a space"),
    (
        "unknown zone",
        {"timezone": "Europe/Londn"},
        (),
        "timezone",
        'unknown time zone "Europe/Londn" (did you mean "Europe/London"?)',
    ),
    (
        "zone wrong case",
        {"timezone": "europe/london"},
        (),
        "timezone",
        '(did you mean "Europe/London"?)',
    ),
    ("missing zone", {}, ("timezone",), "timezone", "missing; give the IANA time zone"),
    ("zero interval", {"interval": "0m"}, (), "interval", "must be more than zero"),
    ("bad interval", {"interval": "often"}, (), "interval", '"often" is not a duration like'),
    ("zero duration", {"duration": 0}, (), "duration", "must be more than zero"),
    ("missing duration", {}, ("duration",), "duration", 'missing; give duration = "60m"'),
    (
        "end and duration",
        {"end": local(2026, 12, 1, 21, 0)},
        (),
        "end",
        "give either end or duration, not both",
    ),
    (
        "end before start",
        {"end": local(2026, 12, 1, 19, 0)},
        ("duration",),
        "end",
        "must be after start (2026-12-01 20:00)",
    ),
    ("missing start", {}, ("start",), "start", "missing; give the chat's local date and time"),
    (
        "start date only",
        {"start": date(2026, 12, 1)},
        (),
        "start",
        "needs a time as well as a date",
    ),
    ("start date text", {"start": "2026-12-01"}, (), "start", "needs a time as well as a date"),
    ("start time only", {"start": time(20, 0)}, (), "start", "needs a date as well as a time"),
    ("start junk", {"start": "next tuesday"}, (), "start", '"next tuesday" is not a date and time'),
    (
        "start far",
        {"start": local(9999, 12, 31, 23, 0)},
        (),
        "start",
        "year 9999 is out of range",
    ),
    ("no questions", {"questions": []}, (), "questions", "at least one question is needed"),
    ("missing questions", {}, ("questions",), "questions", "at least one question is needed"),
    ("question not table", {"questions": [5]}, (), "questions[0]", "expected a question table"),
    ("question no text", {"questions": [{"offset": "5m"}]}, (), "questions[0].text", "missing"),
    (
        "offsets decrease",
        {"questions": ["a", {"text": "b", "offset": "25m"}, "c", {"text": "d", "offset": "20m"}]},
        (),
        "questions[3].offset",
        "must be after questions[2] (35m)",
    ),
    (
        "offset after end",
        {"questions": [{"text": "a", "offset": "1h"}]},
        (),
        "questions[0].offset",
        "1h is not before the end of the chat (1h)",
    ),
    (
        "implicit after end",
        {"interval": "25m", "questions": ["a", "b", "c"]},
        (),
        "questions[2]",
        "would be asked at 1h15m, not before the end of the chat (1h)",
    ),
    (
        "one part",
        {"questions": [{"parts": ["only"]}]},
        (),
        "questions[0].parts",
        "expected a list of 2 to 26",
    ),
    (
        "empty part",
        {"questions": [{"parts": ["a", ""]}]},
        (),
        "questions[0].parts[1]",
        "expected the part's text",
    ),
    (
        "question key typo",
        {"questions": [{"txt": "a", "text": "b"}]},
        (),
        "questions[0]",
        'unknown key "txt" (did you mean "text"?)',
    ),
    ("reminder zero", {"reminders": ["0m"]}, (), "reminders[0]", "must be more than zero"),
    (
        "reminder seconds",
        {"reminders": ["90s"]},
        (),
        "reminders[0]",
        "must be whole minutes, not 1m30s",
    ),
    ("reminder twice", {"reminders": ["1h", "60m"]}, (), "reminders[1]", "1h is listed twice"),
    (
        "unknown platform",
        {"targets": [{"platform": "discrod", "channel": "1"}]},
        (),
        "targets[0].platform",
        'unknown platform "discrod" (did you mean "discord"?)',
    ),
    (
        "discord without id",
        {"targets": [{"platform": "discord", "channel": "general"}]},
        (),
        "targets[0].channel",
        "needs the Discord channel id",
    ),
    (
        "x channel",
        {"targets": [{"platform": "x", "channel": "main"}]},
        (),
        "targets[0].channel",
        "X has no channels",
    ),
    (
        "target twice",
        {"targets": [{"platform": "x"}, {"platform": "x"}]},
        (),
        "targets[1]",
        "is listed twice",
    ),
    ("no targets", {"targets": []}, (), "targets", "expected one or more [[targets]] tables"),
    ("host empty", {"hosts": ["@"]}, (), "hosts[0]", "expected a handle or platform:id"),
    (
        "too long for x",
        {"targets": [{"platform": "x"}], "questions": ["w" * 275]},
        (),
        "questions[0].text",
        "too long for X: 287 characters",
    ),
]


@pytest.mark.parametrize(
    ("changes", "drop", "path", "message"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[case[0] for case in VALIDATION_CASES],
)
def test_validation_names_the_problem_and_its_path(
    changes: dict[str, Any], drop: tuple[str, ...], path: str, message: str
) -> None:
    found = problems_of(with_(changes, drop), post_limits=X_LIMITS)
    assert any(p.path == path and message in p.message for p in found), found


def test_start_in_the_past_says_when_in_local_time() -> None:
    found = problems_of(
        with_({"start": local(2020, 1, 1, 20, 0)}), now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert found == [Problem("start", "2020-01-01 20:00 Europe/London is in the past")]


def test_every_problem_is_collected_at_once() -> None:
    data = with_({"titel": "x", "interval": "0m", "timezone": "Mars/Olympus"}, drop=("title",))
    paths = [p.path for p in problems_of(data)]
    assert paths == ["", "title", "timezone", "interval"]


def test_plan_error_text_lists_source_and_problems() -> None:
    with pytest.raises(PlanError) as info:
        parse_chat_plan(with_({"interval": "0m"}), source="wedocs.toml")
    assert str(info.value) == "wedocs.toml: 1 problem\n  interval: must be more than zero"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_chat_plan(base(), now=local(2026, 1, 1))


# -- files ----------------------------------------------------------------------------


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "chat.toml"
    path.write_text('title = "x"\nhashtag = "#WeDocs\n')
    with pytest.raises(PlanError) as info:
        load_chat_file(path)
    [problem] = info.value.problems
    assert problem.path == "line 2"
    assert problem.message.startswith("not valid TOML")


def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the file"):
        load_chat_file(tmp_path / "nope.toml")


def test_non_utf8_file_is_a_plan_error(tmp_path: Path) -> None:
    path = tmp_path / "chat.toml"
    path.write_bytes(b'title = "caf\xe9"\n')
    with pytest.raises(PlanError, match="not UTF-8"):
        load_chat_file(path)


def test_example_chat_file_loads() -> None:
    plan = load_chat_file(EXAMPLES / "wedocs.toml", now=datetime(2026, 11, 1, tzinfo=UTC))
    chat = plan.chat
    assert chat.id == "wedocs-2026-12-01"
    assert chat.duration == timedelta(hours=1)
    assert len({q.number for q in chat.questions}) == 6
    assert chat.intro and chat.closing
    assert plan.series is None


# -- fuzz -----------------------------------------------------------------------------

KEYS = [
    "title",
    "hashtag",
    "start",
    "end",
    "timezone",
    "duration",
    "interval",
    "first_question",
    "grace",
    "intro",
    "closing",
    "hosts",
    "reminders",
    "targets",
    "questions",
    "series",
    "text",
    "offset",
    "parts",
    "platform",
    "channel",
    "day",
    "day_of_week",
    "time",
    "months",
    "until",
    "count",
    "occurrence",
    "date",
    "skip",
    "id",
]
scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "10m",
            "1h30m",
            "#WeDocs",
            "Europe/London",
            "1st tue",
            "20:00",
            "x",
            "discord",
            "2027-01-05",
            "2027-01-05T20:00",
            "31",
            "feb",
            "-1m",
            "0",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), values, max_size=10))
def test_any_data_gives_a_plan_or_a_plan_error(data: dict[str, Any]) -> None:
    try:
        plan = parse_chat_plan(data, now=datetime(2026, 1, 1, tzinfo=UTC))
    except PlanError as e:
        assert e.problems
    else:
        assert plan.chat.questions


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_real_keys_over_a_valid_file_give_a_plan_or_a_plan_error(changes: dict[str, Any]) -> None:
    data = base()
    data.update(changes)
    try:
        parse_chat_plan(data)
    except PlanError as e:
        assert e.problems


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200) | st.text(alphabet="[]=.\"'#\n tq1:-T{},", max_size=80).map(str.encode)
)
def test_any_bytes_give_a_plan_or_a_plan_error(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "chat.toml"
    path.write_bytes(raw)
    try:
        load_chat_file(path)
    except PlanError as e:
        assert e.problems


# -- questions as X counts them ---------------------------------------------------------------

ON_X = {"targets": [{"platform": "x"}]}


def test_a_long_link_counts_as_a_short_one_on_x() -> None:
    # 300 characters, but X counts the link as 23: the question fits.
    link = "https://example.org/" + "a" * 260
    question = f"Read {link} first: what would you change?"
    assert len(question) > 280
    plan = parse_chat_plan(with_(ON_X | {"questions": [question]}), post_limits=X_LIMITS)
    assert plan.chat.questions[0].text == question


def test_non_latin_text_counts_double_on_x() -> None:
    # 150 characters that fit by len() are 300 as X counts them: refused when scheduled,
    # not when the question fails to post during the chat.
    (problem,) = problems_of(with_(ON_X | {"questions": ["患者" * 75]}), post_limits=X_LIMITS)
    assert problem.path == "questions[0].text"
    assert "too long for X: 312 characters as X counts them" in problem.message
    assert "at most 280" in problem.message


def test_the_configured_limit_is_used() -> None:
    question = "w" * 400
    (problem,) = problems_of(
        with_(ON_X | {"questions": [question]}), post_limits={"x": x_post_limit(300)}
    )
    assert "at most 300" in problem.message
    plan = parse_chat_plan(
        with_(ON_X | {"questions": [question]}), post_limits={"x": x_post_limit(25_000)}
    )
    assert plan.chat.questions[0].text == question


def test_questions_not_posted_on_x_have_no_length_limit() -> None:
    plan = parse_chat_plan(with_({"questions": ["患者" * 500]}))
    assert len(plan.chat.questions[0].text) == 1000
