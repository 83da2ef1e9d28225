"""Recurring series: dates from the cron rule, local wall-clock times across DST, overrides."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.plan import ChatPlan, PlanError, load_chat_file, parse_chat_plan
from scheduler.series import local_start, occurrences

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AFTER = datetime(2026, 12, 15, tzinfo=UTC)


def series_plan(series: dict[str, Any], **top: Any) -> ChatPlan:
    data: dict[str, Any] = {
        "title": "Monthly QI",
        "hashtag": "#WeDocs",
        "timezone": "Europe/London",
        "duration": "1h",
        "questions": ["What are you improving?", "How do you know?"],
        "series": copy.deepcopy(series),
    }
    data.update(top)
    return parse_chat_plan(data, now=AFTER)


def problems_of(series: dict[str, Any], **top: Any) -> list[tuple[str, str]]:
    with pytest.raises(PlanError) as info:
        series_plan(series, **top)
    return [(p.path, p.message) for p in info.value.problems]


def local_times(plan: ChatPlan, after: datetime, limit: int) -> list[datetime]:
    zone = ZoneInfo(plan.chat.timezone)
    return [c.start.astimezone(zone) for c in occurrences(plan, after=after, limit=limit)]


def test_first_tuesday_of_each_month() -> None:
    plan = series_plan({"day": "1st tue", "time": "20:00"})
    days = [
        c.start.astimezone(plan.chat.zone).date() for c in occurrences(plan, after=AFTER, limit=4)
    ]
    assert days == [date(2027, 1, 5), date(2027, 2, 2), date(2027, 3, 2), date(2027, 4, 6)]


def test_occurrence_ids_and_series_id() -> None:
    chats = occurrences(series_plan({"day": "1st tue", "time": "20:00"}), after=AFTER, limit=2)
    assert [c.id for c in chats] == ["wedocs-2027-01-05", "wedocs-2027-02-02"]
    assert {c.series_id for c in chats} == {"wedocs"}


def test_plan_chat_is_the_next_occurrence_after_now() -> None:
    plan = series_plan({"day_of_week": "wed", "time": "20:00"})
    assert plan.chat.id == "wedocs-2026-12-16"


@pytest.mark.parametrize(
    ("zone", "change_day"),
    [
        ("Europe/London", date(2027, 3, 28)),
        ("Europe/London", date(2027, 10, 31)),
        ("America/New_York", date(2027, 3, 14)),
        ("America/New_York", date(2027, 11, 7)),
    ],
)
def test_daily_chat_keeps_its_local_time_across_a_dst_change(zone: str, change_day: date) -> None:
    plan = series_plan({"day": "*", "time": "20:00"}, timezone=zone)
    after = datetime.combine(change_day - timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    before, on_change = occurrences(plan, after=after, limit=2)
    for chat in (before, on_change):
        local = chat.start.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (20, 0)
    assert on_change.start.astimezone(ZoneInfo(zone)).date() == change_day
    # Same wall clock, different offset: the UTC instants are 23 or 25 hours apart.
    assert abs(on_change.start - before.start - timedelta(days=1)) == timedelta(hours=1)


def test_weekly_chat_on_a_dst_change_day_moves_its_utc_instant() -> None:
    plan = series_plan({"day_of_week": "sun", "time": "20:00"})
    chats = occurrences(plan, after=datetime(2027, 3, 20, tzinfo=UTC), limit=2)
    assert [c.start for c in chats] == [
        datetime(2027, 3, 21, 20, 0, tzinfo=UTC),  # GMT
        datetime(2027, 3, 28, 19, 0, tzinfo=UTC),  # BST, the change day itself
    ]


def test_count_limits_the_dates_from_start() -> None:
    plan = series_plan(
        {"day": "1st tue", "count": 3}, start=datetime(2027, 1, 5, 20, 0, tzinfo=UTC)
    )
    assert [c.id for c in occurrences(plan, after=AFTER, limit=10)] == [
        "wedocs-2027-01-05",
        "wedocs-2027-02-02",
        "wedocs-2027-03-02",
    ]


def test_count_counts_dates_already_past() -> None:
    plan = series_plan(
        {"day": "1st tue", "count": 3}, start=datetime(2027, 1, 5, 20, 0, tzinfo=UTC)
    )
    later = datetime(2027, 2, 10, tzinfo=UTC)
    assert [c.id for c in occurrences(plan, after=later, limit=10)] == ["wedocs-2027-03-02"]


def test_until_is_the_last_possible_date() -> None:
    plan = series_plan({"day": "1st tue", "time": "20:00", "until": date(2027, 3, 2)})
    assert [c.id for c in occurrences(plan, after=AFTER, limit=10)][-1] == "wedocs-2027-03-02"
    assert len(occurrences(plan, after=AFTER, limit=10)) == 3


def test_months_field_limits_the_months() -> None:
    plan = series_plan({"day": "1st tue", "time": "20:00", "months": "jan,jul"})
    months = [c.start.month for c in occurrences(plan, after=AFTER, limit=3)]
    assert months == [1, 7, 1]


def test_override_replaces_title_and_questions_for_its_date_only() -> None:
    override = {"date": date(2027, 2, 2), "title": "Special", "questions": [{"text": "Only one"}]}
    plan = series_plan({"day": "1st tue", "time": "20:00", "occurrence": [override]})
    jan, feb, mar = occurrences(plan, after=AFTER, limit=3)
    assert (feb.title, [q.text for q in feb.questions]) == ("Special", ["Only one"])
    assert jan.title == mar.title == "Monthly QI"
    assert len(jan.questions) == len(mar.questions) == 2


def test_skipped_date_is_left_out() -> None:
    skip = {"date": date(2027, 2, 2), "skip": True}
    plan = series_plan({"day": "1st tue", "time": "20:00", "occurrence": [skip]})
    assert [c.id for c in occurrences(plan, after=AFTER, limit=2)] == [
        "wedocs-2027-01-05",
        "wedocs-2027-03-02",
    ]


def test_plan_without_series_gives_its_chat_once() -> None:
    plan = parse_chat_plan(
        {
            "title": "One-off",
            "hashtag": "WeDocs",
            "start": datetime(2027, 1, 5, 20, 0, tzinfo=UTC),
            "timezone": "Europe/London",
            "duration": "1h",
            "questions": ["Q"],
        }
    )
    assert occurrences(plan, after=AFTER, limit=5) == [plan.chat]
    assert occurrences(plan, after=plan.chat.start, limit=5) == []


def test_local_start_in_a_gap_uses_fold_0() -> None:
    start = local_start(date(2027, 3, 28), time(1, 30), ZoneInfo("Europe/London"))
    assert start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


# -- validation -----------------------------------------------------------------------

SERIES_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    (
        "never occurs",
        {"day": "31", "months": "feb", "time": "20:00"},
        {},
        "series",
        'never occurs: no date matches day = "31", months = "feb"',
    ),
    (
        "until before first",
        {"day": "1st tue", "until": date(2026, 12, 31)},
        {"start": datetime(2027, 1, 5, 20, 0, tzinfo=UTC)},
        "series.until",
        "2026-12-31 is before the first date of the series (2027-01-05)",
    ),
    (
        "bad day",
        {"day": "1st tus", "time": "20:00"},
        {},
        "series.day",
        '"1st tus" is not a valid cron field',
    ),
    (
        "bad weekday",
        {"day_of_week": "wednesday", "time": "20:00"},
        {},
        "series.day_of_week",
        "is not a valid cron field",
    ),
    ("no day", {"time": "20:00"}, {}, "series", 'give day (e.g. "1st tue") or day_of_week'),
    ("no time", {"day": "1st tue"}, {}, "series.time", "missing; give the local time"),
    (
        "bad time",
        {"day": "1st tue", "time": "25:00"},
        {},
        "series.time",
        'expected a local time like "20:00"',
    ),
    (
        "time differs from start",
        {"day": "1st tue", "time": "19:00"},
        {"start": datetime(2027, 1, 5, 20, 0, tzinfo=UTC)},
        "series.time",
        "19:00 differs from the time of start (20:00)",
    ),
    (
        "start not a series date",
        {"day": "1st tue"},
        {"start": datetime(2027, 1, 6, 20, 0, tzinfo=UTC)},
        "start",
        "2027-01-06 is not a date of the series",
    ),
    (
        "count without start",
        {"day": "1st tue", "time": "20:00", "count": 3},
        {},
        "series.count",
        "needs start",
    ),
    (
        "count zero",
        {"day": "1st tue", "count": 0},
        {"start": datetime(2027, 1, 5, 20, 0, tzinfo=UTC)},
        "series.count",
        "must be between 1 and 1000",
    ),
    (
        "override not a series date",
        {
            "day": "1st tue",
            "time": "20:00",
            "occurrence": [{"date": date(2027, 1, 6), "title": "x"}],
        },
        {},
        "series.occurrence[0].date",
        "2027-01-06 is not a date of the series",
    ),
    (
        "override twice",
        {
            "day": "1st tue",
            "time": "20:00",
            "occurrence": [{"date": date(2027, 1, 5)}, {"date": date(2027, 1, 5)}],
        },
        {},
        "series.occurrence[1].date",
        "2027-01-05 is already given in series.occurrence[0]",
    ),
    (
        "override bad question",
        {
            "day": "1st tue",
            "time": "20:00",
            "occurrence": [
                {"date": date(2027, 1, 5), "questions": [{"text": "a", "offset": "2h"}]}
            ],
        },
        {},
        "series.occurrence[0].questions[0].offset",
        "2h is not before the end of the chat (1h)",
    ),
    (
        "override key typo",
        {
            "day": "1st tue",
            "time": "20:00",
            "occurrence": [{"date": date(2027, 1, 5), "titel": "x"}],
        },
        {},
        "series.occurrence[0]",
        'unknown key "titel" (did you mean "title"?)',
    ),
    (
        "series key typo",
        {"day": "1st tue", "time": "20:00", "util": date(2027, 1, 1)},
        {},
        "series",
        'unknown key "util" (did you mean "until"?)',
    ),
    (
        "all dates past",
        {"day": "1st tue", "until": date(2026, 12, 1)},
        {"start": datetime(2026, 11, 3, 20, 0, tzinfo=UTC)},
        "series",
        "has no dates left after 2026-12-15 00:00",
    ),
]


@pytest.mark.parametrize(
    ("series", "top", "path", "message"),
    [case[1:] for case in SERIES_CASES],
    ids=[case[0] for case in SERIES_CASES],
)
def test_series_validation_names_the_problem_and_its_path(
    series: dict[str, Any], top: dict[str, Any], path: str, message: str
) -> None:
    found = problems_of(series, **top)
    assert any(p == path and message in m for p, m in found), found


def test_example_series_file_loads_with_its_override_and_skip() -> None:
    plan = load_chat_file(EXAMPLES / "wedocs-monthly.toml", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert plan.series is not None
    chats = occurrences(plan, after=datetime(2026, 12, 1, tzinfo=UTC), limit=20)
    ids = [c.id for c in chats]
    assert ids[0] == "wedocs-2027-01-05"
    assert "wedocs-2027-08-03" not in ids  # no chat in August
    assert "wedocs-2027-12-07" not in ids  # skipped
    march = chats[ids.index("wedocs-2027-03-02")]
    assert march.title.startswith("#WeDocs special")
    assert all(c.start.astimezone(c.zone).hour == 20 for c in chats)


def test_occurrences_at_the_end_of_the_calendar_are_none() -> None:
    plan = series_plan({"day": "1st tue", "time": "20:00"})
    assert occurrences(plan, after=datetime(9999, 12, 31, tzinfo=UTC), limit=3) == []


def test_now_at_the_start_of_the_calendar_still_finds_the_first_chat() -> None:
    data_start = datetime(2027, 1, 5, 20, 0, tzinfo=UTC)
    plan = parse_chat_plan(
        {
            "title": "Monthly QI",
            "hashtag": "#WeDocs",
            "timezone": "Europe/London",
            "start": data_start,
            "duration": "1h",
            "questions": ["Q"],
            "series": {"day": "1st tue"},
        },
        now=datetime(1, 1, 1, tzinfo=UTC),
    )
    assert plan.chat.start == data_start
