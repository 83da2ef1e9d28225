"""Progress of an import on a terminal: one line, rewritten in place, over the whole run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TextIO

__all__ = ["AGAIN", "Progress", "RunProgress", "TerminalProgress", "again", "terminal_progress"]

Progress = Callable[[str, int, float], None]
"""progress(verb, messages so far, fraction of the phase (or run) done)."""

AGAIN = "reading again (two passes)"
"""The verb of the read of an import made again the two-pass way after the one pass gave
up (:mod:`archive.importers.one_pass`): a phase of its own, which :class:`RunProgress`
lays out over what is left of the file's share, so that the line never goes back."""


def again(progress: Progress) -> Progress:
    """``progress`` with the read reported as :data:`AGAIN` (the two-pass import after the
    one pass gave up part-way)."""

    def relabelled(verb: str, messages: int, fraction: float) -> None:
        progress(AGAIN if verb == "reading" else verb, messages, fraction)

    return relabelled


class TerminalProgress:
    """Writes ``imported N messages (X%)`` in place on a terminal, a few times a second."""

    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self._stream = stream
        self._interval = interval
        self._last = float("-inf")
        self._written = False

    def __call__(self, verb: str, messages: int, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self._interval:
            return
        self._last = now
        # Rounded down: "100%" only once it is all done (99.6% is not, and a run's last,
        # small file is read entirely within its last half per cent).
        percent = 100 if fraction >= 1.0 else min(math.floor(max(fraction, 0.0) * 100), 99)
        self._stream.write(f"\r{verb} {messages} messages ({percent}%)\x1b[K")
        self._stream.flush()
        self._written = True

    def done(self) -> None:
        """End the progress line, if one was written."""
        if self._written:
            self._stream.write("\n")
            self._stream.flush()
            self._written = False


class RunProgress:
    """One progress line for a run over several exports: each file counts by its size, and
    within a file reading, capture and publishing by their usual share of the time. The
    line never goes back: a read made again (:data:`AGAIN`) lays the phases out again over
    what is left of the file's share, from where the line is."""

    # verb -> (where its phase starts, its share of a file's time)
    PHASES: ClassVar[dict[str, tuple[float, float]]] = {
        "reading": (0.0, 0.45),
        AGAIN: (0.0, 0.45),
        "imported": (0.45, 0.35),
        "publishing": (0.8, 0.2),
        "published": (0.8, 0.2),
    }

    def __init__(self, screen: Callable[[str, int, float], None], files: list[Path]) -> None:
        self._screen = screen
        sizes = []
        for path in files:
            try:
                sizes.append(max(path.stat().st_size, 1))
            except OSError:
                sizes.append(1)
        total = sum(sizes) or 1
        self._shares = {path: size / total for path, size in zip(files, sizes, strict=True)}
        self._count = len(files)
        self._done = 0.0
        self._index = 0

    def file(self, path: Path) -> Progress:
        """The progress callback for the import (and publication) of ``path``, the next file."""
        start = self._done
        share = self._shares.get(path, 0.0)
        self._done += share
        self._index += 1
        last = self._index == self._count
        label = f"[{self._index}/{self._count}] {path.name}: " if self._count > 1 else ""
        # Where the file's phases are laid out (from, over), and how far the line got.
        window = [start, share]
        reached = start
        retried = False

        def progress(verb: str, messages: int, fraction: float) -> None:
            nonlocal reached, retried
            if verb == AGAIN and not retried:
                retried = True
                window[:] = [reached, start + share - reached]
            at, weight = self.PHASES.get(verb, (0.0, 1.0))
            overall = window[0] + window[1] * (at + weight * min(max(fraction, 0.0), 1.0))
            if last and verb == "published":
                overall = 1.0
            reached = max(reached, min(overall, 1.0))
            self._screen(f"{label}{verb}", messages, reached)

        return progress


def terminal_progress(stream: TextIO) -> TerminalProgress | None:
    """A progress printer for ``stream`` when it is a terminal, else None (stay silent)."""
    isatty = getattr(stream, "isatty", None)
    return TerminalProgress(stream) if isatty is not None and isatty() else None
