"""`tweetchat demo`: a complete #WeDocs-style chat on the local platform in about 25 seconds.

Everything real runs: the scheduler fires the intro and six questions, the local platform
delivers what ~40 simulated participants post (labelled, unlabelled, replies, late, edited
and deleted answers, an opt-out, a repost, a hostile message full of markup), capture files
it into SQLite, and the publisher writes the Markdown, HTML and JSON transcripts. Most
participants say which stakeholder group they are in, through each route the local
platform has: ``!iam <group>`` in their hello, ``!iam <group>`` in a reply to a question,
and the organisers' roster file; a few declare nothing. Only time
is compressed: a scaled clock runs the 60-minute chat (plus its grace period) fast.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.groups import DEFAULT_GROUPS
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import ChatStatus
from bot.config import Config
from bot.platforms.local.adapter import LocalNetwork, LocalUser
from bot.reports import format_highlights
from scheduler.clock import ScaledClock
from scheduler.plan import parse_chat_plan

logger = logging.getLogger(__name__)

ZONE = "Europe/London"

QUESTIONS = [
    "How do you involve patients and carers in your quality improvement projects?",
    "What is the biggest barrier to co-designing services with patients?",
    "Share one change idea that came from a patient or carer. What happened?",
    "How do you measure whether a change is an improvement, not just a change?",
    "How do we make QI part of everyday work rather than an extra project?",
    "What one thing will you try this month after tonight's chat?",
]

FIRST = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Efua",
    "Finn",
    "Grace",
    "Hamid",
    "Isla",
    "Jon",
    "Kemi",
    "Liam",
    "Maya",
    "Nia",
    "Owen",
    "Priya",
    "Quinn",
    "Ravi",
    "Sofia",
    "Tom",
    "Uma",
    "Vik",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Aled",
    "Bea",
    "Cai",
    "Dina",
    "Emre",
    "Fola",
    "Gus",
    "Hana",
    "Ifan",
    "Jia",
    "Kofi",
    "Lena",
    "Mo",
    "Nora",
]
LAST = ["Shah", "Jones", "Okafor", "Patel", "Byrne", "Evans", "Khan", "Murphy", "Lee", "Reid"]
ROLES = [
    "nurse",
    "GP",
    "physio",
    "patient partner",
    "QI lead",
    "pharmacist",
    "carer",
    "junior doctor",
    "midwife",
    "OT",
]
# The stakeholder group each role declares (archive/groups.py).
ROLE_GROUPS = {
    "nurse": "clinician",
    "GP": "clinician",
    "physio": "clinician",
    "patient partner": "patient",
    "QI lead": "manager",
    "pharmacist": "researcher",
    "carer": "carer",
    "junior doctor": "student",
    "midwife": "clinician",
    "OT": "organisation",
}


def declaration_route(i: int) -> str:
    """How simulated participant ``i`` declares a group: in their hello ("post"), in a
    reply to the first question ("reply"), on the roster ("roster"), or not at all ("")."""
    if i % 11 == 10:
        return ""
    return ("post", "reply", "roster")[i % 3]


def demo_people(participants: int) -> list[LocalUser]:
    """The simulated participants: ids, names and handles."""
    return [
        LocalUser(
            f"u{i:03d}",
            f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}",
            f"{FIRST[i % len(FIRST)].lower()}_{ROLES[i % len(ROLES)].split()[0].lower()}{i}",
        )
        for i in range(participants)
    ]


def demo_roster(participants: int) -> str:
    """The organisers' roster (CSV: platform, handle or id, group) of the participants
    whose route is the roster: by handle, every other one by id."""
    lines = ["platform,handle or id,group"]
    for i, p in enumerate(demo_people(participants)):
        if declaration_route(i) == "roster":
            who = p.id if i % 2 else "@" + p.handle
            lines.append(f"local,{who},{ROLE_GROUPS[ROLES[i % len(ROLES)]]}")
    return "\n".join(lines) + "\n"


ANSWERS = {
    1: [
        "We have patient partners on every project team from day one",
        "Our patient council reviews each charter before we start",
        "Honestly, not enough yet. We mostly survey after the fact",
        "Experience-based co-design interviews, filmed with consent",
        "We pay patient partners for their time now, which changed everything",
    ],
    2: [
        "Time. Clinic schedules leave no room for co-design sessions",
        "Power imbalance: patients defer to the consultant in the room",
        "Jargon! PDSA means nothing to most people",
        "Finding partners who reflect the whole community, not the usual voices",
        "Governance paperwork to pay people takes months",
    ],
    3: [
        "A carer suggested a visiting-hours change on the ward; complaints halved",
        "Patients asked for text reminders in Urdu and Polish; DNAs fell",
        "A patient redesigned our discharge leaflet: one page, big font",
        "Moving the blood test to the GP surgery saved a 40-mile round trip",
        "Simple: name badges in big letters. People felt safer",
    ],
    4: [
        "Run charts with at least 12 points before we claim anything",
        "Balancing measures! We check nothing else got worse",
        "We ask patients what 'better' means and measure that",
        "Statistical process control charts, shared weekly on the ward",
        "Family and friends test comments, coded every month",
    ],
    5: [
        "Huddles: 10 minutes a day on one improvement",
        "Protected time in job plans, even an hour a month helps",
        "Celebrate small wins loudly",
        "Make the data visible on the ward, not in a report",
        "Train everyone a little rather than a few people a lot",
    ],
    6: [
        "Invite a patient partner to our next project meeting",
        "Start a run chart for our clinic waiting times",
        "Try a 10-minute huddle on Mondays",
        "Read the resources shared tonight and share with my team",
        "Ask three patients what one thing would make clinic better",
    ],
}

LINKS = [
    "https://www.ihi.org/resources/how-improve-model-improvement",
    "https://www.england.nhs.uk/sustainableimprovement/qsir-programme/",
    "https://q.health.org.uk/resources/co-design",
    "https://www.pointofcarefoundation.org.uk/resource/experience-based-co-design/",
]

HOSTILE = (
    "# Not a heading <script>alert('x')</script> [click](javascript:alert(1)) *not bold* "
    "| not | a | table | ![img](http://example.invalid/x.png) #WeDocs"
)


@dataclass(order=True)
class Planned:
    at: datetime
    seq: int
    kind: str = dataclasses.field(compare=False)  # post | edit | delete | react
    author: LocalUser | None = dataclasses.field(compare=False, default=None)
    text: str = dataclasses.field(compare=False, default="")
    reply_to_question: int = dataclasses.field(compare=False, default=0)
    ref: int = dataclasses.field(
        compare=False, default=-1
    )  # index of the planned post edited/deleted


CUSTOMARY_LABELS = {"en": "Q/A", "fr": "Q/R", "cy": "C/A"}
"""The label convention a demo in each language uses unless ``--labels`` says otherwise."""


def demo_plan(start: datetime, language: str = "en") -> dict[str, object]:
    """The demo chat, in the chat-file format hosts write. In another language than English
    the hosts' own intro and closing are left out, so the bot's (translated) ones are used;
    the questions and the simulated participants stay English."""
    local = start.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
    plan = {
        "title": "Patients as partners in quality improvement",
        "hashtag": "WeDocs",
        "start": local,
        "timezone": ZONE,
        "duration": "60m",
        "interval": "8m",
        "first_question": "8m",
        "grace": "10m",
        "intro": "Welcome to #WeDocs! Tonight we talk about patients as partners in QI. "
        "Say hello and tell us your role.",
        "closing": "Thank you all for a wonderful #WeDocs. Keep the conversation going!",
        "hosts": ["drjane", "qi_sam"],
        "questions": [{"text": q} for q in QUESTIONS],
        "targets": [{"platform": "local", "channel": "main"}],
        "reminders": [],
        "language": language,
    }
    if language.split("-")[0] != "en":
        del plan["intro"], plan["closing"]
    return plan


def simulate(
    start: datetime,
    question_times: list[datetime],
    end: datetime,
    grace_end: datetime,
    participants: int,
    rng: random.Random,
    labels: Labels = DEFAULT_LABELS,
) -> tuple[list[Planned], dict[str, int]]:
    """Plan what every simulated participant posts and when (chat time); labelled answers
    and the hosts' mentions of questions use ``labels`` (``A1``, ``Q1``; ``R1`` in a
    French chat)."""
    q, a = labels.question_label, labels.answer_label
    people = demo_people(participants)
    hosts = [LocalUser("h1", "Dr Jane Host", "drjane"), LocalUser("h2", "Sam (QI coach)", "qi_sam")]
    plan: list[Planned] = []
    counts = {
        "labelled": 0,
        "unlabelled": 0,
        "replies": 0,
        "late": 0,
        "edits": 0,
        "deletions": 0,
        "uncaptured": 0,
        "reactions": 0,
    }
    seq = 0

    def add(
        at: datetime,
        kind: str,
        author: LocalUser | None,
        text: str = "",
        *,
        reply: int = 0,
        ref: int = -1,
    ) -> int:
        nonlocal seq
        seq += 1
        plan.append(Planned(at, seq, kind, author, text, reply, ref))
        return len(plan) - 1

    # Intro round: most people say hello (and many say their group); hosts welcome them.
    for i, p in enumerate(people):
        role = ROLES[i % len(ROLES)]
        declares = declaration_route(i) == "post"
        if rng.random() < 0.7 or declares:
            iam = f" !iam {ROLE_GROUPS[role]}" if declares else ""
            add(
                start + timedelta(seconds=rng.uniform(20, 400)),
                "post",
                p,
                f"Hi all, {p.name.split()[0]} here, {role} from the north west{iam} #WeDocs",
            )
        if declaration_route(i) == "reply":  # a reply to the bot's Q1: a declaration only
            add(
                question_times[0] + timedelta(seconds=rng.uniform(20, 60)),
                "post",
                p,
                f"!iam {ROLE_GROUPS[role]}",
                reply=1,
            )
    add(
        start + timedelta(seconds=90),
        "post",
        hosts[0],
        "Great to see so many new faces tonight #WeDocs",
    )
    # One participant opts out early; everything they post stays out of the transcripts.
    optout = people[5]
    add(start + timedelta(seconds=60), "post", optout, "!optout")
    for n, qt in enumerate(question_times, start=1):
        answers = ANSWERS[n]
        for p in people:
            if rng.random() > 0.65:
                continue
            at = qt + timedelta(seconds=rng.uniform(25, 420))
            body = rng.choice(answers)
            if rng.random() < 0.15:
                body += f" {rng.choice(LINKS)}"
            if rng.random() < 0.1:
                body += " @drjane"
            style = rng.random()
            if style < 0.6:
                sep = rng.choice([":", "", ".", ")", " -"])
                text = f"{a(str(n))}{sep} {body} #WeDocs"
                counts["labelled"] += 1
                idx = add(at, "post", p, text)
            elif style < 0.8:
                idx = add(at, "post", p, f"{body} #WeDocs")
                counts["unlabelled"] += 1
            else:
                idx = add(at, "post", p, body, reply=n)  # a reply needs no hashtag
                counts["replies"] += 1
            if rng.random() < 0.05:
                add(
                    at + timedelta(seconds=rng.uniform(20, 90)),
                    "edit",
                    p,
                    plan[idx].text.replace(body, body + " (edited: typo fixed)"),
                    ref=idx,
                )
                counts["edits"] += 1
            elif rng.random() < 0.03:
                add(at + timedelta(seconds=rng.uniform(20, 90)), "delete", p, ref=idx)
                counts["deletions"] += 1
            # Others react to it: most answers get none or one, a few strike a chord.
            fans = [q for q in people if q is not p]
            for fan in rng.sample(fans, min(len(fans), _reactions(rng))):
                react_at = at + timedelta(seconds=rng.uniform(15, 360))
                add(min(react_at, grace_end - timedelta(seconds=30)), "react", fan, ref=idx)
                counts["reactions"] += 1
        # A host comment on each question.
        add(
            qt + timedelta(seconds=200),
            "post",
            hosts[n % 2],
            f"Love these answers to {q(str(n))} — keep them coming #WeDocs",
        )
    # Multi-answers, a repost, hostile markup, noise that must not be captured.
    add(
        question_times[1] + timedelta(seconds=300),
        "post",
        people[1],
        f"{a('1')}/{a('2')}: Both come back to paying partners properly #WeDocs",
    )
    add(
        question_times[2] + timedelta(seconds=100),
        "post",
        people[2],
        "RT @drjane: Great to see so many new faces tonight #WeDocs",
    )
    add(question_times[3] + timedelta(seconds=120), "post", people[3], HOSTILE)
    add(
        question_times[3] + timedelta(seconds=150),
        "post",
        people[4],
        "Off topic: anyone going to the conference? #WeDocsX",
    )
    add(question_times[3] + timedelta(seconds=160), "post", people[6], "Lunch was great today")
    counts["uncaptured"] += 2
    # Late answers inside the grace window.
    for p in people[10:14]:
        add(
            end + timedelta(seconds=rng.uniform(30, 400)),
            "post",
            p,
            f"{a('6')}: Late to the party but I will {rng.choice(ANSWERS[6]).lower()} #WeDocs",
        )
        counts["late"] += 1
    assert grace_end > end
    return plan, counts


def _reactions(rng: random.Random) -> int:
    """How many people react to one answer: 0 for most, a long tail up to 8."""
    return min(8, int(rng.expovariate(0.9)))


async def drive(
    net: LocalNetwork,
    clock: ScaledClock,
    plan: list[Planned],
    stop: asyncio.Event,
    labels: Labels = DEFAULT_LABELS,
) -> None:
    """Post the planned messages at their chat times, as participants would."""
    ids: dict[int, str] = {}
    by_index = sorted(range(len(plan)), key=lambda i: plan[i])
    for i in by_index:
        item = plan[i]
        wait = clock.seconds_until(item.at)
        if wait > 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
                return
            except TimeoutError:
                pass
        if item.kind == "post":
            assert item.author is not None
            reply_to = ""
            if item.reply_to_question:
                reply_to = await asyncio.to_thread(
                    _question_post_id, net, item.reply_to_question, labels
                )
            ids[i] = await asyncio.to_thread(
                net.post, "main", item.author, item.text, at=clock.now(), reply_to=reply_to
            )
        elif item.kind == "edit" and item.ref in ids:
            await asyncio.to_thread(net.edit, ids[item.ref], item.text, at=clock.now())
        elif item.kind == "delete" and item.ref in ids:
            await asyncio.to_thread(net.delete, ids[item.ref], at=clock.now())
        elif item.kind == "react" and item.ref in ids:
            await asyncio.to_thread(net.react, ids[item.ref], at=clock.now())


def _question_post_id(net: LocalNetwork, n: int, labels: Labels = DEFAULT_LABELS) -> str:
    for row in net.messages("main"):
        if row["is_bot"] and row["text"].startswith(f"{labels.question_label(str(n))}:"):
            return str(row["seq"])
    return ""


def _next_evening(now: datetime) -> datetime:
    zone = ZoneInfo(ZONE)
    local = now.astimezone(zone)
    evening = local.replace(hour=20, minute=0, second=0, microsecond=0)
    if evening <= local:
        evening = (local + timedelta(days=1)).replace(hour=20, minute=0, second=0, microsecond=0)
    return evening.astimezone(UTC)


def run_demo(
    args: argparse.Namespace,
    config: Config,
    *,
    labels: Labels | None = None,
    language: str | None = None,
) -> int:
    """Run the demo chat; ``labels``: its label convention, ``language``: its language (a
    BCP 47 tag; both default to the config's)."""
    from bot.app import App
    from bot.reports import format_stats

    out = Path(args.out) if args.out else config.demo.output_dir
    speed = args.speed or config.demo.speed
    participants = args.participants or config.demo.participants
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    demo_config = dataclasses.replace(
        config,
        database=out / "demo.db",
        transcripts_dir=out / "transcripts",
        local=dataclasses.replace(
            config.local, enabled=True, network=out / "local-network.db", poll_interval=0.02
        ),
        discord=dataclasses.replace(config.discord, enabled=False),
        x=dataclasses.replace(config.x, enabled=False),
        groups=dataclasses.replace(config.groups, labels=DEFAULT_GROUPS, roster=out / "roster.csv"),
    )
    (out / "roster.csv").write_text(demo_roster(participants), encoding="utf-8")
    # Chat time begins 30 chat-seconds before the next 20:00 in London, when such chats run.
    start = _next_evening(datetime.now(UTC))
    origin = start - timedelta(seconds=30)
    chat_plan = parse_chat_plan(
        demo_plan(start, language or config.language),
        source="<demo>",
        now=origin,
        default_labels=labels or config.labels.convention,
    )
    chat = chat_plan.chat
    clock = ScaledClock(origin, speed)
    rng = random.Random(args.seed)
    qtimes = [chat.start + q.offset for q in chat.questions]
    plan, counts = simulate(
        chat.start, qtimes, chat.end, chat.grace_end, participants, rng, chat.labels
    )
    span = (chat.grace_end - origin).total_seconds() / speed
    print(
        f"Demo: “{chat.title}” {chat.hashtag}, {len(chat.questions)} questions, "
        f"{participants} participants; a {chat.duration.total_seconds() / 60:.0f}-minute chat "
        f"compressed into about {span:.0f} s.",
        flush=True,
    )

    async def main() -> int:
        from archive.store import Store

        store = Store(demo_config.database)
        store.add_chat(chat, reminders=(), source="<demo>")
        store.close()
        app = App(demo_config, clock=clock)
        await app.start()
        net = LocalNetwork(demo_config.local.network)
        stop = asyncio.Event()
        driver = asyncio.create_task(drive(net, clock, plan, stop, chat.labels))
        deadline = span + 30
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        last_progress = ""
        try:
            while loop.time() - t0 < deadline:
                assert app.store is not None
                current = await app.store.get_chat(chat.id)
                count = await app.store.count_messages(chat.id)
                progress = f"  [{clock.now().astimezone(ZoneInfo(ZONE)):%H:%M}] {current.status}: {count} messages captured"
                if progress != last_progress and sys.stdout.isatty():
                    print(progress, end="\r", flush=True)
                last_progress = progress
                if current.status == ChatStatus.PUBLISHED:
                    break
                await asyncio.sleep(0.25)
        finally:
            stop.set()
            await driver
            net.close()
            published = None
            if app.store is not None:
                published = await app.store.get_chat(chat.id)
                paths = await app.store.transcripts(chat.id)
            await app.stop()
        if sys.stdout.isatty():
            print()
        if published is None or published.status != ChatStatus.PUBLISHED:
            print("demo: the chat did not finish publishing in time", file=sys.stderr)
            return 1
        from archive.publish import chat_stats

        store = Store(demo_config.database)
        try:
            stats = chat_stats(store, chat)
            best = store.highlights(chat, 1, opted_out=store.opted_out())
            groups = store.group_mix(chat, store.opted_out())
        finally:
            store.close()
        print(format_stats(published, stats, groups))
        print(
            f"  simulated: {counts['labelled']} labelled, {counts['unlabelled']} unlabelled, "
            f"{counts['replies']} replies, {counts['late']} late, {counts['edits']} edits, "
            f"{counts['deletions']} deletions, {counts['reactions']} reactions, 1 opt-out, "
            "1 hostile message"
        )
        print(format_highlights(chat, best))
        print("Transcripts:")
        for fmt in ("md", "html", "json"):
            print(f"  {fmt:<5} {paths[fmt]}")
        print(f"Archive database: {demo_config.database}")
        return 0

    return asyncio.run(main())
