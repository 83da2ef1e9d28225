"""One whole chat on the local platform through `tweetchat schedule` and `tweetchat run`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from archive.store import Store
from bot.facilitator import OPTED_OUT_REPLY
from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import (
    chat_file,
    config_file,
    local_bot_post,
    start_bot,
    tweetchat,
    utc_now,
    wait_for,
)

ALICE = LocalUser("a1", "Alice Nurse", "alice")
BOB = LocalUser("b2", "Bob Carer", "bob")
CARA = LocalUser("c3", "Cara Secret", "cara")
MAL = LocalUser("m4", "Mallory", "mallory")


def test_a_whole_chat_is_run_captured_and_published(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3, duration="12s", grace="3s")
    scheduled = tweetchat(["schedule", "chat.toml"], config)
    assert scheduled.returncode == 0, scheduled.stderr
    assert "scheduled wedocs-" in scheduled.stdout

    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        net_post = net.post
        net_post("main", CARA, "!optout", at=utc_now())
        q1 = wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        net_post("main", ALICE, "A1: We co-design with our patient council #WeDocs", at=utc_now())
        net_post("main", BOB, "Reply without the hashtag", at=utc_now(), reply_to=q1)
        net_post("main", CARA, "A1 my secret answer #WeDocs", at=utc_now())
        typo = net_post("main", BOB, "A1 teh typo #WeDocs", at=utc_now())
        net.edit(typo, "A1 the typo, fixed #WeDocs", at=utc_now())
        oops = net_post("main", ALICE, "A1 posted by mistake #WeDocs", at=utc_now())
        net.delete(oops, at=utc_now())
        net_post("main", ALICE, "Not part of the chat #WeDocsX", at=utc_now())
        wait_for(lambda: local_bot_post(net, "Q2:"), what="Q2")
        net_post(
            "main",
            MAL,
            "# Big <script>alert(1)</script> [x](javascript:alert(1)) #WeDocs",
            at=utc_now(),
        )
        net_post("main", BOB, "an unlabelled answer to the open question #wedocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out

    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert "We co-design with our patient council" in md
    assert "Reply without the hashtag" in md
    assert "the typo, fixed" in md and "teh typo" not in md
    assert "posted by mistake" not in md
    assert "Not part of the chat" not in md
    assert "secret answer" not in md and "Cara Secret" not in md
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "an unlabelled answer to the open question" in md

    data = json.loads(next((tmp_path / "out").glob("*.json")).read_text(encoding="utf-8"))
    by_text = {m["text"]: m for m in data["messages"]}
    assert by_text["Reply without the hashtag"]["questions"] == ["1"]
    assert by_text["an unlabelled answer to the open question #wedocs"]["questions"] == ["2"]

    # Every action was posted exactly once, in order, and the chat is published.
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        bot_texts = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    # Cara's !optout was answered (a reply, kept out of the transcript).
    assert bot_texts.count(OPTED_OUT_REPLY) == 1 and "You are opted out" not in md
    bot_texts.remove(OPTED_OUT_REPLY)
    firsts = [t.split(":")[0] if t.startswith("Q") else t.split()[0] for t in bot_texts]
    assert firsts == ["Hello", "Q1", "Q2", "Q3", "Bye", "Thank"]
    listing = tweetchat(["chats"], config)
    assert "published" in listing.stdout


def test_schedule_refuses_a_bad_chat_file_with_every_problem(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    (tmp_path / "bad.toml").write_text(
        'title = ""\nhashtag = "we docs"\nstart = "2020-01-01T20:00"\ntimezone = "Europe/Londn"\n'
        'interval = "0m"\n',
        encoding="utf-8",
    )
    result = tweetchat(["schedule", "bad.toml"], config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for key in ("hashtag", "timezone", "interval", "questions"):
        assert key in result.stderr
    assert tweetchat(["chats"], config).stdout.startswith("No chats yet")


def test_a_bad_config_key_stops_start_up_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[local]\nenabeld = true\n", encoding="utf-8")
    result = tweetchat(["chats"], config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "local.enabeld" in lines[0] and "config.toml" in lines[0]


def test_unknown_chat_is_a_clear_error(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    for cmd in (["show", "nope"], ["cancel", "nope"], ["transcript", "nope"], ["stats", "nope"]):
        result = tweetchat(cmd, config)
        assert result.returncode == 2, cmd
        assert "no chat with id 'nope'" in result.stderr


def test_cancelled_chat_posts_nothing_while_another_runs(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    # Two CLI runs stand between writing the files and the start: room for a busy machine.
    chat_file(tmp_path / "a.toml", start_in=5, hashtag="WeDocs")
    chat_file(tmp_path / "b.toml", start_in=5, hashtag="NHSQI", duration="8s")
    assert tweetchat(["schedule", "a.toml"], config).returncode == 0
    assert tweetchat(["schedule", "b.toml"], config).returncode == 0
    cancel = tweetchat(["cancel", "wedocs"], config)
    assert cancel.returncode == 0, cancel.stderr
    bot = start_bot(config, "--until-idle")
    out, _ = bot.communicate(timeout=40)
    assert bot.returncode == 0, out
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        texts = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    assert texts and all("#NHSQI" in t for t in texts if "#" in t)
    assert not any("#WeDocs" in t for t in texts)


def test_an_opt_out_writes_the_published_files_again_without_them(tmp_path: Path) -> None:
    """Found by a tester: after an opt-out the transcript files already published (those
    organisers share) kept the participant's words; only new renderings hid them."""
    config = config_file(tmp_path)

    def run_chat(name: str, hashtag: str, post: Callable[[LocalNetwork], object]) -> Path:
        before = set((tmp_path / "out").glob("*.md")) if (tmp_path / "out").exists() else set()
        chat_file(
            tmp_path / name,
            start_in=4,
            questions=("One?",),
            duration="6s",
            grace="1s",
            hashtag=hashtag,
        )
        scheduled = tweetchat(["schedule", name], config)
        assert scheduled.returncode == 0, scheduled.stderr
        bot = start_bot(config, "--until-idle")
        net = LocalNetwork(tmp_path / "net.sqlite")
        try:
            wait_for(  # this chat's Q1, not an earlier chat's
                lambda: any(
                    r["is_bot"] and r["text"].startswith("Q1:") and f"#{hashtag}" in r["text"]
                    for r in net.messages("main")
                ),
                what="Q1",
            )
            post(net)
            out, _ = bot.communicate(timeout=60)
        finally:
            if bot.poll() is None:
                bot.kill()
            net.close()
        assert bot.returncode == 0, out
        (made,) = set((tmp_path / "out").glob("*.md")) - before
        return made

    def answers(net: LocalNetwork) -> None:
        net.post("main", ALICE, "A1 my private story #WeDocs", at=utc_now())
        net.post("main", BOB, "A1 what Bob said #WeDocs", at=utc_now())

    first = run_chat("first.toml", "WeDocs", answers)
    assert "my private story" in first.read_text(encoding="utf-8")
    files = [first.with_suffix(suffix) for suffix in (".md", ".html", ".json")]
    # Another chat, another hashtag: an opt-out leaves every transcript.
    second = run_chat(
        "second.toml", "NHSQI", lambda net: net.post("main", ALICE, "!optout", at=utc_now())
    )
    for path in files:  # written again before the bot stopped
        text = path.read_text(encoding="utf-8")
        assert "my private story" not in text and "Alice Nurse" not in text, path.name
    assert "Alice Nurse" not in second.read_text(encoding="utf-8")
    # An opt-out the bot took before it stopped (here: written while it was down): the
    # files are written again when it starts.
    store = Store(tmp_path / "db.sqlite")
    try:
        store.opt_out("local", BOB.id, BOB.handle)
    finally:
        store.close()
    assert "what Bob said" in first.read_text(encoding="utf-8")
    bot = start_bot(config, "--until-idle")
    out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    assert "published again, without a participant who opted out" in out
    for path in files:
        assert "what Bob said" not in path.read_text(encoding="utf-8"), path.name


