"""A publication's one pass over a chat's stored rows: the statistics count each message,
and each shown one is rendered (its Markdown item and ``<li>`` into the transcript's lists,
its JSON entry) straight from the row, without building a :class:`CapturedMessage`.

What depends only on the author (the participant key, whether they opted out, the item's
head, the JSON author block and group) is worked out once per author, and what depends on
the kind and the questions answered (the list an item goes to, the JSON list of keys) once
per combination: a chat has thousands of messages per author and per combination. The
rows are those of ``Store.iter_message_rows`` (``TRANSCRIPT_COLUMNS``); the output is the
same as :meth:`TranscriptLists.add`, :func:`message_entry` and :func:`compute_stats` give
for the same messages as :class:`CapturedMessage` values
(``tests/archive/test_publish_streaming.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from archive.models import MessageKind
from archive.stats import StatsCounter
from archive.store.connection import parse_iso
from archive.store.messages import attachments_from_json
from archive.transcripts.jsonfmt import (
    ENTRY_END,
    author_json,
    entry_head,
    entry_kind,
    entry_middle,
    entry_tail,
    group_json,
    json_string,
    questions_json,
)
from archive.transcripts.lists import ItemList, TranscriptLists
from archive.transcripts.text import redact_handles

_KINDS = {k.value: k for k in MessageKind}
_PENDING = 512  # JSON entries gathered before one write

# key, opted out, item head (Markdown, HTML), JSON author block, JSON group member, JSON
# entry's head (no attachments) and middle (not edited)
_Card = tuple[str, bool, tuple[str, str], str, str, str, str]
# kind, question keys, late, where an item goes (lists, prefix), whether it is listed as a
# late answer, the JSON entry's kind and tail pieces
_Kind = tuple[
    MessageKind, tuple[str, ...], bool, tuple[tuple[ItemList, ...], str] | None, bool, str, str
]


class SeveralNetworks(Exception):
    """A message from a second network, in a pass rendering items without network marks."""


class RowPass:
    """Counts and renders a chat's rows, batch after batch, in time order.

    ``counter`` gets every row (deleted ones count only as deletions); a shown row (not
    deleted, not by someone in ``opted_out``) goes to ``lists`` (None: no Markdown or HTML
    is wanted) and, as a JSON entry with its separator, to ``json_write`` (None: no JSON;
    it gets a few hundred entries at once).
    ``hide``: handles redacted in the texts shown; ``groups``: participant key -> group key
    when the JSON has a stakeholder mix (``GroupMix.member_groups``). ``networks``: when
    the lists' items carry no network marks, the networks the chat runs on (its targets'):
    a non-deleted message from any other network, or from a second one, raises
    :class:`SeveralNetworks` (the chat is on several after all, as ``network_marks``
    defines it, and its items must be marked).
    """

    def __init__(
        self,
        counter: StatsCounter,
        *,
        lists: TranscriptLists | None,
        json_write: Callable[[str], Any] | None,
        opted_out: frozenset[str],
        hide: set[str],
        groups: Mapping[str, str] | None = None,
        networks: Iterable[str] = (),
    ) -> None:
        self.counter = counter
        self.lists = lists
        self.json_write = json_write
        self.opted_out = opted_out
        self.hide = hide
        self.groups = groups
        self._cards: dict[tuple[str, str, str, str], _Card] = {}
        self._networks = None if lists is None or lists.network else set(networks)
        self._kinds: dict[tuple[str, str, str, int], _Kind] = {}
        self.json_entries = 0  # JSON entries written

    def _card(self, platform: str, author_id: str, name: str, handle: str) -> _Card:
        if self._networks is not None:  # a card per author: every network is met here
            self._networks.add(platform)
            if len(self._networks) > 1:
                raise SeveralNetworks(", ".join(sorted(self._networks)))
        key = f"{platform}:{author_id}"
        who = ("", "") if self.lists is None else self.lists.renderer.author(name, handle)
        group = "" if self.groups is None else group_json(self.groups.get(key))
        author = author_json(handle, author_id, name)
        card = (
            key,
            key in self.opted_out,
            who,
            author,
            group,
            entry_head(author, ()),
            entry_middle(None, group),
        )
        self._cards[(platform, author_id, name, handle)] = card
        return card

    def _kind(self, platform: str, kind_value: str, keys: str, late_value: int) -> _Kind:
        kind = _KINDS[kind_value]
        question_keys = tuple(keys.split()) if keys else ()
        late = bool(late_value)
        where = None
        late_listed = False
        if self.lists is not None:
            where = self.lists.destination(kind, question_keys, late)
            late_listed = late and where is not None and where[0][0] is self.lists.late
        decoded = (
            kind,
            question_keys,
            late,
            where,
            late_listed,
            entry_kind(kind_value, late),
            entry_tail(platform, questions_json(question_keys)),
        )
        self._kinds[(platform, kind_value, keys, late_value)] = decoded
        return decoded

    def feed(self, rows: Iterable[Sequence[Any]]) -> None:
        """Count and render ``rows`` (tuples of ``TRANSCRIPT_COLUMNS``), the chat's next
        ones in time order."""
        counter = self.counter
        count = counter.add
        cards = self._cards
        kinds = self._kinds
        hide = self.hide
        lists = self.lists
        if lists is not None:
            renderer = lists.renderer
            clock = renderer.clock
            item = renderer.item
            count_late = lists.count_late
            no_html = lists.no_html
            put = lists.put
        json_write = self.json_write
        json_entries = self.json_entries
        entries: list[str] = []  # JSON entries, written a few hundred at once
        fromisoformat = datetime.fromisoformat
        for (
            platform,
            platform_id,
            author_id,
            name,
            handle,
            text,
            created,
            kind_value,
            keys_text,
            late_value,
            permalink,
            edited,
            deleted,
            mentions,
            reactions,
            attachments_text,
        ) in rows:
            if deleted is not None:
                counter.deletions += 1
                continue
            card = cards.get((platform, author_id, name, handle))
            if card is None:
                card = self._card(platform, author_id, name, handle)
            decoded = kinds.get((platform, kind_value, keys_text, late_value))
            if decoded is None:
                decoded = self._kind(platform, kind_value, keys_text, late_value)
            kind, keys, late, where, late_listed, json_kind, json_tail = decoded
            at = fromisoformat(created)
            if at.tzinfo is not UTC:  # the store writes UTC; be safe anyway
                at = parse_iso(created)
            count(
                card[0],
                platform,
                name,
                handle,
                kind,
                at,
                keys,
                late,
                edited is not None,
                reactions,
                mentions.split() if mentions else (),
                text,
            )
            if card[1]:  # opted out: counted, never shown
                continue
            if hide and "@" in text:
                text = redact_handles(text, hide)
            attachments = attachments_from_json(attachments_text) if attachments_text else ()
            if where is not None:
                if late_listed:
                    count_late(keys)
                md, html = item(
                    platform,
                    platform_id,
                    card[2],
                    clock(at),
                    edited is not None,
                    permalink,
                    text,
                    attachments,
                    where[1],
                )
                if html is None:
                    no_html()
                targets = where[0]
                if len(targets) == 1:
                    targets[0].add(md, html)
                else:  # a multi-answer: its anchor in the first list only
                    put(targets, md, html)
            if json_write is not None:
                # entry_json(), from the pieces kept for the author and the kind; the time
                # is at.isoformat() read off the store's fixed-width UTC text (which keeps
                # a zero fraction: "20:05:00.000000+00:00" is "20:05:00+00:00")
                if len(created) == 32 and created[19] == "." and created[26:] == "+00:00":
                    if created[20:26] == "000000":
                        created = created[:19] + created[26:]
                else:
                    created = at.isoformat()
                entries.append(
                    f"{',' if json_entries else ''}\n    "
                    f"{entry_head(card[3], attachments) if attachments else card[5]}{created}"
                    f"{card[6] if edited is None else entry_middle(parse_iso(edited).isoformat(), card[4])}"
                    f"{json_string(platform_id)}{json_kind}{json_string(permalink)}{json_tail}"
                    f"{json_string(text)}{ENTRY_END}"
                )
                json_entries += 1
                if len(entries) >= _PENDING:
                    json_write("".join(entries))
                    entries.clear()
        self.json_entries = json_entries
        if entries and json_write is not None:
            json_write("".join(entries))
