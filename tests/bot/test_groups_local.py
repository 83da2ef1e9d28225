"""Stakeholder groups end to end on the local platform, through `tweetchat run`: `!iam` in a
post and in a reply to the bot, the roster, the latest declaration winning, answers once per
post, small groups suppressed, and the declarations holding for the hashtag's next chat."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from archive.groups import group_label, say
from archive.i18n import LANGUAGES, translator
from archive.models import CapturedMessage, MessageKind
from archive.store import Store
from bot.groups import is_group_reply
from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import (
    chat_file,
    config_file,
    local_bot_post,
    start_bot,
    tweetchat,
    until,
    utc_now,
    wait_for,
)

A1, A2, A3 = (LocalUser(f"a{i}", f"Clin {i}", f"clin{i}") for i in (1, 2, 3))
B1 = LocalUser("b1", "Pat Reply", "patreply")
B2 = LocalUser("b2", "Pat Handle", "pathandle")
B3 = LocalUser("b3", "Pat Id", "patid")
C1 = LocalUser("c1", "Kit Carer", "kit")
D1 = LocalUser("d1", "Dee Changer", "dee")
E1 = LocalUser("e1", "Eli Quiet", "eli")
F1 = LocalUser("f1", "Fay Typo", "fay")
EVERYONE = (A1, A2, A3, B1, B2, B3, C1, D1, E1, F1)


def test_declarations_on_the_local_platform_reach_every_transcript(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text(
        "platform,handle or id,group\nlocal,@PatHandle,patient\nlocal,b3,patient\n", "utf-8"
    )
    config = config_file(tmp_path, '[groups]\nroster = "roster.csv"\n')
    chat_file(tmp_path / "chat.toml", start_in=3, questions=("One?",), duration="10s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0

    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        post = net.post
        first = post("main", A1, "Hello, nurse here !iam clinician #WeDocs", at=utc_now())
        for who in (A2, A3):
            post("main", who, "!iam Clinician #WeDocs", at=utc_now())
        post("main", C1, "!iam carer #WeDocs", at=utc_now())
        post("main", D1, "!iam patient #WeDocs", at=utc_now())
        post("main", F1, "!iam astronaut #WeDocs", at=utc_now())
        q1 = wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        post("main", B1, "!iam patient", at=utc_now(), reply_to=q1)  # a reply to the bot
        post("main", D1, "!iam manager #WeDocs", at=utc_now())  # the latest wins
        net.edit(first, "Hello, nurse here !iam clinician #WeDocs (edited)", at=utc_now())
        for who in EVERYONE:
            post("main", who, f"A1: {who.name}'s answer #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out

    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        replies = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    thanks = [t for t in replies if t.startswith("Thank you: you are counted as")]
    # One answer per declaring post (7), none for the edit; the typo gets the list of groups.
    assert len(thanks) == 7
    assert thanks.count(say("declared", label="Clinician", hashtag="WeDocs")) == 3
    assert say("declared", label="Patient", hashtag="WeDocs") in thanks  # the reply to Q1
    assert any(t.startswith("“astronaut” is not one of the groups") for t in replies)

    out_dir = tmp_path / "out"
    md = next(out_dir.glob("*.md")).read_text(encoding="utf-8")
    mix = md.split("## Stakeholder mix", 1)[1].split("\n## ", 1)[0]
    # Hand count: 10 participants, one answer each; the bot's answers are in no transcript.
    assert "| Clinician | 3 | 30% | 3 | 30% |" in mix
    # One carer and one manager (Dee's latest declaration), as many participants each, are
    # counted together with the smallest other group: the patients (reply, roster by
    # handle, roster by id).
    assert "| Patient | counted together | — | — | — |" in mix
    assert "| Carer | counted together | — | — | — |" in mix
    assert "| Manager | counted together | — | — | — |" in mix
    assert "| Counted together: Patient, Carer, Manager | 5 | 50% | 5 | 50% |" in mix
    assert "| Not declared | 2 | 20% | 2 | 20% |" in mix  # Eli, and Fay's unknown group
    assert "| **Total** | 10 | 100% | 10 | 100% |" in mix
    assert "Thank you: you are counted" not in md and "astronaut” is not" not in md
    # A declaration-only post is not a message of the chat; one with more text is.
    assert "Hello, nurse here" in md and "!iam Clinician #WeDocs" not in md

    data = json.loads(next(out_dir.glob("*.json")).read_text(encoding="utf-8"))
    groups = {m["author"]["id"]: m["group"] for m in data["messages"] if m["kind"] == "answer"}
    assert groups == {
        "a1": "clinician",
        "a2": "clinician",
        "a3": "clinician",
        "b1": None,
        "b2": None,
        "b3": None,
        "c1": None,
        "d1": None,
        "e1": None,
        "f1": None,
    }
    chat_id = data["chat"]["id"]
    shown = tweetchat(["transcript", chat_id, "--format", "csv"], config)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert {r["author_id"]: r["group"] for r in rows if r["kind"] == "answer"}["b3"] == ""
    assert {r["author_id"]: r["group"] for r in rows if r["kind"] == "answer"}["a3"] == "clinician"
    stats = tweetchat(["stats", chat_id], config)
    assert (
        "groups: Clinician 3, Counted together: Patient, Carer, Manager 5, Not declared 2"
        in stats.stdout
    )

    # The hashtag's next chat: nobody declares again, the groups hold.
    store = Store(tmp_path / "db.sqlite")
    try:
        chat = store.get_chat(chat_id)
        later = dataclasses.replace(
            chat,
            id=chat_id + "-next",
            start=chat.start + timedelta(days=7),
            end=chat.end + timedelta(days=7),
        )
        store.add_chat(later)
        store.save_messages(
            CapturedMessage(
                chat_id=later.id,
                platform="local",
                platform_id=f"next-{who.id}",
                author_id=who.id,
                author_name=who.name,
                author_handle=who.handle,
                text="A1: again #WeDocs",
                created_at=later.start + timedelta(minutes=1),
                kind=MessageKind.ANSWER,
                question_keys=("1",),
            )
            for who in (A1, A2, A3, B1)
        )
    finally:
        store.close()
    again = tweetchat(["transcript", later.id], config)
    # One patient: counted together with the clinicians, the only other group.
    assert "| Patient | counted together | — | — | — |" in again.stdout
    assert "| Clinician | counted together | — | — | — |" in again.stdout
    assert "| Counted together: Patient, Clinician | 4 | 100% | 4 | 100% |" in again.stdout


async def test_a_post_delivered_twice_is_answered_once(tmp_path: Path) -> None:
    from archive.models import Chat, ChatStatus, IncomingMessage, Question, Target
    from archive.store import AsyncStore
    from bot.facilitator import Facilitator
    from bot.platforms.local.adapter import LocalPlatform
    from tests.bot.test_late_note import no_publish

    start = utc_now() - timedelta(minutes=5)
    chat = Chat(
        id="wedocs-twice",
        title="Twice",
        hashtag="#WeDocs",
        start=start,
        end=start + timedelta(hours=1),
        timezone="Europe/London",
        questions=(Question(1, "One?", timedelta(minutes=1)),),
        targets=(Target("local", "main"),),
        status=ChatStatus.LIVE,
    )
    store = AsyncStore(tmp_path / "db.sqlite")
    await store.add_chat(chat)
    platform = LocalPlatform(tmp_path / "net.sqlite")
    facilitator = Facilitator(store, {"local": platform}, publisher=no_publish)
    await platform.start()
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        posts = [(B1, "!iam patient #WeDocs"), (F1, "!iam astronaut #WeDocs")]
        incoming = [
            IncomingMessage(
                "local",
                net.post("main", who, text, at=utc_now()),
                "main",
                who.id,
                who.name,
                who.handle,
                text,
                utc_now(),
            )
            for who, text in posts
        ]

        # The platform delivers them live too; then again as from a backfill, twice.
        def answers_now() -> list[str]:
            return [r["text"] for r in net.messages("main") if r["is_bot"]]

        await facilitator.capture_messages(incoming)
        await until("both answers", lambda: len(answers_now()) >= 2)
        await facilitator.capture_messages(incoming)
        answers = answers_now()
    finally:
        net.close()
        await platform.stop()
        await store.aclose()
    assert len(answers) == 2
    assert say("declared", label="Patient", hashtag="WeDocs") in answers
    assert any(t.startswith("“astronaut” is not one of the groups") for t in answers)


def _stored(db: Path, author_id: str) -> int:
    """How many messages of the author the archive holds (read beside the running bot)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as conn:
        try:
            query = "SELECT count(*) FROM messages WHERE author_id = ?"
            return int(conn.execute(query, (author_id,)).fetchone()[0])
        except sqlite3.OperationalError:  # not made yet
            return 0


