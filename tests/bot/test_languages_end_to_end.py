"""A French chat (answers R1) and a Welsh chat (questions C1, answers A1) run end to end on
the local platform through `tweetchat schedule` and `tweetchat run`: every word the bot
posts and the published transcript are in the chat's language.

The transcripts are compared with golden files (tests/bot/golden/) after the parts that
depend on when the test runs are masked: times of day, dates, zone names, delays and the
activity chart (its minute buckets depend on the second the chat starts). Regenerate
them after an intended change with ``UPDATE_GOLDEN=1 pytest tests/bot/test_languages_end_to_end.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import chat_file, local_bot_post, start_bot, tweetchat, utc_now, wait_for

GOLDEN = Path(__file__).parent / "golden"
ALICE = LocalUser("a1", "Alice Infirmière", "alice")
BOB = LocalUser("b2", "Bob Aidant", "bob")


def masked(markdown: str) -> str:
    """The transcript without what depends on when the test runs."""
    text = re.sub(r"(?ms)^## (Activité|Gweithgarwch|Activity)\n.*?^```\n", "", markdown)
    text = re.sub(r"\b\d{2} h \d{2}\b", "HH h MM", text)
    text = re.sub(r"\b\d{2}:\d{2}\b", "HH:MM", text)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "YYYY-MM-DD", text)
    text = re.sub(r"\b(GMT|BST|UTC\+[01])\b", "ZONE", text)
    # a day with its year: "mar. 1 déc. 2026", "Maw 1 Rhag 2026"
    text = re.sub(r"[^\s,(]+ \d{1,2} [^\s,]+ \d{4}", "DAY", text)
    text = re.sub(r"\b\d+ (s|eil)\b", r"N \1", text)  # delays before a first answer
    return re.sub(r"\b\d+ (min|mun) \d+ (s|eil)\b", r"N \1 N \2", text)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def run_chat(
    tmp_path: Path,
    *,
    config_top: str = "",
    config_tables: str = "",
    chat_extra: str = "",
    hashtag: str,
    question: str,
    answer: str,
    texts: tuple[str, str, str],
) -> tuple[list[str], str]:
    """Schedule and run a three-question chat; two people answer by label, one replies to
    a question's post. Returns the bot's posts and the published Markdown."""
    config = tmp_path / "config.toml"
    config.write_text(  # as tests.bot.helpers.config_file, with top-level keys first
        f'{config_top}database = "db.sqlite"\ntranscripts_dir = "out"\n'
        f'{config_tables}[local]\nnetwork = "net.sqlite"\npoll_interval = 0.05\n',
        encoding="utf-8",
    )
    chat_file(
        tmp_path / "chat.toml",
        start_in=3,
        duration="12s",
        grace="3s",
        hashtag=hashtag,
        questions=("Un?", "Deux?", "Trois?"),
        extra=chat_extra,
    )
    scheduled = tweetchat(["schedule", "chat.toml"], config)
    assert scheduled.returncode == 0, scheduled.stderr
    bot = start_bot(config, "--until-idle")
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        q1 = wait_for(lambda: local_bot_post(net, f"{question}1:"), what=f"{question}1")
        net.post("main", ALICE, f"{answer}1: {texts[0]} #{hashtag}", at=utc_now())
        net.post("main", BOB, texts[1], at=utc_now(), reply_to=q1)
        wait_for(lambda: local_bot_post(net, f"{question}2:"), what=f"{question}2")
        net.post("main", ALICE, f"{answer.lower()}2 {texts[2]} #{hashtag}", at=utc_now())
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
        net.close()
    assert bot.returncode == 0, out
    assert "Traceback" not in out
    net = LocalNetwork(tmp_path / "net.sqlite")
    try:
        posts = [r["text"] for r in net.messages("main") if r["is_bot"]]
    finally:
        net.close()
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    html = next((tmp_path / "out").glob("*.html")).read_text(encoding="utf-8")
    assert html.count("<html lang=") == 1
    return posts, md + "\n<!-- html -->\n" + html[: html.index(">", html.index("<html")) + 1]


def test_a_french_chat_posts_and_publishes_in_french(tmp_path: Path) -> None:
    posts, transcript = run_chat(
        tmp_path,
        chat_extra='language = "fr-CA"\n[labels]\nquestion = "Q"\nanswer = "R"\n',
        hashtag="SoinsQC",
        question="Q",
        answer="R",
        texts=(
            "Nous concevons nos soins avec le comité des usagers",
            "Une réponse en fil, sans mot-clic",
            "Plus de temps avec les familles",
        ),
    )
    assert posts[0] == (
        "Hello\n\nRépondez avec R1, R2… et #SoinsQC pour que vos réponses soient comptées."
    )
    assert [p.split(":")[0] for p in posts[1:4]] == ["Q1", "Q2", "Q3"]
    assert posts[4] == "Bye\n\nLa transcription suivra. #SoinsQC"
    assert posts[5] == (
        "Merci d’avoir participé à #SoinsQC! Transcription de «\u00a0Quick chat\u00a0»\u00a0: "
        "2 participants, 8 messages, 3 réponses."
    )
    assert "## Q1 · Un?" in transcript and "## Résumé" in transcript
    assert "Nous concevons nos soins" in transcript and "Une réponse en fil" in transcript
    assert '<html lang="fr-CA">' in transcript
    check_golden("run-fr.md", masked(transcript))


def test_a_welsh_chat_posts_and_publishes_in_welsh(tmp_path: Path) -> None:
    """The language and the letters come from the config here (the chat file names none)."""
    posts, transcript = run_chat(
        tmp_path,
        config_top='language = "cy"\n',
        config_tables='[labels]\nquestion = "C"\nanswer = "A"\n',
        hashtag="IechydDa",
        question="C",
        answer="A",
        texts=(
            "Rydym yn cyd-gynllunio gyda’n cyngor cleifion",
            "Ateb mewn edefyn, heb hashnod",
            "Mwy o amser gyda theuluoedd",
        ),
    )
    assert posts[0] == (
        "Hello\n\nAtebwch gyda A1, A2… a #IechydDa er mwyn i’ch atebion gael eu cyfrif."
    )
    assert [p.split(":")[0] for p in posts[1:4]] == ["C1", "C2", "C3"]
    assert posts[4] == "Bye\n\nBydd trawsgrifiad yn dilyn. #IechydDa"
    assert posts[5] == (
        "Diolch am ymuno â #IechydDa! Trawsgrifiad o “Quick chat”: 2 gyfranogwr, 8 neges, 3 ateb."
    )
    assert "## C1 · Un?" in transcript and "## Crynodeb" in transcript
    assert '<html lang="cy">' in transcript
    check_golden("run-cy.md", masked(transcript))
