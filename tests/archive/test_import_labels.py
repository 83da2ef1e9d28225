"""Importing a Discord export of a chat that used another label convention (`--labels`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.labels import Labels
from archive.models import MessageKind
from archive.store import Store
from tests.archive.test_discord_import import HOST_ID, fixture_doc, kinds, mid, run_import
from tests.bot.helpers import config_file, tweetchat


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "archive.sqlite")
    yield s
    s.close()


def relabelled(tmp_path: Path, question: str, answer: str) -> Path:
    """The fixture export as a chat in another convention would have written it: the
    host's ``Q1:`` posts as ``{question}1:``, the answers' ``A1`` as ``{answer}1``."""
    doc: dict[str, Any] = fixture_doc()
    for m in doc["messages"]:
        text = re.sub(r"^Q(?=\d)", question, m["content"])
        m["content"] = re.sub(r"^A(?=\d)", answer, text)
    path = tmp_path / f"export-{question}{answer}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_french_export_reads_r_answers(tmp_path: Path, store: Store) -> None:
    path = relabelled(tmp_path, "Q", "R")
    chat = run_import(store, path, labels=Labels("Q", "R")).chat
    assert store.get_chat(chat.id).labels == Labels("Q", "R")
    assert [q.text for q in chat.questions][:1] == ["How do you involve patients in QI?"]
    found = kinds(store, chat)
    assert found[mid(5)] == (MessageKind.ANSWER, ("1",))  # "R1: We co-design..."
    assert found[mid(14)] == (MessageKind.ANSWER, ("1",))  # "R1 late to this..." at Q3's time


def test_with_the_default_convention_r_labels_are_plain_text(tmp_path: Path, store: Store) -> None:
    path = relabelled(tmp_path, "Q", "R")
    chat = run_import(store, path).chat
    assert chat.labels == Labels()
    # "R1 late to this..." is no label here: it answers the question open at 20:25, Q3.
    assert kinds(store, chat)[mid(14)] == (MessageKind.ANSWER, ("3",))


def test_a_welsh_export_finds_its_c_question_posts(tmp_path: Path, store: Store) -> None:
    path = relabelled(tmp_path, "C", "A")
    welsh = run_import(store, path, labels=Labels("C", "A")).chat
    assert [q.key for q in welsh.questions] == ["1", "2", "3"]
    assert welsh.questions[1].text == "What got in the way?"  # "C2: " and the tag dropped
    assert kinds(store, welsh)[mid(8)] == (MessageKind.QUESTION, ("2",))
    # Read with the English convention, the same export has no question posts at all.
    other = Store(tmp_path / "other.sqlite")
    try:
        assert run_import(other, path).chat.questions == ()
    finally:
        other.close()


def test_a_topic_export_keeps_the_hosts_later_posts_as_answers(
    tmp_path: Path, store: Store
) -> None:
    doc: dict[str, Any] = fixture_doc()
    for m in doc["messages"]:
        m["content"] = re.sub(r"^[QA](?=\d)", "T", m["content"])
    host_answer = dict(doc["messages"][8], id=mid(90), timestamp="2026-03-03T20:14:30+00:00")
    host_answer["author"] = doc["messages"][3]["author"]  # drsmith, the host
    host_answer["content"] = "T2: for us it was the data, always #WeDocs"
    doc["messages"].insert(11, host_answer)
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    chat = run_import(store, path, labels=Labels("T", "T")).chat
    assert [(q.key, q.text) for q in chat.questions][:2] == [
        ("1", "How do you involve patients in QI?"),
        ("2", "What got in the way?"),
    ]
    found = kinds(store, chat)
    assert found[mid(8)] == (MessageKind.QUESTION, ("2",))  # the topic post
    assert found[mid(90)] == (MessageKind.ANSWER, ("2",))  # the host, taking part
    assert found[mid(9)] == (MessageKind.ANSWER, ("2",))  # "T2 Time, mostly..."


def test_cli_imports_with_the_labels_option(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    path = relabelled(tmp_path, "C", "A")
    args = ["import", "discord-export", str(path), "--hashtag", "WeDocs", "--host", HOST_ID]
    done = tweetchat([*args, "--labels", "C/A", "--timezone", "Europe/London"], config)
    assert done.returncode == 0, done.stderr
    assert "3 questions" in done.stdout
    md = (tmp_path / "out" / "wedocs-2026-03-03.md").read_text(encoding="utf-8")
    assert "## C3 · One thing you will try next month?" in md and "## Q" not in md


def test_cli_import_takes_the_configs_labels_by_default(tmp_path: Path) -> None:
    config = config_file(tmp_path, '[labels]\nquestion = "Q"\nanswer = "R"\n')
    path = relabelled(tmp_path, "Q", "R")
    args = ["import", "discord-export", str(path), "--hashtag", "WeDocs", "--host", HOST_ID]
    done = tweetchat(args, config)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "wedocs-2026-03-03.json").read_text(encoding="utf-8"))
    by_text = {m["text"]: m for m in data["messages"]}
    assert by_text["R1 late to this: we pay patient partners for their time #WeDocs"][
        "questions"
    ] == ["1"]


def test_cli_refuses_a_bad_labels_option_in_one_line(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    path = relabelled(tmp_path, "Q", "R")
    done = tweetchat(
        ["import", "discord-export", str(path), "--hashtag", "WeDocs", "--labels", "Q/RR"], config
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--labels" in lines[0] and "RR" in lines[0]
    assert not (tmp_path / "out").exists()
