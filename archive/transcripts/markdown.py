"""The Markdown transcript of a chat: headline figures, questions with their answers, people.

User text (messages, names, handles, the chat's title and intro) is data, never markup:
``escape_text`` neutralises everything Markdown (Python-Markdown and CommonMark/GFM
viewers alike) would otherwise interpret, and http(s) URLs become links whose destination
is percent-encoded down to a safe character set.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol
from urllib.parse import quote, urlsplit

from archive.models import CapturedMessage, Chat, MessageKind
from archive.stats import ChatStats, participant_key, question_times

# Python-Markdown's backslash-escapable characters (plus '|' from the tables extension);
# '<', '>', '&' and '~' are not escapable there, so they become entities instead.
_BACKSLASH = frozenset("\\`*_{}[]()#+-.!|")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "~": "&#126;"}
_URL_RE = re.compile(r"https?://[^\s<>\"`\\]+", re.IGNORECASE)
# Characters that may stay unencoded in an emitted URL: none of them is special inside
# a link destination, in Python-Markdown or in CommonMark.
_URL_SAFE = "-._~:/?#@!$&*+,;=%"
_TRAILING_PUNCT = ".,;:!?'\"*_"
_BAR = "█"
_BAR_WIDTH = 40


def _dropped_chars() -> re.Pattern[str]:
    """A class of every control, format, private-use and surrogate character, except the
    tab (it becomes a space) and the zero-width joiners (they keep emoji sequences intact)."""
    ranges: list[tuple[int, int]] = []
    start = -1
    # Planes 3-13 hold no Cc/Cf/Co/Cs characters; skipping them keeps the import fast.
    for cp in itertools.chain(range(0x30000), range(0xE0000, 0x110000)):
        drop = chr(cp) not in "\t\u200c\u200d" and unicodedata.category(chr(cp)) in (
            "Cc",
            "Cf",
            "Co",
            "Cs",
        )
        if drop and start < 0:
            start = cp
        elif not drop and start >= 0:
            ranges.append((start, cp - 1))
            start = -1
        if cp in (0x2FFFF, 0x10FFFF) and start >= 0:
            ranges.append((start, cp))
            start = -1
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


_DROPPED_RE = _dropped_chars()
# Backslash escapes and entities in one translation table (str.translate is one C pass).
_ESCAPES = str.maketrans({**{ch: "\\" + ch for ch in _BACKSLASH}, **_ENTITIES})


def _clean_line(line: str) -> str:
    """Drop invisible and control characters from one line (Python-Markdown uses \\x02 and
    \\x03 as its own placeholders; bidi overrides would scramble the reading order)."""
    return _DROPPED_RE.sub("", line).replace("\t", " ").strip()


def _lines(text: str) -> list[str]:
    """The non-blank, cleaned lines of user text."""
    return [cleaned for line in text.splitlines() if (cleaned := _clean_line(line))]


def _escape_plain(text: str) -> str:
    escaped = text.translate(_ESCAPES)
    # A line of '=' under text would make a setext heading.
    return "&#61;" + escaped[1:] if escaped.startswith("=") else escaped


# A URL that percent-encoding leaves as it is and that is plainly http(s) with a host
# (most permalinks): safe_url returns it unchanged without the slower general path.
_PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9][A-Za-z0-9.\-]*(?:/[A-Za-z0-9\-._~/]*)?")


def safe_url(url: str) -> str | None:
    """The URL percent-encoded to a safe character set, or None unless it is http(s)."""
    if _PLAIN_URL_RE.fullmatch(url):
        return url
    return _safe_url_general(url)


def _safe_url_general(url: str) -> str | None:
    encoded = quote(url.strip(), safe=_URL_SAFE)
    try:
        parts = urlsplit(encoded)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return encoded


def _split_url(candidate: str) -> tuple[str, str]:
    """Split trailing punctuation (and unbalanced closing brackets) off a found URL."""
    url = candidate
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCT:
            url = url[:-1]
        elif last in ")]}" and url.count(last) > url.count({")": "(", "]": "[", "}": "{"}[last]):
            url = url[:-1]
        else:
            break
    return url, candidate[len(url) :]


def _escape_line(line: str) -> str:
    """Escape one line of user text, turning its http(s) URLs into safe links."""
    out = []
    pos = 0
    for match in _URL_RE.finditer(line):
        url, _rest = _split_url(match.group())
        safe = safe_url(url) if url else None
        if safe is None:
            continue
        out.append(_escape_plain(line[pos : match.start()]))
        # The link shows the URL as written; only its destination is percent-encoded.
        out.append(f"[{_escape_plain(url)}]({safe})")
        pos = match.start() + len(url)
    out.append(_escape_plain(line[pos:]))
    return "".join(out)


def escape_text(text: str, *, line_sep: str = "  \n") -> str:
    """Escape user text for Markdown; its lines are joined with ``line_sep``
    (hard line breaks by default), blank lines dropped."""
    return line_sep.join(_escape_line(line) for line in _lines(text))


def escape_inline(text: str) -> str:
    """Escape user text for one line (a heading, a table cell): no links, no breaks."""
    return " ".join(_escape_plain(line) for line in _lines(text))


def redact_handles(text: str, handles: Iterable[str]) -> str:
    """Replace ``@handle`` mentions of opted-out participants in someone else's text."""
    if "@" not in text:
        return text
    pattern = _handles_pattern(frozenset(handles))
    return text if pattern is None else pattern.sub("@(opted out)", text)


