"""Recurring chats: the ``[series]`` table, its rule, and the concrete chats it gives.

Dates are walked with APScheduler's :class:`CronTrigger` in the chat's zone; each start is
then built as the *local wall-clock* time on that date, so a chat at 20:00 in London stays
at 20:00 local across daylight-saving changes (its UTC instant moves by an hour).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from archive.models import Chat, Question, chat_id_for
from scheduler.durations import clock_time_from, date_from, describe, quote, shorten

T = TypeVar("T")

SERIES_KEYS = ("id", "day", "day_of_week", "time", "months", "until", "count", "occurrence")
OCCURRENCE_KEYS = ("date", "title", "questions", "intro", "closing", "skip")
MAX_COUNT = 1000
# How far ahead to look for a series' next date before deciding it never comes: covers
# 29 February across the non-leap year 2100.
SEARCH_HORIZON = timedelta(days=9 * 366)
# Dates are walked at local noon: no zone changes its clocks at noon, so the date of each
# fire time is exactly the date the rule picked.
_PROBE_HOUR = 12
_CRON_EXAMPLES = {
    "day": '"1st tue", "15", "last fri"',
    "day_of_week": '"wed", "mon-fri"',
    "months": '"*", "1-6", "jan,jul"',
}


@dataclass(frozen=True, slots=True)
class SeriesOccurrence:
    """A per-date override: other questions, title, intro or closing for one date, or a skip."""

    date: date
    title: str | None = None
    questions: tuple[Question, ...] | None = None
    intro: str | None = None
    closing: str | None = None
    skip: bool = False


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """The rule of a recurring chat, in the chat's local time, and its default content.

    ``day``, ``day_of_week`` and ``months`` are APScheduler cron fields; when both ``day`` and
    ``day_of_week`` are given a date must match both. ``count`` counts the dates of the series
    from ``first`` on, skipped dates included.
    """

    id: str
    time: time
    day: str = ""
    day_of_week: str = ""
    months: str = "*"
    first: date | None = None  # the first date (the date of the file's `start`), if any
    until: date | None = None  # last possible date, inclusive
    count: int | None = None
    overrides: tuple[SeriesOccurrence, ...] = ()
    title: str = ""  # defaults for the dates without an override
    questions: tuple[Question, ...] = ()
    intro: str = ""
    closing: str = ""

    def override_for(self, day: date) -> SeriesOccurrence | None:
        return next((o for o in self.overrides if o.date == day), None)

    def rule(self) -> str:
        """The rule as the host wrote it, for messages: ``day = "1st tue"``."""
        fields = (("day", self.day), ("day_of_week", self.day_of_week), ("months", self.months))
        return ", ".join(f'{name} = "{value}"' for name, value in fields if value and value != "*")


def make_trigger(spec: SeriesSpec, zone: ZoneInfo) -> CronTrigger:
    """The cron trigger that picks the series' dates. Raises ValueError for bad cron fields."""
    fields = {"month": spec.months or "*"}
    if spec.day:
        fields["day"] = spec.day
    if spec.day_of_week:
        fields["day_of_week"] = spec.day_of_week
    return CronTrigger(hour=_PROBE_HOUR, minute=0, second=0, timezone=zone, **fields)


def series_dates(spec: SeriesSpec, zone: ZoneInfo, *, from_date: date) -> Iterator[date]:
    """The series' dates from ``from_date`` on, within ``first``, ``until`` and ``count``.

    Skipped dates are included: callers decide what a skip means. Stops when the rule gives no
    date within :data:`SEARCH_HORIZON` of the last one.
    """
    trigger = make_trigger(spec, zone)
    if spec.count is not None and spec.first is not None:
        cursor = spec.first  # count from the first date, whatever from_date is
    else:
        cursor = from_date if spec.first is None else max(spec.first, from_date)
    seen = 0
    while spec.until is None or cursor <= spec.until:
        found = _next_date(trigger, zone, cursor)
        if found is None or (spec.until is not None and found > spec.until):
            return
        seen += 1
        if spec.count is not None and seen > spec.count:
            return
        if found >= from_date:
            yield found
        cursor = found + timedelta(days=1)


