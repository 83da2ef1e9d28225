"""Through `tweetchat run`: live controls, reminders, and several chats at once."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.platforms.local.adapter import LocalNetwork, LocalUser
from tests.bot.helpers import chat_file, config_file, start_bot, tweetchat, wait_for

ANA = LocalUser("a", "Ana", "ana")


def now() -> datetime:
    return datetime.now(UTC)


def posts(net_path: Path, channel: str = "main") -> list[tuple[float, str]]:
    net = LocalNetwork(net_path)
    try:
        return [
            (datetime.fromisoformat(r["created_at"]).timestamp(), r["text"])
            for r in net.messages(channel)
            if r["is_bot"]
        ]
    finally:
        net.close()


def posted(net_path: Path, prefix: str, channel: str = "main") -> float | None:
    for at, text in posts(net_path, channel):
        if text.startswith(prefix):
            return at
    return None


def test_host_steers_a_live_chat_from_the_cli(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    net = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=4,
        questions=("One?", "Two?", "Three?", "Four?"),
        first_question="1s",
        interval="40s",
        duration="170s",
        grace="2s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    refused = tweetchat(["next", "wedocs"], config)
    assert refused.returncode == 2 and "not live yet" in refused.stderr
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        asked = time.time()
        result = tweetchat(["next", "wedocs"], config)
        assert result.returncode == 0 and "Q2 goes out now" in result.stdout
        q2 = wait_for(lambda: posted(net, "Q2:"), timeout=10, what="Q2 after next")
        assert q2 - asked < 8  # not the 40 s the plan said
        assert tweetchat(["pause", "wedocs"], config).returncode == 0
        paused = tweetchat(["next", "wedocs"], config)
        assert paused.returncode == 2 and "paused" in paused.stderr
        assert tweetchat(["resume", "wedocs"], config).returncode == 0
        assert tweetchat(["skip", "wedocs"], config).stdout.strip() == "Q3 will not be posted."
        extended = tweetchat(["extend", "wedocs", "5m"], config)  # as chat files write it
        assert extended.returncode == 0 and "Extended by 5 min" in extended.stdout
        ended = tweetchat(["end", "wedocs"], config)
        assert ended.returncode == 0, ended.stderr
        out, _ = bot.communicate(timeout=40)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    heads = [t.split(":")[0] if t.startswith("Q") else t.split()[0] for _, t in posts(net)]
    assert heads == ["Hello", "Q1", "Q2", "Bye", "Thank"]  # Q3 skipped, Q4 dropped by the end
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    for word in ("next", "pause", "resume", "skip", "extend", "end"):
        assert word in md.split("## Timeline", 1)[1], word


async def test_reminders_go_out_before_the_start_with_how_to_take_part(tmp_path: Path) -> None:
    # In-process with a scaled clock: reminders are whole minutes, so compress time.
    from datetime import timedelta

    from archive.store import Store
    from bot.app import App
    from bot.config import config_from_dict
    from scheduler.clock import ScaledClock
    from scheduler.plan import parse_chat_plan

    origin = datetime(2026, 12, 1, 19, 58, tzinfo=UTC)
    config = config_from_dict(
        {
            "database": "db.sqlite",
            "transcripts_dir": "out",
            "local": {"network": "net.sqlite", "poll_interval": 0.02},
        },
        base_dir=tmp_path,
    )
    plan = parse_chat_plan(
        {
            "title": "Patients as partners",
            "hashtag": "WeDocs",
            "timezone": "Europe/London",
            "start": "2026-12-01T20:00:00",
            "duration": "10m",
            "first_question": "2m",
            "grace": "1m",
            "reminders": ["1m"],
            "questions": [{"text": "One?"}],
        },
        now=origin,
    )
    store = Store(config.database)
    store.add_chat(plan.chat, reminders=plan.reminders)
    store.close()
    clock = ScaledClock(origin, speed=300)
    app = App(config, clock=clock)
    await app.start()
    try:
        for _ in range(200):
            if posted(tmp_path / "net.sqlite", "Welcome"):
                break
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
    texts = [t for _, t in posts(tmp_path / "net.sqlite")]
    reminder = texts[0]
    assert "Patients as partners" in reminder and "#WeDocs" in reminder and "A1" in reminder
    assert "20:00 GMT" in reminder  # the time in the chat's zone
    assert "in 1 minute" in reminder
    assert texts[1].startswith("Welcome to #WeDocs")
    assert plan.reminders == (timedelta(minutes=1),)


def test_two_chats_live_at_once_do_not_interfere(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    net_path = tmp_path / "net.sqlite"
    chat_file(tmp_path / "a.toml", start_in=5, hashtag="WeDocs", duration="8s")
    chat_file(
        tmp_path / "b.toml",
        start_in=5,
        hashtag="NHSQI",
        duration="8s",
        extra='[[targets]]\nplatform = "local"\nchannel = "second"\n',
    )
    assert tweetchat(["schedule", "a.toml"], config).returncode == 0
    assert tweetchat(["schedule", "b.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net_path, "Q1:") and posted(net_path, "Q1:", "second"), what="Q1s")
        net = LocalNetwork(net_path)
        net.post("main", ANA, "A1 for WeDocs #WeDocs", at=now())
        net.post("second", ANA, "A1 for NHSQI #NHSQI", at=now())
        net.post("second", ANA, "A1 wrong room #WeDocs", at=now())
        net.close()
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    docs = {
        p.name.split("-")[0]: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")
    }
    texts = {
        tag: [m["text"] for m in d["messages"] if m["kind"] == "answer"] for tag, d in docs.items()
    }
    assert texts == {"wedocs": ["A1 for WeDocs #WeDocs"], "nhsqi": ["A1 for NHSQI #NHSQI"]}


def heads(net_path: Path) -> list[str]:
    return [t.split(":")[0] if t.startswith("Q") else t.split()[0] for _, t in posts(net_path)]


def test_each_control_does_what_its_reply_says_and_the_timeline_says_what_happened(
    tmp_path: Path,
) -> None:
    """`next; skip; next` said "Q3 goes out now" and posted nothing: the second `next`
    moved the skipped question (still ahead in time) instead of the one it named."""
    config = config_file(tmp_path)
    net = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=3,
        questions=("One?", "Two?", "Three?", "Four?", "Five?"),
        first_question="1s",
        interval="120s",
        duration="620s",
        grace="1s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        # `skip` right after `next`, before the bot has posted Q2: Q2 is going out, so the
        # question skipped is the one after it, as the reply says.
        replies = [tweetchat([c, "wedocs"], config).stdout.strip() for c in ("next", "skip")]
        assert replies == [
            "Q2 goes out now; later questions move up with it.",
            "Q3 will not be posted.",
        ]
        wait_for(lambda: posted(net, "Q2:"), what="Q2 after next")
        again = tweetchat(["next", "wedocs"], config)
        assert again.stdout.strip() == "Q4 goes out now; later questions move up with it."
        wait_for(lambda: posted(net, "Q4:"), what="Q4 after the second next")
        assert heads(net) == ["Hello", "Q1", "Q2", "Q4"]
        assert tweetchat(["end", "wedocs"], config).returncode == 0
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    assert heads(net) == ["Hello", "Q1", "Q2", "Q4", "Bye", "Thank"]
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    events = [
        line.split(" · ", 1)[1]
        for line in md.split("## Timeline", 1)[1].splitlines()
        if line.startswith("- ")
    ]
    assert [e.split(" (")[0] for e in events if e.startswith(("next", "skip"))] == [
        "next: Q2",
        "skip: Q3",
        "next: Q4",
    ]
    assert all("went out" in e for e in events if e.startswith("next"))


def test_replacing_a_started_chat_changes_only_what_is_still_to_come(tmp_path: Path) -> None:
    """`schedule --replace` on a chat started early turned it back into "scheduled" for its
    planned date; the next run replayed it, nine days early, from Q3 "(posted late)"."""
    config = config_file(tmp_path)
    net = tmp_path / "net.sqlite"
    chat_toml = tmp_path / "chat.toml"
    chat_file(
        chat_toml,
        start_in=9 * 86400,
        questions=("One?", "Two?", "Three?"),
        first_question="1s",
        interval="120s",
        duration="400s",
        grace="1s",
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    assert tweetchat(["start", "wedocs"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        text = chat_toml.read_text(encoding="utf-8")
        chat_toml.write_text(text.replace('"One?"', '"One, reworded?"'), encoding="utf-8")
        refused = tweetchat(["schedule", "--replace", "chat.toml"], config)
        assert refused.returncode == 2
        assert "only the wording of questions not yet posted" in refused.stderr
        assert "Q1 (already posted)" in refused.stderr
        chat_toml.write_text(text.replace('"Two?"', '"Two, reworded?"'), encoding="utf-8")
        revised = tweetchat(["schedule", "--replace", "chat.toml"], config)
        assert revised.returncode == 0, revised.stderr
        assert "updated the wording of Q2 (not yet posted)" in revised.stdout
        listed = tweetchat(["chats"], config).stdout
        assert listed.startswith("Live:"), listed
        assert tweetchat(["next", "wedocs"], config).returncode == 0
        wait_for(lambda: posted(net, "Q2:"), what="Q2 after next")
        assert tweetchat(["end", "wedocs"], config).returncode == 0
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    texts = [t for _, t in posts(net)]
    assert [t.split()[0] for t in texts] == ["Hello", "Q1:", "Q2:", "Bye", "Thank"]
    assert texts[2].startswith("Q2: Two, reworded?")
    assert "posted late" not in "\n".join(texts)
    over = tweetchat(["schedule", "--replace", "chat.toml"], config)
    assert over.returncode == 2 and "is published" in over.stderr
    chat_id = next((tmp_path / "out").glob("*.md")).stem
    shown = tweetchat(["show", chat_id], config).stdout
    assert "published" in shown.splitlines()[0]


def schedule_lines(shown: str) -> list[tuple[str, str]]:
    """(label, state) of each line of `tweetchat show`'s schedule, in the order shown."""
    body = shown.split("schedule (", 1)[1].split("\n", 1)[1]
    rows = []
    for line in body.splitlines():
        if not line.startswith("    "):
            break
        _clock, label, state = line.split(maxsplit=2)
        rows.append((label, state))
    return rows


