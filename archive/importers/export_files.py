"""Which files an import reads, and in which order: a folder stands for its ``*.json``
files, and several exports go in the order of their first message's time (a hashtag's
earlier chat first, so that its later chats count its participants)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import ijson

from archive.importers.discord_staging import _time
from archive.importers.exportjson import BOM
from archive.importers.streams import is_stream

# ---- files ------------------------------------------------------------------------------------


def export_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The export files named by ``paths`` (a folder stands for its regular ``*.json``
    files, by name, the suffix in any case), and a problem line for each folder that has
    none and for each ``*.json`` in a folder that is a stream (a FIFO, a device: not read,
    as a FIFO nobody writes to would wait for ever; named alone, a stream is imported).
    A folder named ``*.json`` is no export: left out."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            # *.JSON too: a name's case says nothing of its contents
            named = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json")
            found = [p for p in named if p.is_file()]
            problems.extend(
                f"{p}: not a regular file: not imported (name it alone to import it)"
                for p in named
                if is_stream(p)
            )
            if not found:
                problems.append(f"{path}: no .json export in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files, problems


# How far into a file its first message's time is looked for: DiscordChatExporter writes the
# guild, the channel and the date range (a few hundred bytes) before the messages.
FIRST_TIME_WITHIN = 1 << 20


def first_message_time(path: Path) -> datetime | None:
    """When the export's first message was posted, read from the start of the file (about
    1 ms, the first 64 KB, for an export of any size); None when it cannot be told from its
    first :data:`FIRST_TIME_WITHIN` bytes (not JSON, no messages...: the import says why),
    and for a stream (``/dev/stdin``, a FIFO), whose bytes reading here would take from
    the import."""
    if is_stream(path):
        return None
    try:
        with open(path, "rb") as fh:
            if fh.read(len(BOM)) != BOM:
                fh.seek(0)
            for prefix, _event, value in ijson.parse(fh):
                if prefix == "messages.item.timestamp":
                    return _time(value, "'timestamp'")
                if fh.tell() > FIRST_TIME_WITHIN:
                    return None
    except (OSError, ValueError, ijson.JSONError):
        return None
    return None


def in_time_order(files: list[Path]) -> list[Path]:
    """``files`` by their first message's time (:func:`first_message_time`), so that a
    series' earlier chats are imported before its later ones: the later chats' statistics
    (first-time and returning participants) then count them from their first publication.
    Files whose time cannot be told come first, in the order given (they are reported
    before the long imports); equal times keep the order given."""
    known = {path: first_message_time(path) for path in files}
    return sorted(files, key=lambda path: (known[path] is not None, known[path] or _EPOCH))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
