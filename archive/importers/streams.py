"""Exports given as a stream (``/dev/stdin``, ``<(zcat export.json.gz)``, a FIFO): copied to
a regular file first, as an import may read its file more than once.

The one-pass import falls back to two passes, the two-pass import reads the file twice,
and an error message about a bad message reads the file again to find where it is: a
stream gives its bytes once, so a second read would find it empty (or mid-way). The copy
is made beside the archive (the same file system as the rows the import writes, whose
room it needs anyway), read under the name the user gave in every error message, and
removed once the import is over. A copy left by an import killed with SIGKILL (or a machine
that stopped) is removed by the next import that copies a stream there
(:mod:`archive.leftovers`: its name holds its process's id and host).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.importers.exportjson import BOM, ExportError, _wide_encoding
from archive.leftovers import process_prefix, remove_abandoned

__all__ = ["is_stream", "readable_again"]

logger = logging.getLogger(__name__)

COPY_CHUNK = 1 << 20  # bytes per read of the stream being copied
_COPY = ".tweetchat-import-"  # the start of a copy's name (archive.leftovers.process_prefix)


def is_stream(path: Path) -> bool:
    """Whether ``path`` names a pipe, a FIFO, a socket or a character device (a terminal):
    input that gives its bytes once. False for a regular file, and for a path that cannot
    be looked at (the import says what is wrong with it)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


@contextmanager
def readable_again(path: Path, archive: Path) -> Iterator[Path]:
    """The file to import for ``path``: ``path`` itself unless it is a stream
    (:func:`is_stream`); for a stream, a copy of all it gives in a temporary file in the
    folder of the database ``archive`` (the system's temporary folder for ``:memory:``),
    removed on leaving. An :class:`ExportError` raised inside names ``path``, never the copy.
    Raises :class:`ExportError` when the stream cannot be read or copied."""
    if not is_stream(path):
        yield path
        return
    folder = Path(tempfile.gettempdir()) if str(archive) == ":memory:" else archive.parent
    remove_abandoned(folder, _COPY, folders=False, what="an import")
    try:
        fd, name = tempfile.mkstemp(
            prefix=process_prefix(_COPY, os.getpid()), suffix=".json", dir=folder
        )
    except OSError as e:
        raise ExportError(
            f"{path}: not a regular file, and no copy of it can be made in {folder}"
            f" ({e.strerror or e})"
        ) from None
    copy = Path(name)
    try:
        logger.info(
            "%s is not a regular file: copying it to %s first (the import may read it twice)",
            path,
            copy,
        )
        size = _copy(path, fd, copy)
        logger.info("%s: copied %d bytes", path, size)
        try:
            yield copy
        except ExportError as e:
            # The same class (ImportWorkerError too), naming what the user named.
            raise type(e)(str(e).replace(str(copy), str(path))) from None
    finally:
        copy.unlink(missing_ok=True)


def _copy(path: Path, fd: int, copy: Path) -> int:
    """Copy all that ``path`` gives into the open file ``fd`` (closed after); the bytes."""
    size = 0
    with os.fdopen(fd, "wb") as target:
        try:
            source = open(path, "rb")  # closed below; its errors told from the copy's
        except OSError as e:
            raise ExportError(f"{path}: cannot read the file: {e.strerror or e}") from None
        with source:
            while True:
                try:
                    data = source.read(COPY_CHUNK)
                except OSError as e:
                    raise ExportError(f"{path}: cannot read the file: {e.strerror or e}") from None
                if size == 0 and data:
                    _check_start(path, data)
                try:
                    if not data:
                        target.flush()  # a full disk may say so only now
                        return size
                    target.write(data)
                except OSError as e:
                    raise ExportError(
                        f"{path}: not a regular file, and its copy in {copy.parent} failed"
                        f" ({e.strerror or e})"
                    ) from None
                size += len(data)


def _check_start(path: Path, data: bytes) -> None:
    """Raise :class:`ExportError` when the first bytes a stream gave cannot begin an
    export: not a JSON object or array, or a NUL byte (no JSON text holds one), as
    ``/dev/zero`` or ``/dev/urandom`` give. Such a stream never ends, and its copy would fill
    the disk the archive is on. UTF-16/32 text and a start of blanks pass: the import
    names the first, and finds what follows the blanks."""
    if _wide_encoding(data[:4]):
        return
    start = len(BOM) if data.startswith(BOM) else 0
    text = data[start:].lstrip(b" \t\r\n")
    if not text:
        return
    at = len(data) - len(text)
    if text[:1] not in (b"{", b"["):
        shown = text[:4].decode("utf-8", "replace")[:1]
        raise ExportError(f"{path}: not JSON (found {shown!r} at byte {at})")
    nul = data.find(b"\0")
    if nul >= 0:
        raise ExportError(f"{path}: not JSON (a NUL byte at byte {nul})")
