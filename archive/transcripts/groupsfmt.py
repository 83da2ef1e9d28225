"""The stakeholder-mix section of the transcripts (Markdown, hence HTML; the one-line text
summary), from a :class:`archive.groups.GroupMix`. Strings come from ``archive.groups.TEXT``
(trusted Markdown); group labels come from the config and are escaped as any text."""

from __future__ import annotations

from archive.groups import GroupMix, GroupRow, say, share
from archive.models import Chat
from archive.transcripts.text import escape_inline


def _count(n: int | None) -> str:
    return say("fewer") if n is None else str(n)


def _row(label: str, r: GroupRow, mix: GroupMix) -> str:
    return (
        f"| {label} | {_count(r.participants)} | {share(r.participants, mix.participants)}"
        f" | {'—' if r.answers is None else r.answers} | {share(r.answers, mix.answers)} |"
    )


def groups_markdown(chat: Chat, mix: GroupMix) -> list[str]:
    """The section's Markdown lines (ending with a blank line): participants and answers
    per group, overall, then answers per question by group."""
    lines = [f"## {say('heading')}", "", f"*{say('intro')}*", ""]
    lines += [
        f"| {say('col_group')} | {say('col_participants')} | {say('col_share')}"
        f" | {say('col_answers')} | {say('col_answer_share')} |",
        "|:--|--:|--:|--:|--:|",
    ]
    lines += [_row(escape_inline(r.label), r, mix) for r in mix.rows]
    lines.append(_row(say("not_declared"), mix.not_declared, mix))
    lines.append(
        f"| **{say('total')}** | {mix.participants} | {share(mix.participants, mix.participants)}"
        f" | {mix.answers} | {share(mix.answers, mix.answers)} |"
    )
    lines.append("")
    shown = mix.shown
    if not chat.questions or not shown:
        return lines
    lines += [f"### {say('per_question')}", "", f"*{say('per_question_note')}*", ""]
    head = [say("col_question"), *(escape_inline(r.label) for r in shown), say("total")]
    lines += ["| " + " | ".join(head) + " |", "|:--|" + "--:|" * (len(head) - 1)]
    labels = {q.key: chat.label(q) for q in chat.questions}
    for q in mix.questions:
        cells = [labels.get(q.key, "Q" + q.key)]
        for r in shown:
            answers, people = q.cells.get(r.key, (0, 0))
            cells.append(
                say("cell", answers=answers, share=share(answers, q.answers), participants=people)
            )
        cells.append(
            say(
                "cell",
                answers=q.answers,
                share=share(q.answers, q.answers),
                participants=q.participants,
            )
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def groups_summary(mix: GroupMix) -> str:
    """One line for the command line's summary: participants per group."""
    items = [
        say("summary_item", label=r.label, participants=_count(r.participants))
        for r in (*mix.rows, mix.not_declared)
        if r.participants is None or r.participants
    ]
    return say("summary", groups=", ".join(items))
