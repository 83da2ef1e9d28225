"""The JSON transcript: a stable, documented document for re-use by other tools.

Schema (``"format": 1``; fields are only ever added within a format version)::

    {
      "format": 1,
      "chat": {"id", "title", "hashtag", "timezone", "start", "end", "grace_end",
               "hosts": [str], "intro",
               "questions": [{"key", "label", "text", "posted_at"}]},
      "stats": ChatStats.to_dict(),
      "messages": [{"platform", "id", "author": {"name", "handle", "id"}, "text",
                    "created_at", "kind", "questions": [key], "late", "permalink",
                    "edited", "edited_at", "group",
                    "attachments": [{"kind": "file" | "sticker", "name", "url"}]}],
      "controls": [{"at", "event"}],
      "cost_note": str,
      "groups": GroupMix.to_dict(),
      "highlights": [{"question": key,          (only when any answer drew engagement)
                      "answers": [{"platform", "id", "author_handle", "created_at",
                                   "reactions", "likes", "reposts", "quotes",
                                   "replies", "score"}]}]
    }

``attachments`` (files, then stickers, in the message's order; ``url`` is ``""`` for a
sticker) is there only for a message that has any. ``groups`` and each message's
``group`` (a group key, or null: not declared, or counted together with a small group)
are there only when someone in the chat has a stakeholder group (:mod:`archive.groups`).

Instants are ISO 8601 in UTC with their offset (``2026-12-01T20:00:00+00:00``). Messages
are in time order; deleted messages and opted-out participants' messages are left out,
and ``@handle`` mentions of opted-out participants are redacted in the texts shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from archive.groups import GroupMix
from archive.highlights import Highlight
from archive.models import Attachment, CapturedMessage, Chat
from archive.stats import ChatStats, question_times
from archive.transcripts import highlights as highlights_section
from archive.transcripts.text import hidden_handles, is_shown, redact_handles

FORMAT_VERSION = 1
# The json module's own string encoder (C), as json.dumps(..., ensure_ascii=False) uses it.
_str = json.encoder.encode_basestring  # type: ignore[attr-defined]
json_string: Callable[[str], str] = _str
"""A string as JSON text (``json.dumps(text, ensure_ascii=False)``), in C."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def render_json(
    chat: Chat,
    messages: Sequence[CapturedMessage],
    stats: ChatStats,
    *,
    opted_out: frozenset[str] = frozenset(),
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    highlights: Mapping[str, Sequence[Highlight]] | None = None,
    groups: GroupMix | None = None,
) -> str:
    """The chat's transcript as a JSON document (sorted keys, two-space indent)."""
    hide = hidden_handles(messages, opted_out)
    shown = (m for m in messages if is_shown(m, opted_out))
    authors: AuthorCache = {}
    member_groups = None if groups is None else groups.member_groups
    return "".join(
        json_chunks(
            chat,
            stats,
            (
                message_entry(m, hide, first=i == 0, authors=authors, groups=member_groups)
                for i, m in enumerate(shown)
            ),
            question_posted_at=question_posted_at,
            controls=controls,
            cost_note=cost_note,
            highlights=highlights_section.json_entries(highlights or {}, hide=hide),
            groups=groups,
        )
    )


def json_chunks(
    chat: Chat,
    stats: ChatStats,
    entries: Iterable[str],
    *,
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    highlights: Sequence[Mapping[str, Any]] = (),
    groups: GroupMix | None = None,
) -> Iterator[str]:
    """The JSON document around ``entries``, the shown messages already written by
    :func:`message_entry` (possibly several to a piece, as read back from a file).
    ``highlights`` (`archive.transcripts.highlights.json_entries`) becomes the document's
    ``highlights`` key, present only when there are any."""
    head, tail = json_parts(
        chat,
        stats,
        question_posted_at=question_posted_at,
        controls=controls,
        cost_note=cost_note,
        highlights=highlights,
        groups=groups,
    )
    yield head
    empty = True
    for entry in entries:
        if entry:
            empty = False
            yield entry
    yield json_end(tail, empty=empty)


