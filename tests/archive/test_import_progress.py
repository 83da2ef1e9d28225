"""The progress line of an import never goes back, and says 100% only once all is done."""

from __future__ import annotations

import io
import json
from pathlib import Path

from archive.importers.discord_export import ImportResult
from archive.importers.one_pass import import_discord_export
from archive.importers.progress import AGAIN, RunProgress, TerminalProgress
from archive.publish import PublishOptions
from archive.store import Store

EXPORT = Path(__file__).parent / "data" / "wedocs_discord.json"


class Screen:
    """Records what a RunProgress shows: (verb, fraction of the run) each time."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, float]] = []

    def __call__(self, verb: str, messages: int, fraction: float) -> None:
        self.shown.append((verb, fraction))

    def fractions(self) -> list[float]:
        return [fraction for _verb, fraction in self.shown]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def sized(path: Path, size: int) -> Path:
    path.write_bytes(b" " * size)
    return path


def test_a_read_made_again_continues_from_where_the_line_is(tmp_path: Path) -> None:
    screen = Screen()
    path = sized(tmp_path / "a.json", 100)
    progress = RunProgress(screen, [path]).file(path)
    progress("reading", 97582, 0.44)  # the one pass, 44% through the file, gives up
    progress(AGAIN, 591, 0.0)
    progress(AGAIN, 50000, 0.5)
    progress(AGAIN, 100000, 1.0)
    progress("imported", 100000, 0.5)
    progress("imported", 100000, 1.0)
    progress("publishing", 100000, 0.0)
    progress("published", 100000, 1.0)
    fractions = screen.fractions()
    assert fractions == sorted(fractions)
    reached = 0.44 * 0.45
    assert fractions[1] == reached  # the read again starts where the line was
    # ... and the phases take what is left of the file, in their usual shares.
    assert abs(fractions[3] - (reached + (1 - reached) * 0.45)) < 1e-9
    assert fractions[-1] == 1.0
    assert [verb for verb, _ in screen.shown][1] == AGAIN


def test_the_line_never_goes_back_over_several_files(tmp_path: Path) -> None:
    screen = Screen()
    first, second = sized(tmp_path / "a.json", 900), sized(tmp_path / "b.json", 100)
    run = RunProgress(screen, [first, second])
    one = run.file(first)
    one("reading", 10, 1.0)
    one(AGAIN, 10, 0.2)
    one("reading", 10, 0.1)  # a report of an earlier point never moves the line back
    one("published", 10, 1.0)
    two = run.file(second)
    two("reading", 10, 0.5)
    assert screen.fractions() == sorted(screen.fractions())
    assert screen.fractions()[-1] < 1.0
    two("published", 10, 1.0)
    assert screen.fractions()[-1] == 1.0


def test_the_terminal_says_100_only_once_everything_is_done() -> None:
    screen = Terminal()
    progress = TerminalProgress(screen, interval=0.0)
    progress("[2/2] small.json: reading", 10, 0.996)  # the last, small file of a folder
    assert screen.getvalue().endswith("reading 10 messages (99%)\x1b[K")
    progress("[2/2] small.json: published", 10, 1.0)
    assert screen.getvalue().endswith("published 10 messages (100%)\x1b[K")


def early_answer(tmp_path: Path, at: int) -> Path:
    """The fixture with an ``A3`` at 20:15, before Q3 is asked, listed at position ``at``."""
    doc = json.loads(EXPORT.read_text(encoding="utf-8"))
    early = json.loads(json.dumps(doc["messages"][9]))  # bobb at 20:13
    early.update(id="800000000000000099", timestamp="2026-03-03T20:15:00.000+00:00")
    early["content"] = "A3: we will try patient stories #WeDocs"
    doc["messages"].insert(at, early)
    path = tmp_path / "early.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def imported_with(tmp_path: Path, path: Path, screen: Screen) -> ImportResult:
    store = Store(tmp_path / "archive.sqlite")
    try:
        return import_discord_export(
            store,
            path,
            hashtag="WeDocs",
            hosts=("drsmith",),
            publish=PublishOptions(tmp_path / "out"),
            progress=RunProgress(screen, [path]).file(path),
        )
    finally:
        store.close()


def test_a_one_pass_given_up_before_any_report_reads_once_on_the_line(tmp_path: Path) -> None:
    screen = Screen()
    # Listed before 20:14: out of time order, which the one pass sees before it reports.
    imported_with(tmp_path, early_answer(tmp_path, 10), screen)
    assert AGAIN not in [verb for verb, _ in screen.shown]
    assert screen.fractions() == sorted(screen.fractions())


def test_an_import_the_one_pass_gives_up_goes_forward_reading_again(tmp_path: Path) -> None:
    path = early_answer(tmp_path, 11)  # in time order: the one pass reads it all, gives up
    screen = Screen()
    result = imported_with(tmp_path, path, screen)
    assert result.created and len(result.chat.questions) == 3
    verbs = [verb for verb, _ in screen.shown]
    assert verbs[0] == "reading" and AGAIN in verbs  # the one pass read it, then gave up
    assert screen.fractions() == sorted(screen.fractions())
    assert screen.fractions()[verbs.index(AGAIN)] > 0.0