def test_show_gives_the_schedule_as_it_now_stands(tmp_path: Path) -> None:
    """After `next` and `pause`, `show` printed the original plan: Q4 at its planned time,
    close and publish listed above Q1."""
    config = config_file(tmp_path)
    net = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=6,  # room for two CLI calls on a loaded machine before it starts
        questions=("One?", "Two?", "Three?"),
        first_question="1s",
        interval="120s",
        duration="600s",
        grace="4s",  # longer than the bot's 2 s refresh: publish comes after close
    )
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    planned = schedule_lines(tweetchat(["show", "wedocs"], config).stdout)
    assert [label for label, _ in planned] == [
        "intro",
        "Q1",
        "Q2",
        "Q3",
        "wrap-up",
        "close",
        "publish",
    ]
    # "next, in 5 s", or "next, going out now" when the CLI was slower than the 6 s lead.
    assert planned[0][1].startswith("next, ") and planned[1][1] == "pending"
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net, "Q1:"), what="Q1")
        assert tweetchat(["next", "wedocs"], config).returncode == 0
        wait_for(lambda: posted(net, "Q2:"), what="Q2 after next")
        assert tweetchat(["pause", "wedocs"], config).returncode == 0
        paused = schedule_lines(tweetchat(["show", "wedocs"], config).stdout)
        assert [label for label, _ in paused] == [
            "intro",
            "Q1",
            "Q2",
            "Q3",
            "wrap-up",
            "close",
            "publish",
        ]
        assert [state.split(" at ")[0] for _, state in paused[:3]] == ["posted"] * 3
        assert paused[3][1] == paused[4][1] == "held until the chat is resumed"
        assert paused[5][1].startswith("next, in")  # the close
        assert tweetchat(["resume", "wedocs"], config).returncode == 0
        resumed = schedule_lines(tweetchat(["show", "wedocs"], config).stdout)
        assert [label for label, _ in resumed][3:] == ["Q3", "wrap-up", "close", "publish"]
        assert resumed[3][1].startswith("next, in")
        assert tweetchat(["skip", "wedocs"], config).returncode == 0
        skipped = schedule_lines(tweetchat(["show", "wedocs"], config).stdout)
        assert skipped[3][0] == "Q3" and skipped[3][1].startswith("skipped (skipped by cli:")
        assert skipped[4][0] == "wrap-up" and skipped[4][1].startswith("next, in")
        assert tweetchat(["end", "wedocs"], config).returncode == 0
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    done = schedule_lines(tweetchat(["show", "wedocs"], config).stdout)
    assert [(label, state.split(" at ")[0].split(" (")[0]) for label, state in done] == [
        ("intro", "posted"),
        ("Q1", "posted"),
        ("Q2", "posted"),
        ("Q3", "skipped"),
        ("close", "posted"),
        ("publish", "done"),
    ]