def json_end(tail: str, *, empty: bool) -> str:
    """What follows the message entries: the end of their list (``empty``: none was
    written), then ``tail`` from :func:`json_parts`."""
    return ("]" if empty else "\n  ]") + tail


def json_parts(
    chat: Chat,
    stats: ChatStats,
    *,
    question_posted_at: Mapping[str, datetime] | None = None,
    controls: Sequence[tuple[datetime, str]] = (),
    cost_note: str = "",
    highlights: Sequence[Mapping[str, Any]] = (),
    groups: GroupMix | None = None,
) -> tuple[str, str]:
    """The text of :func:`json_chunks`'s document before its message entries (up to the
    list's ``[``) and after them (past the list's ``]``). Keys are sorted and ``"stats"``
    comes after ``"messages"``: the first part depends on ``stats`` only through the
    questions' times (``stats.question_posted_at`` and ``stats.not_posted``)."""
    posted = question_times(
        chat, question_posted_at or {}, stats.question_posted_at, stats.not_posted
    )
    document: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "chat": {
            "id": chat.id,
            "title": chat.title,
            "hashtag": chat.hashtag,
            "timezone": chat.timezone,
            "start": _iso(chat.start),
            "end": _iso(chat.end),
            "grace_end": _iso(chat.grace_end),
            "hosts": list(chat.hosts),
            "intro": chat.intro,
            "questions": [
                {
                    "key": q.key,
                    "label": chat.label(q),
                    "text": q.text,
                    # null when the question never went out (stats.not_posted says why)
                    "posted_at": _iso(posted[q.key]) if q.key in posted else None,
                }
                for q in chat.questions
            ],
        },
        "stats": stats.to_dict(),
        "messages": [],
        "controls": [
            {"at": _iso(at), "event": event} for at, event in sorted(controls, key=lambda c: c[0])
        ],
        "cost_note": cost_note,
    }
    if highlights:
        document["highlights"] = list(highlights)
    if groups is not None:
        document["groups"] = groups.to_dict()
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    # Newlines inside JSON strings are escaped, so this top-level line is unique.
    head, tail = text.split(_MESSAGES_SLOT, 1)
    return head + '\n  "messages": [', tail


AuthorCache = dict[tuple[str, str, str], str]


def message_entry(
    m: CapturedMessage,
    hide: set[str],
    *,
    first: bool,
    authors: AuthorCache | None = None,
    groups: Mapping[str, str] | None = None,
) -> str:
    """One message of the document's list, with the separator before it. ``authors``:
    the author blocks written so far for this document (a chat has far fewer authors than
    messages), kept by the caller for as long as the document. ``groups``: participant key
    -> group key (``GroupMix.member_groups``), when the document has a stakeholder mix."""
    return ("\n    " if first else ",\n    ") + message_json(m, hide, authors, groups)


_MESSAGES_SLOT = '\n  "messages": []'


def message_json(
    m: CapturedMessage,
    hide: set[str],
    authors: AuthorCache | None = None,
    groups: Mapping[str, str] | None = None,
) -> str:
    """``json.dumps(_message(m, hide), sort_keys=True, indent=2, ensure_ascii=False)``
    indented by four more spaces, written out directly: with ``indent`` the json module
    falls back to its pure-Python encoder, which took most of the JSON's time."""
    key = (m.author_handle, m.author_id, m.author_name)
    author = None if authors is None else authors.get(key)
    if author is None:
        author = author_json(*key)
        if authors is not None:
            authors[key] = author
    created = m.created_at if m.created_at.tzinfo is UTC else m.created_at.astimezone(UTC)
    return entry_json(
        author,
        "" if groups is None else group_json(groups.get(f"{m.platform}:{m.author_id}")),
        created.isoformat(),
        None if m.edited_at is None else m.edited_at.astimezone(UTC).isoformat(),
        m.platform_id,
        m.kind.value,
        m.late,
        m.permalink,
        m.platform,
        questions_json(m.question_keys),
        redact_handles(m.text, hide) if hide else m.text,
        m.attachments,
    )


