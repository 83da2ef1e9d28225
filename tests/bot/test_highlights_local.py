"""Highlights end to end on the local platform: participants answer and react with
`tweetchat local react` while `tweetchat run` runs the chat; the published transcripts
(Markdown, JSON) rank the answers by reactions, ties broken by time."""

from __future__ import annotations

import csv
import io
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

ALICE = LocalUser("a1", "Alice Nurse", "alice")
BOB = LocalUser("b2", "Bob Carer", "bob")
CARA = LocalUser("c3", "Cara Manager", "cara")
DAN = LocalUser("d4", "Dan Student", "dan")


def react(config: Path, message: str, times: int = 1, *, remove: bool = False) -> str:
    out = ""
    for _ in range(times):
        done = tweetchat(["local", "react", message, *(["--remove"] if remove else [])], config)
        assert done.returncode == 0, done.stderr
        out = done.stdout
    return out


def test_reactions_make_the_highlights_of_a_published_chat(tmp_path: Path) -> None:
    config = config_file(tmp_path, "\n".join(["", "[scheduler]", "reminders = []"]))
    config.write_text(
        "highlights_per_question = 2\n" + config.read_text(encoding="utf-8"), encoding="utf-8"
    )
    chat_file(
        tmp_path / "chat.toml",
        start_in=4,
        duration="16s",
        grace="3s",
        interval="5s",
        extra="digest = true",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0

    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        wait_for(lambda: local_bot_post(net, "Q1:"), what="Q1")
        a = net.post("main", ALICE, "A1: co-design with the patient council #WeDocs", at=utc_now())
        b = net.post("main", BOB, "A1: ask carers first #WeDocs", at=utc_now())
        c = net.post("main", CARA, "A1: measure what matters #WeDocs", at=utc_now())
        d = net.post("main", DAN, "A1: nothing yet #WeDocs", at=utc_now())
        # Bob and Cara tie on 2 (Bob answered first); Alice has 1 (one of two taken back);
        # Dan's has none. At most 2 a question: Bob, then Cara.
        react(config, b, 2)
        react(config, c, 3)
        react(config, c, remove=True)
        assert "has 2 reactions" in react(config, a, 2)
        assert "has 1 reaction" in react(config, a, remove=True)
        missing = tweetchat(["local", "react", "99999"], config)
        assert missing.returncode == 2 and "no message 99999" in missing.stderr
        out, _ = bot.communicate(timeout=90)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out

    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert md.index("## Highlights") < md.index("## Summary")
    section = md[md.index("## Highlights") : md.index("## Summary")]
    q1 = section[section.index("### Top answers to Q1:") :]
    assert q1.index("Bob Carer") < q1.index("Cara Manager")
    assert "Alice Nurse" not in q1 and "Dan Student" not in q1  # at most 2
    assert "2 reactions" in q1 and f"(#m-local-{b})" in q1
    assert "to Q2:" not in section  # no answers there, no heading

    doc = json.loads(next((tmp_path / "out").glob("*.json")).read_text(encoding="utf-8"))
    assert [(h["question"], [x["id"] for x in h["answers"]]) for h in doc["highlights"]] == [
        ("1", [b, c])
    ]
    assert [x["score"] for x in doc["highlights"][0]["answers"]] == [2, 2]
    # The CSV of the published chat carries each message's score.
    csv_out = tweetchat(["transcript", "wedocs", "--format", "csv"], config)
    assert csv_out.returncode == 0, csv_out.stderr
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    scores = {r["id"]: r["engagement"] for r in rows}
    assert (scores[a], scores[b], scores[c], scores[d]) == ("1", "2", "2", "0")

    # The digest (the chat file's `digest = true`): after the announcement, a header and the
    # top answer of Q1 (the only question answered), posted once.
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        texts = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    assert texts[-2:] == [
        "Highlights of #WeDocs “Quick chat”: the answer with the most reactions, likes and"
        " reposts for each question.",
        "Top answer to Q1, by Bob Carer: “A1: ask carers first #WeDocs” (2 reactions) #WeDocs",
    ]
    assert texts[-3].startswith("Thank you for joining")
    shown = tweetchat(["show", "wedocs"], config)
    assert shown.returncode == 0 and "published" in shown.stdout, shown.stderr
