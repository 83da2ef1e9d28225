"""Faults: a chat on the local platform under a steady writer while the bot is killed at
random moments (SIGKILL and SIGTERM), its writes fail for a few seconds, and the disk is
full when the publish step fires.

The bot runs as ``tweetchat run`` in a subprocess, restarted at once after every kill, as a
service manager would. Participants are a thread writing to the network file at a steady
rate, whatever the bot is doing. Failing writes are ``prlimit --fsize=0`` on the running bot
(every file it writes, the archive and the network's file, refuses to grow), lifted after a
few seconds. Kills are aimed at random moments and near the chat's actions (just before and
after a question goes out), never while a write fault is on, and once more while the
publish step is being tried again after the full disk.

Reported: messages written / stored / lost / duplicated, posts per action key, restarts and
their median time to ready, whether the chat published. The checks (what the smoke test
asserts) are correctness only: nothing lost or duplicated, every post once, published.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import BenchResult, median
from bot.platforms.local.adapter import ALERT_PREFIX, LocalNetwork, LocalUser

NAME = "faults"
READY_LINE = "tweetchat running"


@dataclass(frozen=True)
class Plan:
    """The shape of one fault run."""

    questions: int
    interval: float  # seconds between questions
    rate: float  # messages a second from the writer
    kills: int  # kills aimed at random moments and near the chat's actions
    write_fault: float = 3.0  # seconds of failing writes mid-chat
    disk_full: float = 4.0  # seconds of a full disk from the publish step on
    lead: float = 5.0  # seconds from scheduling to the chat's start
    grace: float = 3.0

    @property
    def duration(self) -> float:
        return 2.0 + self.questions * self.interval + 2.0


FULL = Plan(questions=6, interval=20.0, rate=50.0, kills=16)
QUICK = Plan(questions=2, interval=6.0, rate=20.0, kills=3, write_fault=2.0, disk_full=3.0)


@dataclass
class Run:
    """What happened, for the figures."""

    restarts: int = 0
    signals: Counter[str] = field(default_factory=Counter)
    ready: list[float] = field(default_factory=list)  # seconds from spawn to ready
    written: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)


def _chat_file(path: Path, plan: Plan) -> datetime:
    start = (datetime.now(UTC) + timedelta(seconds=plan.lead)).replace(microsecond=0)
    questions = "\n".join(
        f'[[questions]]\ntext = "Question {n}?"\n' for n in range(1, plan.questions + 1)
    )
    path.write_text(
        f'title = "Fault run"\nhashtag = "WeDocs"\nstart = "{start:%Y-%m-%dT%H:%M:%SZ}"\n'
        f'timezone = "UTC"\nduration = "{int(plan.duration)}s"\n'
        f'interval = "{int(plan.interval)}s"\nfirst_question = "2s"\n'
        f'grace = "{int(plan.grace)}s"\nintro = "Hello"\nclosing = "Bye"\nreminders = []\n'
        f"{questions}",
        encoding="utf-8",
    )
    return start


class Bot:
    """``tweetchat run`` in a subprocess, restarted after every kill."""

    def __init__(self, workdir: Path, run: Run) -> None:
        self.workdir = workdir
        self.run = run
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.readers: list[threading.Thread] = []

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["TWEETCHAT_CONFIG"] = str(self.workdir / "config.toml")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        # Its output through a pipe, not a file: while the bot's writes fail, a log file
        # could not grow either, and the failures would go unseen.
        spawned = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=self._env(),
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()
        reader = threading.Thread(target=self._read, args=(self.proc, ready), daemon=True)
        reader.start()
        self.readers.append(reader)
        if not ready.wait(timeout=60):
            raise RuntimeError("the bot was not ready within 60 s:\n" + "".join(self.lines))
        self.run.ready.append(time.monotonic() - spawned)

    def _read(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)
            if READY_LINE in line:
                ready.set()

    def log(self) -> str:
        for reader in self.readers:
            reader.join(timeout=10)
        return "".join(self.lines)

    def kill(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            self.run.exits.append(self.proc.wait(timeout=30))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.run.exits.append(self.proc.wait())

    def restart(self, sig: signal.Signals) -> None:
        self.kill(sig)
        self.run.signals[sig.name] += 1
        self.run.restarts += 1
        self.start()

    def fsize(self, limit: str) -> bool:
        """Set the running bot's file-size limit (``0:unlimited`` fails every write that
        grows a file; ``unlimited:unlimited`` lifts it)."""
        if self.proc is None or shutil.which("prlimit") is None:
            return False
        result = subprocess.run(
            ["prlimit", f"--pid={self.proc.pid}", f"--fsize={limit}"],
            capture_output=True,
            timeout=10,
        )
        return result.returncode == 0

    def fault_writes(self, seconds: float, what: str) -> None:
        if self.fsize("0:unlimited"):
            self.run.faults.append(f"{what}: {seconds:.0f} s of failing writes")
            time.sleep(seconds)
            self.fsize("unlimited:unlimited")
        else:
            self.run.faults.append(f"{what}: not injected (no prlimit)")


def _writer(net_path: Path, until: datetime, rate: float, run: Run, stop: threading.Event) -> None:
    """Participants: one message every 1/rate s, each its own transaction, until `until`."""
    net = LocalNetwork(net_path)
    people = [LocalUser(f"p{i}", f"Person {i}", f"person{i}") for i in range(20)]
    try:
        n = 0
        next_at = time.monotonic()
        while not stop.is_set() and datetime.now(UTC) < until:
            text = f"m{n:06d} from the floor #WeDocs"
            for _ in range(50):  # the network file is shared: wait out a busy writer
                try:
                    net.post("main", people[n % len(people)], text, at=datetime.now(UTC))
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("the writer could not write to the network")
            run.written.append(text)
            n += 1
            next_at += 1 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        net.close()


def _chat_status(db: Path) -> str:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return ""
    try:
        row = conn.execute("SELECT status FROM chats").fetchone()
        return str(row[0]) if row else ""
    except sqlite3.Error:
        return ""
    finally:
        conn.close()


def _post_key(text: str) -> str:
    if text.startswith(ALERT_PREFIX):
        return "host alert"
    if text.startswith("Hello"):
        return "intro"
    if text.startswith("Bye"):
        return "close"
    if text.startswith("Thank you for joining"):
        return "announce"
    if text.startswith("Q") and ":" in text:
        return text.split(":", 1)[0].lower()
    return "other: " + text[:30]


def _sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.monotonic()))


def run(*, quick: bool = False, plan: Plan | None = None, seed: int | None = None) -> BenchResult:
    plan = plan or (QUICK if quick else FULL)
    rng = random.Random(seed)
    result = BenchResult(NAME)
    record = Run()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        (work / "config.toml").write_text(
            'database = "db.sqlite"\ntranscripts_dir = "out"\n'
            '[local]\nnetwork = "net.sqlite"\npoll_interval = 0.05\n',
            encoding="utf-8",
        )
        start = _chat_file(work / "chat.toml", plan)
        scheduled = subprocess.run(
            [sys.executable, "-m", "bot", "schedule", "chat.toml"],
            cwd=work,
            env={**os.environ, "TWEETCHAT_CONFIG": str(work / "config.toml")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if scheduled.returncode != 0:
            raise RuntimeError(f"scheduling failed: {scheduled.stderr}")
        net_path, db = work / "net.sqlite", work / "db.sqlite"
        LocalNetwork(net_path).close()
        end = start + timedelta(seconds=plan.duration)
        publish_at = end + timedelta(seconds=plan.grace)
        # The clock of the run: monotonic seconds at the chat's instants.
        t0 = time.monotonic() - (datetime.now(UTC) - start).total_seconds()

        def mono(at: datetime) -> float:
            return t0 + (at - start).total_seconds()

        bot = Bot(work, record)
        stop = threading.Event()
        writer = threading.Thread(
            target=_writer,
            args=(net_path, publish_at - timedelta(seconds=1), plan.rate, record, stop),
            daemon=True,
        )
        bot.start()
        writer.start()
        try:
            # The write fault mid-chat, between two questions; kills around the actions
            # and at random moments, none inside the fault or the publish window.
            q_times = [mono(start) + 2 + i * plan.interval for i in range(plan.questions)]
            fault_at = q_times[plan.questions // 2] - plan.interval / 2 - plan.write_fault / 2
            kill_times = []
            for i in range(plan.kills):
                if i % 2 == 0:  # near an action: just before or just after it goes out
                    anchor = rng.choice([mono(start), *q_times, mono(end)])
                    kill_times.append(anchor + rng.uniform(-0.5, 0.5))
                else:
                    kill_times.append(rng.uniform(mono(start) - 2, mono(end) + plan.grace / 2))
            busy = (fault_at - 1.5, fault_at + plan.write_fault + 1.5)
            kill_times = sorted(
                t for t in kill_times if not busy[0] <= t <= busy[1] and t < mono(publish_at) - 4
            )
            events = [(t, "kill") for t in kill_times] + [(fault_at, "fault")]
            for at, what in sorted(events):
                if time.monotonic() > at + 2:
                    continue  # a restart took longer than the gap: skip this one
                _sleep_until(at)
                if what == "fault":
                    bot.fault_writes(plan.write_fault, "mid-chat")
                else:
                    bot.restart(rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGTERM]))
            # A full disk from just before the publish step fires until a few seconds on.
            _sleep_until(mono(publish_at) - 0.3)
            bot.fault_writes(plan.disk_full, "publish step")
            # And a kill while the publish step is being tried again (or just done).
            time.sleep(rng.uniform(0.0, 1.5))
            bot.restart(signal.SIGKILL)
            deadline = time.monotonic() + 60
            while _chat_status(db) != "published" and time.monotonic() < deadline:
                time.sleep(0.1)
            published = _chat_status(db) == "published"
        finally:
            stop.set()
            writer.join(timeout=30)
            if bot.proc is not None and bot.proc.poll() is None:
                bot.kill(signal.SIGTERM)

        conn = sqlite3.connect(db)
        try:
            stored = Counter(
                text for (text,) in conn.execute("SELECT text FROM messages WHERE kind != 'host'")
            )
        finally:
            conn.close()
        net = LocalNetwork(net_path)
        try:
            posts = Counter(_post_key(r["text"]) for r in net.messages("main") if r["is_bot"])
        finally:
            net.close()
        logs = bot.log()

    written = record.written
    lost = [t for t in written if stored[t] == 0]
    duplicated = [t for t in written if stored[t] > 1]
    expected = ["intro", *(f"q{n}" for n in range(1, plan.questions + 1)), "close", "announce"]
    result.add("messages written", f"{len(written)}")
    result.add("messages stored", f"{sum(1 for t in written if stored[t])}")
    result.add("messages lost", f"{len(lost)}", "0", not lost)
    result.add("messages duplicated", f"{len(duplicated)}", "0", not duplicated)
    result.add(
        "posts per action key",
        " ".join(f"{key}:{posts[key]}" for key in expected)
        + "".join(f" {k}:{v}" for k, v in posts.items() if k not in expected),
        "each 1",
        all(posts[k] == 1 for k in expected),
    )
    result.add(
        "restarts",
        f"{record.restarts} ({record.signals['SIGKILL']} SIGKILL, "
        f"{record.signals['SIGTERM']} SIGTERM)",
    )
    result.add("median time to ready", f"{median(record.ready):.2f} s" if record.ready else "n/a")
    result.add("write faults", "; ".join(record.faults) or "none")
    result.add(
        "failures logged",
        f"publish step {logs.count('publish failed')}, capture {logs.count('capture failed')}",
    )
    result.add("published", "yes" if published else "no", "yes", published)
    result.checks = {
        "nothing lost": not lost,
        "nothing duplicated": not duplicated,
        "every post once": all(posts[k] == 1 for k in expected)
        and not set(posts) - {*expected, "host alert"},
        "published": published,
        "no traceback in the logs": "Traceback" not in logs,
    }
    if not all(result.checks.values()):
        result.add("log tail", logs[-400:].replace("\n", " | "))
    return result