def entry_json(
    author: str,
    group: str,
    created_at: str,
    edited_at: str | None,
    platform_id: str,
    kind: str,
    late: bool,
    permalink: str,
    platform: str,
    questions: str,
    text: str,
    attachments: Sequence[Attachment],
) -> str:
    """:func:`message_json` of a message given field by field: ``author`` from
    :func:`author_json`, ``group`` from :func:`group_json` ("" when the document has no
    stakeholder mix), instants as ISO 8601 UTC text (``datetime.isoformat()``), ``kind``
    the kind's value, ``questions`` from :func:`questions_json`, ``text`` with the hidden
    handles already redacted.

    An entry is its fixed pieces (:func:`entry_head`, :func:`entry_middle`,
    :func:`entry_kind`, :func:`entry_tail`, which a caller may keep: they repeat from
    message to message) around the encoded strings of each message."""
    s = _str
    return (
        f"{entry_head(author, attachments)}{created_at}{entry_middle(edited_at, group)}"
        f"{s(platform_id)}{entry_kind(kind, late)}{s(permalink)}"
        f"{entry_tail(platform, questions)}{s(text)}{ENTRY_END}"
    )


def entry_head(author: str, attachments: Sequence[Attachment]) -> str:
    """An entry up to its ``created_at`` value (inside its quotes)."""
    if attachments:
        return (
            f'{{\n      {_attachments_json(attachments)},\n      "author": {author},'
            '\n      "created_at": "'
        )
    return f'{{\n      "author": {author},\n      "created_at": "'


def entry_middle(edited_at: str | None, group: str) -> str:
    """An entry from past its ``created_at`` value up to its ``id`` value."""
    if edited_at is None:
        return f'",\n      "edited": false,\n      "edited_at": null,{group}\n      "id": '
    return f'",\n      "edited": true,\n      "edited_at": {_str(edited_at)},{group}\n      "id": '


def entry_kind(kind: str, late: bool) -> str:
    """An entry from past its ``id`` value up to its ``permalink`` value."""
    return (
        f',\n      "kind": "{kind}",\n      "late": {"true" if late else "false"},'
        '\n      "permalink": '
    )


def entry_tail(platform: str, questions: str) -> str:
    """An entry from past its ``permalink`` value up to its ``text`` value."""
    return (
        f',\n      "platform": {_str(platform)},\n      "questions": {questions},\n      "text": '
    )


ENTRY_END = "\n    }"


def questions_json(keys: Iterable[str]) -> str:
    """A message's ``"questions"`` list as :func:`entry_json` writes it."""
    keys = list(keys)
    if not keys:
        return "[]"
    return "[\n        " + ",\n        ".join(_str(k) for k in keys) + "\n      ]"


def group_json(group: str | None) -> str:
    """A message's ``"group"`` member (after the comma of the one before it) as
    :func:`entry_json` writes it: its author's group key, or null."""
    return f'\n      "group": {"null" if group is None else _str(group)},'


def _attachments_json(attachments: Sequence[Attachment]) -> str:
    """``"attachments": [...]`` as json.dumps(indent=2) writes it at a message's depth."""
    s = _str
    items = ",\n        ".join(
        f'{{\n          "kind": {s(a.kind.value)},\n          "name": {s(a.name)},'
        f'\n          "url": {s(a.url)}\n        }}'
        for a in attachments
    )
    return f'"attachments": [\n        {items}\n      ]'


def author_json(handle: str, author_id: str, name: str) -> str:
    """A message's ``"author"`` object as :func:`entry_json` writes it."""
    s = _str
    return (
        f'{{\n        "handle": {s(handle)},\n        "id": {s(author_id)},'
        f'\n        "name": {s(name)}\n      }}'
    )
