"""Read a large JSON export (an object holding one long array) in one streaming pass.

The file is fed in chunks to ijson's C parser (yajl), which builds each element of the
streamed array as soon as it is complete, so memory depends on the largest element, not
on the file. The few small top-level members an importer needs (``guild``, ``channel``)
are picked up on the way by parsers of their own that stop as soon as they have them.

Errors name the file, the byte offset and the array element where the file broke, and tell
a truncated file from a malformed one. yajl says what is wrong but not where, so on an
error the file is parsed again, up to the failing chunk, then byte by byte: only a failing
import pays for that.
"""

from __future__ import annotations

import operator
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import ijson

__all__ = ["BOM", "CHUNK", "ExportError", "ExportReader"]

CHUNK = 1 << 16  # bytes fed to the parser at a time
BOM = b"\xef\xbb\xbf"
_BLANK = b" \t\r\n"

try:  # the C parser; the pure-Python fallback gives the same values, ten times slower
    from ijson.backends import yajl2_c as _backend
except ImportError:  # pragma: no cover - wheels ship it; a source build without yajl has not
    _backend = ijson.get_backend("python")
_JSONError = ijson.common.JSONError
_IncompleteJSONError = ijson.common.IncompleteJSONError


class ExportError(ValueError):
    """The import cannot go ahead; the message names the file (or option) and what is wrong."""


def backend_name() -> str:
    """``yajl2_c`` when the fast C parser is in use."""
    return str(getattr(_backend, "backend_name", getattr(_backend, "backend", "?")))


