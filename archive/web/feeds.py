"""Feeds, written by hand: iCalendar (RFC 5545) of upcoming chats, Atom (RFC 4287) of
new transcripts. Pure functions of their inputs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

from archive.models import Chat, ChatStatus

PRODID = "-//tweetchat//web archive//EN"


# ---- iCalendar ---------------------------------------------------------------------------


def ics_escape(text: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma, and newlines as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line into chunks of at most ``limit`` octets (UTF-8), continuation
    lines starting with one space, never splitting a character."""
    out: list[str] = []
    current = ""
    size = 0
    budget = limit
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > budget:
            out.append(current)
            current, size = "", 0
            budget = limit - 1  # the leading space counts
        current += ch
        size += n
    out.append(current)
    return "\r\n ".join(out)


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _uid_domain(base_url: str) -> str:
    return urlsplit(base_url).hostname or "tweetchat.invalid"


def ics_calendar(
    chats: Sequence[Chat],
    *,
    name: str,
    chat_url: dict[str, str],
    base_url: str = "",
    now: datetime,
) -> str:
    """A VCALENDAR with one VEVENT per chat; times in UTC, so no VTIMEZONE is needed.

    Cancelled chats are kept with ``STATUS:CANCELLED`` so subscribed calendars drop them.
    """
    domain = _uid_domain(base_url)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_escape(name)}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
    ]
    for chat in chats:
        description = [chat.intro.strip()] if chat.intro.strip() else []
        description += [f"{q.label}: {q.text}" for q in chat.questions]
        url = chat_url.get(chat.id, "")
        if url:
            description.append(url)
        status = "CANCELLED" if chat.status is ChatStatus.CANCELLED else "CONFIRMED"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ics_escape(chat.id)}@{domain}",
            f"DTSTAMP:{_ics_time(chat.created_at or now)}",
            f"DTSTART:{_ics_time(chat.start)}",
            f"DTEND:{_ics_time(chat.end)}",
            f"SUMMARY:{ics_escape(f'{chat.title} ({chat.hashtag})')}",
            f"DESCRIPTION:{ics_escape(chr(10).join(description))}",
            f"CATEGORIES:{ics_escape(chat.hashtag)}",
            f"STATUS:{status}",
        ]
        if url:
            lines.append(f"URL:{url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


# ---- Atom --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One published transcript in the Atom feed."""

    chat: Chat
    url: str  # absolute link to the chat page
    updated: datetime
    summary: str


def entry_id(chat_id: str) -> str:
    """A stable entry id that survives a move of the site to another address."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tweetchat:chat:{chat_id}").urn


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(
    entries: Sequence[FeedEntry],
    *,
    title: str,
    self_url: str,
    home_url: str,
    now: datetime,
) -> str:
    """An Atom feed of transcripts, newest first as given."""

    def x(text: str) -> str:
        return xml_escape(text, {'"': "&quot;"})

    updated = max((en.updated for en in entries), default=now)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{x(title)}</title>",
        f"<id>{x(entry_id('feed'))}</id>",
        f"<updated>{_rfc3339(updated)}</updated>",
        f'<link rel="self" type="application/atom+xml" href="{x(self_url)}"/>',
        f'<link rel="alternate" type="text/html" href="{x(home_url)}"/>',
        "<author><name>tweetchat</name></author>",
        "<generator>tweetchat</generator>",
    ]
    for en in entries:
        c = en.chat
        out += [
            "<entry>",
            f"<title>{x(f'{c.title} ({c.hashtag})')}</title>",
            f"<id>{x(entry_id(c.id))}</id>",
            f"<updated>{_rfc3339(en.updated)}</updated>",
            f"<published>{_rfc3339(c.start)}</published>",
            f'<link rel="alternate" type="text/html" href="{x(en.url)}"/>',
            f'<category term="{x(c.hashtag)}"/>',
            f'<summary type="text">{x(en.summary)}</summary>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"
