"""Published files: written atomically, with the permissions of any new file of the process."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.publish import write_atomic_chunks


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_published_files_follow_the_umask_not_0600(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        path = tmp_path / "out" / "chat.md"
        write_atomic_chunks(path, ["# Transcript\n", "text\n"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert path.read_text(encoding="utf-8") == "# Transcript\ntext\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "chat.md"
    write_atomic_chunks(path, ["old\n"])

    def chunks() -> Iterator[str]:
        yield "new, half written\n"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic_chunks(path, chunks())
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["chat.md"]


def test_a_failed_json_write_fails_the_publication(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The JSON is written on a thread beside the Markdown and HTML: its failure is the
    # publication's, and nothing is put in place or recorded.
    from archive import publish
    from archive.importers.discord_export import import_discord_export
    from archive.store import Store

    store = Store(tmp_path / "a.sqlite")
    try:
        chat = import_discord_export(
            store, Path(__file__).parent / "data" / "wedocs_discord.json", hashtag="WeDocs"
        ).chat
        real = publish.write_atomic_chunks

        def failing(path: Path, chunks: object) -> None:
            if path.suffix == ".json":
                raise OSError(28, "No space left on device")
            real(path, chunks)  # type: ignore[arg-type]

        monkeypatch.setattr(publish, "write_atomic_chunks", failing)
        out = tmp_path / "out"
        with pytest.raises(OSError, match="No space left"):
            publish.publish_chat(store, chat, out)
        assert [p for p in out.rglob("*") if p.is_file()] == []
        assert store.recorded_transcript(chat.id, "md") is None
    finally:
        store.close()
