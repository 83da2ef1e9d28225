"""The import's worker: a second process (forked; a thread off Linux) that parses the export
and applies the capture rules while the importer converts, saves and renders. Its frames,
and who renders what, are described below."""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import operator
import pickle
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import orjson

from archive.importers.discord_staging import Row, _captured_rows, _Scan, _Spill
from archive.importers.exportjson import ExportError, ExportReader
from archive.importers.progress import Progress
from archive.models import (
    Chat,
)
from archive.publish import (
    PublicationInputs,
    PublishOptions,
    RowPublication,
)
from archive.published import Digest
from archive.stats import ChatStats
from archive.store.messages import RAW_COLUMN, export_json
from archive.transcripts.rows import SeveralNetworks

logger = logging.getLogger(__name__)

# Messages' texts per frame from the worker while it parses (~300 KB: a frame fits the
# pipe's buffer even where the system caps it, see PIPE_BUFFER).
TEXTS_PER_FRAME = 500


# ---- the worker ------------------------------------------------------------------------------
#
# Two cores share an import. A worker process (forked) parses the export with ijson and
# encodes each message as the JSON text the store keeps, while the importer converts the
# messages, finds the questions and stages them in the spill; once the questions are known,
# the worker puts the staged messages (read from the spill, which it shares) through the
# capture rules while the importer writes the rows it sends back to SQLite. They talk over a
# pipe in frames, the first byte saying what follows:
#
#   worker -> importer: P (messages read, fraction of the file), after each chunk; marshal
#                       M [JSON text of a message, ...], in file order; marshal
#                       S the parse is over: (messages, {member: value}); marshal
#                       R (staged messages done, [row without its payload, ...],
#                          [where each row's message was in its batch, ...]); marshal
#                       D the capture is over: (why the rows were not rendered, "" when
#                         they were; then what it counted of them, a StatsCounter); pickle
#                       W its share of the rendered transcripts is written: {format:
#                         (size, SHA-256)}; marshal
#                       E an ExportError's message (the file is bad); pickle
#                       F a traceback (the worker failed: a bug, out of memory...); pickle
#   importer -> worker: C (the scan, the chat, captured_at, a _Rendering or None): capture
#                         the spill (and render its rows); pickle
#                       B (PublicationInputs, generated_at, cost_note, ChatStats): write
#                         the rendered transcripts; pickle
#                       X the rendering is not wanted after all
#
# A new chat that the import is asked to publish is rendered as it is captured, by both
# (archive.publish.RowPublication: statistics, list items, JSON entries, in spills in the
# publication's staging folder), from the rows the worker sends; the chat's rows in the store will
# be exactly those, in that order, if every one is inserted (the importer checks) and the
# export is in time order (the worker checks). Once the rows are committed, the importer
# reads what the publication needs beside them (highlights, earlier chats...) in one
# snapshot, checked to be the state its commit made (its generation); both write their
# documents from their spills (the statistics made by the importer from what the worker
# counted, sent with its D, and given back with the B); the importer moves them into place
# and records them. When
# the rows alone cannot settle the transcripts (see RowPublication), another process wrote
# in between, or either side's rendering fails (or the worker is gone), the chat is
# published from the store as after any import.
#
# The messages parsed before a syntax error are sent before its E, so errors come in file
# order, as from one process. Nothing is written before the read is over, so a bad file
# fails before the transaction opens; any failure after it (E, F, the worker's death, a save
# that fails here) rolls the one transaction back. Off Linux the worker is a thread: the
# same frames, one core.
#
# The texts cross as orjson wrote them and are parsed again here by orjson: exactly the
# values ijson gave (ijson refuses integers beyond 64 bits and infinite numbers, and gives
# no lone surrogates, so orjson encodes all it gives, and its floats read back the same).


class ImportWorkerError(ExportError):
    """The import's worker process failed (the message carries its traceback) or died (its
    exit code) during the import; the archive is left untouched. (Once the import is
    committed, a failure of its rendering is logged and the chat published from the store.)
    An :class:`ExportError`, so that a command importing several files reports it by the
    file's name and goes on with the others."""


