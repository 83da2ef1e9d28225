"""The CSV transcript: one row per shown message, for spreadsheets.

A last column, ``attachments``, is there when the chat's messages carry files or stickers
(Discord): one line per attachment in the cell, ``name (link)`` for a file (the name
alone without an http(s) link) and ``sticker: name`` for a sticker. Chats without any keep
the columns they always had.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from archive.models import Attachment, AttachmentKind, CapturedMessage
from archive.transcripts.highlights import CSV_COLUMN
from archive.transcripts.text import hidden_handles, is_shown, redact_handles

COLUMNS = (
    "created_at_utc",
    "local_time",
    "platform",
    "id",
    "author_name",
    "author_handle",
    "author_id",
    "kind",
    "questions",
    "late",
    "edited",
    "permalink",
    "text",
)

# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


ATTACHMENTS_COLUMN = "attachments"


def attachments_cell(attachments: tuple[Attachment, ...]) -> str:
    """The ``attachments`` cell of a message (see the module's docstring)."""
    lines = []
    for a in attachments:
        if a.kind is AttachmentKind.STICKER:
            lines.append(f"sticker: {a.name}")
        elif a.url.startswith(("http://", "https://")):
            lines.append(f"{a.name} ({a.url})")
        else:
            lines.append(a.name)
    return "\n".join(lines)


def render_csv(
    messages: Iterable[CapturedMessage],
    *,
    opted_out: frozenset[str] = frozenset(),
    zone: tzinfo | str = UTC,
    engagement: Mapping[tuple[str, str], int] | None = None,
    groups: Mapping[str, str] | None = None,
) -> str:
    """Shown messages (not deleted, not opted out) as CSV with a header row; ``local_time``
    is in ``zone``. Text cells that a spreadsheet would run as formulas get a leading
    apostrophe. ``groups`` (participant key -> group key, ``GroupMix.member_groups``) adds
    a column, ``group``, when the chat has a stakeholder mix; ``engagement`` (see
    :func:`csv_chunks`) a last one, ``engagement``."""
    rows = list(messages)
    hide = hidden_handles(rows, opted_out)
    attachments = any(m.attachments and m.deleted_at is None for m in rows)
    return "".join(
        csv_chunks(
            rows,
            hide=hide,
            opted_out=opted_out,
            zone=zone,
            attachments=attachments,
            engagement=engagement,
            groups=groups,
        )
    )


def csv_chunks(
    messages: Iterable[CapturedMessage],
    *,
    hide: Iterable[str],
    opted_out: frozenset[str] = frozenset(),
    zone: tzinfo | str = UTC,
    rows_per_chunk: int = 1000,
    attachments: bool = False,
    engagement: Mapping[tuple[str, str], int] | None = None,
    groups: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """:func:`render_csv` in pieces, reading ``messages`` once; ``hide`` are the handles
    to redact in texts (the opted-out participants', as ``Store.opted_out_handles``);
    ``attachments``: add the ``attachments`` column (``Store.has_attachments``); ``groups``
    as :func:`render_csv`. ``engagement``, (platform, id) -> score
    (``Store.engagement_scores``): when it holds any, a last column ``engagement`` gives
    each message's score (0 for the others)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    hidden = frozenset(hide)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = (*COLUMNS, ATTACHMENTS_COLUMN) if attachments else COLUMNS
    header = header if groups is None else (*header, "group")
    writer.writerow((*header, CSV_COLUMN) if engagement else header)
    pending = 0
    for m in messages:
        if not is_shown(m, opted_out):
            continue
        row = [
            m.created_at.astimezone(UTC).isoformat(),
            m.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
            m.platform,
            m.platform_id,
            _cell(m.author_name),
            _cell(m.author_handle),
            m.author_id,
            m.kind.value,
            ";".join(m.question_keys),
            "yes" if m.late else "",
            "yes" if m.edited_at is not None else "",
            m.permalink if m.permalink.startswith(("http://", "https://")) else "",
            _cell(redact_handles(m.text, hidden)),
        ]
        if attachments:
            row.append(_cell(attachments_cell(m.attachments)))
        if groups is not None:
            row.append(groups.get(f"{m.platform}:{m.author_id}", ""))
        if engagement:
            row.append(str(engagement.get((m.platform, m.platform_id), 0)))
        writer.writerow(row)
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