class ExportReader:
    """``for element, position in ExportReader(path, stream="messages"): ...``

    Yields every element of the top-level array ``stream`` with its 1-based position, in
    file order. Meanwhile :attr:`members` collects the top-level members named in
    ``members`` (values found anywhere in the file, before or after the array);
    :attr:`count` is the number of elements read. ``item`` names an element in error
    messages ("message 7"). ``on_progress(elements, fraction of the file read)`` is called
    after every chunk. ``counts``: the ``elements`` of every ``on_progress`` call of a pass
    another reader made over the same file, for :meth:`offset_of` without a pass of this
    one's. Raises :class:`ExportError`.
    """

    def __init__(
        self,
        path: Path,
        *,
        stream: str,
        members: Sequence[str] = (),
        item: str = "element",
        on_progress: Callable[[int, float], None] | None = None,
        chunk_size: int = CHUNK,
        counts: Sequence[int] = (),
    ) -> None:
        self.path = Path(path)
        self.stream = stream
        self.item = item
        self.members: dict[str, Any] = {}
        self.count = 0
        self._wanted = tuple(members)
        self._on_progress = on_progress
        self._chunk = chunk_size
        self._start = 0  # bytes before the JSON text: a byte-order mark
        # the number of elements complete after each chunk, to find one again quickly (given
        # by ``counts`` when another reader made the pass: the ``elements`` it reported)
        self._counts: list[int] = list(counts)

    # ---- the pass --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        try:
            fh = open(self.path, "rb")
        except OSError as e:
            raise ExportError(f"{self.path}: cannot read the file: {e.strerror or e}") from None
        try:
            yield from self._read(fh)
        finally:
            fh.close()

    def _read(self, fh: IO[bytes]) -> Iterator[tuple[Any, int]]:
        source = _Source(self, fh, self._head(fh))
        # The generator form: ijson's coroutine form costs twice as much per element.
        elements = _backend.items(
            source, f"{self.stream}.item", buf_size=self._chunk, use_float=True
        )
        try:
            for element in elements:
                self.count += 1
                yield element, self.count
        except _JSONError:
            raise self._locate(source.failing) from None
        source.finish()

    def _head(self, fh: IO[bytes]) -> bytes:
        """The first chunk, after a byte-order mark, once its first character is checked."""
        data = fh.read(self._chunk)
        encoding = _wide_encoding(data[:4])
        if encoding:
            raise ExportError(
                f"{self.path}: this is {encoding} text, not UTF-8: DiscordChatExporter's JSON"
                " is UTF-8; export it again, or convert it (iconv -f UTF-16 -t UTF-8)"
            )
        if data.startswith(BOM):
            self._start = len(BOM)
            data = data[len(BOM) :]
        blank = 0
        while True:
            text = data[blank:].lstrip(_BLANK)
            if text:
                break
            blank = len(data)
            more = fh.read(self._chunk)
            if not more:
                raise ExportError(f"{self.path}: the file is empty")
            data += more
        first = text[:1]
        at = self._start + len(data) - len(text)
        if first == b"[":
            raise ExportError(
                f"{self.path}: not an export (the top level is a JSON array, not an object"
                f" with {self.stream!r}); export as JSON"
            )
        if first != b"{":
            shown = text[:4].decode("utf-8", "replace")[:1]
            raise ExportError(f"{self.path}: not JSON (found {shown!r} at byte {at})")
        return data

    # ---- where things are (error paths only) -------------------------------------------------

    def _events(self, fh: IO[bytes]) -> tuple[Any, list[Any]]:
        events = ijson.utils.sendable_list()
        fh.seek(self._start)
        return _backend.parse_coro(events, use_float=True), events

    def _locate(self, fed: int) -> ExportError:
        """The error for a file that yajl refused in the chunk starting at byte ``fed`` (or at
        the end of the file, when ``fed`` is its size): parsed again to find where."""
        state = _Where(self.stream, self.item)
        with open(self.path, "rb") as fh:
            parser, events = self._events(fh)
            at = self._start
            try:
                while at + self._chunk <= fed:  # whole chunks up to the failing one
                    data = fh.read(self._chunk)
                    parser.send(data)
                    state.follow(events)
                    at += len(data)
                rest = fh.read(max(fed - at, 0) + self._chunk)
                for i in range(len(rest)):
                    parser.send(rest[i : i + 1])
                    state.follow(events)
                    at += 1
                if fh.read(1):  # pragma: no cover - the main pass failed in that chunk
                    return ExportError(f"{self.path}: invalid JSON at byte {at} ({state.where})")
                parser.close()
            except _JSONError as e:
                return self._error(e, at, state.where)
        return ExportError(f"{self.path}: invalid JSON ({state.where})")  # pragma: no cover

    def _error(self, e: Exception, at: int, where: str) -> ExportError:
        message = e.args[0] if e.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        reason = str(message).split("\n", 1)[0].strip()
        size = self.path.stat().st_size
        if "premature EOF" in reason or (at >= size and isinstance(e, _IncompleteJSONError)):
            return ExportError(
                f"{self.path}: the file ends too early at byte {size} ({where});"
                " it looks truncated: export it again"
            )
        if "trailing garbage" in reason:
            return ExportError(f"{self.path}: unexpected data after the export at byte {at}")
        if "UTF8" in reason:
            return ExportError(f"{self.path}: not UTF-8 text (bad byte at byte {at})")
        reason = reason.removeprefix("parse error: ").removeprefix("lexical error: ")
        return ExportError(f"{self.path}: invalid JSON at byte {at} ({where}): {reason}")

    def offset_of(self, position: int) -> int:
        """The byte offset where element ``position`` of the array starts (for messages
        about a bad element: the file is parsed again up to it)."""
        # The element started after the previous one was complete: in the first chunk
        # whose count reached position - 1, or later. No count reached it yet (the pass is
        # still in the chunk where it completed): in a chunk after those counted.
        chunk = next(
            (i for i, n in enumerate(self._counts) if n >= position - 1), len(self._counts)
        )
        if position == 1:
            chunk = 0
        key = f"{self.stream}.item"
        with open(self.path, "rb") as fh:
            parser, events = self._events(fh)
            at = self._start
            started = 0
            for _ in range(chunk):
                data = fh.read(self._chunk)
                parser.send(data)
                started += _starts(events, key)
                del events[:]
                at += len(data)
            quiet_from = at  # just after the byte that gave the last events
            while True:
                data = fh.read(self._chunk)
                if not data:
                    return at
                for i in range(len(data)):
                    parser.send(data[i : i + 1])
                    if not events:
                        continue
                    opens = events[-1][1] in ("start_map", "start_array")
                    started += _starts(events, key)
                    del events[:]
                    if started >= position:
                        if opens:  # a '{' or '[' gives its event at once
                            return at + i
                        # a string or number gives it at its end: find its first byte
                        gap = os.pread(fh.fileno(), at + i + 1 - quiet_from, quiet_from)
                        return quiet_from + len(gap) - len(gap.lstrip(b" \t\r\n,["))
                    quiet_from = at + i + 1
                at += len(data)


