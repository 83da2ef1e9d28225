"""Published transcripts that are still current: what each was made from, and serving it.

``tweetchat transcript`` copies the transcript the publisher wrote, instead of rendering
the chat again (seconds for a big chat), when that file is provably what rendering now
would give. A recorded file (``Store.recorded_transcript``) is *current* when all of:

- **the archive is at the generation recorded with it.** Every write transaction that
  changed a row moves the archive-wide generation (``Connection.transaction``), so nothing
  a transcript is made from has changed since: the chat and its questions, its messages
  (edits, deletions, reactions), opt-outs (archive-wide), stakeholder declarations, the
  roster and the configured groups, engagement, the post ledger and the controls, and the
  other chats of the series (participation history). Only the record of the written files
  is bookkeeping and moves nothing. The generation is read before rendering, so a write
  that lands while the files are written makes them not current: never the other way;
- **the options fingerprint recorded with it is the one asked for now**
  (:func:`transcript_options`): the format is the record's key; the cost note's text,
  the highlights per question, and the code that renders (:data:`CODE`);
- **the file's bytes are the ones recorded**: its size, then its SHA-256, computed while it
  is copied (a file changed by hand, replaced, or restored from a backup is never served:
  a modification time could be put back, its content cannot). The publisher hashes its
  files in a folder of its own before moving them into place (:func:`move_into_place`),
  so a record never pairs one publisher's generation and options with another's bytes.

Not covered, on purpose: the footer's "Generated ..." time, which says when the file was
made (a served file keeps its own); and writes to the database made outside tweetchat (a
``sqlite3`` shell) or by a tweetchat older than migration 11 (a downgrade), which no
generation sees: ``tweetchat transcript --fresh`` renders. (SQLite triggers would see them,
but a trigger runs per row: ~0.1-0.2 s more for a 100k-message import.)

This module is on the short path of ``tweetchat transcript``: it imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from archive.store import Store
    from archive.store.chats import RecordedTranscript

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
Digest = tuple[int, str]
"""A file's size in bytes and SHA-256 (hex)."""
_PACKAGE = Path(__file__).resolve().parent
_LIBRARIES = ("babel", "markdown", "nh3")
"""The libraries whose code shapes the transcripts (dates and numbers, HTML fallback,
sanitising): an upgrade of any makes earlier files not current."""


def umask() -> int:
    """The process's umask, read without changing it (Linux: /proc; elsewhere set and put
    back at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _code_fingerprint() -> str:
    """SHA-256 (hex) of the code that renders transcripts: every file of the ``archive``
    package (sources, catalogues, templates), Python's version, and where and when each
    rendering library was installed."""
    digest = hashlib.sha256(sys.version.encode())
    files = sorted(p for p in _PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        stamp = ""
        if origin:
            st = os.stat(origin)
            stamp = f"{origin} {st.st_size} {st.st_mtime_ns}"
        digest.update(f"\0{name} {stamp}".encode())
    return digest.hexdigest()


CODE = _code_fingerprint()
"""The rendering code's fingerprint, taken when this module is first imported: the
publisher imports it with the rendering code, so it names the code that renders in this
process even if the files change on disk later."""


def transcript_options(*, cost_note: str, highlights: int) -> str:
    """The fingerprint (SHA-256, hex) of what besides the archive shapes a transcript file
    of any format: ``cost_note`` (the footer's cost line, as given to the renderer),
    ``highlights`` (answers kept per question) and :data:`CODE`. Not the "Generated" time."""
    data = {"code": CODE, "cost_note": cost_note, "highlights": highlights, "v": 1}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def file_digest(path: Path) -> Digest:
    """(size in bytes, SHA-256 hex) of the file, read in 1 MiB pieces. Raises OSError."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def move_into_place(
    staged: Mapping[str, Path],
    paths: Mapping[str, Path],
    hashed: Mapping[str, Digest] | None = None,
) -> dict[str, Digest]:
    """Hash each file just written to ``staged`` (format -> file in a folder of the
    publisher's own, beside the final ones), then move it to its place in ``paths``
    (``os.replace``: atomic); the (size, SHA-256) of each format, as written. ``hashed``:
    the digests of formats the publisher already took (:func:`file_digest`) of its files.

    All or nothing for the set (:func:`placed`): when one format cannot be moved, those
    already moved get their previous file back. Raises OSError."""
    with placed(staged, paths, hashed) as digests:
        return digests


