"""`tweetchat demo --labels`: the simulated chat in another label convention."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.labels import Labels
from bot.demo import simulate
from tests.bot.helpers import config_file, tweetchat


def test_simulated_participants_write_the_chats_labels() -> None:
    start = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    times = [start + timedelta(minutes=8 * n) for n in range(1, 7)]
    end = start + timedelta(hours=1)
    plan, counts = simulate(
        start, times, end, end + timedelta(minutes=10), 20, random.Random(7), Labels("C", "A")
    )
    texts = [p.text for p in plan if p.kind == "post"]
    assert counts["labelled"] > 0
    assert any(t.startswith("Love these answers to C1 ") for t in texts)
    assert not any(re.match(r"Q\d", t) or "to Q1 " in t for t in texts)
    french, _ = simulate(
        start, times, end, end + timedelta(minutes=10), 20, random.Random(7), Labels("Q", "R")
    )
    labelled = [p.text for p in french if re.match(r"[AR]\d", p.text)]
    assert labelled and all(t.startswith("R") for t in labelled)


def test_the_demo_runs_in_the_french_convention(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    out = tmp_path / "demo"
    result = tweetchat(
        ["demo", "--out", str(out), "--speed", "900", "--participants", "20", "--labels", "Q/R"],
        config,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    paths = dict(re.findall(r"^\s+(md|html|json)\s+(\S+)$", result.stdout, re.MULTILINE))
    data = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    labelled = [
        m for m in data["messages"] if m["kind"] == "answer" and re.match(r"R\d", m["text"])
    ]
    assert labelled
    for m in labelled:
        assert m["questions"][0] == re.match(r"R(\d)", m["text"]).group(1)  # type: ignore[union-attr]
    md = Path(paths["md"]).read_text(encoding="utf-8")
    assert len(re.findall(r"^## Q\d ", md, re.MULTILINE)) == 6
    assert re.search(r"</a>R6 · ", md)  # a late answer, labelled in the chat's letter


def test_a_bad_labels_option_is_one_line(tmp_path: Path) -> None:
    result = tweetchat(["demo", "--labels", "QR"], config_file(tmp_path))
    assert result.returncode == 2
    assert "--labels" in result.stderr and len(result.stderr.strip().splitlines()) == 1