class _Source:
    """The file as the parser reads it: counts the bytes, reports progress, and hands each
    chunk to the parsers of the wanted top-level members until they have them."""

    def __init__(self, reader: ExportReader, fh: IO[bytes], head: bytes) -> None:
        self._reader = reader
        self._fh = fh
        self._pending = head
        self._total = max(os.fstat(fh.fileno()).st_size, 1)
        self.read_to = reader._start  # file offset after the last chunk read
        self.failing = self.read_to  # file offset where the last chunk read starts
        self._heads: dict[str, tuple[list[Any], Any]] = {}
        for name in reader._wanted:
            found = ijson.utils.sendable_list()
            self._heads[name] = (found, _backend.items_coro(found, name, use_float=True))

    def read(self, size: int) -> bytes:
        if size == 0:  # ijson asks for nothing first, to see whether the file gives bytes
            return b""
        reader = self._reader
        if self._pending:
            data, self._pending = self._pending, b""
        else:
            data = self._fh.read(size)
            reader._counts.append(reader.count)
            if reader._on_progress is not None:
                reader._on_progress(reader.count, min(self.read_to / self._total, 1.0))
        self.failing = self.read_to
        self.read_to += len(data)
        if self._heads and data:
            self._feed_heads(data)
        return data

    def _feed_heads(self, data: bytes) -> None:
        for name in list(self._heads):
            found, parser = self._heads[name]
            try:
                parser.send(data)
            except _JSONError:  # the main parser has seen the same bytes and says where
                del self._heads[name]
                continue
            if found:
                self._reader.members[name] = found[0]
                del self._heads[name]

    def finish(self) -> None:
        reader = self._reader
        reader._counts.append(reader.count)
        if reader._on_progress is not None:
            reader._on_progress(reader.count, 1.0)


def _wide_encoding(head: bytes) -> str:
    """The name of the encoding the first bytes of a file show, when it is UTF-16 or
    UTF-32 (a byte-order mark, or JSON's first ASCII character padded with NUL bytes, as
    without one); '' for anything else."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    if len(head) == 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return "UTF-32"  # big-endian
    if len(head) == 4 and head[0] and head[1:] == b"\x00\x00\x00":
        return "UTF-32"  # little-endian
    if len(head) >= 2 and (bool(head[0]) != bool(head[1])):
        return "UTF-16"  # one byte of two NUL: an ASCII character, big- or little-endian
    return ""


def _starts(events: list[Any], prefix: str) -> int:
    """How many array elements start among ``events`` (counted in C, not walked)."""
    counts = Counter(map(_PREFIX_EVENT, events))
    return sum(counts[prefix, event] for event in _STARTS)


_PREFIX_EVENT = operator.itemgetter(0, 1)
_STARTS = ("start_map", "start_array", "string", "number", "boolean", "null")


class _Where:
    """Follows parse events to say where the parser is, as error messages put it.

    Only the last event that moves between members or elements matters, so each batch of
    events is counted in C (``list.count``) and searched from its end, not walked in Python.
    Elements that are not objects or arrays are not counted (they are bad messages anyway).
    """

    def __init__(self, stream: str, item: str) -> None:
        self._stream = stream
        self._prefix = f"{stream}.item"
        self._item = item
        self._ends = ((self._prefix, "end_map", None), (self._prefix, "end_array", None))
        self.count = 0
        self.where = "at the start"

    def follow(self, events: list[Any]) -> None:
        if not events:
            return
        self.count += sum(events.count(end) for end in self._ends)
        for prefix, event, value in reversed(events):
            if prefix == self._prefix:
                if event in _ENDS:
                    self.where = f"after {self._item} {self.count}"
                else:  # its start, or a key inside it
                    self.where = f"in {self._item} {self.count + 1}"
                break
            if prefix == "":
                if event == "map_key":
                    self.where = f"in {value!r}"
                    break
                continue
            if "." in prefix:
                continue
            if prefix == self._stream and event == "start_array":
                self.where = f"in {self._item} 1"
                break
            if event in _ENDS:
                self.where = f"after {prefix!r}"
                break
        del events[:]


_ENDS = frozenset({"end_map", "end_array", "string", "number", "boolean", "null"})
