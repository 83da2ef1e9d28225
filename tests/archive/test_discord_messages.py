"""The one conversion of a Discord message (archive/discord_messages.py) and the mapping of
a DiscordChatExporter message to its shape (archive/importers/export_shape.py), and the
issue's case end to end: an exported forward of the host's Q1 is a repost, not an answer."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.discord_messages import DiscordMessage, Forwarded, ReferenceKind, to_incoming
from archive.importers.discord_export import import_discord_export
from archive.importers.export_shape import export_message, message_type
from archive.models import Attachment, AttachmentKind, MessageKind
from archive.publish import render_chat
from archive.stats import compute_stats
from archive.store import Store
from tests.bot.helpers import config_file, tweetchat

AT = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
PHOTO = Attachment("photo.png", "https://cdn.discordapp.com/attachments/1/2/photo.png")
WAVE = Attachment("Wave", "", AttachmentKind.STICKER)


def shape(**kw: Any) -> DiscordMessage:
    fields: dict[str, Any] = {
        "id": "10",
        "author_id": "7",
        "author_name": "Ann",
        "author_handle": "ann",
        "author_bot": False,
        "content": "A1: yes #WeDocs",
        "created_at": AT,
    }
    return DiscordMessage(**(fields | kw))


# ---- the rules --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [0, 19, 20, 23])
def test_written_types_are_messages(kind: int) -> None:
    msg = to_incoming(shape(type=kind), bot_id="1")
    assert msg is not None and msg.text == "A1: yes #WeDocs" and not msg.is_repost


@pytest.mark.parametrize("kind", [1, 6, 7, 8, 12, 18, 21, 24, 46, -1])
def test_system_notices_are_never_messages(kind: int) -> None:
    assert to_incoming(shape(type=kind, content="A1 thread #WeDocs"), bot_id="1") is None


def test_nothing_of_its_own_is_never_a_message() -> None:
    assert to_incoming(shape(content=""), bot_id="1") is None
    assert to_incoming(shape(content="  \n"), bot_id="1") is None
    reply = shape(content="", reference=ReferenceKind.REPLY, reference_id="5")
    assert to_incoming(reply, bot_id="1") is None


def test_a_sticker_or_a_file_alone_is_a_message() -> None:
    for attached in ((WAVE,), (PHOTO,), (PHOTO, WAVE)):
        msg = to_incoming(
            shape(
                content="", attachments=attached, reference=ReferenceKind.REPLY, reference_id="5"
            ),
            bot_id="1",
        )
        assert msg is not None and msg.attachments == attached and msg.reply_to == "5"


def test_a_forward_is_a_repost_of_the_forwarded_message() -> None:
    forward = shape(
        content="",
        reference=ReferenceKind.FORWARD,
        reference_id="5",
        forwarded=Forwarded("Q1: what? #WeDocs", (PHOTO,)),
    )
    msg = to_incoming(forward, bot_id="1")
    assert msg is not None
    assert (msg.is_repost, msg.reply_to, msg.text, msg.attachments) == (
        True,
        "5",
        "Q1: what? #WeDocs",
        (PHOTO,),
    )
    bare = to_incoming(
        shape(content="", reference=ReferenceKind.FORWARD, reference_id="5"), bot_id="1"
    )
    assert bare is not None and bare.is_repost and bare.text == ""


def test_only_a_reply_names_what_it_answers() -> None:
    msg = to_incoming(shape(reference=ReferenceKind.REPLY, reference_id="5"), bot_id="1")
    assert msg is not None and msg.reply_to == "5"
    plain = to_incoming(shape(), bot_id="1")
    assert plain is not None and plain.reply_to == ""


def test_the_bot_is_this_bot_live_and_any_bot_in_an_export() -> None:
    other_bot = shape(author_bot=True, author_id="8")
    assert not to_incoming(other_bot, bot_id="1").is_bot  # type: ignore[union-attr]
    assert to_incoming(shape(author_id="1"), bot_id="1").is_bot  # type: ignore[union-attr]
    assert to_incoming(other_bot, bot_id=None).is_bot  # type: ignore[union-attr]


def test_mentions_are_usernames_lower_cased_once() -> None:
    msg = to_incoming(shape(mentions=("Ann", "bob", "ann", "")), bot_id="1")
    assert msg is not None and msg.mentions == ("ann", "bob")


# ---- the export's fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, number",
    [
        (None, 0),
        ("Default", 0),
        ("Reply", 19),
        ("GuildMemberJoin", 7),
        ("ChannelPinnedMessage", 6),
        ("ThreadCreated", 18),
        ("20", 20),
        ("21", 21),
        ("46", 46),
        (23, 23),
        ("SomethingNew", -1),
    ],
)
def test_exported_types_are_read_as_discord_types(value: Any, number: int) -> None:
    assert message_type(value) == number


def exported(**kw: Any) -> dict[str, Any]:
    return {
        "id": "10",
        "type": "Default",
        "timestamp": AT.isoformat(),
        "content": "",
        "author": {"id": "7", "name": "ann", "nickname": "Ann", "isBot": False},
        "attachments": [],
        "stickers": [],
        "mentions": [],
    } | kw


def test_an_exported_forward_reads_its_forwarded_message() -> None:
    forward = export_message(
        exported(
            reference={"type": "Forward", "messageId": "5", "channelId": "1", "guildId": "2"},
            forwardedMessage={
                "timestamp": AT.isoformat(),
                "content": "Q1: what? #WeDocs",
                "attachments": [
                    {"id": "3", "url": PHOTO.url, "fileName": "photo.png", "fileSizeBytes": 9}
                ],
                "embeds": [],
                "stickers": [{"id": "4", "name": "Wave", "format": "Png", "sourceUrl": "x"}],
            },
        ),
        AT,
    )
    assert forward.reference is ReferenceKind.FORWARD and forward.reference_id == "5"
    assert forward.forwarded == Forwarded("Q1: what? #WeDocs", (PHOTO, WAVE))


def test_an_exported_reference_without_a_type_is_a_reply() -> None:
    reply = export_message(exported(type="Reply", reference={"messageId": "5"}), AT)
    assert (reply.reference, reply.reference_id, reply.type) == (ReferenceKind.REPLY, "5", 19)


def test_exported_files_and_stickers_keep_their_names_and_links() -> None:
    message = export_message(
        exported(
            attachments=[
                {"id": "3", "url": "qi_Files/photo-1A.png", "fileName": "photo.png"},
                {"id": "4", "url": PHOTO.url},
            ],
            stickers=[{"id": "5", "name": "Wave"}],
        ),
        AT,
    )
    assert message.attachments == (
        Attachment("photo.png", "qi_Files/photo-1A.png"),
        Attachment("photo.png", PHOTO.url),
        WAVE,
    )


# ---- the issue's export -----------------------------------------------------------------


def _message(n: int, minute: int, author: str, content: str, **kw: Any) -> dict[str, Any]:
    names = {"1": "drsmith", "2": "alice", "3": "bob"}
    return {
        "id": f"80{n:02d}",
        "type": "Default",
        "timestamp": (AT + timedelta(minutes=minute)).isoformat(),
        "timestampEdited": None,
        "content": content,
        "author": {"id": author, "name": names[author], "nickname": names[author], "isBot": False},
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
    } | kw


def issue_export(tmp_path: Path) -> Path:
    """The issue's export: the host's Q1, an answer, two forwards of Q1 (one from before
    DiscordChatExporter wrote snapshots, one by the host), a reply, a sticker replying to
    Q1 and a thread notice."""
    forward_ref = {"type": "Forward", "messageId": "8001", "channelId": "42", "guildId": "9"}
    doc = {
        "guild": {"id": "9", "name": "QI"},
        "channel": {"id": "42", "name": "qi-chat"},
        "messages": [
            _message(1, 0, "1", "Q1: What do you measure? #WeDocs"),
            _message(2, 1, "2", "A1: waiting times #WeDocs"),
            _message(3, 2, "3", "", reference=forward_ref),  # an export from before snapshots
            _message(
                4,
                3,
                "1",
                "",
                reference=forward_ref,
                forwardedMessage={"content": "Q1: What do you measure? #WeDocs"},
            ),
            _message(
                5, 4, "3", "", type="Reply", reference={"type": "Default", "messageId": "8001"}
            ),
            _message(
                6,
                5,
                "2",
                "",
                stickers=[{"id": "4", "name": "Wave"}],
                type="Reply",
                reference={"type": "Default", "messageId": "8001"},
            ),
            _message(7, 6, "3", "Started a thread.", type="ThreadCreated"),
        ],
    }
    path = tmp_path / "qi.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_an_exported_forward_of_the_hosts_question_is_a_repost(tmp_path: Path) -> None:
    path = issue_export(tmp_path)
    store = Store(tmp_path / "archive.db")
    try:
        chat = import_discord_export(store, path, hashtag="WeDocs", hosts=("drsmith",)).chat
        assert [chat.label(q) for q in chat.questions] == ["Q1"]  # the host's forward asks nothing
        found = {m.platform_id: m for m in store.messages(chat.id)}
        assert found.keys() == {"8001", "8002", "8003", "8004", "8006"}
        assert (found["8003"].kind, found["8003"].text) == (MessageKind.REPOST, "")
        assert found["8004"].kind is MessageKind.REPOST
        assert found["8006"].kind is MessageKind.ANSWER and found["8006"].attachments == (WAVE,)
        stats = compute_stats(chat, iter(found.values()))
        assert stats.answers == 2 and stats.reposts == 2
        bob = next(c for c in stats.contributors if c.handle == "bob")
        assert bob.answers == 0
        assert "Sticker: Wave" in render_chat(store, chat).markdown
    finally:
        store.close()


def test_the_import_command_and_the_csv_transcript_show_it(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    path = issue_export(tmp_path)
    done = tweetchat(["import", "discord-export", str(path), "--hashtag", "WeDocs",
                      "--host", "drsmith"], config)  # fmt: skip
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    q1 = md.split("## Q1", 1)[1].split("\n## ", 1)[0]
    assert "2 answers from 1 participant" in q1 and "Sticker: Wave" in q1
    assert "@bob" not in q1  # bob only forwarded Q1
    done = tweetchat(["transcript", "wedocs-2026-03-03", "--format", "csv"], config)
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert rows["8006"]["attachments"] == "sticker: Wave"
    assert rows["8003"]["kind"] == "repost" and rows["8002"]["attachments"] == ""
