"""Live host controls: the pure shift rules, the control API on a real store, and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.models import Chat, ChatStatus, Question
from archive.store import Store
from scheduler.controls import HELD, ControlError, apply_control, chat_actions, compute_shifts
from scheduler.timeline import timeline

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def chat(status: ChatStatus = ChatStatus.LIVE) -> Chat:
    return Chat(
        id="wedocs-2026-12-01",
        title="T",
        hashtag="#WeDocs",
        start=START,
        end=START + 60 * M,
        timezone="Europe/London",
        questions=tuple(Question(i, f"Q{i}?", (10 * i) * M) for i in range(1, 5)),
        status=status,
    )


def times(c: Chat, controls: list[tuple[datetime, str, str]]) -> dict[str, datetime]:
    plain = timeline(c)
    shifted = timeline(c, shifts=compute_shifts(plain, controls))
    return {a.key: a.at for a in shifted}


def test_no_controls_no_shifts() -> None:
    assert compute_shifts(timeline(chat()), []) == {}


def test_next_brings_the_next_question_forward_and_the_rest_with_it() -> None:
    t = times(chat(), [(START + 12 * M, "next", "")])
    assert t["q1"] == START + 10 * M  # already out
    assert t["q2"] == START + 12 * M
    assert t["q3"] == START + 22 * M
    assert t["q4"] == START + 32 * M
    assert t["close"] == START + 60 * M  # the end does not move


def test_pause_holds_the_questions_until_resumed() -> None:
    held = times(chat(), [(START + 15 * M, "pause", "")])
    assert held["q2"] >= START + HELD
    resumed = times(chat(), [(START + 15 * M, "pause", ""), (START + 19 * M, "resume", "")])
    assert resumed["q1"] == START + 10 * M
    assert resumed["q2"] == START + 24 * M
    assert resumed["q4"] == START + 44 * M


def test_next_while_paused_changes_nothing() -> None:
    controls = [(START + 15 * M, "pause", ""), (START + 16 * M, "next", "")]
    assert times(chat(), controls)["q2"] >= START + HELD


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "a.db")
    yield s
    s.close()


def test_controls_refuse_a_chat_that_is_not_live(store: Store) -> None:
    store.add_chat(chat(ChatStatus.SCHEDULED))
    for kind in ("next", "pause", "resume", "extend", "end", "skip"):
        with pytest.raises(ControlError, match="not live yet"):
            apply_control(store, "wedocs", kind, now=START + M, by="t", minutes=5)
    assert store.controls("wedocs-2026-12-01") == []


def test_ended_chat_is_refused_with_a_clear_message(store: Store) -> None:
    store.add_chat(chat(ChatStatus.PUBLISHED))
    with pytest.raises(ControlError, match="has ended"):
        apply_control(store, "wedocs", "next", now=START + 90 * M, by="t")


def test_extend_moves_the_end_and_is_recorded(store: Store) -> None:
    store.add_chat(chat())
    msg = apply_control(store, "wedocs", "extend", now=START + 50 * M, by="cli:jane", minutes=15)
    assert "21:15" in msg  # shown in the chat's zone (GMT in December)
    assert store.get_chat("wedocs-2026-12-01").end == START + 75 * M
    assert store.controls("wedocs-2026-12-01")[0][1:] == ("extend", "by 15 min", "cli:jane")


@pytest.mark.parametrize("minutes", [0, -5, 2000])
def test_extend_needs_a_sensible_number_of_minutes(store: Store, minutes: int) -> None:
    store.add_chat(chat())
    with pytest.raises(ControlError, match="between 1 and 1440"):
        apply_control(store, "wedocs", "extend", now=START + M, by="t", minutes=minutes)


def test_pause_twice_and_resume_unpaused_are_refused(store: Store) -> None:
    store.add_chat(chat())
    with pytest.raises(ControlError, match="not paused"):
        apply_control(store, "wedocs", "resume", now=START + M, by="t")
    apply_control(store, "wedocs", "pause", now=START + 15 * M, by="t")
    with pytest.raises(ControlError, match="already paused"):
        apply_control(store, "wedocs", "pause", now=START + 16 * M, by="t")
    apply_control(store, "wedocs", "resume", now=START + 20 * M, by="t")
    c = store.get_chat("wedocs-2026-12-01")
    assert c.end == START + 65 * M  # the chat runs as much longer as it was paused
    keyed = {a.key: a.at for a in chat_actions(store, c)}
    assert keyed["q2"] == START + 25 * M


def test_skip_marks_the_next_question_skipped(store: Store) -> None:
    store.add_chat(chat())
    store.record_intent("wedocs-2026-12-01", "q1", "local", "main", "Q1")
    store.mark_sent("wedocs-2026-12-01", "q1", "local", "main", "1", START + 10 * M)
    assert (
        apply_control(store, "wedocs", "skip", now=START + 12 * M, by="t")
        == "Q2 will not be posted."
    )
    statuses = {p.action_key: p.status for p in store.posts("wedocs-2026-12-01")}
    assert statuses == {"q1": "sent", "q2": "skipped"}


def test_end_skips_the_rest_and_moves_the_end_to_now(store: Store) -> None:
    store.add_chat(chat())
    apply_control(store, "wedocs", "end", now=START + 25 * M, by="t")
    c = store.get_chat("wedocs-2026-12-01")
    assert c.end == START + 25 * M
    statuses = {p.action_key: p.status for p in store.posts(c.id)}
    assert statuses == {k: "skipped" for k in ("q1", "q2", "q3", "q4", "wrapup")}


def test_start_now_moves_a_scheduled_chat_and_keeps_its_shape(store: Store) -> None:
    store.add_chat(chat(ChatStatus.SCHEDULED))
    early = START - 30 * M
    apply_control(store, "wedocs", "start", now=early, by="t")
    c = store.get_chat("wedocs-2026-12-01")
    assert (c.start, c.end) == (early, early + 60 * M)
    assert len(c.questions) == 4
    assert store.controls(c.id)[0][1] == "start"


# -- cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [ChatStatus.SCHEDULED, ChatStatus.LIVE])
def test_cancel_sets_the_status_and_records_who_and_when(store: Store, status: ChatStatus) -> None:
    store.add_chat(chat(status))
    msg = apply_control(store, "wedocs", "cancel", now=START - 5 * M, by="discord:42")
    assert msg == "Cancelled wedocs-2026-12-01: nothing more will be posted."
    assert store.get_chat("wedocs-2026-12-01").status == ChatStatus.CANCELLED
    assert store.controls("wedocs-2026-12-01") == [(START - 5 * M, "cancelled", "", "discord:42")]


@pytest.mark.parametrize("status", [ChatStatus.ENDED, ChatStatus.PUBLISHED, ChatStatus.CANCELLED])
def test_cancel_refuses_a_chat_that_is_over(store: Store, status: ChatStatus) -> None:
    store.add_chat(chat(status))
    with pytest.raises(ControlError, match="only scheduled or live chats can be cancelled"):
        apply_control(store, "wedocs", "cancel", now=START, by="t")
    assert store.get_chat("wedocs-2026-12-01").status == status
    assert store.controls("wedocs-2026-12-01") == []


def test_cli_cancel_goes_through_the_control_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    db = tmp_path / "t.db"
    s = Store(db)
    s.add_chat(chat(ChatStatus.SCHEDULED))
    s.close()
    config = tmp_path / "config.toml"
    config.write_text(f'database = "{db}"\n', encoding="utf-8")
    monkeypatch.setenv("USER", "jane")
    assert main(["--config", str(config), "cancel", "wedocs"]) == 0
    assert "Cancelled wedocs-2026-12-01" in capsys.readouterr().out
    s = Store(db)
    try:
        assert s.get_chat("wedocs-2026-12-01").status == ChatStatus.CANCELLED
        [(at, kind, detail, by)] = s.controls("wedocs-2026-12-01")
    finally:
        s.close()
    assert (kind, detail, by) == ("cancelled", "", "cli:jane")
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=1)
    # Cancelling again is refused and changes nothing.
    assert main(["--config", str(config), "cancel", "wedocs"]) == 2
    assert "only scheduled or live chats can be cancelled" in capsys.readouterr().err


def test_next_moves_the_question_it_names_not_a_skipped_one_still_ahead() -> None:
    # Q2 went out early (next at 20:05); Q3 (20:15) was skipped; next at 20:07 names Q4.
    c = chat()
    got = times(c, [(START + 5 * M, "next", "Q2"), (START + 7 * M, "next", "Q4")])
    assert got["q2"] == START + 5 * M
    assert got["q4"] == START + 7 * M
    assert got["q3"] == START + 5 * M + 10 * M  # untouched by the second next


def test_skip_and_next_leave_a_question_already_going_out_alone(store: Store) -> None:
    c = store.add_chat(chat())
    now = START + 12 * M
    assert apply_control(store, c.id, "next", now=now, by="t").startswith("Q2 goes out now")
    # Q2 is due and not yet posted: it is going out, so skip and next act on Q3, Q4.
    assert apply_control(store, c.id, "skip", now=now, by="t") == "Q3 will not be posted."
    assert apply_control(store, c.id, "next", now=now, by="t").startswith("Q4 goes out now")
    due = [a.key for a in chat_actions(store, c) if a.at <= now and a.key.startswith("q")]
    assert due == ["q1", "q2", "q4"]


def test_replace_with_the_file_of_a_chat_under_way_fixes_wording_only(tmp_path: Path) -> None:
    """Its file starts in the past now: --replace still reaches the live chat, and changes
    only the wording of what is to come; without --replace the past start is refused."""
    import time

    from archive.models import PostStatus
    from tests.bot.helpers import chat_file, config_file, tweetchat

    config = config_file(tmp_path)
    start = chat_file(tmp_path / "chat.toml", start_in=5, questions=("One?", "Two?"))
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    store = Store(tmp_path / "db.sqlite")
    try:
        (c,) = store.list_chats()
        store.set_status(c.id, ChatStatus.LIVE)
        store.record_intent(c.id, "q1", "local", "main", "Q1: One? #WeDocs")
        store.mark_sent(c.id, "q1", "local", "main", "m1", start)
    finally:
        store.close()
    while datetime.now(UTC) <= start:
        time.sleep(0.1)
    path = tmp_path / "chat.toml"
    path.write_text(path.read_text().replace('"Two?"', '"Two again?"'), encoding="utf-8")
    plain = tweetchat(["schedule", "chat.toml"], config)
    assert plain.returncode == 2 and "is in the past" in plain.stderr
    revised = tweetchat(["schedule", "--replace", "chat.toml"], config)
    assert revised.returncode == 0, revised.stderr
    assert "updated the wording of Q2" in revised.stdout
    store = Store(tmp_path / "db.sqlite")
    try:
        after = store.get_chat(c.id)
        assert after.status == ChatStatus.LIVE and after.start == c.start
        assert [q.text for q in after.questions] == ["One?", "Two again?"]
        assert [p.status for p in store.posts(c.id)] == [PostStatus.SENT]
        assert [(k, d) for _a, k, d, _b in store.controls(c.id)] == [("revised", "wording of Q2")]
    finally:
        store.close()