def _fork_context() -> multiprocessing.context.ForkContext | None:
    """The ``fork`` start method on Linux: a forked worker needs no imports or arguments
    pickled, and starts in milliseconds. (macOS has ``fork`` too, but its system libraries
    do not promise to work in a forked child: there, and elsewhere, the worker is a thread.)"""
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - the tests run on Linux, and patch this for a thread
    return multiprocessing.get_context("fork")


@contextmanager
def reported(conn: Connection) -> Iterator[None]:
    """Around a worker's work: its failure told to the importer (an :class:`ExportError`'s
    message in an ``E`` frame, any other's traceback in an ``F`` frame; nothing when the
    importer is gone), and its end of the pipe closed."""
    try:
        yield
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the importer is gone (it failed, gave up, or was stopped): nothing to tell
    except ExportError as e:
        _tell(conn, b"E" + pickle.dumps(str(e)))
    except BaseException:  # every failure is reported to the importer
        _tell(conn, b"F" + pickle.dumps(traceback.format_exc()))
    finally:
        conn.close()


def _work(conn: Connection, path: Path, spill: _Spill) -> None:
    """The worker: parse the export and send its messages, wait for the chat, send the rows
    of the staged messages that it captures (see the frames above)."""
    with reported(conn):
        _parse(conn, path)
        scan, chat, now, rendering = pickle.loads(conn.recv_bytes()[1:])
        renderer = _Renderer(chat, rendering, WORKER_FORMATS)
        try:
            for count, rows, kept in _captured_rows(scan, spill, chat, now):
                conn.send_bytes(b"R" + marshal.dumps((count, rows, kept)))
                renderer.feed(rows)  # while the importer saves them
            conn.send_bytes(b"D" + renderer.end_of_capture())
            if not renderer.stopped:
                frame = conn.recv_bytes()
                if frame[:1] == b"B":
                    inputs, generated_at, cost_note, stats = pickle.loads(frame[1:])
                    renderer.finish(inputs, generated_at, cost_note, stats)
                    conn.send_bytes(b"W" + marshal.dumps(renderer.digests()))
        finally:
            renderer.close()


def _forked_work(
    importers_end: Connection, work: Callable[..., None], conn: Connection, *args: Any
) -> None:
    """``work(conn, *args)`` (:func:`_work`, or the one-pass import's) in a forked worker,
    which first closes its copy of the importer's end of the pipe: else, when the importer
    stops (an export refused once read, a failed save), the worker waiting for its next
    frame would never read EOF, and the importer would wait for it until its close()
    terminates it, 10 s later.

    SIGTERM and SIGHUP end the worker at once, as by default, even when its importer had
    them raise KeyboardInterrupt (``tweetchat import``): the importer cleans up, and its
    ``close()`` must be able to terminate a worker stuck where no handler runs."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None and signal.getsignal(sig) is signal.default_int_handler:
            signal.signal(sig, signal.SIG_DFL)
    importers_end.close()
    work(conn, *args)


# A row of _captured_rows (the parameters of INSERT_MESSAGE) as the store gives it back to a
# publication: its TRANSCRIPT_COLUMNS (archive.store.messages), in that order.
_TRANSCRIPT_ROW = operator.itemgetter(1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 20)


# Who renders which transcript of a new chat as it is captured: the worker the JSON entries
# and the statistics, besides capturing; the importer the Markdown and HTML (their list
# items), besides saving the rows and picking the highlights: about as long on either side
# (benchmarks/README.md, "seventh round").
WORKER_FORMATS = ("json",)
IMPORTER_FORMATS = ("md", "html")


@dataclass(frozen=True)
class _Rendering:
    """A new chat's transcripts rendered as it is captured: format -> file in the
    publication's staging folder, and the opt-outs as they stand."""

    paths: dict[str, Path]
    opted_out: frozenset[str]