def test_run_until_idle_does_not_wait_for_files_it_cannot_write(tmp_path: Path) -> None:
    """An opt-out whose chats cannot be written again (the transcripts folder is a file):
    the bot says so and tries again later, and `run --until-idle` still ends."""
    from archive.models import CapturedMessage, Chat, ChatStatus, MessageKind, Question, Target
    from archive.publish import publish_chat

    config = config_file(tmp_path)
    start = datetime(2026, 1, 6, 20, 0, tzinfo=UTC)
    chat = Chat(
        id="wedocs-2026-01-06",
        title="Quick chat",
        hashtag="#WeDocs",
        start=start,
        end=start.replace(hour=21),
        timezone="Europe/London",
        questions=(Question(1, "One?", start - start),),
        targets=(Target("local", "main"),),
        status=ChatStatus.PUBLISHED,
    )
    store = Store(tmp_path / "db.sqlite")
    try:
        store.add_chat(chat)
        answer = CapturedMessage(
            chat_id=chat.id,
            platform="local",
            platform_id="1",
            author_id=ALICE.id,
            author_name=ALICE.name,
            author_handle=ALICE.handle,
            text="A1 my private story #WeDocs",
            created_at=start.replace(minute=5),
            kind=MessageKind.ANSWER,
            question_keys=("1",),
        )
        store.save_messages([answer])
        publish_chat(store, chat, tmp_path / "elsewhere")
        store.opt_out("local", ALICE.id, ALICE.handle)
    finally:
        store.close()
    (tmp_path / "out").write_text("a file where the transcripts' folder should be")
    bot = start_bot(config, "--until-idle")
    out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    assert "publishing again after an opt-out: chat wedocs-2026-01-06:" in out
