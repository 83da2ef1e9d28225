"""Exports given as a stream (a FIFO, ``/dev/stdin``): copied beside the archive first, as
an import may read its file twice, named as given in every message, the copy removed."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archive.importers import discord_export, export_files
from archive.importers.discord_export import ExportError, ImportResult
from archive.importers.one_pass import import_discord_export
from archive.importers.streams import is_stream, readable_again
from archive.leftovers import process_prefix
from archive.publish import FORMATS, PublishOptions
from archive.store import Store
from tests.bot.helpers import config_file, dead_pid, env_for

DATA = Path(__file__).parent / "data"
EXPORT = DATA / "wedocs_discord.json"
HOST_ID = "100000000000000001"
TAG_AND_HOST = ("--hashtag", "WeDocs", "--host", "drsmith")
OPTIONS: dict[str, Any] = {"hashtag": "WeDocs", "hosts": (HOST_ID,), "timezone": "Europe/London"}


@contextmanager
def fifo_fed(folder: Path, data: bytes, name: str = "export.json") -> Iterator[Path]:
    """A FIFO in ``folder`` that a writer thread feeds ``data`` to (in pieces, as a pipe
    from `zcat` would) once a reader opens it."""
    path = folder / name
    os.mkfifo(path)

    def write() -> None:
        with open(path, "wb") as fh:  # blocks until the import opens it
            for at in range(0, len(data), 4096):
                fh.write(data[at : at + 4096])
                fh.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        if writer.is_alive():  # never opened for reading: let the writer go
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(10)
            os.close(fd)
        writer.join(10)
        assert not writer.is_alive()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "archive" / "archive.sqlite")
    yield s
    s.close()


def copies_left(store: Store) -> list[str]:
    return sorted(p.name for p in store.path.parent.iterdir() if "tweetchat-import" in p.name)


def a3_before_q3() -> bytes:
    """The fixture export with an answer labelled A3 before Q3 is posted: the one pass
    gives up and the export is read again, in two passes."""
    doc = json.loads(EXPORT.read_text(encoding="utf-8"))
    [early] = [m for m in doc["messages"] if m["content"].startswith("Our board never")]
    early["content"] = "A3 our board will see the data #WeDocs"
    return json.dumps(doc).encode("utf-8")


def publish(store: Store, path: Path, out: Path) -> ImportResult:
    result = import_discord_export(store, path, publish=PublishOptions(out), **OPTIONS)
    assert result.published is not None
    return result


def test_a_fifo_is_imported_as_the_same_export_in_a_regular_file(
    tmp_path: Path, store: Store
) -> None:
    with fifo_fed(tmp_path, EXPORT.read_bytes()) as fifo:
        assert is_stream(fifo) and not is_stream(EXPORT)
        result = publish(store, fifo, tmp_path / "out")
    reference = Store(tmp_path / "reference.sqlite")
    try:
        expected = publish(reference, EXPORT, tmp_path / "ref")
    finally:
        reference.close()
    assert (result.read, result.captured, result.new_messages) == (16, 12, 12)
    assert result.chat == replace(expected.chat, created_at=result.chat.created_at)
    assert result.published is not None and expected.published is not None
    for fmt in FORMATS:
        assert (
            result.published.paths[fmt].read_bytes() == expected.published.paths[fmt].read_bytes()
        )
    assert copies_left(store) == []


@pytest.mark.parametrize("entry", ["one pass first", "two passes"])
def test_a_fifo_the_import_reads_twice_is_read_from_its_copy(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture, entry: str
) -> None:
    """Before, the second read found the FIFO empty: '... the file is empty'."""
    caplog.set_level(logging.INFO, logger="archive.importers")
    with fifo_fed(tmp_path, a3_before_q3()) as fifo:
        if entry == "two passes":
            result = discord_export.import_discord_export(store, fifo, **OPTIONS)
        else:
            result = publish(store, fifo, tmp_path / "out")
            assert any("imported in two passes" in r.getMessage() for r in caplog.records)
    assert (result.read, result.captured, result.new_messages) == (16, 12, 12)
    [early] = [m for m in store.messages(result.chat.id) if m.text.startswith("A3 our")]
    assert early.question_keys == ("3",)  # the whole export was read again
    assert copies_left(store) == []
    assert any(
        f"{fifo} is not a regular file: copying it to {store.path.parent}" in r.getMessage()
        for r in caplog.records
    )


def test_a_truncated_fifo_is_named_in_the_error_not_its_copy(tmp_path: Path, store: Store) -> None:
    data = EXPORT.read_bytes()[:5000]
    with fifo_fed(tmp_path, data) as fifo, pytest.raises(ExportError) as caught:
        publish(store, fifo, tmp_path / "out")
    assert str(caught.value) == (
        f"{fifo}: the file ends too early at byte 5000 (in message 5); it looks truncated:"
        " export it again"
    )
    assert store.list_chats() == []
    assert copies_left(store) == []


def test_an_empty_fifo_is_an_empty_file(tmp_path: Path, store: Store) -> None:
    with fifo_fed(tmp_path, b"") as fifo, pytest.raises(ExportError, match="the file is empty"):
        publish(store, fifo, tmp_path / "out")
    assert copies_left(store) == []


def test_a_regular_file_is_read_where_it_is(tmp_path: Path) -> None:
    with readable_again(EXPORT, tmp_path / "archive.sqlite") as path:
        assert path == EXPORT
    assert list(tmp_path.iterdir()) == []


def test_a_copy_that_cannot_be_made_says_where(tmp_path: Path) -> None:
    with fifo_fed(tmp_path, b"{}") as fifo:
        missing = tmp_path / "gone" / "archive.sqlite"
        with pytest.raises(ExportError, match=f"{fifo}: not a regular file, and no copy"):
            with readable_again(fifo, missing):
                pass


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (a3_before_q3(), "imported wedocs-2026-03-03: "),
        (EXPORT.read_bytes()[:5000], "tweetchat: /dev/stdin: the file ends too early at byte 5000"),
    ],
    ids=["whole", "truncated"],
)
def test_the_command_imports_from_a_pipe_on_stdin(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    config = config_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "import", "discord-export", "/dev/stdin", *TAG_AND_HOST],
        input=data,
        env=env_for(config),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).decode("utf-8")
    assert expected in output, output
    assert result.returncode == (0 if expected.startswith("imported") else 2)
    assert [p.name for p in tmp_path.iterdir() if "tweetchat-import" in p.name] == []


def test_a_fifo_among_files_put_in_time_order_is_not_read_ahead(tmp_path: Path) -> None:
    """Files are put in the order of their first message's time, read from each file's
    start: a FIFO's bytes must be left to its import (read there, they would be gone)."""
    data = EXPORT.read_bytes()
    regular = tmp_path / "regular.json"
    regular.write_bytes(data)
    with fifo_fed(tmp_path, data) as fifo:
        assert export_files.first_message_time(fifo) is None  # not opened
        assert export_files.in_time_order([regular, fifo]) == [fifo, regular]
        # the writer is still waiting for a reader: the whole export reaches the import
        with readable_again(fifo, tmp_path / "archive.db") as copy:
            assert copy.read_bytes() == data