@contextlib.contextmanager
def placed(
    staged: Mapping[str, Path],
    paths: Mapping[str, Path],
    hashed: Mapping[str, Digest] | None = None,
) -> Iterator[dict[str, Digest]]:
    """:func:`move_into_place` that is undone when the block fails (the record of the
    files, say): every format's previous file is put back, and a file that had none is
    removed, so the folder holds one publication's set or the one before, never a mix.

    Hashed before it is moved, so the digest is of the bytes this publisher wrote, never
    those of another publisher of the same chat replacing the file meanwhile (whose
    record then disagrees with one of the two files, which is then not served). The
    previous files are kept (hard links, else copies) in the staging folder until the
    block is over, taken before anything is moved: a format whose previous file cannot
    be kept fails the set before it touches the folder. Raises OSError (the folder left
    as it was), or what the block raised, after the folder is put back."""
    digests = {
        fmt: hashed[fmt] if hashed and fmt in hashed else file_digest(path)
        for fmt, path in staged.items()
    }
    previous = {fmt: _keep_previous(paths[fmt], path) for fmt, path in staged.items()}
    moved: list[str] = []
    try:
        for fmt, path in staged.items():
            os.replace(path, paths[fmt])
            moved.append(fmt)
        yield digests
    except BaseException:  # an interrupt too: the folder is put back before it ends us
        for fmt in reversed(moved):
            _put_back(paths[fmt], previous[fmt])
        raise


def _keep_previous(final: Path, staged: Path) -> Path | None:
    """A copy of ``final`` (its previous version) beside ``staged``, for :func:`placed` to
    put back; None when there is no previous file. Raises OSError."""
    keep = staged.with_name(f".previous-{staged.name}")
    try:
        os.link(final, keep)  # no bytes copied: the staging folder is beside it
    except FileNotFoundError:
        return None
    except OSError:  # no hard links here (some network file systems), or not allowed
        if not final.exists():
            return None
        shutil.copy2(final, keep)
    return keep


def _put_back(final: Path, previous: Path | None) -> None:
    """Undo one move of :func:`placed`; a failure is only logged (the error that undoes
    the set is the one to report)."""
    try:
        if previous is None:
            final.unlink(missing_ok=True)
        else:
            os.replace(previous, final)
    except OSError as e:
        logger.warning("%s: its previous version could not be put back: %s", final, e)


def record_published(
    store: Store,
    chat_id: str,
    paths: Mapping[str, Path],
    digests: Mapping[str, Digest],
    generated_at: datetime,
    *,
    generation: int,
    options: str,
    mark_published: bool = False,
) -> None:
    """Record the transcripts just published (format -> file) with what they were made
    from: the ``generation`` read *before* they were rendered, ``options``
    (:func:`transcript_options`), and each file's (size, SHA-256) as written (from
    :func:`move_into_place`); in one transaction. ``generated_at`` is the records' time.
    ``mark_published``: an ended chat becomes published in the same transaction
    (``Store.mark_published``: an import's). Raises sqlite3.Error (nothing recorded)."""
    with store.transaction():
        if mark_published:
            store.mark_published(chat_id)
        for fmt, path in paths.items():
            size, sha = digests[fmt]
            store.record_transcript(
                chat_id,
                fmt,
                str(path),
                generated_at,
                generation=generation,
                options=options,
                size=size,
                sha256=sha,
            )


def current_transcript(
    store: Store, chat_id: str, fmt: str, options: str
) -> RecordedTranscript | None:
    """The chat's recorded transcript in ``fmt`` when the archive is still at the
    generation it was rendered at and it was rendered with ``options``, and its file has
    the recorded size; else None. The content is checked by :func:`copy_transcript`."""
    with store.snapshot():  # the record and the generation of one state of the archive
        record = store.recorded_transcript(chat_id, fmt)
        generation = store.generation()
    if record is None or record.generation is None or record.size is None:
        return None
    if record.options != options or record.generation != generation:
        return None
    try:
        if record.path.stat().st_size != record.size:
            return None
    except OSError:
        return None
    return record


def _verified_copy(record: RecordedTranscript, dst: IO[bytes]) -> bool:
    """Copy the recorded file into ``dst`` (one read); whether its bytes were the recorded
    ones (size and SHA-256). False also when the file cannot be read."""
    digest = hashlib.sha256()
    size = 0
    try:
        with record.path.open("rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
    except OSError:
        return False
    return size == record.size and digest.hexdigest() == record.sha256


def copy_transcript(record: RecordedTranscript, dst: Path | IO[bytes]) -> bool:
    """Serve a :func:`current_transcript` to ``dst``: a file (written atomically: a
    temporary file beside it renamed into place, with the permissions of any new file) or
    a binary stream (standard output). The file is read once, into the temporary file, and
    checked there: when its size or SHA-256 is not the recorded one, nothing is written
    anywhere and False is returned (then render). Raises OSError when ``dst`` cannot be
    written."""
    out = dst if isinstance(dst, Path) else None
    folder = out.parent if out is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    name = out.name if out is not None else record.path.name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        with os.fdopen(fd, "w+b") as fh:
            if not _verified_copy(record, fh):
                return False
            if out is None:
                assert not isinstance(dst, Path)
                fh.seek(0)
                for chunk in _chunks(fh):
                    dst.write(chunk)
                dst.flush()
                return True
            os.fchmod(fh.fileno(), 0o666 & ~umask())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        return True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk
