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


# ---- moved into place: the whole set or none of it -------------------------------------------


def staged_set(folder: Path, texts: dict[str, str]) -> dict[str, Path]:
    """format -> a file just written in a staging folder inside ``folder``."""
    staging = folder / ".publishing-test"
    staging.mkdir(exist_ok=True)
    staged = {}
    for fmt, text in texts.items():
        staged[fmt] = staging / f"chat.{fmt}"
        staged[fmt].write_text(text, encoding="utf-8")
    return staged


def test_a_format_that_cannot_be_replaced_puts_back_those_moved_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive import published

    paths = {fmt: tmp_path / f"chat.{fmt}" for fmt in ("md", "html", "json")}
    paths["md"].write_text("old md", encoding="utf-8")  # html had none yet
    paths["json"].write_text("old json", encoding="utf-8")
    staged = staged_set(tmp_path, {"md": "new md", "html": "new html", "json": "new json"})
    real = os.replace

    def immutable(src: object, dst: object) -> None:
        if Path(str(dst)) == paths["json"]:
            raise PermissionError(1, "Operation not permitted", str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(published.os, "replace", immutable)
    with pytest.raises(PermissionError):
        published.move_into_place(staged, paths)
    assert paths["md"].read_text(encoding="utf-8") == "old md"
    assert not paths["html"].exists()  # it had no previous version
    assert paths["json"].read_text(encoding="utf-8") == "old json"


def test_a_failure_after_the_move_puts_the_previous_set_back(tmp_path: Path) -> None:
    from archive.published import placed

    paths = {fmt: tmp_path / f"chat.{fmt}" for fmt in ("md", "html")}
    paths["md"].write_text("old md", encoding="utf-8")
    staged = staged_set(tmp_path, {"md": "new md", "html": "new html"})
    with pytest.raises(KeyboardInterrupt), placed(staged, paths) as digests:
        assert paths["md"].read_text(encoding="utf-8") == "new md"
        assert set(digests) == {"md", "html"}
        raise KeyboardInterrupt  # the record not written: Ctrl-C, a locked database
    assert paths["md"].read_text(encoding="utf-8") == "old md"
    assert not paths["html"].exists()


def test_previous_files_are_copied_where_hard_links_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archive import published

    def no_links(src: object, dst: object) -> None:
        raise OSError(95, "Operation not supported")

    paths = {"md": tmp_path / "chat.md", "html": tmp_path / "chat.html"}
    paths["md"].write_text("old md", encoding="utf-8")
    paths["html"].write_text("old html", encoding="utf-8")
    staged = staged_set(tmp_path, {"md": "new md", "html": "new html"})
    monkeypatch.setattr(published.os, "link", no_links)
    with pytest.raises(RuntimeError), published.placed(staged, paths):
        raise RuntimeError("the record failed")
    assert paths["md"].read_text(encoding="utf-8") == "old md"
    assert paths["html"].read_text(encoding="utf-8") == "old html"


def test_a_whole_set_moved_replaces_every_format(tmp_path: Path) -> None:
    from archive.published import file_digest, move_into_place

    paths = {"md": tmp_path / "chat.md", "html": tmp_path / "chat.html"}
    paths["md"].write_text("old md", encoding="utf-8")
    staged = staged_set(tmp_path, {"md": "new md", "html": "new html"})
    digests = move_into_place(staged, paths)
    assert {fmt: p.read_text(encoding="utf-8") for fmt, p in paths.items()} == {
        "md": "new md",
        "html": "new html",
    }
    assert digests == {fmt: file_digest(p) for fmt, p in paths.items()}
