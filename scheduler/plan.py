"""Chat plans: the host's chat file (TOML) read into a validated :class:`Chat`.

Validation reads the whole file and collects every problem with its place (``start``,
``questions[3].offset``...) before raising one :class:`PlanError`; whatever the file holds,
no other exception escapes. ``examples/wedocs.toml`` documents the format for hosts.

Times: ``start`` and ``end`` are read as wall-clock times in ``timezone`` unless they carry
their own offset, and are stored in UTC. A local time that falls in a daylight-saving gap or
overlap is read with ``fold=0`` (the clock as it was before the change): 01:30 on a London
spring-forward day is 01:30 GMT (02:30 BST); on the fall-back day it is the first 01:30 (BST).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from archive.hashtags import HashtagError, normalise_hashtag
from archive.i18n import DEFAULT_LANGUAGE, language_tag
from archive.labels import DEFAULT_LABELS, LabelError, Labels, label_letter
from archive.models import Chat, Question, Target, chat_id_for
from scheduler.durations import (
    EXAMPLE_START,
    MAX_DURATION,
    datetime_from,
    describe,
    duration_from,
    format_duration,
    quote,
    zone_from,
    zone_warning,
)
from scheduler.limits import PostLimit
from scheduler.series import ChatPlan, local_start, occurrence_chat, read_series
from scheduler.threads import SPLIT_KINDS, SPLIT_SETTING, split_problem
from scheduler.timeline import WRAPUP_LEAD, ActionKind, question_post, timeline

T = TypeVar("T")

TOP_KEYS = (
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
    "digest",
    SPLIT_SETTING,
    "language",
    "labels",
)
LABEL_KEYS = ("question", "answer")
QUESTION_KEYS = ("text", "offset", "parts")
TARGET_KEYS = ("platform", "channel")
PLATFORMS = ("local", "discord", "x", "mastodon", "bluesky")
DEFAULT_INTERVAL = timedelta(minutes=10)
DEFAULT_GRACE = timedelta(minutes=30)
MAX_QUESTIONS = 99
_PART_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a chat file, and where: ``questions[3].offset``, ``start``."""

    path: str
    message: str
    letter: str = "Q"  # the chat's question letter, to name questions as hosts number them

    def __str__(self) -> str:
        """``questions[3].offset (Q4): must be after Q3 (25m)``: the place in the file, and
        the question as hosts number it (the file's list counts from 0, hosts from Q1; a
        Welsh chat's from C1)."""
        message = _QUESTION_PLACE.sub(lambda m: _question_label(m, self.letter), self.message)
        if not self.path:
            return message
        found = _QUESTION_PLACE.search(self.path)
        where = f"{self.path} ({_question_label(found, self.letter)})" if found else self.path
        return f"{where}: {message}"


_QUESTION_PLACE = re.compile(r"questions\[(\d+)\](?:\.parts\[(\d+)\])?")


def _question_label(found: re.Match[str], letter: str = "Q") -> str:
    """``Q4`` for ``questions[3]``, ``Q3b`` for ``questions[2].parts[1]``."""
    part = found.group(2)
    sub = _PART_LETTERS[int(part)] if part is not None and int(part) < len(_PART_LETTERS) else ""
    return f"{letter}{int(found.group(1)) + 1}{sub}"