class _Renderer:
    """One side's share (``formats``) of a :class:`_Rendering` (None: nothing asked), in
    the worker or the importer. ``stopped`` says why it rendered nothing, or stopped: the
    rows out of time order, a second network, a failure (disk full...): the chat is then
    published from the store."""

    def __init__(
        self,
        chat: Chat,
        rendering: _Rendering | None,
        formats: tuple[str, ...],
        *,
        counted: bool = True,
    ) -> None:
        self.stopped = "" if rendering is not None else "not asked"
        self._last = ""
        self._publication: RowPublication | None = None
        if rendering is not None:
            paths = {fmt: rendering.paths[fmt] for fmt in formats}
            try:
                self._publication = RowPublication(
                    chat, paths, opted_out=rendering.opted_out, counted=counted
                )
            except Exception as e:
                self._stop(f"it could not start: {e}")

    def feed(self, rows: list[Row]) -> None:
        """Render the next captured rows (a batch of :func:`_captured_rows`)."""
        if self._publication is None or not rows:
            return
        projected = list(map(_TRANSCRIPT_ROW, rows))
        times = [row[6] for row in projected]  # iso() text: sorts as the instants do
        # The store gives a chat's rows by time, then in the order saved (file order here).
        if times[0] < self._last or times != sorted(times):
            self._stop("the export's messages are not in time order")
            return
        self._last = times[-1]
        try:
            self._publication.feed(projected)
        except SeveralNetworks as e:
            self._stop(f"messages from several networks ({e})")
        except Exception as e:
            self._stop(f"it failed: {e!r}")

    def _stop(self, why: str) -> None:
        self.stopped = why
        self.close()

    def digests(self) -> dict[str, Digest]:
        """The digests of the files written (:meth:`RowPublication.digests`)."""
        assert self._publication is not None
        return self._publication.digests()

    def stats(self, inputs: PublicationInputs) -> ChatStats:
        """The statistics of the rows (:meth:`RowPublication.stats`)."""
        assert self._publication is not None
        return self._publication.stats(inputs)

    def add_question(self, chat: Chat, key: str) -> None:
        """:meth:`RowPublication.add_question` (nothing once stopped)."""
        if self._publication is not None:
            self._publication.add_question(chat, key)

    def settle(self, chat: Chat) -> None:
        """:meth:`RowPublication.settle` (nothing once stopped)."""
        if self._publication is not None:
            self._publication.settle(chat)

    def end_of_capture(self) -> bytes:
        """The ``D`` frame's body: why nothing (more) was rendered ("" when every row was)
        and, when every row was, what was counted of them (:attr:`RowPublication.counter`);
        a counter that cannot be sent stops the rendering."""
        counter = None
        if self._publication is not None:
            try:
                counter = self._publication.counter
                return pickle.dumps((self.stopped, counter))
            except Exception as e:
                self._stop(f"its statistics could not be sent: {e!r}")
        return pickle.dumps((self.stopped, None))

    def finish(
        self,
        inputs: PublicationInputs,
        generated_at: datetime | None,
        cost_note: str,
        stats: ChatStats | None = None,
    ) -> ChatStats:
        """Write the documents (:meth:`RowPublication.finish`); the statistics."""
        assert self._publication is not None
        return self._publication.finish(
            inputs, generated_at=generated_at, cost_note=cost_note, stats=stats
        )

    def close(self) -> None:
        if self._publication is not None:
            self._publication.close()
            self._publication = None


def _parse(conn: Connection, path: Path) -> None:
    def report(n: int, fraction: float) -> None:
        conn.send_bytes(b"P" + marshal.dumps((n, fraction)))

    reader = ExportReader(
        path, stream="messages", members=("guild", "channel"), item="message", on_progress=report
    )
    texts: list[str] = []
    try:
        for raw, _index in reader:
            texts.append(export_json(raw))
            if len(texts) >= TEXTS_PER_FRAME:
                conn.send_bytes(b"M" + marshal.dumps(texts))
                texts = []
    finally:  # what was parsed before an error too: its messages' errors come first
        if texts:
            conn.send_bytes(b"M" + marshal.dumps(texts))
    conn.send_bytes(b"S" + marshal.dumps((reader.count, reader.members)))


