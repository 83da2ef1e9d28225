"""Benchmarks of the tweetchat bot: capture throughput, transcript cost, live load, import,
scheduler lateness, faults (kills, failing writes, a full disk at publishing).
``python -m benchmarks`` runs them and prints one table.

Each benchmark module has ``run(*, quick: bool = False, **sizes) -> BenchResult``: the
figures for the table, plus correctness checks (``checks``) that the smoke tests assert.
Timings are never asserted anywhere; they are only reported here.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from archive.capture import CaptureContext
from archive.models import Chat, IncomingMessage, Question, Target

__all__ = [
    "BenchResult",
    "Figure",
    "bench_chat",
    "bench_context",
    "format_table",
    "incoming_messages",
    "median",
    "percentile",
]

HASHTAG = "#WeDocs"
CHAT_START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
QUESTION_POST_ID = "qpost-{}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the results table."""

    bench: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: no target, or not measured

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("ok" if self.ok else "MISSED")


@dataclass
class BenchResult:
    """What one benchmark reports: table rows and correctness checks (never timings)."""

    name: str
    figures: list[Figure] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)

    def add(self, metric: str, value: str, target: str = "", ok: bool | None = None) -> None:
        self.figures.append(Figure(self.name, metric, value, target, ok))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return float(ordered[max(0, min(len(ordered), rank) - 1)])


def format_table(figures: Sequence[Figure]) -> str:
    """A Markdown table of every figure (readable in a terminal, pasteable in the README)."""
    header = ("benchmark", "figure", "value", "target", "")
    rows = [header] + [(f.bench, f.metric, f.value, f.target, f.verdict) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def bench_chat(
    *,
    chat_id: str = "bench-chat",
    questions: int = 6,
    start: datetime = CHAT_START,
    minutes: int = 60,
) -> Chat:
    """A realistic one-hour chat: an intro round, then a question every ~8 minutes."""
    qs = tuple(
        Question(
            number=i + 1,
            text=f"How do you involve patients in improvement, part {i + 1}?",
            offset=timedelta(minutes=5 + 8 * i),
        )
        for i in range(questions)
    )
    return Chat(
        id=chat_id,
        title="Involving patients in quality improvement",
        hashtag=HASHTAG,
        start=start,
        end=start + timedelta(minutes=minutes),
        timezone="Europe/London",
        questions=qs,
        intro="Welcome to #WeDocs! Tonight: patients as partners.",
        closing="Thank you all!",
        targets=(Target("local", "main"),),
        hosts=("host0",),
    )


def bench_context(chat: Chat) -> CaptureContext:
    """The capture context the facilitator would build once the questions went out."""
    posts = {QUESTION_POST_ID.format(q.key): q.key for q in chat.questions}
    return CaptureContext(
        chat=chat,
        question_posts=posts,
        chat_posts=frozenset(posts) | {"intro-post"},
        question_times=tuple(sorted((chat.question_time(q), q.key) for q in chat.questions)),
        bot_ids=frozenset({"tweetchat-bot"}),
    )


_WORDS = (
    "patients",
    "co-design",
    "we",
    "involve",
    "our",
    "council",
    "early",
    "listening",
    "feedback",
    "improvement",
    "team",
    "nurses",
    "data",
    "run",
    "charts",
    "PDSA",
    "cycles",
    "trust",
    "matters",
    "together",
    "ward",
    "families",
    "stories",
    "change",
)
_DOMAINS = ("example.org", "www.health.example", "qi.example.net", "blog.example.com")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def incoming_messages(
    n: int,
    chat: Chat,
    *,
    seed: int = 1,
    authors: int | None = None,
    platform: str = "local",
    channel: str = "main",
    id_prefix: str = "m",
) -> Iterator[IncomingMessage]:
    """``n`` realistic incoming messages spread over the chat (deterministic for a seed).

    About 55% labelled answers (some multi-answers, mentions, links), 15% replies to a
    question post without a label, 12% comments, 6% reposts, 4% host posts, 3% edited,
    and 5% chatter without the hashtag that capture must drop.
    """
    rng = random.Random(seed)
    n_authors = authors or max(20, min(5000, n // 40))
    keys = [q.key for q in chat.questions]
    span = (chat.grace_end - chat.start + timedelta(minutes=10)).total_seconds()
    origin = chat.start - timedelta(minutes=10)
    for i in range(n):
        at = origin + timedelta(seconds=span * i / max(1, n))
        who = rng.randrange(n_authors)
        author_id = f"u{who}"
        handle = "host0" if who == 0 else f"user{who}"
        roll = rng.random()
        reply_to = ""
        repost = False
        text: str
        if roll < 0.55:
            label = f"A{rng.choice(keys)}"
            if rng.random() < 0.1:
                label += f"/A{rng.choice(keys)}"
            text = f"{label}: {_text(rng, rng.randint(6, 30))} {HASHTAG}"
            if rng.random() < 0.2:
                text += f" @user{rng.randrange(n_authors)}"
            if rng.random() < 0.15:
                text += f" https://{rng.choice(_DOMAINS)}/post/{i}"
        elif roll < 0.70:
            reply_to = QUESTION_POST_ID.format(rng.choice(keys))
            text = _text(rng, rng.randint(5, 25))
        elif roll < 0.82:
            text = f"{_text(rng, rng.randint(4, 20))} {HASHTAG} @user{rng.randrange(n_authors)}"
        elif roll < 0.88:
            repost = True
            text = f"RT @user{rng.randrange(n_authors)}: A1 {_text(rng, 8)} {HASHTAG}"
        elif roll < 0.92:
            handle, author_id = "host0", "u0"
            text = f"Thanks everyone, keep going! {HASHTAG}"
        elif roll < 0.95:
            text = f"{_text(rng, 10)} {HASHTAG}"
        else:
            text = f"off-topic chatter {_text(rng, 6)}"
        edited = at + timedelta(seconds=30) if 0.92 <= roll < 0.95 else None
        yield IncomingMessage(
            platform=platform,
            platform_id=f"{id_prefix}{i}",
            channel=channel,
            author_id=author_id,
            author_name=f"Person {who}",
            author_handle=handle,
            text=text,
            created_at=at,
            reply_to=reply_to,
            is_repost=repost,
            permalink=f"https://local.example/{channel}/{id_prefix}{i}",
            edited_at=edited,
        )