def test_an_answer_edited_into_a_declaration_leaves_the_transcript(tmp_path: Path) -> None:
    """A tester's: an answer edited into a bare "!iam clinician" declared the group, and the
    answer's old words stayed in the transcript (the edit was dropped with the post)."""
    config = config_file(tmp_path)
    chat_file(tmp_path / "chat.toml", start_in=3, questions=("One?",), duration="8s")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        secret = net.post("main", A1, "A1 my secret answer #WeDocs", at=utc_now())
        net.post("main", A2, "A1 an answer that stays #WeDocs", at=utc_now())
        # Captured before the edit (an edit read first is only ever a declaration).
        wait_for(lambda: _stored(tmp_path / "db.sqlite", A1.id), what="the answer captured")
        net.edit(secret, "!iam clinician \U0001fa7a #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert "secret answer" not in md and "!iam" not in md.split("## Participants")[0]
    assert "an answer that stays" in md
    store = Store(tmp_path / "db.sqlite")
    try:
        assert store.group_sources("#WeDocs").own == {("local", A1.id): "clinician"}
        (row,) = [m for m in store.messages(store.list_chats()[0].id) if m.author_id == A1.id]
        assert row.deleted and "secret" not in row.text
    finally:
        store.close()


def test_a_french_chat_answers_declarations_in_french(tmp_path: Path) -> None:
    """`!iam` in a French chat: the answer is French (the translated label, which a
    participant may also type), and the bot's answers are no messages of the chat."""
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=3,
        questions=("Un?",),
        duration="8s",
        hashtag="SoinsQC",
        extra='language = "fr-CA"\n[labels]\nquestion = "Q"\nanswer = "R"\n',
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1"), what="Q1")
        for who in (A1, A2, A3):
            net.post("main", who, "!iam Clinicien #SoinsQC", at=utc_now())  # the French label
        # The label of two words, as it reads (a tester's: only "proche" was read).
        net.post("main", C1, "!iam Proche aidant #SoinsQC", at=utc_now())
        net.post("main", F1, "!iam astronaute #SoinsQC", at=utc_now())
        for who in (A1, A2, A3, C1, F1):
            net.post("main", who, f"R1 : {who.name} répond #SoinsQC", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out

    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        replies = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    nb = "\u00a0"
    merci = (
        f"Merci{nb}: vous êtes compté dans le groupe {{}} pour les clavardages SoinsQC."
        " Envoyez !iam suivi d’un autre groupe pour en changer."
    )
    assert replies.count(merci.format("Clinicien")) == 3
    assert merci.format("Proche aidant") in replies
    assert any(
        r.startswith(f"«{nb}astronaute{nb}» ne fait pas partie des groupes") for r in replies
    )
    assert not any(r.startswith("Thank you") or "is not one of" in r for r in replies)

    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    mix = md.split("## Répartition des parties prenantes", 1)[1].split("\n## ", 1)[0]
    # One carer, counted together with the clinicians.
    assert "| Clinicien | compté ensemble | — | — | — |" in mix
    assert "| Proche aidant | compté ensemble | — | — | — |" in mix
    assert f"| Comptés ensemble{nb}: Proche aidant, Clinicien | 4 | 80{nb}% |" in mix
    # The bot's answers (recognised as its own, in French) are in no transcript, nor the
    # posts that are only declarations (the label of two words is all declaration).
    assert "Merci" not in md and "ne fait pas partie" not in md
    assert "!iam Proche" not in md and "!iam Clinicien" not in md


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_bots_answers_are_its_own_in_every_language(language: str) -> None:
    tr = translator(language)
    answers = [
        say("declared", tr, label=group_label("carer", "Carer", tr), hashtag="WeDocs"),
        say("unknown_group", tr, group="astronaut", groups="patient, carer"),
        say("which_group", tr, groups="patient, carer"),
        say("no_chat", tr),
    ]
    for text in answers:
        assert is_group_reply(text) and is_group_reply("@someone@example.org " + text)
    # A participant's words are not the bot's answers, in any language.
    for text in ("Merci à tous #WeDocs", "Diolch i bawb", "Thank you all!", "!iam patient"):
        assert not is_group_reply(text)
