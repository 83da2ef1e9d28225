"""`tweetchat import discord-export` when writing the transcripts fails after the import was
committed: one line naming the file and the chat, no traceback, the other files imported,
exit 2 (130 for an interrupt, SIGTERM and SIGHUP included); the chat stays ended with no
transcript recorded, the transcripts' folder holds the set it had, and the same import
run again writes them."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive import publish as publish_module
from archive import published as published_module
from archive.importers import one_pass as one_pass_module
from archive.models import ChatStatus
from archive.publish import RowPublication
from archive.store import Store
from bot.cli import main
from tests.archive.test_import_later_chats import FEBRUARY, february_export
from tests.bot.helpers import dead_pid

EXPORT = Path(__file__).resolve().parents[1] / "archive" / "data" / "wedocs_discord.json"
CHAT = "wedocs-2026-03-03"
OTHER = "wedocs-2026-03-03-2"  # the second export's chat (another channel, same day)
FORMATS = ("md", "html", "json")
AGAIN = "run the same import again to write them"


class Run:
    """A config, its archive and transcripts' folder, and `tweetchat` run in this process."""

    def __init__(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        folder.mkdir(exist_ok=True)
        self.folder = folder
        self.capsys = capsys
        self.config = folder / "config.toml"
        self.config.write_text('database = "db.sqlite"\ntranscripts_dir = "out"\n', "utf-8")
        self.out = folder / "out"

    def __call__(self, *args: str) -> tuple[int, str, str]:
        """``tweetchat ARGS``: its exit code, standard output and standard error."""
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def import_(self, *files: Path) -> tuple[int, str, str]:
        names = [str(f) for f in files]
        return self("import", "discord-export", *names, "--hashtag", "WeDocs", "--host", "drsmith")

    def status(self, chat_id: str) -> ChatStatus:
        with self.store() as store:
            return store.get_chat(chat_id).status

    def recorded(self, chat_id: str) -> dict[str, Path]:
        with self.store() as store:
            return store.transcripts(chat_id)

    def messages(self, chat_id: str) -> int:
        with self.store() as store:
            return store.count_messages(chat_id)

    def store(self) -> _Opened:
        return _Opened(self.folder / "db.sqlite")

    def files(self) -> dict[str, bytes]:
        """Every file under the transcripts' folder (hidden ones too): name -> bytes."""
        if not self.out.is_dir():
            return {}
        return {
            str(p.relative_to(self.out)): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file()
        }


class _Opened:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Store:
        self.s = Store(self.path)
        return self.s

    def __exit__(self, *exc: object) -> None:
        self.s.close()


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(tmp_path, capsys)


def other_export(folder: Path) -> Path:
    """The export of another channel (another chat): EXPORT with other channel and
    message ids."""
    text = EXPORT.read_text(encoding="utf-8")
    text = text.replace("900000000000000042", "900000000000000043")
    text = text.replace('"8000000000000000', '"8100000000000000')
    path = folder / "other.json"
    path.write_text(text, encoding="utf-8")
    return path


def longer_export(folder: Path) -> Path:
    """EXPORT with one more answer after its last message: a later export of the channel."""
    doc = json.loads(EXPORT.read_text(encoding="utf-8"))
    extra = copy.deepcopy(doc["messages"][-1])
    extra["id"] = "800000000000000099"
    extra["timestamp"] = "2026-03-03T20:32:00.000+00:00"
    extra["content"] = "A3 one more thought #WeDocs"
    doc["messages"].append(extra)
    doc["messageCount"] = len(doc["messages"])
    path = folder / "longer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def fail_writing(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make every way of writing the transcripts fail with ``error``: as imported (the
    importer's rendering, in the one pass and the two-pass import) and from the store."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(RowPublication, "finish", broken)
    monkeypatch.setattr(publish_module, "write_transcripts", broken)


def assert_imported_not_published(run: Run, chat_id: str) -> None:
    assert run.messages(chat_id) == 12
    assert run.status(chat_id) == ChatStatus.ENDED
    assert run.recorded(chat_id) == {}


# ---- failures --------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_the_next_file_is_still_imported(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_writing(monkeypatch, OSError(28, "No space left on device"))
    other = other_export(run.folder)
    code, out, err = run.import_(EXPORT, other)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines() == [
        f"tweetchat: {EXPORT}: imported as {CHAT} (12 messages), but its transcripts were not"
        f" written: [Errno 28] No space left on device; free the space and {AGAIN}",
        f"tweetchat: {other}: imported as {OTHER} (12 messages), but its transcripts were not"
        f" written: [Errno 28] No space left on device; free the space and {AGAIN}",
        "tweetchat: 2 of 2 exports imported without their transcripts (see above)",
    ]
    for chat_id in (CHAT, OTHER):
        assert_imported_not_published(run, chat_id)
    assert run.files() == {}  # no file, no staging folder left behind
    code, out, err = run("chats")
    assert f"{CHAT:<28}" in out and " ended " in out and "published" not in out
    code, out, err = run("show", CHAT)
    # Not a schedule with a "next" step: the bot never runs an imported chat.
    assert "imported from an export; its questions went out at (UTC):" in out
    assert "  next " not in out and "not posted" not in out
    assert out.endswith("  transcripts not written: run the same import again to write them\n")

    monkeypatch.undo()  # the space freed: the same import writes them
    code, out, err = run.import_(EXPORT, other)
    assert (code, err) == (0, "")
    assert out.count("already imported as") == 2
    for chat_id in (CHAT, OTHER):
        assert run.status(chat_id) == ChatStatus.PUBLISHED
        assert set(run.recorded(chat_id)) == set(FORMATS)
    assert sorted(run.files()) == sorted(f"{c}.{f}" for c in (CHAT, OTHER) for f in FORMATS)
    code, out, err = run("show", CHAT)
    assert " published\n" in out.splitlines(keepends=True)[0] and "not written" not in out
    assert "  transcript (md): " in out
    # The same bytes as an import that never failed.
    clean = Run(run.folder / "clean", run.capsys)
    assert clean.import_(EXPORT, other)[0] == 0
    assert run.files() == clean.files()


def test_an_unwritable_transcripts_folder_says_what_to_do(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As `chattr +i out` does (root ignores file modes): no folder can be made in it.
    real = published_module.tempfile.mkdtemp

    def refused(*args: Any, **kwargs: Any) -> str:
        folder = kwargs.get("dir", args[2] if len(args) > 2 else None)
        if folder is not None and Path(folder) == run.out:
            raise PermissionError(1, "Operation not permitted", str(run.out / ".publishing-x"))
        return real(*args, **kwargs)

    run.out.mkdir()
    monkeypatch.setattr(publish_module.tempfile, "mkdtemp", refused)
    code, out, err = run.import_(EXPORT)
    assert code == 2
    assert out == ""
    assert err == (
        f"tweetchat: {EXPORT}: imported as {CHAT} (12 messages), but its transcripts were not"
        f" written: [Errno 1] Operation not permitted: '{run.out / '.publishing-x'}'; make"
        f" the transcripts' folder and its files writable and {AGAIN}\n"
    )
    assert_imported_not_published(run, CHAT)
    assert run.files() == {}


def test_a_transcripts_folder_that_is_a_file_fails_the_publication_only(run: Run) -> None:
    run.out.write_text("not a folder", encoding="utf-8")
    code, _out, err = run.import_(EXPORT)
    assert code == 2
    assert err.startswith(f"tweetchat: {EXPORT}: imported as {CHAT} (12 messages), but its")
    assert "Traceback" not in err and err.count("\n") == 1
    assert_imported_not_published(run, CHAT)


def test_a_record_that_cannot_be_written_puts_the_files_back(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(publish_module, "record_published", locked)
    code, _out, err = run.import_(EXPORT)
    assert code == 2
    assert err == (
        f"tweetchat: {EXPORT}: imported as {CHAT} (12 messages), but its transcripts were not"
        " written: recording them failed: database is locked; fix the archive's database"
        f" and {AGAIN}\n"
    )
    assert_imported_not_published(run, CHAT)
    assert run.files() == {}  # moved into place, then taken back: there were none before


def test_one_file_that_cannot_be_replaced_keeps_the_previous_set(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run.import_(EXPORT)[0] == 0
    before = run.files()
    recorded = run.recorded(CHAT)
    with run.store() as store:
        records = {f: store.recorded_transcript(CHAT, f) for f in FORMATS}
    # The HTML file immutable (chattr +i): it cannot be replaced.
    real = os.replace

    def immutable(src: Any, dst: Any, **kwargs: Any) -> None:
        if Path(dst) == run.out / f"{CHAT}.html":
            raise PermissionError(1, "Operation not permitted", str(dst))
        real(src, dst, **kwargs)

    monkeypatch.setattr(published_module.os, "replace", immutable)
    code, out, err = run.import_(longer_export(run.folder))
    assert code == 2
    assert out == ""
    assert err.startswith(
        f"tweetchat: {run.folder / 'longer.json'}: already imported as {CHAT} (13 messages),"
        " but its transcripts were not written: [Errno 1] Operation not permitted"
    )
    assert run.messages(CHAT) == 13  # the import stands
    assert run.files() == before  # the previous set, whole: no new Markdown beside old HTML
    assert run.recorded(CHAT) == recorded
    with run.store() as store:
        assert {f: store.recorded_transcript(CHAT, f) for f in FORMATS} == records

    monkeypatch.undo()
    code, out, err = run.import_(run.folder / "longer.json")
    assert (code, err) == (0, "")
    assert "already imported as" in out
    assert "one more thought" in (run.out / f"{CHAT}.md").read_text(encoding="utf-8")
    assert run.status(CHAT) == ChatStatus.PUBLISHED
    clean = Run(run.folder / "clean", run.capsys)
    assert clean.import_(run.folder / "longer.json")[0] == 0
    assert run.files() == clean.files()


# ---- interrupts ------------------------------------------------------------------------------


def interrupt_at_publication(monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """``act`` (raise KeyboardInterrupt, send a signal) where the import, committed, moves
    its transcripts into place (the one pass; the two-pass and the store's publication)."""
    real = published_module.placed

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        act()
        return real(*args, **kwargs)

    monkeypatch.setattr(publish_module, "placed", interrupted)


def ctrl_c() -> None:
    raise KeyboardInterrupt


def test_ctrl_c_after_the_commit_says_what_stands(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_at_publication(monkeypatch, ctrl_c)
    other = other_export(run.folder)
    code, out, err = run.import_(EXPORT, other)
    assert code == 130
    assert out == ""
    assert err == (
        f"tweetchat: {EXPORT}: imported as {CHAT} (12 messages), but interrupted before its"
        f" transcripts were written; {AGAIN}\n"
    )
    assert_imported_not_published(run, CHAT)
    with run.store() as store:
        assert [c.id for c in store.list_chats()] == [CHAT]  # the run stopped there
    assert run.files() == {}  # the staging folder removed


def test_ctrl_c_after_the_commit_of_a_piped_export_says_to_pipe_it_again(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tester's: it said "run the same import again", but the piped export's copy is gone.
    interrupt_at_publication(monkeypatch, ctrl_c)
    fifo, code, err = import_piped(run)
    assert code == 130
    assert err.endswith(
        f"tweetchat: {fifo}: imported as {CHAT} (12 messages), but interrupted before its"
        " transcripts were written; pipe the export into the same import again to write them\n"
    )
    assert_imported_not_published(run, CHAT)


def import_piped(run: Run) -> tuple[Path, int, str]:
    """Import the fixture export piped through a FIFO: the FIFO, the exit code, stderr."""
    fifo = run.folder / "export.pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(EXPORT.read_bytes())

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        code, _out, err = run.import_(fifo)
    finally:
        writer.join(timeout=30)
    return fifo, code, err


def interrupt_before_commit(monkeypatch: pytest.MonkeyPatch, chat_id: str) -> None:
    """Ctrl-C while the import of the file whose chat is ``chat_id`` is under way, before
    its commit (where its chat is added, inside the import's transaction)."""
    real = Store.add_chat

    def add_chat(self: Store, chat: Any, *args: Any, **kwargs: Any) -> Any:
        if chat.id == chat_id:
            raise KeyboardInterrupt
        return real(self, chat, *args, **kwargs)

    monkeypatch.setattr(Store, "add_chat", add_chat)


def test_ctrl_c_before_the_commit_says_nothing_of_the_file_was_saved(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "what was committed stands" here, though nothing of the file was.
    interrupt_before_commit(monkeypatch, OTHER)
    other = other_export(run.folder)
    code, out, err = run.import_(EXPORT, other)
    assert code == 130
    assert f"imported {CHAT}" in out  # the first file, before the interrupt
    assert err == (
        f"tweetchat: {other}: interrupted before it was imported: nothing of it was saved"
        f" (imported before it, and kept: {CHAT}); run the same import again to import it\n"
    )
    with run.store() as store:
        assert [c.id for c in store.list_chats()] == [CHAT]
    assert run.status(CHAT) == ChatStatus.PUBLISHED
    assert sorted(run.files()) == [f"{CHAT}.{f}" for f in sorted(FORMATS)]  # no staging left

    monkeypatch.undo()
    code, out, err = run.import_(other)  # as the message says
    assert (code, err) == (0, "")
    assert f"imported {OTHER}" in out
    assert run.status(OTHER) == ChatStatus.PUBLISHED


def test_ctrl_c_when_the_archive_cannot_be_read_says_what_holds_either_way(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whether the file's transaction committed is read off the archive's generation; when
    # that read fails, it said the messages were saved, which it could not know.
    interrupt_before_commit(monkeypatch, CHAT)
    real = Store.generation
    calls = {"n": 0}

    def generation(self: Store) -> int:
        calls["n"] += 1
        if calls["n"] > 1:  # the read after the interrupt; the first is before the file
            raise sqlite3.OperationalError("disk I/O error")
        return real(self)

    monkeypatch.setattr(Store, "generation", generation)
    code, _out, err = run.import_(EXPORT)
    assert code == 130
    assert err == (
        f"tweetchat: {EXPORT}: interrupted; whether its messages were saved cannot be read"
        " now (disk I/O error); run the same import again: it imports the file, or says it"
        " is already imported and writes its transcripts\n"
    )
    monkeypatch.undo()
    code, out, err = run.import_(EXPORT)  # as the message says
    assert (code, err) == (0, "")
    assert f"imported {CHAT}" in out and run.status(CHAT) == ChatStatus.PUBLISHED


def test_ctrl_c_before_the_commit_of_a_piped_export_says_to_pipe_it_again(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupt_before_commit(monkeypatch, CHAT)
    fifo, code, err = import_piped(run)
    assert code == 130
    assert err.endswith(
        f"tweetchat: {fifo}: interrupted before it was imported: nothing of it was saved;"
        " pipe the export into the same import again\n"
    )
    with run.store() as store:
        assert store.list_chats() == []
    # The copy of the piped export was removed with the interrupted import.
    assert not [p for p in run.folder.iterdir() if p.name.startswith(".tweetchat-import-")]


def test_ctrl_c_once_the_messages_are_saved_says_so(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tester's: stopped in the instant after the commit, before the publication began (the
    # search index and the checkpoint start there), it said only "interrupted".
    def committed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(one_pass_module, "ImportResult", committed)
    code, _out, err = run.import_(EXPORT)
    assert code == 130
    assert err == (
        f"tweetchat: {EXPORT}: interrupted once its messages were saved, before its"
        " transcripts were written; run the same import again to write them\n"
    )
    assert_imported_not_published(run, CHAT)
    monkeypatch.undo()
    code, _out, err = run.import_(EXPORT)
    assert (code, err) == (0, "")
    assert run.status(CHAT) == ChatStatus.PUBLISHED


def test_ctrl_c_while_a_file_is_reported_names_the_files_not_imported(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tester's: stopped between two files, it ended with no message at all.
    def reported(self: Store, chat: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "hosts_not_met", reported)
    other = other_export(run.folder)
    code, out, err = run.import_(EXPORT, other)
    assert code == 130
    assert f"imported {CHAT}" in out
    assert err == (
        f"tweetchat: interrupted after {EXPORT} was imported; not imported: {other}; run the"
        " same import again to finish (what was imported is not imported twice)\n"
    )
    monkeypatch.undo()
    code, out, err = run.import_(EXPORT, other)
    assert (code, err) == (0, "")
    assert f"already imported as {CHAT}" in out and f"imported {OTHER}" in out


def test_ctrl_c_while_republishing_later_chats_is_finished_by_the_same_import_again(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tester's: stopped while the later chats were published again, it ended with no
    # message, and running the import again ("already imported") left them as they were.
    assert run.import_(EXPORT)[0] == 0  # March, published
    february = february_export(run.folder / "february.json")

    def republish(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(publish_module, "publish_with", republish)
    code, out, err = run.import_(february)
    assert code == 130
    assert f"imported {FEBRUARY}" in out
    assert err == (
        f"tweetchat: interrupted while publishing again the chats this import changes ({CHAT});"
        " run the same import again to finish (what was imported is not imported twice)\n"
    )
    before = (run.out / f"{CHAT}.md").read_text(encoding="utf-8")
    assert "| Returning participants | 0 |" in before  # February not counted yet

    monkeypatch.undo()
    code, out, err = run.import_(february)
    assert (code, err) == (0, "")
    assert f"already imported as {FEBRUARY}" in out
    assert f"republished 1 later chat of #WeDocs: {CHAT}" in out
    after = (run.out / f"{CHAT}.md").read_text(encoding="utf-8")
    assert "| Returning participants | 4 |" in after
    code, out, err = run.import_(february)  # nothing left behind: nothing more to publish
    assert (code, err) == (0, "") and "republished" not in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_import_as_ctrl_c(
    run: Run, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    if signal.getsignal(sig) != signal.SIG_DFL:
        pytest.skip(f"{sig.name} is handled by the test runner")

    def send() -> None:
        os.kill(os.getpid(), sig)

    interrupt_at_publication(monkeypatch, send)
    code, _out, err = run.import_(EXPORT)
    assert code == 130
    assert err.endswith(f"interrupted before its transcripts were written; {AGAIN}\n")
    assert_imported_not_published(run, CHAT)
    assert run.files() == {}  # no partial hidden files
    assert signal.getsignal(sig) == signal.SIG_DFL  # put back


def test_an_ignored_sighup_stays_ignored(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under nohup: the import goes on when the terminal closes.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        interrupt_at_publication(monkeypatch, lambda: os.kill(os.getpid(), signal.SIGHUP))
        code, _out, err = run.import_(EXPORT)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert (code, err) == (0, "")
    assert run.status(CHAT) == ChatStatus.PUBLISHED


def test_sigterm_to_the_command_leaves_no_staging_folder(tmp_path: Path) -> None:
    # The real command in its own process, stopped by SIGTERM once the import committed
    # (a sitecustomize stops it where the transcripts are moved into place).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal\n"
        "from archive import publish, published\n"
        "real = published.placed\n"
        "def placed(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return real(*a, **k)\n"
        "publish.placed = placed\n",
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text('database = "db.sqlite"\ntranscripts_dir = "out"\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), os.getcwd()]))
    command = ["import", "discord-export", str(EXPORT), "--hashtag", "WeDocs", "--host", "drsmith"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith(f"transcripts were written; {AGAIN}\n")
    assert list((tmp_path / "out").iterdir()) == []
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.get_chat(CHAT).status == ChatStatus.ENDED
        assert store.count_messages(CHAT) == 12
    finally:
        store.close()


# ---- what a killed publisher leaves ----------------------------------------------------------


def test_a_killed_publishers_staging_folder_is_removed_by_the_next_import(run: Run) -> None:
    dead = dead_pid()
    host = socket.gethostname().replace("/", "_").replace("-", "_")
    run.out.mkdir()
    left = run.out / f".publishing-{dead}-{host}-abcd1234"
    live = run.out / f".publishing-{os.getpid()}-{host}-efgh5678"
    elsewhere = run.out / f".publishing-{dead}-another_host-ijkl9012"
    legacy = run.out / ".publishing-wvuahwpg"  # named by an earlier version: whose?
    for folder in (left, live, elsewhere, legacy):
        folder.mkdir()
        (folder / f".{CHAT}.md.partial").write_bytes(b"x" * 1000)
    assert run.import_(EXPORT)[0] == 0
    assert not left.exists()
    assert live.exists() and elsewhere.exists() and legacy.exists()