class PlanError(Exception):
    """A chat file that cannot be used; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Iterable[Problem], source: str = "<chat>") -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        lines = [f"{source}: {count} problem{'' if count == 1 else 's'}"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def parse_duration(value: object, path: str) -> timedelta:
    """Read a duration (``"90s"``, ``"10m"``, ``"1h30m"``, or whole minutes) or raise PlanError."""
    try:
        return duration_from(value)
    except ValueError as e:
        raise PlanError([Problem(path, str(e))]) from None


def load_chat_file(
    path: Path,
    *,
    default_reminders: Sequence[timedelta] = (),
    default_labels: Labels = DEFAULT_LABELS,
    now: datetime | None = None,
    post_limits: Mapping[str, PostLimit] | None = None,
    wrapup_lead: timedelta = WRAPUP_LEAD,
    default_language: str = DEFAULT_LANGUAGE,
) -> ChatPlan:
    """Read and validate a chat file. Raises PlanError (only) when it cannot be used."""
    source = str(path)

    def fail(where: str, message: str) -> PlanError:
        return PlanError([Problem(where, message)], source)

    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise fail("", f"cannot read the file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise fail("", f"not UTF-8 text (bad byte at position {e.start}); save as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = re.search(r"line (\d+)", str(e))
        raise fail(f"line {line.group(1)}" if line else "", f"not valid TOML: {e}") from None
    except RecursionError:
        raise fail("", "not valid TOML: nested too deeply") from None
    return parse_chat_plan(
        data,
        source=source,
        default_reminders=default_reminders,
        default_labels=default_labels,
        now=now,
        post_limits=post_limits,
        wrapup_lead=wrapup_lead,
        default_language=default_language,
    )


def parse_chat_plan(
    data: Mapping[str, object],
    *,
    source: str = "<chat>",
    default_reminders: Sequence[timedelta] = (),
    default_labels: Labels = DEFAULT_LABELS,
    now: datetime | None = None,
    post_limits: Mapping[str, PostLimit] | None = None,
    wrapup_lead: timedelta = WRAPUP_LEAD,
    default_language: str = DEFAULT_LANGUAGE,
) -> ChatPlan:
    """Validate parsed chat-file data, or raise one PlanError listing every problem.

    ``default_labels`` is the label convention of a file without a ``[labels]`` table (the
    config's ``[labels]``).

    ``now`` (aware) enables the "start is in the past" check and makes a series' plan chat
    the next one after ``now``. A series without ``start`` is looked up from ``now``, or from
    the system clock when ``now`` is not given. ``post_limits`` maps a platform name to its
    `PostLimit` (``bot.platforms.registry.post_limits``): every question post must fit the
    limit of each of the chat's networks, counted as that network counts, and so must every
    other post the bot makes for the chat (reminders, the intro and closing with what the bot
    adds, the wrap-up, which says how long is left: ``wrapup_lead``, the config's).
    ``default_language`` is the chat's language (a BCP 47 tag) when the file names none.
    """
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(data, Mapping):
        raise PlanError(
            [Problem("", f"expected a table of settings, not {describe(data)}")], source
        )
    reader = _Reader(data, now, post_limits or {}, wrapup_lead, default_language)
    plan = reader.read(default_reminders, default_labels)
    if reader.problems or plan is None:
        raise PlanError(reader.problems or [Problem("", "the chat file is incomplete")], source)
    return plan


# Where a problem with a post the bot makes is reported (the chat-file field it is made
# from), and what the count includes besides the host's words.
_POST_FIELDS = {
    ActionKind.REMIND: ("title", "(a reminder: the title, the start time and how to answer)"),
    ActionKind.INTRO: ("intro", "with the line the bot adds on how to answer"),
    ActionKind.WRAPUP: ("hashtag", "(the wrap-up the bot posts)"),
    ActionKind.CLOSE: ("closing", 'with "Transcript to follow." and the hashtag'),
}


class _Reader:
    """Reads one chat file's data, collecting problems instead of stopping at the first."""

    def __init__(
        self,
        data: Mapping[str, object],
        now: datetime | None,
        post_limits: Mapping[str, PostLimit],
        wrapup_lead: timedelta = WRAPUP_LEAD,
        default_language: str = DEFAULT_LANGUAGE,
    ) -> None:
        self.data = data
        self.default_language = default_language
        self.now = now
        self.post_limits = post_limits
        self.wrapup_lead = wrapup_lead
        self.problems: list[Problem] = []
        self.warnings: list[tuple[str, str]] = []
        self.letter = "Q"  # the question letter problems name questions with

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, self.letter))

    def read(
        self, default_reminders: Sequence[timedelta], default_labels: Labels = DEFAULT_LABELS
    ) -> ChatPlan | None:
        data = self.data
        self.check_keys(data, TOP_KEYS, "")
        labels = self.labels(default_labels)
        if labels is not None:
            self.letter = labels.question
        title = self.text(data, "title", "", required=True)
        hashtag = self.hashtag()
        zone = self.value(data, "timezone", "", zone_from)
        if zone is not None and (doubt := zone_warning(zone)) is not None:
            self.warnings.append(("timezone", doubt))
        if "timezone" not in data:
            self.add(
                "timezone", 'missing; give the IANA time zone of the chat, e.g. "Europe/London"'
            )
        interval = self.duration(data, "interval", "", default=DEFAULT_INTERVAL, positive=True)
        first = self.duration(data, "first_question", "", default=interval or DEFAULT_INTERVAL)
        grace = self.duration(data, "grace", "", default=DEFAULT_GRACE)
        language = self.value(data, "language", "", language_tag)
        if "language" not in data:
            language = self.default_language
        intro = self.text(data, "intro", "") or ""
        closing = self.text(data, "closing", "") or ""
        split = self.flag(data, SPLIT_SETTING, "")
        hosts = self.hosts()
        digest = self.digest()
        reminders = self.reminders(default_reminders)
        targets = self.targets()
        start = self.value(data, "start", "", lambda v: datetime_from(v, zone))
        length = self.length(start, zone)
        networks = dict.fromkeys(t.platform for t in targets or ())
        limits = [self.post_limits[n] for n in networks if n in self.post_limits]

        def read_questions(value: object, path: str) -> tuple[Question, ...] | None:
            return self.questions(
                value, path, interval, first, length, hashtag, limits, labels or default_labels
            )

        questions = read_questions(data.get("questions"), "questions")
        series, first_date = None, None
        if "series" in data:
            found = read_series(
                self,
                data["series"],
                zone=zone,
                start=start,
                hashtag=hashtag,
                questions=read_questions,
            )
            if found is not None:
                series, first_date = found
        elif "start" not in data:
            self.add(
                "start",
                f"missing; give the chat's local date and time, e.g. start = {EXAMPLE_START}",
            )
        elif start is not None and zone is not None and self.now is not None and start < self.now:
            self.add("start", f"{start.astimezone(zone):%Y-%m-%d %H:%M} {zone.key} is in the past")

        if series is not None and first_date is not None and zone is not None:
            start = local_start(first_date, series.time, zone)
        if (
            None
            in (title, hashtag, zone, start, length, questions, reminders, targets, hosts, language)
            or grace is None
            or labels is None
        ):
            return None
        assert title and hashtag and zone and start and length and questions  # for mypy
        assert reminders is not None and targets and hosts is not None and labels is not None
        assert language
        chat = Chat(
            id=chat_id_for(hashtag, start.astimezone(zone)),
            title=title,
            hashtag=hashtag,
            start=start,
            end=start + length,
            timezone=zone.key,
            questions=questions,
            intro=intro,
            closing=closing,
            grace=grace,
            targets=targets,
            hosts=hosts,
            digest=digest,
            split_long_posts=split,
            language=language,
            labels=labels,
        )
        if series is None or first_date is None:
            self.check_posts(chat, reminders, limits)
            if self.problems:
                return None
            return ChatPlan(chat=chat, reminders=reminders, warnings=tuple(self.warnings))
        series = dataclasses.replace(
            series, title=title, questions=questions, intro=intro, closing=closing
        )
        plan = ChatPlan(
            chat=chat, reminders=reminders, series=series, warnings=tuple(self.warnings)
        )
        plan = dataclasses.replace(plan, chat=occurrence_chat(plan, first_date))
        self.check_posts(plan.chat, reminders, limits)
        for i, override in enumerate(series.overrides):
            if not override.skip:
                self.check_posts(
                    occurrence_chat(plan, override.date),
                    reminders,
                    limits,
                    where=f"series.occurrence[{i}].",
                    fields=[f for f in ("title", "intro", "closing") if getattr(override, f)],
                )
        return None if self.problems else plan

    def check_posts(
        self,
        chat: Chat,
        reminders: Sequence[timedelta],
        limits: Sequence[PostLimit],
        *,
        where: str = "",
        fields: Sequence[str] | None = None,
    ) -> None:
        """Every post the bot makes for ``chat`` besides its questions (checked one by one as
        they are read) must fit each network's limit: reminders, the intro with the line the
        bot adds, the wrap-up, the closing with what the bot adds. With ``split_long_posts``
        the intro and the closing may be longer, as long as they can be split into a thread
        (`scheduler.threads`); without it, their problem says that setting exists. ``where``
        and ``fields`` place the problems of a series date's own title, intro or closing."""
        for action in timeline(chat, reminders=reminders, wrapup_lead=self.wrapup_lead):
            field, what = _POST_FIELDS.get(action.kind, ("", ""))
            if not field:
                continue
            if fields is not None and field not in fields:
                continue  # a series date that only inherits this post: checked once above
            splittable = action.kind in SPLIT_KINDS
            for limit in limits:
                problem = limit.problem(action.text, what=what)
                if problem is None:
                    continue
                if splittable and chat.split_long_posts:
                    unsplittable = split_problem(action.text, limit)
                    if unsplittable is None:
                        continue  # it goes out as a thread
                    problem = f"{problem}, and it cannot be split into a thread: {unsplittable}"
                elif splittable:
                    problem = (
                        f"{problem} (or set {SPLIT_SETTING} = true to post it as a thread, "
                        "split between sentences)"
                    )
                if action.kind == ActionKind.REMIND:
                    lead = format_duration(chat.start - action.at)
                    problem = f"the reminder {lead} before the start is {problem}"
                self.add(f"{where}{field}", problem)

    # -- single values ----------------------------------------------------------------

    def value(
        self, table: Mapping[str, object], key: str, path: str, parse: Callable[[object], T]
    ) -> T | None:
        """``parse(table[key])``, or None (with the problem noted) when absent or invalid."""
        if key not in table:
            return None
        try:
            return parse(table[key])
        except ValueError as e:
            self.add(_join(path, key), str(e))
            return None

    def flag(self, table: Mapping[str, object], key: str, path: str) -> bool:
        """A true/false setting (false when absent)."""
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.add(_join(path, key), f"expected true or false, not {describe(value)}")
            return False
        return value

    def check_keys(self, table: Mapping[str, object], known: Sequence[str], path: str) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.add(path, f"unknown key {quote(str(key))}{hint}")

    def text(
        self, table: Mapping[str, object], key: str, path: str, *, required: bool = False
    ) -> str | None:
        where = _join(path, key)
        if key not in table:
            if required:
                self.add(where, "missing")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.add(where, f"expected text in quotes, not {describe(value)}")
            return None
        if required and not value.strip():
            self.add(where, "must not be empty")
            return None
        return value.strip()

    def duration(
        self,
        table: Mapping[str, object],
        key: str,
        path: str,
        *,
        default: timedelta | None = None,
        positive: bool = False,
    ) -> timedelta | None:
        if key not in table:
            return default
        value = self.value(table, key, path, duration_from)
        if positive and value is not None and value <= timedelta(0):
            self.add(_join(path, key), "must be more than zero")
            return None
        return value

    def hashtag(self) -> str | None:
        raw = self.text(self.data, "hashtag", "", required=True)
        if raw is None:
            return None
        try:
            return normalise_hashtag(raw)
        except HashtagError as e:
            # capture's messages start "hashtag '#we docs' contains..."; the path says it already
            self.add("hashtag", str(e).removeprefix("hashtag ").strip())
            return None

    def length(self, start: datetime | None, zone: ZoneInfo | None) -> timedelta | None:
        """How long the chat lasts: ``duration``, or ``end`` - ``start``."""
        data = self.data
        if "duration" in data and "end" in data:
            self.add("end", "give either end or duration, not both")
            return None
        if "duration" in data:
            return self.duration(data, "duration", "", positive=True)
        if "end" not in data:
            self.add("duration", 'missing; give duration = "60m" (or an end time)')
            return None
        end = self.value(data, "end", "", lambda v: datetime_from(v, zone))
        if "start" not in data:
            self.add("end", 'needs start as well (or give duration = "60m" instead)')
        if end is None or start is None or zone is None:
            return None
        if end <= start:
            self.add("end", f"must be after start ({start.astimezone(zone):%Y-%m-%d %H:%M})")
            return None
        if end - start > MAX_DURATION:
            self.add("end", f"must be within {format_duration(MAX_DURATION)} of start")
            return None
        return end - start

    def digest(self) -> bool:
        """``digest = true``: at publishing, the top answer of each question is posted on
        the chat's networks (default false)."""
        value = self.data.get("digest", False)
        if not isinstance(value, bool):
            self.add("digest", f"expected true or false, not {describe(value)}")
            return False
        return value

    def labels(self, default: Labels) -> Labels | None:
        """The ``[labels]`` table: the question and answer letters, each defaulting to
        ``default``'s (``question = "Q"``, ``answer = "R"`` for a French chat)."""
        if "labels" not in self.data:
            return default
        table = self.data["labels"]
        if not isinstance(table, Mapping):
            self.add(
                "labels",
                f'expected a table like [labels] question = "Q", answer = "R"; '
                f"not {describe(table)}",
            )
            return None
        self.check_keys(table, LABEL_KEYS, "labels")
        letters: dict[str, str] = {}
        for key in LABEL_KEYS:
            if key not in table:
                letters[key] = getattr(default, key)
                continue
            try:
                letters[key] = label_letter(table[key], "")
            except LabelError as e:
                self.add(f"labels.{key}", str(e))
        if len(letters) != len(LABEL_KEYS):
            return None
        return Labels(letters["question"], letters["answer"])

    def hosts(self) -> tuple[str, ...] | None:
        value = self.data.get("hosts", [])
        if not isinstance(value, list):
            self.add(
                "hosts", f'expected a list like ["drjane", "discord:1234"], not {describe(value)}'
            )
            return None
        hosts: list[str] = []
        for i, item in enumerate(value):
            handle = item.strip().lstrip("@") if isinstance(item, str) else ""
            if not handle:
                self.add(f"hosts[{i}]", f"expected a handle or platform:id, not {describe(item)}")
            elif handle in hosts:
                self.add(f"hosts[{i}]", f"{quote(handle)} is listed twice")
            else:
                hosts.append(handle)
        return tuple(hosts)

    def reminders(self, default: Sequence[timedelta]) -> tuple[timedelta, ...] | None:
        if "reminders" not in self.data:
            return tuple(sorted(set(default), reverse=True))
        value = self.data["reminders"]
        if not isinstance(value, list):
            self.add("reminders", f'expected a list like ["24h", "1h"], not {describe(value)}')
            return None
        leads: list[timedelta] = []
        for i, item in enumerate(value):
            where = f"reminders[{i}]"
            try:
                lead = duration_from(item)
            except ValueError as e:
                self.add(where, str(e))
                continue
            if lead <= timedelta(0):
                self.add(where, "must be more than zero")
            elif lead.total_seconds() % 60:
                self.add(where, f"must be whole minutes, not {format_duration(lead)}")
            elif lead in leads:
                self.add(where, f"{format_duration(lead)} is listed twice")
            else:
                leads.append(lead)
        return tuple(sorted(leads, reverse=True))

    def targets(self) -> tuple[Target, ...] | None:
        if "targets" not in self.data:
            return (Target("local", "main"),)
        value = self.data["targets"]
        if not isinstance(value, list) or not value:
            self.add(
                "targets",
                "expected one or more [[targets]] tables with platform and channel"
                + ("" if isinstance(value, list) else f", not {describe(value)}"),
            )
            return None
        targets: list[Target] = []
        for i, item in enumerate(value):
            target = self.target(item, f"targets[{i}]")
            if target is not None and target in targets:
                self.add(f"targets[{i}]", "is listed twice")
            elif target is not None:
                targets.append(target)
        return tuple(targets) if len(targets) == len(value) else None

    def target(self, item: object, where: str) -> Target | None:
        if not isinstance(item, Mapping):
            self.add(where, f"expected a table with platform and channel, not {describe(item)}")
            return None
        self.check_keys(item, TARGET_KEYS, where)
        platform = (self.text(item, "platform", where, required=True) or "").lower()
        if platform and platform not in PLATFORMS:
            close = difflib.get_close_matches(platform, PLATFORMS, n=1, cutoff=0.6)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            self.add(
                f"{where}.platform",
                f"unknown platform {quote(platform)}{hint}; use one of {', '.join(PLATFORMS)}",
            )
            return None
        channel = item.get("channel", "")
        if isinstance(channel, int) and not isinstance(channel, bool):
            channel = str(channel)  # a Discord id written as a TOML integer
        if not isinstance(channel, str):
            self.add(f"{where}.channel", f"expected text in quotes, not {describe(channel)}")
            return None
        channel = channel.strip()
        if platform == "discord" and not (channel.isascii() and channel.isdecimal()):
            self.add(
                f"{where}.channel",
                'needs the Discord channel id: digits, like "123456789012345678"',
            )
            return None
        if platform == "x" and channel:
            self.add(
                f"{where}.channel", "X has no channels (the chat follows the hashtag); leave it out"
            )
            return None
        if platform in ("mastodon", "bluesky") and channel:
            self.add(
                f"{where}.channel",
                f"{'Mastodon' if platform == 'mastodon' else 'Bluesky'} has no channels "
                "(the chat follows the hashtag); leave it out",
            )
            return None
        if not platform:
            return None
        return Target(platform, channel or ("main" if platform == "local" else ""))

    # -- questions --------------------------------------------------------------------

    def questions(
        self,
        value: object,
        path: str,
        interval: timedelta | None,
        first: timedelta | None,
        length: timedelta | None,
        hashtag: str | None,
        limits: Sequence[PostLimit] = (),
        labels: Labels = DEFAULT_LABELS,
    ) -> tuple[Question, ...] | None:
        """The questions of a ``questions`` list; their offsets follow ``interval`` by default."""
        if value is None or value == []:
            self.add(path, "at least one question is needed")
            return None
        if not isinstance(value, list):
            self.add(
                path,
                f'expected [[questions]] tables, each with text = "..."; not {describe(value)}',
            )
            return None
        if len(value) > MAX_QUESTIONS:
            self.add(path, f"too many questions ({len(value)}; at most {MAX_QUESTIONS})")
            return None
        questions: list[Question] = []
        ok = True
        previous: tuple[str, timedelta] | None = None  # path and offset of the question before
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            table: Mapping[str, object]
            if isinstance(item, str):
                table = {"text": item}
            elif isinstance(item, Mapping):
                table = item
                self.check_keys(table, QUESTION_KEYS, where)
            else:
                self.add(
                    where, f'expected a question table with text = "...", not {describe(item)}'
                )
                ok, previous = False, None
                continue
            texts = self.question_texts(table, where)
            if i == 0:
                default = first
            else:
                default = previous[1] + interval if previous and interval else None
            offset = self.question_offset(table, where, default, previous, length)
            previous = None if offset is None else (where, offset)
            if texts is None or offset is None:
                ok = False
                continue
            letters = _PART_LETTERS if len(texts) > 1 else ""
            for n, text in enumerate(texts):
                q = Question(i + 1, text, offset, letters[n] if letters else "")
                post = question_post(q, hashtag, labels) if hashtag else ""
                for limit in limits:
                    problem = limit.problem(post, what="with the label and hashtag")
                    if problem is not None:  # noted; the chat is still built, so that the
                        # other posts are checked too and every problem is listed at once
                        self.add(f"{where}.parts[{n}]" if letters else f"{where}.text", problem)
                questions.append(q)
        return tuple(questions) if ok else None

    def question_texts(self, table: Mapping[str, object], where: str) -> list[str] | None:
        """The question's text, or its sub-parts' texts (a stem ``text`` goes before part a)."""
        has_parts = "parts" in table
        text = self.text(table, "text", where, required=not has_parts)
        if ("text" in table or not has_parts) and text is None:
            return None
        if not has_parts:
            return [text] if text else None
        parts = table["parts"]
        if not isinstance(parts, list) or not 2 <= len(parts) <= len(_PART_LETTERS):
            self.add(
                f"{where}.parts",
                f"expected a list of 2 to {len(_PART_LETTERS)} texts, "
                'like ["What worked?", "What would you change?"]',
            )
            return None
        texts: list[str] = []
        for n, part in enumerate(parts):
            if isinstance(part, str) and part.strip():
                texts.append(part.strip())
            else:
                self.add(f"{where}.parts[{n}]", f"expected the part's text, not {describe(part)}")
        if len(texts) != len(parts):
            return None
        if text:
            texts[0] = f"{text} {texts[0]}"
        return texts

    def question_offset(
        self,
        table: Mapping[str, object],
        where: str,
        default: timedelta | None,
        previous: tuple[str, timedelta] | None,
        length: timedelta | None,
    ) -> timedelta | None:
        explicit = "offset" in table
        # A None default follows a broken question or interval: that problem is already noted.
        offset = self.duration(table, "offset", where) if explicit else default
        if offset is None:
            return None
        if explicit and previous is not None and offset <= previous[1]:
            self.add(
                f"{where}.offset", f"must be after {previous[0]} ({format_duration(previous[1])})"
            )
            return None
        if length is not None and offset >= length:
            at, end = format_duration(offset), format_duration(length)
            if explicit:
                self.add(f"{where}.offset", f"{at} is not before the end of the chat ({end})")
            else:
                self.add(
                    where,
                    f"would be asked at {at}, not before the end of the chat ({end}); "
                    "give it an earlier offset, shorten interval or lengthen duration",
                )
            return None
        return offset


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
