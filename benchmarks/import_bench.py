"""Import + report: a DiscordChatExporter JSON export of 100k messages, imported with
``tweetchat import discord-export FILE --hashtag TAG`` (which also publishes Markdown, HTML
and JSON) and reported with ``tweetchat transcript``, each as its own process; side by
side, in alternating runs, the peer organisers would otherwise use, chat-analytics
(``chat-analytics -p discord -i FILE -o report.html``), installed with npm into a
temporary folder (skipped with a note when npm or the package cannot be had).

The export is generated in DiscordChatExporter's documented JSON layout (``guild``,
``channel``, ``dateRange``, ``exportedAt``, ``messages`` with ``id``, ``type``,
``timestamp``, ``timestampEdited``, ``content``, ``author{id,name,discriminator,nickname,
isBot,...}``, ``reactions``, ``mentions``, ``reference{messageId,...}``, ``messageCount``).
Each command runs under a small wrapper process (``--measure``) that reports its wall
time and the peak RSS of the command (its ``VmHWM``), so figures never mix.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from archive.importers.exportjson import backend_name
from benchmarks import BenchResult, median

NAME = "import"
DEFAULT_N = 100_000
QUICK_N = 5_000
HASHTAG = "#WeDocs"
GUILD_ID = "870000000000000001"
CHANNEL_ID = "870000000000000002"
BOT_ID = "870000000000000003"
START = datetime(2026, 11, 3, 20, 0, tzinfo=UTC)
QUESTIONS = 6
# The peer, pinned: the version the issue (17) was measured against. "" skips it.
PEER = "chat-analytics@1.1.2"
PACKAGES = ("bot", "scheduler", "archive")  # what the CLI imports of this checkout
_WORDS = "patients co-design council feedback data run charts PDSA team families trust".split()


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def _author(uid: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": uid,
        "name": name,
        "discriminator": "0000",
        "nickname": name.title(),
        "color": None,
        "isBot": bot,
        "roles": [],
        "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png",
    }


def export_messages(n: int, *, seed: int = 5) -> Iterator[dict[str, Any]]:
    """``n`` messages of a one-hour chat: the bot's questions, answers, replies, chatter."""
    rng = random.Random(seed)
    bot = _author(BOT_ID, "tweetchat", bot=True)
    people = [_author(str(880000000000000000 + i), f"person{i}") for i in range(max(20, n // 50))]
    span = timedelta(minutes=70).total_seconds()
    q_every = max(1, n // (QUESTIONS + 1))
    question_ids: list[str] = []
    for i in range(n):
        mid = str(900000000000000000 + i)
        at = START + timedelta(seconds=span * i / max(1, n))
        reference = None
        mentions: list[dict[str, Any]] = []
        if i % q_every == q_every // 2 and len(question_ids) < QUESTIONS:
            k = len(question_ids) + 1
            author, kind = bot, "Default"
            content = f"Q{k}: How do you involve patients, part {k}? {HASHTAG}"
            question_ids.append(mid)
        else:
            author = rng.choice(people)
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 25)))
            roll = rng.random()
            if question_ids and roll < 0.15:
                kind = "Reply"
                reference = {
                    "messageId": rng.choice(question_ids),
                    "channelId": CHANNEL_ID,
                    "guildId": GUILD_ID,
                }
                content = words
            elif question_ids and roll < 0.75:
                kind = "Default"
                content = f"A{rng.randint(1, len(question_ids))}: {words} {HASHTAG}"
            else:
                kind = "Default"
                content = f"{words} {HASHTAG}" if roll < 0.95 else words
            if rng.random() < 0.1:
                other = rng.choice(people)
                mentions.append(
                    {k: other[k] for k in ("id", "name", "discriminator", "nickname", "isBot")}
                )
                content += f" <@{other['id']}>"
        edited = _stamp(at + timedelta(seconds=40)) if rng.random() < 0.02 else None
        reactions = (
            [
                {
                    "emoji": {
                        "id": None,
                        "name": "👍",
                        "code": "thumbsup",
                        "isAnimated": False,
                        "imageUrl": "https://cdn.jsdelivr.net/gh/twitter/twemoji/1f44d.svg",
                    },
                    "count": rng.randint(1, 5),
                    "users": [],
                }
            ]
            if rng.random() < 0.2
            else []
        )
        message: dict[str, Any] = {
            "id": mid,
            "type": kind,
            "timestamp": _stamp(at),
            "timestampEdited": edited,
            "callEndedTimestamp": None,
            "isPinned": False,
            "content": content,
            "author": author,
            "attachments": [],
            "embeds": [],
            "stickers": [],
            "reactions": reactions,
            "mentions": mentions,
            "inlineEmojis": [],
        }
        if reference is not None:
            message["reference"] = reference
        yield message


def write_export(path: Path, n: int, *, seed: int = 5) -> None:
    """Write a DiscordChatExporter JSON export of ``n`` messages, streamed to disk."""
    with path.open("w", encoding="utf-8") as fh:
        _write_export(fh, n, seed)


def _write_export(fh: TextIO, n: int, seed: int) -> None:
    head = {
        "guild": {"id": GUILD_ID, "name": "Health QI", "iconUrl": ""},
        "channel": {
            "id": CHANNEL_ID,
            "type": "GuildTextChat",
            "categoryId": "870000000000000009",
            "category": "Chats",
            "name": "wedocs",
            "topic": "Monthly #WeDocs chat",
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": _stamp(START + timedelta(days=1)),
    }
    fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ',\n  "messages": [\n')
    for i, message in enumerate(export_messages(n, seed=seed)):
        fh.write(("," if i else "") + json.dumps(message, ensure_ascii=False) + "\n")
    fh.write(f'  ],\n  "messageCount": {n}\n}}\n')


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: Sequence[str]) -> dict[str, Any]:
    """Run ``cmd``; its exit code, seconds, CPU seconds and peak RSS.

    The peak is the child's ``VmHWM`` (a high-water mark, reset by exec) read every 20 ms
    while it runs: ``ru_maxrss`` would include the RSS of whatever process forked it. The
    CPU seconds (user + system, of the child and the children it waited for) come from
    ``wait4``: on a loaded machine they move far less than the wall time.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err)
        peak = 0
        cpu = 0.0
        while True:
            peak = max(peak, _vm_hwm_kib(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu = usage.ru_utime + usage.ru_stime
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read()[-2000:]
    if not peak:  # not Linux, or too quick to catch
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "returncode": proc.returncode,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "maxrss_kib": peak,
        "stderr": stderr,
    }


def _measured(cmd: Sequence[str]) -> dict[str, Any]:
    wrapper = [sys.executable, "-m", "benchmarks.import_bench", "--measure", "--", *cmd]
    done = subprocess.run(wrapper, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _tweetchat(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", "--config", str(config), *args]


def import_available() -> bool:
    """Whether this checkout's CLI has ``tweetchat import discord-export``."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "import", "discord-export", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def _largest_chat(db: Path) -> tuple[str, int]:
    conn = sqlite3.connect(str(db))
    try:
        row = conn.execute(
            "SELECT chat_id, COUNT(*) AS n FROM messages GROUP BY chat_id ORDER BY n DESC LIMIT 1"
        ).fetchone()
        return (str(row[0]), int(row[1])) if row else ("", 0)
    finally:
        conn.close()


