"""The Markdown transcript of a chat: headline figures, questions with their answers, people.

User text is escaped by :mod:`archive.transcripts.text` (re-exported here); each message
list is filled by :class:`archive.transcripts.lists.TranscriptLists`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from archive.groups import GroupMix
from archive.highlights import Highlight
from archive.hosts import shown_hosts
from archive.i18n import Translator, translator, utc_offset
from archive.models import CapturedMessage, Chat
from archive.stats import ChatStats, question_times
from archive.transcripts import highlights as highlights_section
from archive.transcripts.groupsfmt import groups_markdown
from archive.transcripts.lists import Block, Chunk, TranscriptLists, decoded
from archive.transcripts.tables import Table, plain_cell, text_cell
from archive.transcripts.text import (
    _lines,
    clock,
    day_label,
    delay_label,
    duration_label,
    escape_inline,
    escape_text,
    hidden_handles,
    network_name,
    question_anchor,
    time_range,
    zone_label,
)

_BAR = "█"
_BAR_WIDTH = 40

# -- rendering -------------------------------------------------------------------------


def _summary(stats: ChatStats, chat: Chat, tr: Translator) -> list[str]:
    labels = {q.key: chat.label(q) for q in chat.questions}
    n = tr.number
    rows: list[tuple[str, str]] = [
        (
            tr.pgettext("summary table", "Participants"),
            n(stats.participants)
            + (
                tr.gettext(" (incl. {hosts})").format(
                    hosts=tr.counted("{n} host", "{n} hosts", stats.hosts)
                )
                if stats.hosts
                else ""
            ),
        ),
        (tr.gettext("First-time participants"), n(stats.first_time)),
        (tr.gettext("Returning participants"), n(stats.returning)),
        (tr.pgettext("summary table", "Messages"), n(stats.messages)),
        (
            tr.pgettext("summary table", "Answers"),
            n(stats.answers)
            + (
                tr.gettext(" ({n} late)").format(n=n(stats.late_answers))
                if stats.late_answers
                else ""
            ),
        ),
        (tr.gettext("Comments"), n(stats.comments)),
        (tr.gettext("Reposts"), n(stats.reposts)),
        (tr.gettext("Hosts' share of messages"), tr.percent(stats.hosts_share)),
    ]
    if stats.busiest_question:
        key = stats.busiest_question
        answers = tr.counted("{n} answer", "{n} answers", stats.answers_per_question[key])
        rows.append(
            (
                tr.gettext("Busiest question"),
                f"{labels.get(key) or chat.labels.question_label(key)} ({answers})",
            )
        )
    if stats.per_platform:
        rows.append(
            (
                tr.gettext("Platforms"),
                ", ".join(
                    f"{escape_inline(tr.gettext('local') if p == 'local' else p)} {n(c)}"
                    for p, c in stats.per_platform.items()
                ),
            )
        )
    rows.append((tr.gettext("Edited / deleted"), f"{n(stats.edits)} / {n(stats.deletions)}"))
    lines = [
        f"## {tr.gettext('Summary')}",
        "",
        f"| {tr.gettext('Figure')} | {tr.gettext('Value')} |",
        "|:--|--:|",
    ]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return lines


def _question_table(
    chat: Chat, stats: ChatStats, posted: Mapping[str, datetime], zone: tzinfo, tr: Translator
) -> list[str]:
    header = [
        tr.pgettext("question table", "Question"),
        tr.pgettext("question table", "Went out"),
        tr.pgettext("question table", "Answers"),
        tr.pgettext("question table", "Participants"),
        tr.pgettext("question table", "Median first answer"),
    ]
    lines = ["| " + " | ".join(header) + " |", "|:--|:--|--:|--:|--:|"]
    for q in chat.questions:
        went = clock(posted[q.key], zone, tr) if q.key in posted else tr.gettext("not posted")
        lines.append(
            f"| {chat.label(q)} | {went}"
            f" | {tr.number(stats.answers_per_question.get(q.key, 0))}"
            f" | {tr.number(stats.participants_per_question.get(q.key, 0))}"
            f" | {delay_label(stats.median_first_answer.get(q.key), tr)} |"
        )
    return lines


def _activity(
    chat: Chat, stats: ChatStats, posted: Mapping[str, datetime], zone: tzinfo, tr: Translator
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
        marks.setdefault(went_out, []).append(chat.label(q))
    # Translators: the mark of the chat's close in the activity chart (keep it short).
    close = tr.gettext("close")
    marks.setdefault(chat.duration // timedelta(minutes=step) * step, []).append(close)
    labels = {start: " ".join(marks.get(start, [])) for start in buckets}
    label_width = max(len(label) for label in labels.values())
    per = (
        tr.gettext("Messages per minute ({zone}), marked where the questions went out.")
        if step == 1
        else tr.gettext(
            "Messages per {step} minutes ({zone}), marked where the questions went out."
        )
    )
    lines = [
        f"## {tr.gettext('Activity')}",
        "",
        per.format(step=tr.number(step), zone=zone_label(chat.start.astimezone(zone), tr)),
        "",
        "```text",
    ]
    width = len(str(peak))
    for start, count in sorted(buckets.items()):
        at = clock(chat.start + timedelta(minutes=start), zone, tr)
        bar = _BAR * (round(count * _BAR_WIDTH / peak) if peak else 0)
        if count and not bar:
            bar = "▏"
        lines.append(f"{at} {labels[start]:<{label_width}} {count:>{width}} {bar}".rstrip())
    lines.append("```")
    return lines


def _named(stats: ChatStats) -> Iterator[tuple[str, str, str]]:
    """(platform, handle, author_id) of the chat's authors a transcript may name."""
    for c in stats.contributors:
        if not c.hidden:
            yield c.platform, c.handle, c.key[len(c.platform) + 1 :]


