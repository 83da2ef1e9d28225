"""Walk a large JSON export (an object holding one long array) without loading it whole.

The file is decoded in chunks; each value is handed to ``json.JSONDecoder.raw_decode`` as
soon as the window holds all of it, and the window slides forward, so memory depends on
the largest single value, not on the file. Errors name the file, the byte offset and the
array element where the file broke, and tell a truncated file from a malformed one.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

__all__ = ["CHUNK", "ExportError", "Member", "iter_members"]

CHUNK = 1 << 20  # bytes read at a time
# Export elements (a Discord message with its embeds, say) are at most a few hundred KB;
# anything far larger is a broken file, and refusing it keeps memory bounded on that path.
MAX_VALUE_CHARS = 32 << 20
PROGRESS_EVERY = 256  # array elements between progress callbacks

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_PARTIAL_NUMBER = re.compile(r"-?\d*(?:\.\d*)?(?:[eE][-+]?\d*)?")


class ExportError(ValueError):
    """The import cannot go ahead; the message names the file (or option) and what is wrong."""


class Member(NamedTuple):
    """One top-level member, or (``position`` > 0) one element of the streamed array."""

    key: str
    value: Any
    offset: int  # byte offset in the file where the value starts
    position: int = 0  # 1-based position in the streamed array; 0 for a top-level member


class _Window:
    """A window of decoded text over a file, refilled as parsing moves forward."""

    def __init__(self, path: Path, fh: IO[bytes], chunk_size: int) -> None:
        self.path = path
        self._fh = fh
        self._chunk = chunk_size
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self._base = 0  # file offset of buf[0]
        self._mark = (0, 0)  # (a position in buf, its file offset)
        self.bytes_read = 0
        self.eof = False
        self.fill()
        if self.buf.startswith("\ufeff"):
            self.pos = 1

    def fill(self) -> bool:
        """Read one more chunk, dropping what was consumed; False when the file is exhausted."""
        if self.eof:
            return False
        data = self._fh.read(self._chunk)
        if self.pos:
            self._base = self.byte_at(self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0
            self._mark = (0, self._base)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as e:
            at = self.bytes_read + e.start
            raise ExportError(f"{self.path}: not UTF-8 text (bad byte at byte {at})") from None
        self.bytes_read += len(data)
        self.eof = not data
        self.buf += text
        return bool(data)

    def byte_at(self, pos: int) -> int:
        """The file offset of character ``pos`` of the window."""
        if self.buf.isascii():
            return self._base + pos
        # Count on from the last position asked for, so walking forward stays linear.
        mark, offset = self._mark
        if pos < mark:
            mark, offset = 0, self._base
        offset += len(self.buf[mark:pos].encode("utf-8"))
        self._mark = (pos, offset)
        return offset

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file), not consumed."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def value(self) -> Any:
        """Decode the JSON value that starts at the next non-blank character."""
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # The decoder stops at the first character it cannot use. Well before the
                # end of the window that is a real error; at the end (or inside a string
                # still open) the value may simply go on in the next chunk.
                more = e.msg.startswith("Unterminated string") or e.pos >= len(self.buf) - 16
                if not more or len(self.buf) - self.pos > MAX_VALUE_CHARS or not self.fill():
                    raise
                continue
            if end == len(self.buf) and self.fill():
                continue  # a number may go on in the next chunk: decode it again
            self.pos = end
            return obj


def _truncated(w: _Window, where: str) -> ExportError:
    return ExportError(
        f"{w.path}: the file ends too early at byte {w.bytes_read} ({where});"
        " it looks truncated: export it again"
    )


def _decode_error(w: _Window, where: str, e: json.JSONDecodeError) -> ExportError:
    rest = w.buf[e.pos :].strip()
    cut_short = (
        not rest
        or e.msg.startswith(("Unterminated", "Invalid \\uXXXX"))
        or any(word.startswith(rest) for word in ("true", "false", "null"))
        or _PARTIAL_NUMBER.fullmatch(rest) is not None
    )
    if w.eof and cut_short:
        return _truncated(w, where)
    at = w.byte_at(min(e.pos, len(w.buf)))
    return ExportError(f"{w.path}: invalid JSON at byte {at} ({where}): {e.msg}")


def iter_members(
    path: Path,
    *,
    stream: str,
    item: str = "element",
    on_progress: Callable[[int, float], None] | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[Member]:
    """The members of the JSON object in ``path``, in file order, the array ``stream`` streamed.

    Each top-level member comes as ``Member(name, value, offset)``, except ``stream``: it
    comes as ``Member(stream, [], offset)`` followed by one ``Member(stream, element,
    offset, position)`` per element. ``item`` names an element in error messages ("message 7").
    ``on_progress(elements, fraction of the file read)`` is called every few hundred
    elements and at the end. Raises :class:`ExportError`.
    """
    try:
        fh = open(path, "rb")
    except OSError as e:
        raise ExportError(f"{path}: cannot read the file: {e.strerror or e}") from None
    try:
        w = _Window(Path(path), fh, chunk_size)
        total = max(Path(path).stat().st_size, 1)
        where = "at the start"
        count = 0

        def fail(expected: str) -> ExportError:
            if w.peek() == "":
                return _truncated(w, where)
            found = w.buf[w.pos]
            return ExportError(
                f"{path}: invalid JSON at byte {w.byte_at(w.pos)} ({where}):"
                f" expected {expected}, found {found!r}"
            )

        def take(chars: str, expected: str) -> str:
            char = w.peek()
            if not char or char not in chars:
                raise fail(expected)
            w.pos += 1
            return char

        def elements() -> Iterator[Member]:
            nonlocal where, count
            if w.peek() == "]":
                w.pos += 1
                return
            while True:
                where = f"in {item} {count + 1}"
                w.peek()
                offset = w.byte_at(w.pos)
                value = w.value()
                count += 1
                yield Member(stream, value, offset, count)
                if on_progress is not None and count % PROGRESS_EVERY == 0:
                    on_progress(count, min(w.bytes_read / total, 1.0))
                where = f"after {item} {count}"
                if take(",]", "',' or ']'") == "]":
                    return

        try:
            first = w.peek()
            if first == "":
                raise ExportError(f"{path}: the file is empty")
            if first == "[":
                raise ExportError(
                    f"{path}: not an export (the top level is a JSON array, not an object"
                    f" with {stream!r}); export as JSON"
                )
            if first != "{":
                raise ExportError(f"{path}: not JSON (found {first!r} at byte {w.byte_at(w.pos)})")
            w.pos += 1
            if w.peek() == "}":
                w.pos += 1
            else:
                while True:
                    if w.peek() != '"':
                        raise fail("a member name")
                    key = w.value()
                    take(":", "':'")
                    where = f"in {key!r}"
                    w.peek()
                    offset = w.byte_at(w.pos)
                    if key == stream and w.peek() == "[":
                        w.pos += 1
                        yield Member(key, [], offset)
                        yield from elements()
                    else:
                        yield Member(key, w.value(), offset)
                    where = f"after {key!r}"
                    if take(",}", "',' or '}'") == "}":
                        break
            if w.peek() != "":
                raise ExportError(
                    f"{path}: unexpected data after the export at byte {w.byte_at(w.pos)}"
                )
        except json.JSONDecodeError as e:
            raise _decode_error(w, where, e) from None
        if on_progress is not None:
            on_progress(count, 1.0)
    finally:
        fh.close()
