"""Feeds of the web archive, written through well-kept libraries: an iCalendar (RFC 5545)
calendar of upcoming chats with ``icalendar``, an Atom (RFC 4287) feed of new transcripts
with ``feedgen``. Pure functions of their inputs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event, vDuration, vText

from archive.hashtags import with_hashtag
from archive.i18n import translator
from archive.models import Chat, ChatStatus

PRODID = "-//tweetchat//web archive//EN"

# Characters neither format can carry: the C0 controls other than tab and line feed (RFC 5545
# TEXT and XML 1.0 exclude them; carriage returns are folded into line feeds first), lone
# surrogates, and the two non-characters XML 1.0 excludes. lxml refuses to write them, so
# one of them in a chat title would otherwise turn the whole Atom feed into an error.
_UNCARRIABLE: dict[int, None] = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]
)


def feed_text(value: str) -> str:
    """User text as both feeds carry it: line breaks as ``\\n`` and without the characters
    that iCalendar TEXT and XML cannot hold; everything else (``<``, ``&``, commas,
    semicolons, backslashes, any script) is kept exactly, the libraries escape it."""
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_UNCARRIABLE)


class LiteralText(vText):
    """An RFC 5545 TEXT value (section 3.3.11) that is exactly the text given.

    ``icalendar``'s own ``vText`` reads a backslash followed by ``N`` in its input as a line
    break (``vText("a\\Nb")`` goes out as ``a\\nb``), so a chat titled ``\\N`` came back
    from any calendar as a line break. Here every backslash is escaped first, then ``;``,
    ``,`` and line feeds, the order RFC 5545 gives, so what a reader unescapes is the text."""

    def to_ical(self) -> bytes:
        """The escaped value in UTF-8 (the calendar's encoding), without line folding."""
        escaped = (
            self.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
        )
        return escaped.encode("utf-8")


def _utc(moment: datetime) -> datetime:
    """The instant in UTC to whole seconds, as both feeds have always given it."""
    return moment.astimezone(UTC).replace(microsecond=0)


# ---- iCalendar (RFC 5545) ----------------------------------------------------------------


def join_places(chat: Chat) -> list[str]:
    """Where to take part, one line per network the chat runs on: the network and its
    channel, or its hashtag with a link where the network has one page for a hashtag
    (Mastodon's hashtag pages are per instance; a Discord link needs the server's id)."""
    tag = chat.hashtag
    slug = quote(tag.lstrip("#"), safe="")
    tr = translator(chat.language)
    places = []
    for target in chat.targets:
        platform, channel = target.platform, target.channel
        if platform == "x":
            places.append(f"X, {tag}: https://x.com/hashtag/{slug}?f=live")
        elif platform == "bluesky":
            places.append(f"Bluesky, {tag}: https://bsky.app/hashtag/{slug}")
        elif platform == "mastodon":
            places.append(
                tr.gettext("Mastodon, {hashtag} (follow the hashtag from your instance)").format(
                    hashtag=tag
                )
            )
        elif platform == "discord":
            places.append(
                tr.gettext("Discord, channel {channel}").format(channel=channel)
                if channel
                else f"Discord, {tag}"
            )
        elif platform == "local":
            places.append(
                tr.gettext("the local platform, room {room}").format(room=channel or "main")
            )
        else:
            places.append(f"{platform}, {channel or tag}")
    return list(dict.fromkeys(places))


def how_to_answer(chat: Chat) -> str:
    """The label convention the chat's intro post gives, in the chat's letters: ``A1``
    answers ``Q1`` (``R1`` answers ``Q1`` in a French chat; a topic chat's answers carry
    the topic's own label, ``T1``)."""
    labels = chat.labels
    tr = translator(chat.language)
    keys = [q.key for q in chat.questions[:2]] or ["1"]
    more = "…" if len(chat.questions) > 2 else ""
    if labels.topics:
        named = ", ".join(labels.answer_label(key) for key in keys)
        return tr.gettext(
            "How to answer: start each answer with its topic's label ({labels})"
            " and add {hashtag}, so that it is counted."
        ).format(labels=named + more, hashtag=chat.hashtag)
    # Translators: "A1 for Q1", in how to answer: "(A1 for Q1, A2 for Q2…)".
    pair = tr.gettext("{answer} for {question}")
    pairs = [
        pair.format(answer=labels.answer_label(key), question=labels.question_label(key))
        for key in keys
    ]
    return tr.gettext(
        "How to answer: start each answer with its question's label ({labels})"
        " and add {hashtag}, so that it is counted."
    ).format(labels=", ".join(pairs) + more, hashtag=chat.hashtag)


def event_description(chat: Chat, url: str = "") -> str:
    """What an event says: the intro, where to join, how to answer, the questions, and the
    chat's page. A chat that is over (ended, published: an imported one, say) or cancelled
    says no more where to join or how to answer; its page has the transcript. (Its
    LOCATION still says where it ran.)"""
    parts = [chat.intro.strip()] if chat.intro.strip() else []
    if chat.status not in (ChatStatus.ENDED, ChatStatus.PUBLISHED, ChatStatus.CANCELLED):
        where = translator(chat.language).gettext("Where to join:")
        parts.append(where + "\n" + "\n".join(join_places(chat)))
        parts.append(how_to_answer(chat))
    if chat.questions:
        parts.append("\n".join(f"{chat.label(q)}: {q.text}" for q in chat.questions))
    if url:
        parts.append(url)
    return "\n\n".join(parts)


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
    """An RFC 5545 VCALENDAR with one VEVENT per chat; times in UTC (``...Z``), so no
    VTIMEZONE is needed. The UID is the chat id at the site's host, stable across
    reschedules. TEXT values are escaped by ``LiteralText`` (exactly as given, a literal
    ``\\N`` included); the library folds lines at 75 octets.

    Cancelled chats are kept with ``STATUS:CANCELLED`` so subscribed calendars drop them.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # An extension property the library does not know as TEXT: typed here, or its commas
    # and line breaks would go out unescaped.
    cal.add("x-wr-calname", LiteralText(feed_text(name)))
    # RFC 7986 requires VALUE=DURATION on REFRESH-INTERVAL; the library's own
    # ``refresh_interval`` setter leaves it out, and icalendar 6 does not know the
    # property's type, so both are given.
    cal.add("refresh-interval", vDuration(timedelta(hours=6)), parameters={"VALUE": "DURATION"})
    domain = _uid_domain(base_url)
    for chat in chats:
        url = chat_url.get(chat.id, "")
        status = "CANCELLED" if chat.status is ChatStatus.CANCELLED else "CONFIRMED"
        event = Event()
        event.add("uid", f"{feed_text(chat.id)}@{domain}")
        event.add("dtstamp", _utc(chat.created_at or now))
        event.add("dtstart", _utc(chat.start))
        event.add("dtend", _utc(chat.end))
        event.add("summary", LiteralText(feed_text(with_hashtag(chat.title, chat.hashtag))))
        event.add("location", LiteralText(feed_text("; ".join(join_places(chat)))))
        event.add("description", LiteralText(feed_text(event_description(chat, url))))
        event.add("categories", [feed_text(chat.hashtag)])
        event.add("status", status)
        if url:
            event.add("url", url)
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")


# ---- Atom (RFC 4287) ---------------------------------------------------------------------


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


class _EntryLinkIsHtmlPage(BaseEntryExtension):
    """feedgen 1.0.0 writes an entry's links with ``href`` only, dropping ``rel`` and
    ``type`` (lkiesow/python-feedgen#135). Every entry here has one link, the chat's HTML
    page, so say so again on the way out. Harmless once feedgen is fixed."""

    language = ""  # the entry's xml:lang when it is not English (see _entry_extension)

    def extend_atom(self, entry: Any) -> Any:
        if self.language:
            entry.set("{http://www.w3.org/XML/1998/namespace}lang", self.language)
        for element in entry:
            if isinstance(element.tag, str) and element.tag.rpartition("}")[2] == "link":
                element.set("rel", "alternate")
                element.set("type", "text/html")
        return entry


def _entry_extension(language: str) -> type[_EntryLinkIsHtmlPage]:
    """The entry extension for a chat in ``language`` (a BCP 47 tag): an entry about a
    chat in another language than English says so with ``xml:lang`` (RFC 4287 §2, XML 1.0
    §2.12); an English entry is written as it always was."""
    if language.split("-")[0] == "en":
        return _EntryLinkIsHtmlPage
    return type("_EntryInLanguage", (_EntryLinkIsHtmlPage,), {"language": language})


def atom_feed(
    entries: Sequence[FeedEntry],
    *,
    title: str,
    self_url: str,
    home_url: str,
    now: datetime,
) -> str:
    """An RFC 4287 Atom feed of transcripts, newest first as given; ``updated`` and
    ``published`` are RFC 3339 instants in UTC. Text constructs are ``type="text"``: the
    library escapes titles and summaries, so they read as literal text. Each summary is in
    its chat's language (the caller's: ``archive.web.views``), and an entry not in English
    carries its ``xml:lang``."""
    feed = FeedGenerator()
    feed.id(entry_id("feed"))
    feed.title(feed_text(title))
    feed.updated(_utc(max((en.updated for en in entries), default=now)))
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=home_url, rel="alternate", type="text/html")
    feed.author(name="tweetchat")
    feed.generator("tweetchat")
    for en in entries:
        c = en.chat
        item = feed.add_entry(order="append")  # feedgen prepends by default
        item.register_extension(
            "tweetchat_link", _entry_extension(c.language), atom=True, rss=False
        )
        item.id(entry_id(c.id))
        item.title(feed_text(with_hashtag(c.title, c.hashtag)))
        item.updated(_utc(en.updated))
        item.published(_utc(c.start))
        item.link(href=en.url, rel="alternate", type="text/html")
        item.category(term=feed_text(c.hashtag))
        item.summary(feed_text(en.summary), type="text")
    return feed.atom_str(pretty=True).decode("utf-8")