@functools.lru_cache(maxsize=64)
def _handles_pattern(handles: frozenset[str]) -> re.Pattern[str] | None:
    names = sorted({h.strip().lstrip("@") for h in handles if h.strip().lstrip("@")}, key=len)
    if not names:
        return None
    return re.compile(
        r"@(?:" + "|".join(re.escape(n) for n in reversed(names)) + r")(?![\w])", re.IGNORECASE
    )


def hidden_handles(messages: Iterable[CapturedMessage], opted_out: frozenset[str]) -> set[str]:
    """Handles of the opted-out participants among ``messages``."""
    return {
        m.author_handle for m in messages if m.author_handle and participant_key(m) in opted_out
    }


def visible(
    messages: Iterable[CapturedMessage], opted_out: frozenset[str]
) -> list[CapturedMessage]:
    """The messages a transcript shows: neither deleted nor from an opted-out participant."""
    return [m for m in messages if not m.deleted and participant_key(m) not in opted_out]


# -- time formatting -------------------------------------------------------------------


def utc_offset(moment: datetime) -> str:
    """``UTC+1``, ``UTC-3``, ``UTC+5:30``, ``UTC+0``."""
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, mins = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def zone_label(moment: datetime) -> str:
    """The zone's abbreviation (``GMT``, ``BST``), or the UTC offset when it has none."""
    name = moment.tzname() or ""
    return name if name and name[0] not in "+-" else utc_offset(moment)


def day_label(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y}"


def time_range(start: datetime, end: datetime, zone: tzinfo) -> str:
    """``Tue 1 Dec 2026, 20:00–21:00 GMT``, in ``zone``."""
    s, e = start.astimezone(zone), end.astimezone(zone)
    if s.date() != e.date():
        return (
            f"{day_label(s)}, {s:%H:%M} {zone_label(s)} – {day_label(e)}, {e:%H:%M} {zone_label(e)}"
        )
    if zone_label(s) != zone_label(e):  # a daylight-saving change inside the chat
        return f"{day_label(s)}, {s:%H:%M} {zone_label(s)}–{e:%H:%M} {zone_label(e)}"
    return f"{day_label(s)}, {s:%H:%M}–{e:%H:%M} {zone_label(s)}"


def clock(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%H:%M}"


