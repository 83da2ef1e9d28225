"""`tweetchat demo` runs a whole simulated chat and prints where its transcripts are."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.bot.helpers import config_file, tweetchat


def test_demo_runs_a_full_chat_and_writes_three_transcripts(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    out = tmp_path / "demo"
    result = tweetchat(
        ["demo", "--out", str(out), "--speed", "900", "--participants", "25"], config, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    paths = dict(re.findall(r"^\s+(md|html|json)\s+(\S+)$", result.stdout, re.MULTILINE))
    assert set(paths) == {"md", "html", "json"}
    md = Path(paths["md"]).read_text(encoding="utf-8")
    html = Path(paths["html"]).read_text(encoding="utf-8")
    data = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    # Six questions, each with a section, and the summary the demo printed.
    assert len(re.findall(r"^## Q\d ", md, re.MULTILINE)) == 6
    m = re.search(r"participants (\d+)\s+messages (\d+)\s+answers (\d+)", result.stdout)
    assert m is not None
    assert data["stats"]["answers"] == int(m.group(3)) > 50
    # The hostile message is shown as text, never as markup.
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    # The opted-out participant appears nowhere.
    assert "Finn" not in md and "Finn" not in html
    # Late answers are kept and marked.
    assert "Late answers" in md
    # The participants reacted to each other's answers: a Highlights section comes first,
    # ranked as the archive counts the reactions, and the summary names each top answer.
    assert md.index("## Highlights") < md.index("## Summary")
    reacted = re.search(r"(\d+) reactions, 1 opt-out", result.stdout)
    assert reacted is not None and int(reacted.group(1)) > 20
    assert "Highlights (the top answer of each question):" in result.stdout
    ranked = [h["answers"] for h in data["highlights"]]
    assert ranked and all(len(answers) <= 3 for answers in ranked)
    for answers in ranked:
        keys = [(-a["score"], a["created_at"]) for a in answers]
        assert keys == sorted(keys) and all(a["reactions"] == a["score"] > 0 for a in answers)
    assert "Highlights" in html
    # Most participants said which group they are in, through each route the local
    # platform has: in their hello (u000), in a reply to Q1 (u001), on the roster (u002).
    assert "## Stakeholder mix" in md and "<h2>Stakeholder mix</h2>" in html
    assert re.search(r"^  groups: .*Clinician \d+", result.stdout, re.MULTILINE)
    groups = {m["author"]["id"]: m["group"] for m in data["messages"] if "group" in m}
    assert groups["u000"] == groups["u001"] == groups["u002"] == "clinician"
    declared = sum(1 for g in groups.values() if g)
    assert declared > len(groups) / 2
    assert data["groups"]["not_declared"]["participants"] < data["groups"]["participants"] / 2


def test_the_demo_runs_in_french_and_in_welsh(tmp_path: Path) -> None:
    """`tweetchat demo --language fr` (and cy): the simulated people write English, but the
    bot's words, the label letters and the transcripts are in the chat's language."""
    from bot.platforms.local.adapter import LocalNetwork

    config = config_file(tmp_path)
    for language, question, answer, late, closing in (
        ("fr", "Q", "R", "## Réponses tardives", "La transcription suivra."),
        ("cy", "C", "A", "## Atebion hwyr", "Bydd trawsgrifiad yn dilyn."),
    ):
        out = tmp_path / f"demo-{language}"
        result = tweetchat(
            [
                "demo",
                "--language",
                language,
                "--out",
                str(out),
                "--speed",
                "900",
                "--participants",
                "20",
            ],
            config,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        md = Path(re.findall(r"^\s+md\s+(\S+)$", result.stdout, re.MULTILINE)[0]).read_text(
            encoding="utf-8"
        )
        assert len(re.findall(rf"^## {question}\d ", md, re.MULTILINE)) == 6
        assert late in md and "## Late answers" not in md
        assert re.search(rf"^  {answer}\d", md, re.MULTILINE), "answers by the chat's letter"
        net = LocalNetwork(out / "local-network.db")
        try:
            posts = [r["text"] for r in net.messages("main") if r["is_bot"]]
        finally:
            net.close()
        assert posts[0].startswith({"fr": "Bienvenue", "cy": "Croeso"}[language])
        assert f"{answer}1, {answer}2…" in posts[0]
        assert any(closing in p for p in posts)
    refused = tweetchat(["demo", "--language", "de"], config)
    assert refused.returncode == 2 and "--language" in refused.stderr
