"""The stakeholder-mix section of the transcripts (Markdown, hence HTML; the one-line text
summary), from a :class:`archive.groups.GroupMix`. Strings come from ``archive.groups.TEXT``
(trusted Markdown) in the chat's language; group labels come from the config (or are the
default ones, translated) and are escaped as any text."""

from __future__ import annotations

from archive.groups import GroupMix, GroupRow, say, share
from archive.i18n import Translator, translator
from archive.models import Chat
from archive.transcripts.text import escape_inline


def _count(n: int | None, tr: Translator) -> str:
    return say("combined", tr) if n is None else tr.number(n)


def _row(label: str, r: GroupRow, mix: GroupMix, tr: Translator) -> str:
    answers = "—" if r.answers is None else tr.number(r.answers)
    return (
        f"| {label} | {_count(r.participants, tr)} | {share(r.participants, mix.participants, tr)}"
        f" | {answers} | {share(r.answers, mix.answers, tr)} |"
    )


def groups_markdown(chat: Chat, mix: GroupMix) -> list[str]:
    """The section's Markdown lines (ending with a blank line), in the chat's language:
    participants and answers per group, overall, then answers per question by group."""
    tr = translator(chat.language)
    n = tr.number
    lines = [f"## {say('heading', tr)}", "", f"*{say('intro', tr)}*", ""]
    lines += [
        f"| {say('col_group', tr)} | {say('col_participants', tr)} | {say('col_share', tr)}"
        f" | {say('col_answers', tr)} | {say('col_answer_share', tr)} |",
        "|:--|--:|--:|--:|--:|",
    ]
    lines += [_row(escape_inline(r.label), r, mix, tr) for r in mix.rows]
    if mix.fold is not None:
        lines.append(_row(escape_inline(mix.fold.label), mix.fold, mix, tr))
    lines.append(_row(escape_inline(mix.not_declared.label), mix.not_declared, mix, tr))
    lines.append(
        f"| **{say('total', tr)}** | {n(mix.participants)}"
        f" | {share(mix.participants, mix.participants, tr)}"
        f" | {n(mix.answers)} | {share(mix.answers, mix.answers, tr)} |"
    )
    lines.append("")
    shown = mix.shown
    if not chat.questions or not shown:
        return lines
    if mix.fold is not None:
        return [
            *lines,
            f"### {say('per_question', tr)}",
            "",
            f"*{say('per_question_withheld', tr)}*",
            "",
        ]
    lines += [f"### {say('per_question', tr)}", "", f"*{say('per_question_note', tr)}*", ""]
    head = [say("col_question", tr), *(escape_inline(r.label) for r in shown), say("total", tr)]
    lines += ["| " + " | ".join(head) + " |", "|:--|" + "--:|" * (len(head) - 1)]
    labels = {q.key: chat.label(q) for q in chat.questions}
    for q in mix.questions:
        cells = [labels.get(q.key, "Q" + q.key)]
        for r in shown:
            answers, people = q.cells.get(r.key, (0, 0))
            cells.append(
                say(
                    "cell",
                    tr,
                    answers=n(answers),
                    share=share(answers, q.answers, tr),
                    participants=n(people),
                )
            )
        cells.append(
            say(
                "cell",
                tr,
                answers=n(q.answers),
                share=share(q.answers, q.answers, tr),
                participants=n(q.participants),
            )
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def groups_summary(mix: GroupMix, tr: Translator | None = None) -> str:
    """One line for the command line's summary (two spaces first): participants per group
    (the groups counted together as one item), in ``tr``'s language (English when None)."""
    tr = tr or translator()
    fold = () if mix.fold is None else (mix.fold,)
    items = [
        say("summary_item", tr, label=r.label, participants=_count(r.participants, tr))
        for r in (*mix.rows, *fold, mix.not_declared)
        if r.participants
    ]
    return "  " + say("summary", tr, groups=", ".join(items))