def duration_label(delta: timedelta) -> str:
    """``1 h``, ``1 h 30 min``, ``45 min``."""
    minutes = round(delta.total_seconds() / 60)
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


def delay_label(delta: timedelta | None) -> str:
    """``45 s``, ``2 min 05 s``, or an em dash when there is none."""
    if delta is None:
        return "—"
    seconds = round(delta.total_seconds())
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


# -- rendering -------------------------------------------------------------------------


def _who(m: CapturedMessage) -> str:
    return _who_text(m.author_name, m.author_handle)


@functools.lru_cache(maxsize=4096)  # a chat has far fewer authors than messages
def _who_text(author_name: str, author_handle: str) -> str:
    name = escape_inline(author_name) or escape_inline(author_handle) or "Unknown"
    handle = escape_inline(author_handle)
    return f"**{name}**" + (f" @{handle}" if handle else "")


def message_anchor(platform: str, platform_id: str) -> str:
    """The fragment naming one message in a transcript: ``m-<platform>-<id>``."""
    return quote(f"m-{platform}-{platform_id}", safe="-_.")


NETWORK_NAMES = {"x": "X", "discord": "Discord", "local": "local", "mastodon": "Mastodon"}


def _message_item(
    m: CapturedMessage, zone: tzinfo, hide: set[str], prefix: str = "", *, network: bool = False
) -> str:
    meta = [_who(m), clock(m.created_at, zone)]
    if network:
        # A chat on several networks marks each message with the one it came from.
        meta.insert(1, escape_inline(NETWORK_NAMES.get(m.platform, m.platform)))
    if m.edited_at is not None:
        meta.append("edited")
    link = safe_url(m.permalink) if m.permalink else None
    if link:
        meta.append(f"[link]({link})")
    # An invisible anchor per message, so search results and shared links can point at it.
    head = f'<a id="{message_anchor(m.platform, m.platform_id)}"></a>'
    head += (prefix + " · " if prefix else "") + " · ".join(meta)
    body = escape_text(redact_handles(m.text, hide), line_sep="  \n  ")
    return f"- {head}" + (f"  \n  {body}" if body else "")


