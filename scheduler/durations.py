"""Time values as hosts write them in chat files: durations, date-times, dates, clock times, zones.

Durations: ``"90s"``, ``"10m"``, ``"1h30m"``, ``"2d"``, or a whole number of minutes
(``15`` or ``"15"``). :func:`duration_from` is the one duration parser of the project:
chat files, the config file, CLI arguments (``tweetchat extend CHAT 15m``) and the Discord
schedule form all read durations with it, so a bare number means minutes everywhere.

Pure helpers with no knowledge of chat files: they raise :class:`ValueError` with a message
that says what is wrong and what is expected; the plan loader prefixes the key's path.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Far beyond any sensible chat setting, and small enough that adding it to any date in the
# accepted range can never overflow `datetime`.
MAX_DURATION = timedelta(days=366)

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(
    r"\s*(?:(?P<d>\d{1,9})\s*d)?\s*(?:(?P<h>\d{1,9})\s*h)?"
    r"\s*(?:(?P<m>\d{1,9})\s*m)?\s*(?:(?P<s>\d{1,9})\s*s)?\s*",
    re.IGNORECASE | re.ASCII,
)
_MINUTES_RE = re.compile(r"\s*(\d{1,9})\s*", re.ASCII)
# Dates outside these years are typing slips; the bound also keeps every date sum in range.
FIRST_YEAR, LAST_YEAR = 1970, 2999
EXAMPLE_START = "2026-12-01T20:00:00"
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
EXPECTED = 'a duration like "90s", "10m", "1h30m", "2d", or a whole number of minutes'


def duration_from(value: object) -> timedelta:
    """Read one duration: text with units (``"90s"``, ``"10m"``, ``"1h30m"``, ``"2d"``; units
    d, h, m, s in that order, any case, ASCII digits) or a whole number of **minutes**, as an
    integer or as text (``15``, ``"15"``).

    Returns a timedelta of at least zero and at most :data:`MAX_DURATION`. Raises ValueError
    with a message that says what was wrong and what is expected (callers prefix where).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected {EXPECTED}, not {describe(value)}")
    if isinstance(value, str) and (bare := _MINUTES_RE.fullmatch(value)):
        value = int(bare.group(1))
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        seconds = value * 60
    else:
        match = _DURATION_RE.fullmatch(value)
        if not value.strip() or match is None:
            raise ValueError(f"{quote(value)} is not {EXPECTED}")
        seconds = sum(
            int(amount) * _UNIT_SECONDS[unit]
            for unit, amount in match.groupdict().items()
            if amount is not None
        )
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"is too long (at most {format_duration(MAX_DURATION)})")
    return timedelta(seconds=seconds)


def whole_minutes_from(value: object) -> int:
    """A duration as :func:`duration_from` reads it (``"15m"``, ``"1h30m"``, ``15``), in
    whole minutes: what a host types to extend a chat, on the CLI or on Discord. Raises
    ValueError naming the problem."""
    length = duration_from(value)
    minutes, rest = divmod(int(length.total_seconds()), 60)
    if rest:
        raise ValueError(f"must be whole minutes, not {format_duration(length)}")
    return minutes