def test_a_killed_imports_copy_is_removed_by_the_next_copy(tmp_path: Path, store: Store) -> None:
    """Before, a copy left by an import killed with SIGKILL stayed beside the archive for
    good, as big as the export."""
    dead = dead_pid()
    mine = process_prefix(".tweetchat-import-", dead)  # this host's, of a process gone
    host_part = mine.removeprefix(f".tweetchat-import-{dead}-").removesuffix("-")
    folder = store.path.parent
    left = folder / f"{mine}k1ll3d.json"
    live = folder / f".tweetchat-import-{os.getpid()}-{host_part}-l1v3.json"
    elsewhere = folder / f".tweetchat-import-{dead}-another_host-n3twork.json"
    legacy = folder / ".tweetchat-import-x8k2m1q0.json"  # an earlier version's: whose?
    for path in (left, live, elsewhere, legacy):
        path.write_bytes(b"{" * 1000)
    # Named alike but not what an import makes (found by a tester: a folder was removed
    # with what it held): left alone.
    folder_named = folder / f"{mine}f0ld3r.json"
    folder_named.mkdir()
    (folder_named / "inner.txt").write_text("data", encoding="utf-8")
    linked = folder / f"{mine}l1nk3d.json"
    linked.symlink_to(tmp_path / "elsewhere.txt")
    with fifo_fed(tmp_path, EXPORT.read_bytes()) as fifo:
        result = publish(store, fifo, tmp_path / "out")
    assert result.captured == 12
    assert not left.exists()
    assert (folder_named / "inner.txt").read_text(encoding="utf-8") == "data"
    assert linked.is_symlink()
    kept = (live, elsewhere, legacy, folder_named, linked)
    assert copies_left(store) == sorted(p.name for p in kept)
    # A regular file makes no copy, and so removes nothing.
    left.write_bytes(b"{")
    publish(store, EXPORT, tmp_path / "out")
    assert left.exists()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_is_refused_at_its_first_bytes(
    tmp_path: Path, store: Store, device: str
) -> None:
    """Found by a tester: `import discord-export /dev/zero` copied the device beside the
    archive until the disk filled (500 MB in 2 s)."""
    # /dev/urandom's first bytes are random (this failed about one run in ten): a "{" is
    # invalid JSON a byte later, a "[" an array, not an export; an FF FE reads as UTF-16.
    refused = r"(not JSON \(|invalid JSON at byte \d+ |not an export \(|.*UTF-(16|32))"
    with pytest.raises(ExportError, match=rf"^{device}: {refused}"):
        publish(store, Path(device), tmp_path / "out")
    assert copies_left(store) == []
    assert store.list_chats() == []


def test_a_stream_with_a_nul_byte_is_not_json(tmp_path: Path, store: Store) -> None:
    with (
        fifo_fed(tmp_path, b'{"guild": \x00\x00\x00') as fifo,
        pytest.raises(ExportError) as caught,
    ):
        publish(store, fifo, tmp_path / "out")
    assert str(caught.value) == f"{fifo}: not JSON (a NUL byte at byte 10)"
    assert copies_left(store) == []


def test_a_fifo_in_a_folder_is_named_not_read_and_the_others_import(tmp_path: Path) -> None:
    """Found by a tester: a FIFO ``z.json`` in a folder given to the import was left out
    without a word (exit 0), and its writer left blocked."""
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.json").write_bytes(EXPORT.read_bytes())
    fifo = folder / "z.json"
    os.mkfifo(fifo)
    (folder / "old.json").mkdir()  # a folder is no export: left out, not a problem
    config = config_file(tmp_path)
    args = ["import", "discord-export", str(folder), "--hashtag", "WeDocs", "--host", "drsmith"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env_for(config),
        timeout=60,
    )
    assert done.returncode == 2  # one export named was not imported
    assert done.stderr.splitlines()[0] == (
        f"tweetchat: {fifo}: not a regular file: not imported (name it alone to import it)"
    )
    assert "imported wedocs-2026-03-03:" in done.stdout