def _summary(stats: ChatStats, chat: Chat) -> list[str]:
    labels = {q.key: q.label for q in chat.questions}
    rows: list[tuple[str, str]] = [
        (
            "Participants",
            f"{stats.participants}"
            + (f" (incl. {_plural(stats.hosts, 'host')})" if stats.hosts else ""),
        ),
        ("First-time participants", f"{stats.first_time}"),
        ("Returning participants", f"{stats.returning}"),
        ("Messages", f"{stats.messages}"),
        (
            "Answers",
            f"{stats.answers}" + (f" ({stats.late_answers} late)" if stats.late_answers else ""),
        ),
        ("Comments", f"{stats.comments}"),
        ("Reposts", f"{stats.reposts}"),
        ("Hosts' share of messages", f"{stats.hosts_share:.0%}"),
    ]
    if stats.busiest_question:
        key = stats.busiest_question
        rows.append(
            (
                "Busiest question",
                f"{labels.get(key, 'Q' + key)} ({_plural(stats.answers_per_question[key], 'answer')})",
            )
        )
    if stats.per_platform:
        rows.append(
            (
                "Platforms",
                ", ".join(f"{escape_inline(p)} {n}" for p, n in stats.per_platform.items()),
            )
        )
    rows.append(("Edited / deleted", f"{stats.edits} / {stats.deletions}"))
    lines = ["## Summary", "", "| Figure | Value |", "|:--|--:|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return lines


def _question_table(
    chat: Chat, stats: ChatStats, posted: Mapping[str, datetime], zone: tzinfo
) -> list[str]:
    lines = [
        "| Question | Went out | Answers | Participants | Median first answer |",
        "|:--|:--|--:|--:|--:|",
    ]
    for q in chat.questions:
        lines.append(
            f"| {q.label} | {clock(posted[q.key], zone)} | {stats.answers_per_question.get(q.key, 0)}"
            f" | {stats.participants_per_question.get(q.key, 0)}"
            f" | {delay_label(stats.median_first_answer.get(q.key))} |"
        )
    return lines


def _activity(
    chat: Chat, stats: ChatStats, posted: Mapping[str, datetime], zone: tzinfo
) -> list[str]:
    per_minute = stats.activity_per_minute
    if not per_minute:
        return []
    span = len(per_minute)
    step = 1 if span <= 60 else 5 if span <= 300 else 15
    buckets: dict[int, int] = {}
    for minute, count in per_minute:
        start = (minute // step) * step
        buckets[start] = buckets.get(start, 0) + count
    peak = max(buckets.values())
    marks: dict[int, list[str]] = {}
    for q in chat.questions:
        went_out = (posted[q.key] - chat.start) // timedelta(minutes=step) * step
        marks.setdefault(went_out, []).append(q.label)
    marks.setdefault(chat.duration // timedelta(minutes=step) * step, []).append("close")
    labels = {start: " ".join(marks.get(start, [])) for start in buckets}
    label_width = max(len(label) for label in labels.values())
    lines = [
        "## Activity",
        "",
        f"Messages per {'minute' if step == 1 else f'{step} minutes'}"
        f" ({zone_label(chat.start.astimezone(zone))}), marked where the questions went out.",
        "",
        "```text",
    ]
    width = len(str(peak))
    for start, count in sorted(buckets.items()):
        at = clock(chat.start + timedelta(minutes=start), zone)
        bar = _BAR * (round(count * _BAR_WIDTH / peak) if peak else 0)
        if count and not bar:
            bar = "▏"
        lines.append(f"{at} {labels[start]:<{label_width}} {count:>{width}} {bar}".rstrip())
    lines.append("```")
    return lines


class MessageSource(Protocol):
    """Where a transcript's message lists come from: each call iterates afresh, in time
    order. Deleted and opted-out messages may be included; the renderer leaves them out."""

    def answers(self, key: str) -> Iterable[CapturedMessage]:
        """The on-time answers to question ``key``."""
        ...

    def late(self) -> Iterable[CapturedMessage]:
        """The late answers."""
        ...

    def others(self) -> Iterable[CapturedMessage]:
        """Answers, comments and host messages (those that answer none of the chat's
        questions are listed under Other messages)."""
        ...


class ListSource:
    """A :class:`MessageSource` over messages held in memory."""

    def __init__(self, chat: Chat, messages: Iterable[CapturedMessage]) -> None:
        keys = {q.key for q in chat.questions}
        self._on_time: dict[str, list[CapturedMessage]] = {k: [] for k in keys}
        self._late: list[CapturedMessage] = []
        self._other: list[CapturedMessage] = []
        for m in messages:
            if m.kind is MessageKind.ANSWER and any(k in keys for k in m.question_keys):
                if m.late:
                    self._late.append(m)
                else:
                    for k in dict.fromkeys(m.question_keys):
                        if k in self._on_time:
                            self._on_time[k].append(m)
            elif m.kind in (MessageKind.ANSWER, MessageKind.COMMENT, MessageKind.HOST):
                self._other.append(m)

    def answers(self, key: str) -> list[CapturedMessage]:
        return self._on_time.get(key, [])

    def late(self) -> list[CapturedMessage]:
        return self._late

    def others(self) -> list[CapturedMessage]:
        return self._other


def render_markdown(
    chat: Chat,
    messages: Sequence[CapturedMessage],
    stats: ChatStats,
    *,
    opted_out: frozenset[str] = frozenset(),
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    generated_at: datetime | None = None,
) -> str:
    """The chat's transcript as Markdown (pure: the same inputs give the same text)."""
    shown = visible(messages, opted_out)
    return "".join(
        render_markdown_chunks(
            chat,
            ListSource(chat, shown),
            stats,
            hide=hidden_handles(messages, opted_out),
            opted_out=opted_out,
            question_posted_at=question_posted_at,
            controls=controls,
            cost_note=cost_note,
            generated_at=generated_at,
        )
    )


def render_markdown_chunks(
    chat: Chat,
    source: MessageSource,
    stats: ChatStats,
    *,
    hide: set[str],
    opted_out: frozenset[str] = frozenset(),
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    generated_at: datetime | None = None,
    chunk_size: int = 1 << 16,
) -> Iterator[str]:
    """:func:`render_markdown`'s text in pieces of about ``chunk_size`` characters, each
    ending with a line; the message lists are pulled from ``source`` one at a time, so
    the transcript is never whole in memory. ``hide``: the opted-out handles to redact."""
    buffer: list[str] = []
    size = 0
    blanks = 0  # blank lines held back: the document's trailing ones are dropped
    for line in _markdown_lines(
        chat,
        source,
        stats,
        hide=hide,
        opted_out=opted_out,
        question_posted_at=question_posted_at,
        controls=controls,
        cost_note=cost_note,
        generated_at=generated_at,
    ):
        if not line:
            blanks += 1
            continue
        if blanks:
            buffer.append("\n" * blanks)
            blanks = 0
        buffer.append(line)
        buffer.append("\n")
        size += len(line)
        if size >= chunk_size:
            yield "".join(buffer)
            buffer = []
            size = 0
    if buffer:
        yield "".join(buffer)


def _markdown_lines(
    chat: Chat,
    source: MessageSource,
    stats: ChatStats,
    *,
    hide: set[str],
    opted_out: frozenset[str],
    question_posted_at: Mapping[str, datetime] | None,
    controls: Sequence[tuple[datetime, str]],
    cost_note: str,
    generated_at: datetime | None,
) -> Iterator[str]:
    zone = chat.zone
    posted = question_times(chat, question_posted_at or {}, stats.question_posted_at)
    keys = {q.key for q in chat.questions}

    def shown(messages: Iterable[CapturedMessage]) -> Iterator[CapturedMessage]:
        return (m for m in messages if not m.deleted and participant_key(m) not in opted_out)

    title = escape_inline(chat.title) or escape_inline(chat.hashtag)
    out: list[str] = [f"# {title}", ""]
    facts = [
        f"- **Hashtag:** {escape_inline(chat.hashtag)}",
        f"- **When:** {time_range(chat.start, chat.end, zone)} ({utc_offset(chat.start.astimezone(zone))})",
        f"- **Duration:** {duration_label(chat.duration)}"
        + (f", late answers until {clock(chat.grace_end, zone)}" if chat.grace else ""),
    ]
    if chat.hosts:
        facts.append(
            "- **Hosted by:** " + ", ".join("@" + escape_inline(h.lstrip("@")) for h in chat.hosts)
        )
    facts.append(f"- **Questions:** {len(chat.questions)}")
    out += [*facts, ""]
    if chat.intro.strip():
        out += ["> " + escape_text(chat.intro, line_sep="  \n> "), ""]

    out += [*_summary(stats, chat), ""]
    if chat.questions:
        out += [*_question_table(chat, stats, posted, zone), ""]

    several = len({t.platform for t in chat.targets} | set(stats.per_platform)) > 1
    late_count: dict[str, int] = {}
    any_late = False
    for m in shown(source.late()):
        if any(k in keys for k in m.question_keys):
            any_late = True
            for k in set(m.question_keys):
                late_count[k] = late_count.get(k, 0) + 1
    yield from out
    out = []

    for q in chat.questions:
        answers = stats.answers_per_question.get(q.key, 0)
        answering = stats.participants_per_question.get(q.key, 0)
        out += [f"## {q.label} · {escape_inline(q.text)}", ""]
        line = (
            f"*Went out at {clock(posted[q.key], zone)} {zone_label(posted[q.key].astimezone(zone))}"
            f" · {_plural(answers, 'answer')} from {_plural(answering, 'participant')}"
        )
        late_here = late_count.get(q.key, 0)
        if late_here:
            line += f" ({late_here} late, listed under Late answers)"
        yield from [*out, line + "*", ""]
        out = []
        empty = True
        for m in shown(source.answers(q.key)):
            empty = False
            yield _message_item(m, zone, hide, network=several)
        if empty:
            yield "*No answers shown.*"
        yield ""

    first_other = True
    for m in shown(source.others()):
        if m.kind is MessageKind.ANSWER and any(k in keys for k in m.question_keys):
            continue
        if m.kind not in (MessageKind.ANSWER, MessageKind.COMMENT, MessageKind.HOST):
            continue
        if first_other:
            yield from ["## Other messages", ""]
            first_other = False
        prefix = "Host" if m.kind is MessageKind.HOST else ""
        yield _message_item(m, zone, hide, prefix, network=several)
    if not first_other:
        yield ""

    if any_late:
        yield from ["## Late answers", "", f"*After the close at {clock(chat.end, zone)}.*", ""]
        labels = {q.key: q.label.replace("Q", "A", 1) for q in chat.questions}
        for m in shown(source.late()):
            if not any(k in keys for k in m.question_keys):
                continue
            prefix = "/".join(labels[k] for k in dict.fromkeys(m.question_keys) if k in labels)
            yield _message_item(m, zone, hide, prefix, network=several)
        yield ""

    people = [c for c in stats.contributors if not c.hidden]
    hidden = [c for c in stats.contributors if c.hidden]
    if stats.contributors:
        out += [
            "## Participants",
            "",
            "| Name | Handle | Platform | Messages | Answers | Taking part |",
            "|:--|:--|:--|--:|--:|:--|",
        ]
        for c in people:
            name = escape_inline(c.name) or "—"
            if c.host:
                name += " (host)"
            handle = "@" + escape_inline(c.handle) if c.handle else "—"
            taking = (
                "first time"
                if c.first_time
                else f"returning ({_plural(c.earlier_chats, 'earlier chat')})"
            )
            out.append(
                f"| {name} | {handle} | {escape_inline(NETWORK_NAMES.get(c.platform, c.platform))} | {c.messages} | {c.answers} | {taking} |"
            )
        out.append("")
        if hidden:
            n_msgs = sum(c.messages for c in hidden)
            out += [
                f"*Not shown: {_plural(len(hidden), 'participant')} who asked not to appear"
                f" ({_plural(n_msgs, 'message')}, counted in the totals above).*",
                "",
            ]

    out += _activity(chat, stats, posted, zone)
    if stats.activity_per_minute:
        out.append("")

    if stats.most_mentioned:
        out += ["## Most mentioned", "", "| Handle | Mentions |", "|:--|--:|"]
        out += [f"| @{escape_inline(h)} | {n} |" for h, n in stats.most_mentioned]
        out.append("")
    if stats.top_domains:
        out += ["## Most shared sites", "", "| Site | Links |", "|:--|--:|"]
        out += [f"| {escape_inline(d)} | {n} |" for d, n in stats.top_domains]
        out.append("")

    if controls:
        out += ["## Timeline", ""]
        for at, event in sorted(controls, key=lambda c: c[0]):
            out.append(f"- {clock(at, zone)} · {escape_inline(event)}")
        out.append("")

    footer = []
    if generated_at is not None:
        local = generated_at.astimezone(zone)
        footer.append(
            f"Generated {day_label(local)}, {local:%H:%M} {zone_label(local)}"
            f" ({generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
        )
    if cost_note.strip():
        footer.append(escape_inline(cost_note))
    if footer:
        out += ["---", "", "*" + " · ".join(footer) + "*", ""]
    yield from out