def format_duration(delta: timedelta) -> str:
    """Write a duration the way hosts write them: ``1h30m``, ``25m``, ``90s`` -> ``1m30s``."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0m"
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{amount}{unit}"
        for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
        if amount
    ]
    return sign + "".join(parts)


def datetime_from(value: object, zone: ZoneInfo | None) -> datetime | None:
    """A date and time as an aware UTC instant: TOML local date-time (read in ``zone``),
    offset date-time, or ISO 8601 text. None when it is local and ``zone`` is unknown.

    A local time in a daylight-saving gap or overlap is read with ``fold=0``: the clock as it
    was before the change.
    """
    example = f"e.g. {EXAMPLE_START}"
    if isinstance(value, str):
        text = value.strip()
        if _is_iso_date(text):
            raise ValueError(f"needs a time as well as a date, {example}")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{quote(text)} is not a date and time, {example}") from None
    if isinstance(value, datetime):
        _check_year(value.year)
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        if zone is None:
            return None
        return value.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if isinstance(value, date):
        raise ValueError(f"needs a time as well as a date, {example}")
    if isinstance(value, time):
        raise ValueError(f"needs a date as well as a time, {example}")
    raise ValueError(f"expected a date and time, {example}; not {describe(value)}")


def date_from(value: object) -> date:
    """A calendar date: a TOML date or ``"2027-01-05"``."""
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{quote(text)} is not a date like 2027-01-05") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"expected a date like 2027-01-05 (no time), not {describe(value)}")
    _check_year(value.year)
    return value


def clock_time_from(value: object) -> time:
    """A local wall-clock time: a TOML local time or ``"20:00"``."""
    if isinstance(value, time) and value.tzinfo is None:
        return value.replace(microsecond=0)
    if isinstance(value, str) and (match := _CLOCK_RE.fullmatch(value.strip())):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(f'expected a local time like "20:00", not {describe(value)}')


def zone_from(value: object) -> ZoneInfo:
    """An IANA time zone; an unknown name gets a "did you mean" hint."""
    if not isinstance(value, str):
        raise ValueError(f'expected a time zone name like "Europe/London", not {describe(value)}')
    if value in zone_names():
        try:
            return ZoneInfo(value)
        except (OSError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            pass  # listed but unreadable: report it as unknown
    raise ValueError(f"unknown time zone {quote(value)}{_zone_hint(value)}")


# Zone names that are a fixed offset or an old abbreviation rather than a place: a chat
# "at 19:00 EST" in July is an hour off the clocks of Toronto and New York. The place a host
# most likely means, to suggest.
_NOT_A_PLACE = {
    "EST": "America/Toronto or America/New_York",
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST": "America/Denver (or America/Phoenix, which keeps MST all year)",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
    "HST": "Pacific/Honolulu",
    "CET": "Europe/Paris or Europe/Berlin",
    "MET": "Europe/Paris or Europe/Berlin",
    "EET": "Europe/Athens or Europe/Helsinki",
    "WET": "Europe/Lisbon",
    "GMT": "Europe/London (GMT in winter, BST in summer) or UTC",
    "Etc/GMT": "Europe/London (GMT in winter, BST in summer) or UTC",
    "Greenwich": "Europe/London (GMT in winter, BST in summer) or UTC",
}


def zone_warning(zone: ZoneInfo) -> str | None:
    """Why a zone that exists is probably not what the host meant (a fixed offset or an
    abbreviation instead of a place), with the IANA name to use; None for a place."""
    name = zone.key
    if name in _NOT_A_PLACE:
        place = _NOT_A_PLACE[name]
    elif name.startswith(("Etc/GMT+", "Etc/GMT-")):
        place = "the place's IANA name, e.g. Europe/London or America/Toronto"
    else:
        return None
    return (
        f"{quote(name)} is a fixed offset or abbreviation, not a place: its clock never "
        f"follows a place's daylight-saving changes; use {place}"
    )


@functools.cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone_hint(name: str) -> str:
    names = zone_names()
    by_lower = {n.lower(): n for n in names}
    if name.lower() in by_lower:
        return f' (did you mean "{by_lower[name.lower()]}"?)'
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ' (use an IANA name like "Europe/London")'


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"year {year} is out of range ({FIRST_YEAR}–{LAST_YEAR})")


def describe(value: object) -> str:
    """Name a TOML value's type for an error message: ``a number (1.5)``, ``a table``."""
    if isinstance(value, bool):
        return f"a true/false value ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"the text {quote(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({shorten(str(value))})"


def quote(text: str, limit: int = 40) -> str:
    """Quote user text in an error message, shortened so a huge value cannot flood it."""
    return '"' + shorten(text, limit) + '"'


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