def _numbers(tr: Translator) -> Callable[[int], str]:
    """``tr.number``, each count formatted once (the participants table repeats the same
    small counts thousands of times, and Babel takes ~20 µs a number)."""
    done: dict[int, str] = {}

    def number(value: int) -> str:
        text = done.get(value)
        if text is None:
            text = done[value] = tr.number(value)
        return text

    return number


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
    groups: GroupMix | None = None,
) -> str:
    """The chat's transcript as Markdown (pure: the same inputs give the same text);
    ``groups``: the stakeholder mix, a section of its own when given."""
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
        decoded(
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
                    groups=groups,
                )
            )
        )
    )


def render_markdown_chunks(
    parts: Iterable[str | Block], *, chunk_size: int = 1 << 16
) -> Iterator[Chunk]:
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
    groups: GroupMix | None = None,
) -> Iterator[str | Block]:
    """The transcript's lines (without their newline), with each non-empty message list
    of ``lists`` (already filled) as one part of its own, where its items go; the
    ``highlights`` section (``hide``: handles redacted in it) comes before the summary."""
    zone = chat.zone
    tr = translator(chat.language)
    n = _numbers(tr)
    posted = question_times(
        chat, question_posted_at or {}, stats.question_posted_at, stats.not_posted
    )

    title = escape_inline(chat.title) or escape_inline(chat.hashtag)
    out: list[str] = [f"# {title}", ""]
    when = time_range(chat.start, chat.end, zone, tr)
    duration = duration_label(chat.duration, tr)
    if chat.grace:
        duration = tr.gettext("{duration}, late answers until {time}").format(
            duration=duration, time=clock(chat.grace_end, zone, tr)
        )
    facts = [
        f"- **{tr.gettext('Hashtag:')}** {escape_inline(chat.hashtag)}",
        f"- **{tr.gettext('When:')}** {when} ({utc_offset(chat.start.astimezone(zone))})",
        f"- **{tr.gettext('Duration:')}** {duration}",
    ]
    hosts = shown_hosts(chat.hosts, _named(stats))
    if hosts:
        facts.append(
            f"- **{tr.gettext('Hosted by:')}** " + ", ".join("@" + escape_inline(h) for h in hosts)
        )
    facts.append(f"- **{tr.gettext('Questions:')}** {n(len(chat.questions))}")
    out += [*facts, ""]
    if chat.intro.strip():
        out += ["> " + escape_text(chat.intro, line_sep="  \n> "), ""]
    out += highlights_section.markdown_lines(
        chat, highlights or {}, hide=hide, network=lists.network
    )

    out += [*_summary(stats, chat, tr), ""]
    if chat.questions:
        out += [*_question_table(chat, stats, posted, zone, tr), ""]
    if groups is not None:
        out += groups_markdown(chat, groups)

    yield from out
    out = []

    for q in chat.questions:
        answers = stats.answers_per_question.get(q.key, 0)
        answering = stats.participants_per_question.get(q.key, 0)
        # The anchor ends the heading, so that "## Q1 · text" still starts the line that
        # readers (and scripts) look for.
        anchor = question_anchor(q.key)
        out += [f'## {chat.label(q)} · {escape_inline(q.text)} <a id="{anchor}"></a>', ""]
        went = posted.get(q.key)
        if went is not None:
            line = "*" + tr.gettext("Went out at {time} {zone}").format(
                time=clock(went, zone, tr), zone=zone_label(went.astimezone(zone), tr)
            )
        else:
            reason = stats.not_posted.get(q.key)
            if reason is None:
                reason = tr.gettext("never sent")
            line = "*" + tr.gettext("Not posted ({reason})").format(reason=escape_inline(reason))
        # Translators: "3 answers from 2 participants" under a question's heading.
        line += " · " + tr.gettext("{answers} from {participants}").format(
            answers=tr.counted("{n} answer", "{n} answers", answers),
            participants=tr.counted("{n} participant", "{n} participants", answering),
        )
        late_here = lists.late_count.get(q.key, 0)
        if late_here:
            line += tr.gettext(" ({n} late, listed under Late answers)").format(n=n(late_here))
        yield from [*out, line + "*", ""]
        out = []
        answer_list = lists.answers[q.key]
        yield answer_list if answer_list.count else "*" + tr.gettext("No answers shown.") + "*"
        yield ""

    if lists.others.count:
        yield from [f"## {tr.gettext('Other messages')}", ""]
        yield lists.others
        yield ""

    if lists.late.count:
        after = tr.gettext("After the close at {time}.").format(time=clock(chat.end, zone, tr))
        yield from [f"## {tr.gettext('Late answers')}", "", f"*{after}*", ""]
        yield lists.late
        yield ""

    people = [c for c in stats.contributors if not c.hidden]
    hidden = [c for c in stats.contributors if c.hidden]
    if stats.contributors:
        host_mark = tr.gettext(" (host)")
        rows = [
            [
                text_cell(c.name, host_mark if c.host else "", empty="—"),
                ("@" + escape_inline(c.handle), "@" + " ".join(_lines(c.handle)))
                if c.handle
                else ("—", "—"),
                text_cell(network_name(c.platform, tr)),
                plain_cell(n(c.messages)),
                plain_cell(n(c.answers)),
                plain_cell(
                    tr.gettext("first time")
                    if c.first_time
                    else tr.gettext("returning ({chats})").format(
                        chats=tr.counted("{n} earlier chat", "{n} earlier chats", c.earlier_chats)
                    )
                ),
            ]
            for c in people
        ]
        header = [
            tr.pgettext("participant table", "Name"),
            tr.pgettext("participant table", "Handle"),
            tr.pgettext("participant table", "Platform"),
            tr.pgettext("participant table", "Messages"),
            tr.pgettext("participant table", "Answers"),
            tr.pgettext("participant table", "Taking part"),
        ]
        aligns = [":--", ":--", ":--", "--:", "--:", ":--"]
        heading = f"## {tr.pgettext('heading', 'Participants')}"
        if rows:  # rendered ahead, for the HTML: a row per participant
            out += [heading, ""]
            yield from out
            out = []
            yield Table(header, aligns, rows)
        else:
            out += [heading, "", "| " + " | ".join(header) + " |"]
            out.append("|" + "|".join(aligns) + "|")
        out.append("")
        if hidden:
            n_msgs = sum(c.messages for c in hidden)
            # Translators: {participants} and {messages} are counts with their nouns.
            note = tr.gettext(
                "Not shown: {participants} who asked not to appear"
                " ({messages}, counted in the totals above)."
            ).format(
                participants=tr.counted("{n} participant", "{n} participants", len(hidden)),
                messages=tr.counted("{n} message", "{n} messages", n_msgs),
            )
            out += [f"*{note}*", ""]

    out += _activity(chat, stats, posted, zone, tr)
    if stats.activity_per_minute:
        out.append("")

    if stats.most_mentioned:
        out += [
            f"## {tr.gettext('Most mentioned')}",
            "",
            f"| {tr.pgettext('mention table', 'Handle')} | {tr.gettext('Mentions')} |",
            "|:--|--:|",
        ]
        out += [f"| @{escape_inline(h)} | {n(c)} |" for h, c in stats.most_mentioned]
        out.append("")
    if stats.top_domains:
        out += [
            f"## {tr.gettext('Most shared sites')}",
            "",
            f"| {tr.gettext('Site')} | {tr.gettext('Links')} |",
            "|:--|--:|",
        ]
        out += [f"| {escape_inline(d)} | {n(c)} |" for d, c in stats.top_domains]
        out.append("")

    if controls:
        out += [f"## {tr.gettext('Timeline')}", ""]
        for at, event in sorted(controls, key=lambda c: c[0]):
            out.append(f"- {clock(at, zone, tr)} · {escape_inline(event)}")
        out.append("")

    footer = []
    if generated_at is not None:
        local = generated_at.astimezone(zone)
        footer.append(
            tr.gettext("Generated {day}, {time} {zone} ({utc} UTC)").format(
                day=day_label(local, tr),
                time=tr.clock(local),
                zone=zone_label(local, tr),
                utc=f"{generated_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            )
        )
    if cost_note.strip():
        footer.append(escape_inline(cost_note))
    if footer:
        out += ["---", "", "*" + " · ".join(footer) + "*", ""]
    yield from out
