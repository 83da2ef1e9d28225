"""The streaming importer's output is byte-identical to the two-pass importer's it replaced.

The digests below were taken with the two-pass importer (``jsonstream``, before issue 17)
on exports made by the import benchmark's generator: the rows of the archive (every
column but the capture time) and the published Markdown, HTML and JSON. A change to them
means the import (or publishing) now produces something else for the same export.
(The JSON digests were taken again on main 8b2f6e1, whose JSON transcript changed; the
two-pass importer there gives the same digests as the streaming one. The transcript
digests were taken again when transcripts gained their Highlights section: the generated
exports carry reactions; published with ``highlights=0`` they still give the old ones.
The raw payloads are digested as JSON values, re-encoded as ``json.dumps`` did when the
digests were taken: since the import stores them as orjson writes them, compact, they
differ from those in blanks only, and the digests stand. The Markdown and HTML of
``host-by-name`` were taken again when "Hosted by" named a host given by account id by
their handle: ``@person3, @person7`` where it showed ``@person3, @880000000000000007``,
the only difference. All Markdown and HTML digests were taken again when each question's
heading gained its section's anchor, `` <a id="q-1"></a>``: with those removed, the files
give the digests before, byte for byte.)
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from archive.importers.discord_export import import_discord_export
from archive.publish import PublishOptions
from archive.store import Store
from benchmarks.import_bench import write_export

_MESSAGE_COLUMNS = (
    "id, chat_id, platform, platform_id, channel, author_id, author_name, author_handle, text,"
    " created_at, kind, question_keys, late, reply_to, permalink, edited_at, deleted_at,"
    " mentions, reactions, raw"
)
_CHAT_COLUMNS = (
    "id, title, hashtag, hashtag_key, start, end, timezone, intro, closing, grace_seconds,"
    " targets, hosts, reminders, status, series_id, source"
)


def _as_json_dumps(raw: str) -> str:
    """A stored raw payload as ``json.dumps`` wrote it before issue 17's orjson: the payload
    is compared as JSON (its value and key order), not its blanks (orjson writes none)."""
    return json.dumps(json.loads(raw), ensure_ascii=False)


def _digest(rows: object) -> str:
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()[:16]


def import_digests(
    tmp: Path, n: int, hosts: tuple[str, ...], timezone: str, *, shuffle: bool = False
) -> dict[str, str]:
    """What the import of an ``n``-message generated export produces, as short digests."""
    export = tmp / f"export-{n}.json"
    write_export(export, n)
    if shuffle:  # the messages out of time order: answers before their question, say
        doc = json.loads(export.read_text(encoding="utf-8"))
        random.Random(17).shuffle(doc["messages"])
        export.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    store = Store(tmp / "archive.sqlite")
    try:
        # Published as the command publishes it (the chat published with its transcripts'
        # record: the status in the chats' digest).
        result = import_discord_export(
            store,
            export,
            hashtag="#WeDocs",
            hosts=hosts,
            timezone=timezone,
            publish=PublishOptions(tmp / "out"),
        )
        published = result.published
        assert published is not None
        conn = store.conn
        got = {
            "messages": _digest(
                [
                    (*r[:-1], _as_json_dumps(r[-1]))
                    for r in conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages ORDER BY id")
                ]
            ),
            "chats": _digest(
                [tuple(r) for r in conn.execute(f"SELECT {_CHAT_COLUMNS} FROM chats")]
            ),
            "search": _digest(
                [
                    tuple(r)
                    for r in conn.execute("SELECT rowid, text FROM messages_fts ORDER BY rowid")
                ]
            ),
        }
        for fmt, path in sorted(published.paths.items()):
            got[fmt] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        got["counts"] = f"{result.read}/{result.captured}/{result.new_messages}"
        return got
    finally:
        store.close()


CASES = {
    "bot-questions": (
        3_000,
        (),
        "UTC",
        False,
        {
            "messages": "6ce2d6c89d3170ec",
            "chats": "dee411198a22caaa",
            "search": "472911358a3da374",
            "html": "8c8058cb7c4a7b9a",
            "json": "c8a68644c6e3400b",
            "md": "31673e46814b71e0",
            "counts": "3000/2859/2859",
        },
    ),
    "host-by-name": (
        2_500,
        ("person3", "880000000000000007"),
        "Europe/London",
        False,
        {
            "messages": "356cdfd2338ccaae",
            "chats": "d03b0f0b101a2d87",
            "search": "cefcc54f031ddb17",
            "html": "9f16d6565a40b564",
            "json": "7e658e9557709bc7",
            "md": "72ee8bcf46efc4ac",
            "counts": "2500/2387/2387",
        },
    ),
    "shuffled": (
        1_500,
        ("person5",),
        "America/New_York",
        True,
        {
            "messages": "189e4cdd3ac28c5a",
            "chats": "33b5b3208b5b0072",
            "search": "ee7a88f09e32bda0",
            "html": "c7a07807a61c8259",
            "json": "15065150154b0abb",
            "md": "fe6a6f72803d909e",
            "counts": "1500/1442/1442",
        },
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_import_matches_the_two_pass_importer(tmp_path: Path, case: str) -> None:
    n, hosts, timezone, shuffle, expected = CASES[case]
    assert import_digests(tmp_path, n, hosts, timezone, shuffle=shuffle) == expected


if __name__ == "__main__":  # print the digests of this checkout
    import tempfile

    for name, (n, hosts, timezone, shuffle, _) in sorted(CASES.items()):
        with tempfile.TemporaryDirectory() as tmp:
            print(name, import_digests(Path(tmp), n, hosts, timezone, shuffle=shuffle))
