"""Whole chats in other label conventions on the local platform, through `tweetchat schedule`
and `tweetchat run`: a French chat (Q1 / R1) and a Welsh one (C1 / A1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

AMELIE = LocalUser("a1", "Amélie Infirmière", "amelie")
BENOIT = LocalUser("b2", "Benoît Aidant", "benoit")
CERI = LocalUser("c3", "Ceri Nyrs", "ceri")
DAFYDD = LocalUser("d4", "Dafydd Gofalwr", "dafydd")


def bot_texts(net_path: Path) -> list[str]:
    net = LocalNetwork(net_path)
    try:
        return [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()


def transcripts(out: Path) -> tuple[str, dict[str, Any]]:
    md = next(out.glob("*.md")).read_text(encoding="utf-8")
    data = json.loads(next(out.glob("*.json")).read_text(encoding="utf-8"))
    return md, data


def test_a_french_chat_asks_for_r_answers_and_captures_them(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=8,
        questions=("Comment impliquez-vous les patients ?", "Qu'est-ce qui a bloqué ?"),
        interval="4s",
        duration="12s",
        grace="6s",
        extra='[labels]\nquestion = "Q"\nanswer = "R"\n',
    )
    scheduled = tweetchat(["schedule", "chat.toml"], config)
    assert scheduled.returncode == 0, scheduled.stderr

    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        net.post(
            "main", AMELIE, "R1 : Nous co-construisons avec notre comité #WeDocs", at=utc_now()
        )
        wait_for(lambda: local_bot_post(net, "Q2:"), what="Q2")
        # With R answers, "A1" is no label: this answers the open question, Q2.
        net.post("main", BENOIT, "A1 comme on dit : le temps manque #WeDocs", at=utc_now())
        net.post("main", AMELIE, "r2 le financement #WeDocs", at=utc_now())
        wait_for(lambda: local_bot_post(net, "Bye"), what="the closing")
        net.post("main", BENOIT, "R1 en retard mais : le comité des usagers #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out

    posted = bot_texts(tmp_path / "net.sqlite")
    assert "Reply with R1, R2… and #WeDocs" in posted[0]
    assert [t.split(":")[0] for t in posted[1:3]] == ["Q1", "Q2"]

    md, data = transcripts(tmp_path / "out")
    by_text = {m["text"]: m for m in data["messages"]}
    assert by_text["R1 : Nous co-construisons avec notre comité #WeDocs"]["questions"] == ["1"]
    assert by_text["A1 comme on dit : le temps manque #WeDocs"]["questions"] == ["2"]
    assert by_text["r2 le financement #WeDocs"]["questions"] == ["2"]
    late = by_text["R1 en retard mais : le comité des usagers #WeDocs"]
    assert late["questions"] == ["1"] and late["late"]
    assert [q["label"] for q in data["chat"]["questions"]] == ["Q1", "Q2"]
    assert "## Q1 · Comment impliquez-vous les patients ?" in md
    assert "## Q2 · Qu'est-ce qui a bloqué ?" in md
    assert "</a>R1 · " in md  # the late answer's label, in the chat's answer letter
    assert "</a>A1 · " not in md


def test_a_welsh_chat_from_the_configs_labels_posts_c_questions(tmp_path: Path) -> None:
    config = config_file(tmp_path, '[labels]\nquestion = "C"\nanswer = "A"\n')
    chat_file(
        tmp_path / "chat.toml",
        start_in=8,
        questions=("Sut ydych chi'n cynnwys cleifion?", "Beth oedd yn rhwystr?"),
        interval="4s",
        duration="12s",
        grace="4s",
    )
    scheduled = tweetchat(["schedule", "chat.toml"], config)
    assert scheduled.returncode == 0, scheduled.stderr

    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "C1:"), what="C1")
        shown = tweetchat(["show", "wedocs"], config)
        assert shown.returncode == 0 and "C1 " in shown.stdout and "Q1" not in shown.stdout
        net.post(
            "main", CERI, "A1: Rydyn ni'n cyd-ddylunio gyda'n cyngor cleifion #WeDocs", at=utc_now()
        )
        wait_for(lambda: local_bot_post(net, "C2:"), what="C2")
        net.post("main", DAFYDD, "A1 hefyd: gofynnwn i gleifion yn gyntaf #WeDocs", at=utc_now())
        # "C1" is the question's label, not an answer's: this answers the open question.
        net.post("main", DAFYDD, "C1 oedd yn anodd, ond amser #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out

    posted = bot_texts(tmp_path / "net.sqlite")
    assert "Reply with A1, A2… and #WeDocs" in posted[0]
    assert posted[1] == "C1: Sut ydych chi'n cynnwys cleifion? #WeDocs"
    assert posted[2] == "C2: Beth oedd yn rhwystr? #WeDocs"

    md, data = transcripts(tmp_path / "out")
    by_text = {m["text"]: m for m in data["messages"]}
    answer = "A1: Rydyn ni'n cyd-ddylunio gyda'n cyngor cleifion #WeDocs"
    assert by_text[answer]["questions"] == ["1"]
    assert by_text["A1 hefyd: gofynnwn i gleifion yn gyntaf #WeDocs"]["questions"] == ["1"]
    assert by_text["C1 oedd yn anodd, ond amser #WeDocs"]["questions"] == ["2"]
    questions = [m for m in data["messages"] if m["kind"] == "question"]
    assert [m["questions"] for m in questions] == [["1"], ["2"]]
    assert [q["label"] for q in data["chat"]["questions"]] == ["C1", "C2"]
    assert "## C1 · Sut ydych chi'n cynnwys cleifion?" in md
    assert "| C2 | " in md and "## Q" not in md


def test_after_a_crash_a_french_chat_is_reconciled_and_backfilled_in_its_letters(
    tmp_path: Path,
) -> None:
    """The bot dies right after Q1 went out, before the store recorded it. While it is
    down, participants answer ``R2`` ahead of time (with the tag) and reply to Q1 (without).
    The next start reconciles the half-done Q1 and reads what came in with the stored
    convention: ``R2`` names question 2, though question 1 is the one open."""
    import signal

    from tests.bot.test_crash_reconcile import captured, ledger_status, run_bot

    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=8,
        questions=("Un ?", "Deux ?"),
        first_question="2s",
        interval="8s",
        duration="16s",
        grace="2s",
        extra='[labels]\nquestion = "Q"\nanswer = "R"\n',
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    db = tmp_path / "db.sqlite"
    with (tmp_path / "run1.log").open("w") as log1:
        crashing = run_bot(config, log1, fault="crash-after-send:q1")
        crashing.wait(timeout=60)
    assert crashing.returncode == -signal.SIGKILL, (tmp_path / "run1.log").read_text()
    assert ledger_status(db, "q1") == "intent"
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        (q1,) = [r for r in net.messages("main") if r["is_bot"] and r["text"].startswith("Q1:")]
        net.post("main", AMELIE, "R2 en avance : le temps #WeDocs", at=utc_now())
        net.post("main", BENOIT, "réponse sans dièse", at=utc_now(), reply_to=str(q1["seq"]))
    finally:
        net.close()
    with (tmp_path / "run2.log").open("w") as log2:
        bot = run_bot(config, log2, "--until-idle")
        bot.wait(timeout=90)
    out = (tmp_path / "run2.log").read_text()
    assert bot.returncode == 0, out
    assert ledger_status(db, "q1") == "sent"
    got = captured(db)
    assert got["R2 en avance : le temps #WeDocs"] == "2"
    assert got["réponse sans dièse"] == "1"
    assert [t for t in bot_texts(tmp_path / "net.sqlite") if t.startswith("Q1:")] == [
        "Q1: Un ? #WeDocs"
    ]  # found on the network, not posted again