def test_every_output_says_whether_and_when_each_question_went_out(tmp_path: Path) -> None:
    """A skipped question read "Went out at 15:56 · 1 answer" in every transcript; a
    cancelled chat's web page showed a full, empty transcript with download links."""
    from archive.store import NotFoundError, Store
    from archive.web.templates import Site
    from archive.web.views import chat_download, chat_page

    config = config_file(tmp_path)
    net_path = tmp_path / "net.sqlite"
    chat_file(
        tmp_path / "chat.toml",
        start_in=3,
        questions=("One?", "Two?", "Three?"),
        first_question="1s",
        interval="120s",
        duration="400s",
        grace="1s",
    )
    chat_file(tmp_path / "later.toml", start_in=86400, hashtag="NHSQI")
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    assert tweetchat(["schedule", "later.toml"], config).returncode == 0
    assert tweetchat(["cancel", "nhsqi"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net_path, "Q1:"), what="Q1")
        assert tweetchat(["skip", "wedocs"], config).stdout.strip() == "Q2 will not be posted."
        net = LocalNetwork(net_path)
        net.post("main", ANA, "A2: answering anyway #WeDocs", at=now())
        net.close()
        assert tweetchat(["next", "wedocs"], config).returncode == 0
        wait_for(lambda: posted(net_path, "Q3:"), what="Q3 after next")
        assert tweetchat(["end", "wedocs"], config).returncode == 0
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    md = next((tmp_path / "out").glob("wedocs-*.md")).read_text(encoding="utf-8")
    q2 = md.split("## Q2 · Two?", 1)[1].split("##", 1)[0]
    assert "Went out" not in q2
    assert "*Not posted (skipped by cli:" in q2 and "1 answer from 1 participant" in q2
    assert md.count("Went out at") == 2  # Q1 and Q3
    assert "| Q2 | not posted | 1 |" in md
    html = next((tmp_path / "out").glob("wedocs-*.html")).read_text(encoding="utf-8")
    assert html.count("Went out at") == 2 and "Not posted (skipped by cli:" in html
    doc = json.loads(next((tmp_path / "out").glob("wedocs-*.json")).read_text())
    assert [q["posted_at"] is None for q in doc["chat"]["questions"]] == [False, True, False]
    assert doc["stats"]["not_posted"]["2"].startswith("skipped by cli:")

    store = Store.open_readonly(tmp_path / "db.sqlite")
    try:
        (wedocs,) = [c for c in store.list_chats() if c.hashtag == "#WeDocs"]
        page = chat_page(store, Site(), wedocs.id)
        assert page.count("Went out at") == 2 and "Not posted (skipped by cli:" in page
        (nhsqi,) = [c for c in store.list_chats() if c.hashtag == "#NHSQI"]
        cancelled = chat_page(store, Site(), nhsqi.id)
        assert "was cancelled. It has no transcript." in cancelled
        assert "Went out" not in cancelled and "Download" not in cancelled
        for suffix in (".md", ".json", ".csv"):
            try:
                chat_download(store, nhsqi.id, suffix)
            except NotFoundError:
                continue
            raise AssertionError(f"a cancelled chat's {suffix} was served")
    finally:
        store.close()
    refused = tweetchat(["transcript", "nhsqi"], config)
    assert refused.returncode == 2 and "was cancelled: it has no transcript" in refused.stderr
    assert not list((tmp_path / "out").glob("nhsqi-*"))


