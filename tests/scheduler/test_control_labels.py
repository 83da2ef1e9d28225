"""Host controls of a chat in another label convention: what hosts read, what is recorded,
and that the recorded question is the one moved (on a real store)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from archive.labels import Labels, label_key
from archive.publish import control_events
from archive.store import Store
from scheduler.controls import ControlError, apply_control, chat_actions, revise_started_chat
from scheduler.standing import chat_standing, standing_lines
from tests.scheduler.test_controls import START, M, chat

WELSH = Labels("C", "A")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("label", "key"),
    [("Q3", "3"), ("C3", "3"), ("t12", "12"), ("R2A", "2a"), (" C4b ", "4b")],
)
def test_label_key_reads_any_letter(label: str, key: str) -> None:
    assert label_key(label) == key


@pytest.mark.parametrize("label", ["", "intro", "3", "CC3", "C123", "C3ab", "wrap-up"])
def test_label_key_refuses_what_is_no_label(label: str) -> None:
    assert label_key(label) is None


def test_next_and_skip_speak_the_chats_letter_and_move_the_named_question(store: Store) -> None:
    c = store.add_chat(replace(chat(), labels=WELSH))
    now = START + 12 * M
    assert apply_control(store, c.id, "next", now=now, by="t").startswith("C2 goes out now")
    assert apply_control(store, c.id, "skip", now=now, by="t") == "C3 will not be posted."
    assert apply_control(store, c.id, "next", now=now, by="t").startswith("C4 goes out now")
    assert [(k, d) for _at, k, d, _by in store.controls(c.id)] == [
        ("next", "C2"),
        ("skip", "C3"),
        ("next", "C4"),
    ]
    # The recorded "C4" names q4: it, not the skipped q3 still ahead, was brought forward.
    due = [a.key for a in chat_actions(store, c) if a.at <= now and a.key.startswith("q")]
    assert due == ["q1", "q2", "q4"]
    lines = "\n".join(standing_lines(c, chat_standing(store, c, now), now))
    assert "C3" in lines and "Q3" not in lines
    events = [e for _at, e in control_events(store, c)]
    assert events[0].startswith("next: C2 (not posted")


def test_a_live_chats_letters_cannot_change_from_its_file(store: Store) -> None:
    c = store.add_chat(chat())
    with pytest.raises(ControlError, match="labels"):
        revise_started_chat(store, c, replace(c, labels=WELSH), now=START + 5 * M, by="t")
    assert store.get_chat(c.id).labels == Labels()


def test_the_web_page_of_a_chat_not_yet_published_shows_its_schedule_in_its_letters(
    store: Store,
) -> None:
    from archive.web.templates import Site
    from archive.web.views import chat_page
    from scheduler.standing import standing_source
    from tests.archive.web.test_live_schedule import page_rows

    c = store.add_chat(replace(chat(), labels=WELSH))
    apply_control(store, c.id, "next", now=START + 12 * M, by="t")
    text = chat_page(store, Site(), c.id, schedule=standing_source(), now=START + 12 * M)
    labels = [label for _, label, _ in page_rows(text)]
    assert labels[1:5] == ["C1", "C2", "C3", "C4"]