def _tell(conn: Connection, frame: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.send_bytes(frame)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # pragma: no cover - export_json's json fallback
        return json.loads(text)


class _Worker:
    """The importer's end of the worker (a context manager: leaving it stops the worker)."""

    def __init__(
        self,
        path: Path,
        spill: _Spill | None = None,
        *,
        work: Callable[..., None] | None = None,
        args: tuple[Any, ...] = (),
    ) -> None:
        """Start the worker: ``work(its end of the pipe, *args)``, :func:`_work` on
        ``path`` and ``spill`` by default."""
        self._path = path
        self.count = 0  # messages in the export, once messages() is over
        self.members: dict[str, Any] = {}  # its guild and channel, once messages() is over
        self._counts: list[int] = []  # messages parsed after each chunk (for offset_of)
        self.rendered = False  # whether the worker rendered every row (capture() over)
        # what the worker counted of the rows it rendered (StatsCounter), once capture() is over
        self.counter: Any = None
        context = _fork_context()
        self._conn, theirs = multiprocessing.Pipe()
        _widen(self._conn, theirs)
        if work is None:
            work, args = _work, (path, spill)
        self._process: multiprocessing.process.BaseProcess | None = None
        if context is not None:
            self._process = context.Process(
                target=_forked_work,
                args=(self._conn, work, theirs, *args),
                name="tweetchat-import",
                daemon=True,
            )
            self._process.start()
            theirs.close()  # the worker's end: closed here, its death reads as EOF
        else:
            threading.Thread(
                target=work, args=(theirs, *args), name="tweetchat-import", daemon=True
            ).start()
        # A worker thread would render on this process's core: nothing gained.
        self.forked = self._process is not None

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop talking; a worker still busy gets EOF or a broken pipe and ends; one that
        does not within 10 s is terminated."""
        self._conn.close()
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():  # pragma: no cover - stuck: it cannot be waited for
                self._process.terminate()
                self._process.join()

    def _receive(self) -> tuple[bytes, bytes]:
        try:
            frame = self._conn.recv_bytes()
        except (EOFError, OSError):
            raise ImportWorkerError(self._died()) from None
        kind, body = frame[:1], frame[1:]
        if kind == b"E":
            raise ExportError(pickle.loads(body))
        if kind == b"F":
            raise ImportWorkerError(
                f"{self._path}: the import failed in its worker process:\n{pickle.loads(body)}"
            )
        return kind, body

    def _died(self) -> str:
        code = None
        if self._process is not None:
            self._process.join(5)
            code = self._process.exitcode
        how = f" (exit code {code})" if code is not None else ""
        return f"{self._path}: the import's worker process stopped unexpectedly{how}"

    def _unexpected(self, kind: bytes) -> ImportWorkerError:
        return ImportWorkerError(f"{self._path}: unexpected {kind!r} from the import's worker")

    def messages(self, progress: Progress | None) -> Iterator[tuple[Any, int, str]]:
        """Every message of the export as (its value, its 1-based position, its JSON text),
        in file order, reporting the progress of the parse; raises :class:`ExportError`
        for a file that is not JSON (at the point where the file breaks)."""
        index = 0
        loads = _loads
        while True:
            kind, body = self._receive()
            if kind == b"M":
                for text in marshal.loads(body):
                    index += 1
                    yield loads(text), index, text
            elif kind == b"P":
                n, fraction = marshal.loads(body)
                self._counts.append(n)
                if progress is not None:
                    progress("reading", n, fraction)
            elif kind == b"S":
                self.count, self.members = marshal.loads(body)
                return
            else:
                raise self._unexpected(kind)

    def offset_of(self, position: int) -> int:
        """Where message ``position`` starts in the file (:meth:`ExportReader.offset_of`)."""
        reader = ExportReader(self._path, stream="messages", item="message", counts=self._counts)
        return reader.offset_of(position)

    def capture(
        self,
        scan: _Scan,
        spill: _Spill,
        chat: Chat,
        now: str,
        rendering: _Rendering | None = None,
    ) -> Iterator[tuple[int, list[Row]]]:
        """Have the worker capture the staged messages for ``chat``: (staged messages done,
        their rows) per batch, as :func:`_captured_rows`, with their raw payloads; and render
        them as they go when ``rendering`` (:attr:`rendered` says, once over, whether every
        one was: then :meth:`finish_rendering` or :meth:`abandon_rendering`)."""
        self._conn.send_bytes(b"C" + pickle.dumps((scan, chat, now, rendering)))
        raw_batches = spill.raws()
        while True:
            kind, body = self._receive()
            if kind == b"D":
                stopped, self.counter = pickle.loads(body)
                self.rendered = rendering is not None and not stopped
                if rendering is not None and stopped:
                    logger.info("%s: not rendered while imported: %s", self._path, stopped)
                return
            if kind != b"R":
                raise self._unexpected(kind)
            count, rows, kept = marshal.loads(body)
            raws = next(raw_batches)
            for row, position in zip(rows, kept, strict=True):
                row[RAW_COLUMN] = raws[position]
            yield count, rows

    def finish_rendering(
        self, inputs: PublicationInputs, options: PublishOptions, stats: ChatStats
    ) -> bool:
        """Have the worker write the transcripts it rendered, with ``inputs`` (read once
        the rows were saved) and the statistics made of what it counted: then
        :meth:`rendered_digests`. False, logged, when the worker is gone (killed since the
        capture: the chat is then published from the store)."""
        payload = (inputs, options.generated_at, options.cost_note, stats)
        try:
            self._conn.send_bytes(b"B" + pickle.dumps(payload))
        except OSError:
            logger.warning("%s", self._died())
            return False
        return True

    def abandon_rendering(self) -> None:
        """Tell the worker its rendering is not wanted (it removes it and ends); a worker
        already gone needs no telling."""
        with contextlib.suppress(OSError):
            self._conn.send_bytes(b"X")

    def _rendered(self, expected: bytes) -> bytes | None:
        try:
            kind, body = self._receive()
        except ExportError as e:
            logger.warning("the import's rendering of the transcripts failed: %s", e)
            return None
        if kind != expected:
            logger.warning("%s", self._unexpected(kind))
            return None
        return body

    def rendered_digests(self) -> dict[str, Digest] | None:
        """The digests of the transcripts the worker wrote (:meth:`finish_rendering`);
        None, logged, when it failed to (the chat is then published from the store)."""
        body = self._rendered(b"W")
        return None if body is None else cast(dict[str, Digest], marshal.loads(body))


# What each end of the worker's pipe may hold in flight (the kernel caps it at
# net.core.wmem_max / rmem_max: 208 KiB on most Linux systems, which it doubles).
PIPE_BUFFER = 4 << 20


def _widen(*ends: Connection) -> None:
    """Ask for :data:`PIPE_BUFFER` bytes of socket buffer on each end (a socket pair on
    Linux). The frames the two processes exchange weigh 0.5-1.2 MB (2,000 messages' texts,
    or rows): with the default buffer, a side sending one waits until the other has read
    it all, so each one's slower moments stall the other (per 100k messages, ~0.3 s of
    blocked sends and ~0.4 s of waits for frames); a buffer of a few frames lets either run
    ahead (benchmarks/README.md, "seventh round"). Not a socket (another platform's
    pipe): left as it is."""
    for end in ends:
        try:
            sock = socket.socket(fileno=end.fileno())
        except OSError:
            continue
        try:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, PIPE_BUFFER)
        except OSError as e:  # pragma: no cover - a socket that refuses: the default stays
            logger.debug("the import's pipe keeps its default buffer: %s", e)
        finally:
            sock.detach()  # the Connection keeps the descriptor