def _next_date(trigger: CronTrigger, zone: ZoneInfo, on_or_after: date) -> date | None:
    try:
        midnight = datetime.combine(on_or_after, time(0), tzinfo=zone)
        horizon = midnight + SEARCH_HORIZON
        fire = trigger.get_next_fire_time(None, midnight)
    except (OverflowError, ValueError):  # walked off the end of the calendar
        return None
    if fire is None or fire > horizon:
        return None
    result: date = fire.astimezone(zone).date()
    return result


def _local_date(at: datetime, zone: ZoneInfo, *, days_before: int = 0) -> date:
    """``at``'s date in ``zone`` minus ``days_before``, clamped at the ends of the calendar."""
    try:
        return at.astimezone(zone).date() - timedelta(days=days_before)
    except OverflowError:
        return date.min if at.year < 2 else date.max


def local_start(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time on a date.

    A time that does not exist that day (in the spring-forward gap) or exists twice (in the
    fall-back hour) is read with ``fold=0``: the clock as it was before the change. So 01:30
    on a London spring-forward day is 01:30 GMT (02:30 BST), and 01:30 on the fall-back day
    is the first 01:30 (BST).
    """
    local = datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).replace(fold=0)
    return local.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """A validated chat file: its chat (for a series, the next occurrence) and its settings."""

    chat: Chat
    reminders: tuple[timedelta, ...]  # lead times before the start, longest first
    series: SeriesSpec | None = None
    # Things that work but are likely not what the host meant ("EST" is UTC-5 all year),
    # as (path, message) pairs; shown by `check` and `schedule`, never a reason to refuse.
    warnings: tuple[tuple[str, str], ...] = ()


def occurrence_chat(plan: ChatPlan, day: date) -> Chat:
    """The concrete chat of a series on one date, with that date's override applied."""

    spec = plan.series
    if spec is None:
        raise ValueError("the plan has no series")
    zone = ZoneInfo(plan.chat.timezone)
    start = local_start(day, spec.time, zone)
    override = spec.override_for(day) or SeriesOccurrence(day)  # no override: the defaults
    return dataclasses.replace(
        plan.chat,
        id=chat_id_for(plan.chat.hashtag, start.astimezone(zone)),
        start=start,
        end=start + plan.chat.duration,
        series_id=spec.id,
        title=spec.title if override.title is None else override.title,
        questions=spec.questions if override.questions is None else override.questions,
        intro=spec.intro if override.intro is None else override.intro,
        closing=spec.closing if override.closing is None else override.closing,
    )


def occurrences(plan: ChatPlan, *, after: datetime, limit: int) -> list[Chat]:
    """The next ``limit`` chats of a series that start strictly after ``after``.

    Skipped dates are left out. A plan without a series gives its one chat if it starts
    after ``after``.
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    if limit <= 0:
        return []
    if plan.series is None:
        return [plan.chat] if plan.chat.start > after else []
    zone = ZoneInfo(plan.chat.timezone)
    # A day earlier: `after` may already be the next local day in the chat's zone.
    from_date = _local_date(after, zone, days_before=1)
    chats: list[Chat] = []
    for day in series_dates(plan.series, zone, from_date=from_date):
        override = plan.series.override_for(day)
        if override is not None and override.skip:
            continue
        chat = occurrence_chat(plan, day)
        if chat.start > after:
            chats.append(chat)
            if len(chats) >= limit:
                break
    return chats


# -- reading the [series] table ------------------------------------------------------


class FieldReader(Protocol):
    """What :func:`read_series` needs from the chat-file reader in ``scheduler.plan``."""

    @property
    def data(self) -> Mapping[str, object]: ...

    @property
    def now(self) -> datetime | None: ...

    @property
    def problems(self) -> Sequence[object]: ...

    def add(self, path: str, message: str) -> None: ...

    def check_keys(self, table: Mapping[str, object], known: Sequence[str], path: str) -> None: ...

    def text(
        self, table: Mapping[str, object], key: str, path: str, *, required: bool = False
    ) -> str | None: ...

    def value(
        self, table: Mapping[str, object], key: str, path: str, parse: Callable[[object], T]
    ) -> T | None: ...


def read_series(
    reader: FieldReader,
    value: object,
    *,
    zone: ZoneInfo | None,
    start: datetime | None,
    hashtag: str | None,
    questions: Callable[[object, str], tuple[Question, ...] | None],
) -> tuple[SeriesSpec, date] | None:
    """Read a ``[series]`` table: its rule, and the date of the plan's chat (the next one).

    Problems go to ``reader``; ``questions`` reads a questions list at a path.
    """
    if not isinstance(value, Mapping):
        reader.add("series", f"expected a [series] table, not {describe(value)}")
        return None
    before = len(reader.problems)
    reader.check_keys(value, SERIES_KEYS, "series")
    series_id = reader.text(value, "id", "series")
    if series_id is not None and not (series_id.isascii() and series_id.replace("-", "").isalnum()):
        reader.add("series.id", "use letters, digits and - only")
    fields = {name: _cron_field(reader, value, name) for name in _CRON_EXAMPLES}
    if "day" not in value and "day_of_week" not in value:
        reader.add("series", 'give day (e.g. "1st tue") or day_of_week (e.g. "wed")')
    at = _series_time(reader, value, start, zone)
    until = reader.value(value, "until", "series", date_from)
    count = _count(reader, value)
    overrides = _overrides(reader, value.get("occurrence", []), questions)
    if len(reader.problems) > before or None in (zone, hashtag, at, overrides):
        return None
    if "start" in reader.data and start is None:
        return None
    assert zone is not None and hashtag is not None and at is not None and overrides is not None
    spec = SeriesSpec(
        id=(series_id or hashtag.lstrip("#")).lower(),
        time=at,
        day=fields["day"] or "",
        day_of_week=fields["day_of_week"] or "",
        months=fields["months"] or "*",
        first=start.astimezone(zone).date() if start is not None else None,
        until=until,
        count=count,
        overrides=overrides,
    )
    return _check_series(reader, spec, zone)


def _cron_field(reader: FieldReader, table: Mapping[str, object], name: str) -> str | None:
    if name not in table:
        return None
    value = table[name]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # day = 15
    where, examples = f"series.{name}", _CRON_EXAMPLES[name]
    if not isinstance(value, str) or not value.strip():
        reader.add(where, f"expected a cron field like {examples}; not {describe(value)}")
        return None
    value = value.strip().lower()
    probe = SeriesSpec(
        id="probe",
        time=time(0),
        day=value if name == "day" else "",
        day_of_week=value if name == "day_of_week" else "",
        months=value if name == "months" else "*",
    )
    try:
        make_trigger(probe, ZoneInfo("UTC"))
    except Exception as e:
        reader.add(
            where,
            f"{quote(value)} is not a valid cron field ({shorten(str(e), 80)}); e.g. {examples}",
        )
        return None
    return value


def _series_time(
    reader: FieldReader, table: Mapping[str, object], start: datetime | None, zone: ZoneInfo | None
) -> time | None:
    """The chats' local time: ``series.time``, or the time of ``start`` (they must agree)."""
    from_start = None
    if start is not None and zone is not None:
        from_start = start.astimezone(zone).time().replace(tzinfo=None)
    if "time" not in table:
        if "start" not in reader.data:
            reader.add("series.time", 'missing; give the local time of the chats, e.g. "20:00"')
        return from_start
    at = reader.value(table, "time", "series", clock_time_from)
    if at is not None and from_start is not None and at != from_start:
        reader.add(
            "series.time",
            f"{at:%H:%M} differs from the time of start ({from_start:%H:%M}); give one of them",
        )
        return None
    return at


def _count(reader: FieldReader, table: Mapping[str, object]) -> int | None:
    if "count" not in table:
        return None
    value = table["count"]
    if isinstance(value, bool) or not isinstance(value, int):
        reader.add("series.count", f"expected a whole number of chats, not {describe(value)}")
    elif not 1 <= value <= MAX_COUNT:
        reader.add("series.count", f"must be between 1 and {MAX_COUNT}")
    elif "start" not in reader.data:
        reader.add("series.count", "needs start (the first chat of the series) to count from")
    else:
        return value
    return None


def _overrides(
    reader: FieldReader,
    value: object,
    questions: Callable[[object, str], tuple[Question, ...] | None],
) -> tuple[SeriesOccurrence, ...] | None:
    if not isinstance(value, list):
        reader.add(
            "series.occurrence", f"expected [[series.occurrence]] tables, not {describe(value)}"
        )
        return None
    result: list[SeriesOccurrence] = []
    seen: dict[date, str] = {}
    for i, item in enumerate(value):
        where = f"series.occurrence[{i}]"
        if not isinstance(item, Mapping):
            reader.add(where, f"expected a table with date = ..., not {describe(item)}")
            continue
        before = len(reader.problems)
        reader.check_keys(item, OCCURRENCE_KEYS, where)
        day = reader.value(item, "date", where, date_from)
        if "date" not in item:
            reader.add(f"{where}.date", "missing; give the date this entry is for, e.g. 2027-01-05")
        elif day is not None and day in seen:
            reader.add(f"{where}.date", f"{day} is already given in {seen[day]}")
        skip = item.get("skip", False)
        if not isinstance(skip, bool):
            reader.add(f"{where}.skip", f"expected true or false, not {describe(skip)}")
        asked = questions(item["questions"], f"{where}.questions") if "questions" in item else None
        title = reader.text(item, "title", where, required="title" in item)
        intro = reader.text(item, "intro", where)
        closing = reader.text(item, "closing", where)
        if len(reader.problems) == before and day is not None:
            seen[day] = where
            result.append(SeriesOccurrence(day, title, asked, intro, closing, skip is True))
    return tuple(result) if len(result) == len(value) else None


def _check_series(
    reader: FieldReader, spec: SeriesSpec, zone: ZoneInfo
) -> tuple[SeriesSpec, date] | None:
    """Check that the series occurs, and find the date of the plan's chat."""
    now = reader.now or datetime.now(UTC)  # only without a start: where to look from
    anchor = spec.first or _local_date(now, zone)
    open_ended = dataclasses.replace(spec, until=None, count=None)
    first = next(series_dates(open_ended, zone, from_date=anchor), None)
    if first is None:
        reader.add("series", f"never occurs: no date matches {spec.rule()}")
        return None
    if spec.first is not None and first != spec.first:
        reader.add(
            "start",
            f"{spec.first} is not a date of the series ({spec.rule()}); the next is {first}",
        )
        return None
    if spec.until is not None and spec.until < first:
        reader.add("series.until", f"{spec.until} is before the first date of the series ({first})")
        return None
    ok = True
    for i, entry in enumerate(spec.overrides):
        if next(series_dates(spec, zone, from_date=entry.date), None) != entry.date:
            reader.add(
                f"series.occurrence[{i}].date",
                f"{entry.date} is not a date of the series ({spec.rule()})",
            )
            ok = False
    if not ok:
        return None
    if reader.now is not None:
        anchor = max(anchor, _local_date(reader.now, zone, days_before=1))
    for day in series_dates(spec, zone, from_date=anchor):
        skipped = spec.override_for(day)
        if skipped is not None and skipped.skip:
            continue
        if reader.now is not None and local_start(day, spec.time, zone) <= reader.now:
            continue
        return spec, day
    if reader.now is not None:
        reader.add(
            "series", f"has no dates left after {reader.now.astimezone(zone):%Y-%m-%d %H:%M}"
        )
    else:
        reader.add("series.occurrence", "every date of the series is skipped")
    return None
