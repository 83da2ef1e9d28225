"""The message lists of a transcript (one per question, other messages, late answers),
filled from the chat's messages in one pass in time order, each message rendered once.

The rendered items go to a sink per list: in memory (:class:`MemoryList`) for
``render_markdown``, or to anonymous temporary files (:class:`SpillList`) when publishing,
so that a list of any length costs no memory and one read of the chat's messages feeds
every list at once (instead of one query per list).
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from archive.i18n import translator
from archive.models import CapturedMessage, Chat, MessageKind
from archive.transcripts.items import ItemRenderer
from archive.transcripts.text import is_shown

_READ_SIZE = 1 << 20
_PENDING = 512  # writes gathered before one write to the file


Chunk = str | bytes
"""A piece of a transcript: text, or text already encoded in UTF-8 (read back from a
spill, written to the transcript's file as it is)."""


def decoded(chunks: Iterable[Chunk]) -> Iterator[str]:
    """``chunks`` as text (a run of encoded ones decoded incrementally: a character may
    be cut between two of them)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in chunks:
        if isinstance(chunk, str):
            yield decoder.decode(b"", final=True) + chunk
        else:
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


class Block(Protocol):
    """A part of a transcript rendered ahead of the document: its Markdown (lines, each
    ending with a newline) and its sanitised HTML block, each in pieces."""

    def md_chunks(self) -> Iterator[Chunk]: ...

    def html_chunks(self) -> Iterator[Chunk]: ...


class ItemList(Block, Protocol):
    """Where one list's rendered items go, in order; its HTML is the ``<ul>``."""

    count: int

    def add(self, md: str, html: str | None) -> None:
        """Append one item: its Markdown, and its sanitised ``<li>`` if rendered."""
        ...


class MemoryList:
    """An :class:`ItemList` held in memory."""

    def __init__(self) -> None:
        self.count = 0
        self._md: list[str] = []
        self._html: list[str] = []

    def add(self, md: str, html: str | None) -> None:
        self.count += 1
        self._md.append(md)
        if html is not None:
            self._html.append(html)

    def md_chunks(self) -> Iterator[str]:
        yield "".join(item + "\n" for item in self._md)

    def html_chunks(self) -> Iterator[str]:
        yield "<ul>\n" + "".join(item + "\n" for item in self._html) + "</ul>"


class TextWriter:
    """Text appended to a binary file in UTF-8, gathered in a list and written a few
    hundred pieces at a time (one write per transcript item cost more than the item)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._pending: list[str] = []
        self._append = self._pending.append

    def write(self, text: str) -> None:
        """Append ``text``."""
        self._append(text)
        if len(self._pending) >= _PENDING:
            self.flush()

    def write_now(self, text: str) -> None:
        """Append ``text`` (a large piece) at once."""
        self.flush()
        self.file.write(text.encode("utf-8"))

    def write_lines(self, lines: list[str]) -> None:
        """Append each of ``lines`` followed by a newline, at once."""
        self.flush()
        self.file.write(("\n".join(lines) + "\n").encode("utf-8"))

    def flush(self) -> None:
        """Write what is gathered to the file (not flushing the file itself)."""
        if self._pending:
            self.file.write("".join(self._pending).encode("utf-8"))
            self._pending.clear()


class Spill(TextWriter):
    """Text appended to an anonymous temporary file (gone when closed, or on a crash),
    read back later in pieces, as UTF-8 (copied as they are into the transcript's file)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(tempfile.TemporaryFile(dir=directory))

    def chunks(self) -> Iterator[bytes]:
        """The text written so far, encoded, in pieces of about a mebibyte."""
        self.flush()
        self.file.seek(0)
        while piece := self.file.read(_READ_SIZE):
            yield piece

    def close(self) -> None:
        self.file.close()


class SpillList:
    """An :class:`ItemList` kept in temporary files under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.count = 0
        self._md = Spill(directory)
        self._html = Spill(directory)
        # Items gathered here, written a few hundred at a time (see Spill).
        self._md_items: list[str] = []
        self._html_items: list[str] = []

    def add(self, md: str, html: str | None) -> None:
        self.count += 1
        self._md_items.append(md)
        if html is not None:
            self._html_items.append(html)
        if len(self._md_items) >= _PENDING:
            self._flush()

    def _flush(self) -> None:
        if self._md_items:
            self._md.write_lines(self._md_items)
            self._md_items.clear()
        if self._html_items:
            self._html.write_lines(self._html_items)
            self._html_items.clear()

    def md_chunks(self) -> Iterator[Chunk]:
        self._flush()
        return self._md.chunks()

    def html_chunks(self) -> Iterator[Chunk]:
        self._flush()
        yield "<ul>\n"
        yield from self._html.chunks()
        yield "</ul>"

    def close(self) -> None:
        self._md.close()
        self._html.close()


_UNKNOWN = object()


def without_anchor(md: str, html: str | None) -> tuple[str, str | None]:
    """An item (from ``ItemRenderer.item``) without the message's anchor it starts with,
    ``<a id="m-..."></a>``, for its repeats in other lists."""
    md = "- " + md[md.index("</a>") + 4 :]
    if html is not None:
        html = "<li>" + html[html.index("</a>") + 4 :]
    return md, html


class TranscriptLists:
    """A transcript's message lists, filled by :meth:`add` with the chat's messages in
    time order (deleted and opted-out ones are left out here).

    ``html``: also render each item's ``<li>``; ``html_direct`` turns False when one
    cannot be rendered directly, and the HTML must then be converted from the Markdown.
    """

    def __init__(
        self,
        chat: Chat,
        *,
        hide: set[str],
        opted_out: frozenset[str],
        network: bool,
        new_list: Callable[[], ItemList] = MemoryList,
        html: bool = False,
    ) -> None:
        self.opted_out = opted_out
        self.network = network  # messages are marked with their network
        tr = translator(chat.language)
        self._renderer = ItemRenderer(chat.zone, hide, network=network, html=html, tr=tr)
        # Translators: the mark before a host's message that is not an answer (a question's
        # follow-up is listed in its thread with it).
        self._host = tr.gettext("Host")
        self._labels = {q.key: chat.labels.answer_label(q.key) for q in chat.questions}
        # Each question's place on the page: a message listed under several questions is
        # listed in that order, its anchor under the first (A2/A1 answers Q1 first).
        self._rank = {q.key: i for i, q in enumerate(chat.questions)}
        self.answers: dict[str, ItemList] = {q.key: new_list() for q in chat.questions}
        self._new_list = new_list
        self.others = new_list()
        self.late = new_list()
        self.late_count: dict[str, int] = {}  # late answers shown, per question key
        self._routes: dict[
            tuple[MessageKind, tuple[str, ...], bool], tuple[tuple[ItemList, ...], str] | None
        ] = {}

    def add_question(self, chat: Chat, key: str) -> None:
        """Make the list of a question found after the lists were made (an import that
        learns the chat's questions as it reads; ``chat`` holds it). Its answers must come
        after it: routes already taken are forgotten."""
        if key not in self.answers:
            self._labels[key] = chat.labels.answer_label(key)
            self.answers[key] = self._new_list()
            self._rank = {q.key: i for i, q in enumerate(chat.questions)}
            self._routes.clear()

    @property
    def html_direct(self) -> bool:
        """Whether every item so far has its ``<li>`` (the renderer stops making them once
        one item cannot have one)."""
        return self._renderer.html

    def add(self, m: CapturedMessage) -> None:
        """Route ``m`` to its lists, if a transcript shows it at all."""
        if not is_shown(m, self.opted_out):
            return
        route = self.route(m.kind, m.question_keys, m.late)
        if route is None:
            return
        md, html = self._renderer.items(m, route[1])
        self.put(route[0], md, html)

    @property
    def renderer(self) -> ItemRenderer:
        """The renderer of the items (for a caller that renders them field by field)."""
        return self._renderer

    def route(
        self, kind: MessageKind, keys: tuple[str, ...], late: bool
    ) -> tuple[tuple[ItemList, ...], str] | None:
        """:meth:`destination`, and a late answer listed is counted under its questions."""
        where = self.destination(kind, keys, late)
        if late and where is not None and where[0][0] is self.late:
            self.count_late(keys)
        return where

    def destination(
        self, kind: MessageKind, keys: tuple[str, ...], late: bool
    ) -> tuple[tuple[ItemList, ...], str] | None:
        """Where a shown message of ``kind`` answering ``keys`` goes: its lists and the
        prefix of its item (late answers' labels, the host mark), or None when no list
        shows it (questions, reposts). Late answers (their list is :attr:`late`) must
        also be counted (:meth:`count_late`)."""
        where = self._routes.get((kind, keys, late), _UNKNOWN)
        if where is _UNKNOWN:
            where = self._routes[(kind, keys, late)] = self._route(kind, keys, late)
        return where  # type: ignore[return-value]

    def count_late(self, keys: tuple[str, ...]) -> None:
        """Count one late answer listed, under each question it answers."""
        for k in set(keys):
            self.late_count[k] = self.late_count.get(k, 0) + 1

    def _route(
        self, kind: MessageKind, keys: tuple[str, ...], late: bool
    ) -> tuple[tuple[ItemList, ...], str] | None:
        answers = self.answers
        if kind is MessageKind.ANSWER and any(k in answers for k in keys):
            if late:
                labels = self._labels
                prefix = "/".join(labels[k] for k in dict.fromkeys(keys) if k in labels)
                return (self.late,), prefix
            # listed under each question it answers, once, in the page's order
            return tuple(answers[k] for k in self._in_page_order(keys)), ""
        if kind is MessageKind.ANSWER or kind is MessageKind.COMMENT:
            return (self.others,), ""
        if kind is MessageKind.HOST:
            # A host's follow-up on questions (capture gives it their keys) is listed in
            # their threads, once each, with the host mark; any other host post with the rest.
            under = tuple(answers[k] for k in self._in_page_order(keys))
            return (under or (self.others,)), self._host
        return None  # questions and reposts are not listed

    def _in_page_order(self, keys: tuple[str, ...]) -> list[str]:
        """Those of ``keys`` the transcript has a list for, once each, in the page's order."""
        rank = self._rank
        known = [k for k in dict.fromkeys(keys) if k in self.answers]
        return sorted(known, key=lambda k: rank.get(k, len(rank)))

    def put(self, targets: tuple[ItemList, ...], md: str, html: str | None) -> None:
        """Append one rendered item to ``targets`` (from :meth:`route`). The message's
        anchor is in the first list only: an answer to Q1 and Q2 listed under both would
        otherwise give its page two elements of one id (links go to the first)."""
        if html is None:
            self.no_html()
        targets[0].add(md, html)
        if len(targets) > 1:
            md, html = without_anchor(md, html)
            for target in targets[1:]:
                target.add(md, html)

    def no_html(self) -> None:
        """An item has no ``<li>`` of its own: the HTML will be converted from the Markdown
        (the renderer stops making them)."""
        self._renderer.html = False
