"""A host's follow-up on a question in a live chat on the local platform, through
`tweetchat schedule` and `tweetchat run`: found by a tester, a host's "Q1 follow-up: ..."
was taken for a second question post and left out of the Markdown and HTML transcripts."""

from __future__ import annotations

import json
from pathlib import Path

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

HOST = LocalUser("h1", "Dr Anna Host", "hostanna")
ALICE = LocalUser("a1", "Alice Nurse", "alice")


def test_a_hosts_follow_up_is_listed_under_its_question_in_every_transcript(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path)
    chat_file(
        tmp_path / "chat.toml",
        start_in=5,
        questions=("How do you involve patients?", "What got in the way?", "What next?"),
        interval="4s",
        duration="14s",
        grace="2s",
        extra='hosts = ["hostanna"]\n',
    )
    scheduled = tweetchat(["schedule", "chat.toml"], config)
    assert scheduled.returncode == 0, scheduled.stderr
    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        net.post("main", ALICE, "A1 our patient council #WeDocs", at=utc_now())
        follow_up = net.post(
            "main", HOST, "Q1 follow-up: who chairs the council? #WeDocs", at=utc_now()
        )
        # At once, without the hashtag: read with the follow-up, in one batch (a tester lost
        # such replies, and those posted while the bot was down, read back together).
        net.post("main", ALICE, "a patient, since last year", at=utc_now(), reply_to=follow_up)
        wait_for(lambda: local_bot_post(net, "Q2:"), what="Q2")
        net.post("main", ALICE, "A2 time #WeDocs", at=utc_now())
        # A reply to the follow-up answers Q1, though Q2 is the open question.
        net.post("main", ALICE, "and a carer #WeDocs", at=utc_now(), reply_to=follow_up)
        # A host's post about a question before the bot asks it: listed under Q3.
        net.post("main", HOST, "Q3 in a minute: think about next month #WeDocs", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out

    out_dir = tmp_path / "out"
    md = next(out_dir.glob("*.md")).read_text(encoding="utf-8")
    q1, q2 = md.index("## Q1"), md.index("## Q2")
    section = md[q1:q2]
    assert "Host · **Dr Anna Host** @hostanna" in section, section
    assert "Q1 follow-up: who chairs the council? #WeDocs" in section
    assert "a patient, since last year" in section
    assert "and a carer" in section
    assert "3 answers from 1 participant" in section  # the follow-up is no answer
    assert "- **Questions:** 3\n" in md  # nor a question
    q3 = md[md.index("## Q3") :]
    assert "Host · **Dr Anna Host** @hostanna" in q3 and "think about next month" in q3
    html = next(out_dir.glob("*.html")).read_text(encoding="utf-8")
    assert "who chairs the council?" in html
    data = json.loads(next(out_dir.glob("*.json")).read_text(encoding="utf-8"))
    (entry,) = [m for m in data["messages"] if "who chairs" in m["text"]]
    assert (entry["kind"], entry["questions"]) == ("host", ["1"])
