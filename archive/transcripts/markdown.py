"""The Markdown transcript of a chat: headline figures, questions with their answers, people.

User text is escaped by :mod:`archive.transcripts.text` (re-exported here); each message
list is filled by :class:`archive.transcripts.lists.TranscriptLists`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from archive.highlights import Highlight
from archive.models import CapturedMessage, Chat
from archive.stats import ChatStats, question_times
from archive.transcripts import highlights as highlights_section
from archive.transcripts.lists import Block, TranscriptLists
from archive.transcripts.tables import Table, plain_cell, text_cell
from archive.transcripts.text import (
    NETWORK_NAMES,
    _lines,
    _plural,
    clock,
    day_label,
    delay_label,
    duration_label,
    escape_inline,
    escape_text,
    hidden_handles,
    time_range,
    utc_offset,
    zone_label,
)

_BAR = "█"
_BAR_WIDTH = 40

# -- rendering -------------------------------------------------------------------------


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
            f"| {q.label} | {clock(posted[q.key], zone) if q.key in posted else 'not posted'}"
            f" | {stats.answers_per_question.get(q.key, 0)}"
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
        if q.key not in posted:
            continue
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


def network_marks(chat: Chat, platforms: Iterable[str]) -> bool:
    """Whether a transcript marks each message with its network: the chat is on several
    (its targets, and ``platforms``, those of its undeleted messages)."""
    return len({t.platform for t in chat.targets} | set(platforms)) > 1


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
    highlights: Mapping[str, Sequence[Highlight]] | None = None,
) -> str:
    """The chat's transcript as Markdown (pure: the same inputs give the same text)."""
    hide = hidden_handles(messages, opted_out)
    lists = TranscriptLists(
        chat,
        hide=hide,
        opted_out=opted_out,
        network=network_marks(chat, stats.per_platform),
    )
    for m in messages:
        lists.add(m)
    return "".join(
        render_markdown_chunks(
            markdown_parts(
                chat,
                lists,
                stats,
                question_posted_at=question_posted_at,
                controls=controls,
                cost_note=cost_note,
                generated_at=generated_at,
                highlights=highlights,
                hide=hide,
            )
        )
    )


def render_markdown_chunks(
    parts: Iterable[str | Block], *, chunk_size: int = 1 << 16
) -> Iterator[str]:
    """The Markdown text of :func:`markdown_parts` in pieces of about ``chunk_size``
    characters, each ending with a line, so the transcript is never whole in memory."""
    buffer: list[str] = []
    size = 0
    blanks = 0  # blank lines held back: the document's trailing ones are dropped
    for line in parts:
        if not isinstance(line, str):  # a block (a list, a table): never empty, never last
            if blanks:
                buffer.append("\n" * blanks)
                blanks = 0
            yield "".join(buffer)
            buffer = []
            size = 0
            yield from line.md_chunks()
            continue
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


def markdown_parts(
    chat: Chat,
    lists: TranscriptLists,
    stats: ChatStats,
    *,
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    generated_at: datetime | None = None,
    highlights: Mapping[str, Sequence[Highlight]] | None = None,
    hide: Iterable[str] = (),
) -> Iterator[str | Block]:
    """The transcript's lines (without their newline), with each non-empty message list
    of ``lists`` (already filled) as one part of its own, where its items go; the
    ``highlights`` section (``hide``: handles redacted in it) comes before the summary."""
    zone = chat.zone
    posted = question_times(
        chat, question_posted_at or {}, stats.question_posted_at, stats.not_posted
    )

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
    out += highlights_section.markdown_lines(
        chat, highlights or {}, hide=hide, network=lists.network
    )

    out += [*_summary(stats, chat), ""]
    if chat.questions:
        out += [*_question_table(chat, stats, posted, zone), ""]

    yield from out
    out = []

    for q in chat.questions:
        answers = stats.answers_per_question.get(q.key, 0)
        answering = stats.participants_per_question.get(q.key, 0)
        out += [f"## {q.label} · {escape_inline(q.text)}", ""]
        went = posted.get(q.key)
        line = (
            f"*Went out at {clock(went, zone)} {zone_label(went.astimezone(zone))}"
            if went is not None
            else f"*Not posted ({escape_inline(stats.not_posted.get(q.key, 'never sent'))})"
        ) + f" · {_plural(answers, 'answer')} from {_plural(answering, 'participant')}"
        late_here = lists.late_count.get(q.key, 0)
        if late_here:
            line += f" ({late_here} late, listed under Late answers)"
        yield from [*out, line + "*", ""]
        out = []
        answer_list = lists.answers[q.key]
        yield answer_list if answer_list.count else "*No answers shown.*"
        yield ""

    if lists.others.count:
        yield from ["## Other messages", ""]
        yield lists.others
        yield ""

    if lists.late.count:
        yield from ["## Late answers", "", f"*After the close at {clock(chat.end, zone)}.*", ""]
        yield lists.late
        yield ""

    people = [c for c in stats.contributors if not c.hidden]
    hidden = [c for c in stats.contributors if c.hidden]
    if stats.contributors:
        rows = [
            [
                text_cell(c.name, " (host)" if c.host else "", empty="—"),
                ("@" + escape_inline(c.handle), "@" + " ".join(_lines(c.handle)))
                if c.handle
                else ("—", "—"),
                text_cell(NETWORK_NAMES.get(c.platform, c.platform)),
                plain_cell(f"{c.messages}"),
                plain_cell(f"{c.answers}"),
                plain_cell(
                    "first time"
                    if c.first_time
                    else f"returning ({_plural(c.earlier_chats, 'earlier chat')})"
                ),
            ]
            for c in people
        ]
        header = ["Name", "Handle", "Platform", "Messages", "Answers", "Taking part"]
        aligns = [":--", ":--", ":--", "--:", "--:", ":--"]
        if rows:  # rendered ahead, for the HTML: a row per participant
            out += ["## Participants", ""]
            yield from out
            out = []
            yield Table(header, aligns, rows)
        else:
            out += ["## Participants", "", "| " + " | ".join(header) + " |"]
            out.append("|" + "|".join(aligns) + "|")
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