def install_peer(folder: Path) -> tuple[list[str] | None, str]:
    """``(command prefix, note)``: chat-analytics installed with npm into ``folder``, or
    ``(None, why not)``."""
    if not PEER:
        return None, "skipped"
    npm = shutil.which("npm")
    if npm is None:
        return None, "skipped: npm is not installed"
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), PEER],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    binary = folder / "node_modules" / ".bin" / "chat-analytics"
    if done.returncode != 0 or not binary.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"skipped: npm install {PEER} failed ({last[:80]})"
    return [str(binary), "-p", "discord"], PEER


def compile_bytecode(root: Path | None = None, packages: Sequence[str] = PACKAGES) -> bool:
    """Compile the ``packages`` under ``root`` (this checkout's by default) to bytecode
    (``__pycache__``), as ``pip install`` does for an installed package; returns whether
    every module compiled.

    An editable checkout has none until a command writes it, and with
    ``PYTHONDONTWRITEBYTECODE`` set (as on the CI machines) no command ever does: every run
    compiled ~100 modules again, ~0.25 s of the import's start-up that no installed copy
    pays.
    """
    root = root or Path(__file__).resolve().parent.parent
    return all(compileall.compile_dir(root / package, quiet=1) for package in packages)


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load {one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:  # pragma: no cover - not on Linux
        return "load n/a"


def run(
    *,
    quick: bool = False,
    n: int | None = None,
    repeats: int | None = None,
    peer: bool = True,
) -> BenchResult:
    """Time and peak RSS of importing the export, then writing its transcript, alternating
    with chat-analytics on the same file when ``peer`` (and npm) allow."""
    n = n or (QUICK_N if quick else DEFAULT_N)
    repeats = repeats or (1 if quick else 3)
    result = BenchResult(NAME)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        base = Path(tmp)
        export = base / "export.json"
        t0 = time.perf_counter()
        write_export(export, n)
        result.checks["the export is valid JSON with every message"] = (
            len(json.loads(export.read_text(encoding="utf-8"))["messages"]) == n
        )
        # A fifth of the size, imported in every round too: time per message at both sizes
        # says whether the import stays linear (its start-up weighs more on the small one).
        small_n = max(n // 5, 50)
        small_export = base / "export-small.json"
        write_export(small_export, small_n)
        result.add(
            f"generate export ({n:,} msgs, {export.stat().st_size / 2**20:.0f} MB)",
            f"{time.perf_counter() - t0:.2f} s",
        )
        if not import_available():
            result.add("import discord-export", "n/a (import command not available)")
            result.add("transcript after import", "n/a (import command not available)")
            return result
        result.add("JSON parser (ijson backend)", backend_name())
        result.checks["bytecode compiled before timing (as pip install does)"] = compile_bytecode()
        peer_cmd, peer_note = install_peer(base / "peer") if peer else (None, "skipped")
        imports, reports, peers, smalls = [], [], [], []
        imported = []
        loads = [_load()]
        for i in range(repeats):
            if peer_cmd is not None:  # alternate: peer, tweetchat, peer, tweetchat...
                report = base / f"peer{i}.html"
                done = _measured([*peer_cmd, "-i", str(export), "-o", str(report)])
                if done["returncode"] != 0:
                    result.add(PEER, f"failed: {done['stderr'].strip()[-200:]}")
                    peer_cmd = None
                else:
                    peers.append(done)
            run_dir = base / f"run{i}"
            run_dir.mkdir()
            config = run_dir / "tweetchat.toml"
            config.write_text(
                f'database = "{run_dir / "archive.db"}"\n'
                f'transcripts_dir = "{run_dir / "transcripts"}"\n',
                encoding="utf-8",
            )
            done = _measured(
                _tweetchat(config, "import", "discord-export", str(export), "--hashtag", HASHTAG)
            )
            if done["returncode"] != 0:
                result.add("import discord-export", f"failed: {done['stderr'].strip()[-200:]}")
                result.checks["import succeeded"] = False
                return result
            imports.append(done)
            chat_id, count = _largest_chat(run_dir / "archive.db")
            imported.append(count)
            out = run_dir / "transcript.md"
            reports.append(_measured(_tweetchat(config, "transcript", chat_id, "--out", str(out))))
            result.checks["transcript written"] = (
                reports[-1]["returncode"] == 0 and out.stat().st_size > 0
            )
            small_dir = base / f"small{i}"
            small_dir.mkdir()
            small_config = small_dir / "tweetchat.toml"
            small_config.write_text(
                f'database = "{small_dir / "archive.db"}"\n'
                f'transcripts_dir = "{small_dir / "transcripts"}"\n',
                encoding="utf-8",
            )
            smalls.append(
                _measured(
                    _tweetchat(
                        small_config,
                        "import",
                        "discord-export",
                        str(small_export),
                        "--hashtag",
                        HASHTAG,
                    )
                )
            )
            loads.append(_load())
        growth = (median([r["seconds"] for r in imports]) / n) / (
            median([r["seconds"] for r in smalls]) / small_n
        )
        result.add(
            f"import time per message, {n:,} vs {small_n:,} msgs (start-up included)",
            f"x{growth:.2f}",
            "<= ~1 (linear)",
            growth <= 1.3,
        )
        for label, runs in (("import discord-export", imports), ("transcript (md)", reports)):
            result.add(
                f"{label}, {n:,} msgs (median of {repeats})",
                f"{median([r['seconds'] for r in runs]):.2f} s,"
                f" {median([r['maxrss_kib'] for r in runs]) / 1024:.0f} MB peak RSS",
            )
        ours = [a["seconds"] + b["seconds"] for a, b in zip(imports, reports, strict=True)]
        our_peak = max(max(r["maxrss_kib"] for r in runs) for runs in (imports, reports))
        result.add(
            f"tweetchat import + transcript, {n:,} msgs (median of {repeats})",
            f"{median(ours):.2f} s, {our_peak / 1024:.0f} MB peak RSS",
        )
        our_cpu = [
            a["cpu_seconds"] + b["cpu_seconds"] for a, b in zip(imports, reports, strict=True)
        ]
        result.add(
            f"tweetchat import + transcript, CPU (user+sys, median of {repeats})",
            f"{median(our_cpu):.2f} s",
        )
        if peers:
            peer_seconds = median([p["seconds"] for p in peers])
            peer_peak = max(p["maxrss_kib"] for p in peers)
            ratio = peer_seconds / median(ours)
            result.add(
                "CPU vs chat-analytics (its CPU / ours, medians; steadier under load)",
                f"{median([p['cpu_seconds'] for p in peers]) / median(our_cpu):.2f}x",
            )
            result.add(
                f"{PEER}, {n:,} msgs (median of {len(peers)})",
                f"{peer_seconds:.2f} s, {peer_peak / 1024:.0f} MB peak RSS",
            )
            result.add(
                "speed vs chat-analytics (its time / ours, medians)",
                f"{ratio:.2f}x",
                ">= 3x",
                ratio >= 3,
            )
            result.add(
                "peak memory: ours / chat-analytics",
                f"{our_peak / 1024:.0f} / {peer_peak / 1024:.0f} MB",
                "below the peer's",
                our_peak < peer_peak,
            )
        else:
            result.add("chat-analytics", f"n/a ({peer_note})")
        result.add("machine load (1/5/15 min) before / after each round", "; ".join(loads))
        result.checks["import succeeded"] = True
        result.checks["imports are deterministic"] = len(set(imported)) == 1
        # Chatter without the hashtag may be left out; everything else must be in.
        result.checks["most of the export was imported"] = 0.8 * n <= imported[0] <= n
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="helpers of the import benchmark")
    parser.add_argument("--measure", action="store_true", help="run the command after --")
    parser.add_argument("--export", nargs=2, metavar=("PATH", "N"), help="only write an export")
    parser.add_argument("cmd", nargs="*")
    args = parser.parse_args(argv)
    if args.export:
        write_export(Path(args.export[0]), int(args.export[1]))
        return 0
    print(json.dumps(measure(args.cmd)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