def test_a_chat_started_early_keeps_its_id_and_the_closing_says_things_once(
    tmp_path: Path,
) -> None:
    """The id carries the date the chat was scheduled for (README: "A chat's id"); the
    transcript says when it really ran. The bot added "Transcript to follow." to a closing
    that already said so."""
    from zoneinfo import ZoneInfo

    config = config_file(tmp_path)
    net = tmp_path / "net.sqlite"
    planned = chat_file(
        tmp_path / "chat.toml",
        start_in=9 * 86400,
        questions=("One?",),
        first_question="1s",
        duration="6s",
        grace="1s",
    )
    path = tmp_path / "chat.toml"
    path.write_text(
        path.read_text().replace('closing = "Bye"', 'closing = "Bye! Transcript to follow."'),
        encoding="utf-8",
    )
    london = ZoneInfo("Europe/London")
    chat_id = f"wedocs-{planned.astimezone(london):%Y-%m-%d}"
    assert tweetchat(["schedule", "chat.toml"], config).stdout.startswith(f"scheduled {chat_id}")
    started = tweetchat(["start", "wedocs"], config)
    assert started.stdout.startswith(f"Chat {chat_id} starts now")
    bot = start_bot(config, "--until-idle")
    out, _ = bot.communicate(timeout=60)
    assert bot.returncode == 0, out
    (closing,) = [t for _, t in posts(net) if t.startswith("Bye")]
    assert closing == "Bye! Transcript to follow. #WeDocs"
    md = (tmp_path / "out" / f"{chat_id}.md").read_text(encoding="utf-8")
    today = datetime.now(UTC).astimezone(london)
    when = md.split("**When:** ", 1)[1].splitlines()[0]
    assert f"{today.day} {today:%b %Y}" in when
    assert f"{planned.astimezone(london).day} {planned.astimezone(london):%b}" not in when
    assert "start: started early" in md.split("## Timeline", 1)[1]


def test_one_definition_of_a_participant_for_every_figure(tmp_path: Path) -> None:
    """The tag page's chart said 6 participants for a chat whose page said 7: the chart
    left out a host who posted only host messages."""
    import re

    from archive.store import Store
    from archive.web.templates import Site
    from archive.web.views import chat_page, tag_page

    config = config_file(tmp_path)
    net_path = tmp_path / "net.sqlite"
    chat_file(tmp_path / "chat.toml", start_in=3, extra='hosts = ["hostie"]')
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")
    try:
        wait_for(lambda: posted(net_path, "Q1:"), what="Q1")
        net = LocalNetwork(net_path)
        net.post("main", LocalUser("h", "Host", "hostie"), "Welcome all! #WeDocs", at=now())
        net.post("main", ANA, "A1: we ask patients first #WeDocs", at=now())
        net.close()
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    md = next((tmp_path / "out").glob("wedocs-*.md")).read_text(encoding="utf-8")
    assert "| Participants | 2 (incl. 1 host) |" in md
    stats = json.loads(tweetchat(["stats", "wedocs", "--json"], config).stdout)
    assert stats["participants"] == 2 and stats["first_time"] + stats["returning"] == 2
    store = Store.open_readonly(tmp_path / "db.sqlite")
    try:
        (chat,) = store.list_chats()
        page = chat_page(store, Site(), chat.id)
        tag = tag_page(store, Site(), "wedocs")
    finally:
        store.close()
    assert re.search(r"Participants</t[dh]>\s*<t[dh][^>]*>2 \(incl. 1 host\)<", page), "chat page"
    assert re.search(r": 2 participants", tag), "tag page chart"


def test_optout_gets_a_reply_that_stays_out_of_the_transcript(tmp_path: Path) -> None:
    """`!optout` got no reply: a participant could not tell that it worked."""
    from bot.facilitator import OPTED_IN_REPLY, OPTED_OUT_REPLY

    config = config_file(tmp_path)
    net_path = tmp_path / "net.sqlite"
    chat_file(tmp_path / "chat.toml", start_in=3)
    assert tweetchat(["schedule", "chat.toml"], config).returncode == 0
    bot = start_bot(config, "--until-idle")

    def replies_to(mid: str) -> list[str]:
        net = LocalNetwork(net_path)
        try:
            return [r["text"] for r in net.messages("main") if r["reply_to"] == mid and r["is_bot"]]
        finally:
            net.close()

    try:
        wait_for(lambda: posted(net_path, "Q1:"), what="Q1")
        net = LocalNetwork(net_path)
        net.post("main", ANA, "A1: mine #WeDocs", at=now())
        out_id = net.post("main", ANA, "!optout", at=now())
        net.close()
        assert wait_for(lambda: replies_to(out_id), what="the opt-out reply") == [OPTED_OUT_REPLY]
        out, _ = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, out
    md = next((tmp_path / "out").glob("*.md")).read_text(encoding="utf-8")
    assert "You are opted out" not in md and "A1: mine" not in md
    assert "Not shown: 1 participant who asked not to appear" in md
    assert OPTED_IN_REPLY not in md
