"""Complementary suppression of the stakeholder mix (issue 20): no small group's figures can
be worked out from what the mix shows.

The property test builds random chats (groups of 0 to 4 participants, many of 1 or 2, some
participants opted out, some undeclared, answers to two questions), computes the mix, then
reads only what is shown (the JSON transcript's ``groups`` object, which carries every
figure the tables, the CSV, the chart and ``tweetchat stats`` show) and, by brute force over
every assignment of figures to the groups counted together that agrees with it, finds the
values each such group's participant count, answer count and answers to each question could
have. Each must have at least two. The attacker it models is stronger than a reader: it also
knows the opted-out participants' figures exactly (so every residual is the fold's sum),
knows the rule that builds the fold (small members of 1 or 2, others of at least 3 and no
more than the smallest shown group, added one at a time only while the members were alike),
and knows which questions show their total only and why. It does not combine a group's
per-question answers with its overall figures (each is brute-forced on its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.groups import DEFAULT_GROUPS, SMALL_GROUP, compute_mix, groups_of
from archive.models import CapturedMessage, Chat, MessageKind, Question, Target
from archive.transcripts.groupsfmt import groups_markdown, groups_summary

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
GROUPS = groups_of(DEFAULT_GROUPS[:4])  # patient, carer, clinician, manager
QUESTIONS = ("1", "2")
CHAT = Chat(
    id="mix",
    title="Mix",
    hashtag="#WeDocs",
    start=START,
    end=START + timedelta(minutes=30),
    timezone="Europe/London",
    questions=tuple(Question(int(k), f"Question {k}", timedelta(minutes=2)) for k in QUESTIONS),
    targets=(Target("x"),),
    hosts=("host",),
)

# A participant: their group key ("" undeclared, "-" opted out) and answers per question.
Person = tuple[str, tuple[int, ...]]


def _chat_messages(people: list[Person]) -> tuple[list[CapturedMessage], dict[str, str]]:
    """Messages of ``people`` (a comment when they answered nothing) and their groups."""
    out: list[CapturedMessage] = []
    of: dict[str, str] = {}
    n = 0
    for i, (group, answers) in enumerate(people):
        who = f"u{i}"
        if group:
            of[who] = group
        plan = [(q, j) for q, count in zip(QUESTIONS, answers, strict=True) for j in range(count)]
        for q, _ in plan or [(None, 0)]:
            n += 1
            out.append(
                CapturedMessage(
                    chat_id=CHAT.id,
                    platform="x",
                    platform_id=str(n),
                    author_id=who,
                    author_name=who,
                    author_handle=who,
                    text=f"A{q}: yes" if q else "hello",
                    created_at=START + timedelta(minutes=3, seconds=n),
                    kind=MessageKind.ANSWER if q else MessageKind.COMMENT,
                    question_keys=(q,) if q else (),
                )
            )
    return out, of


def _mix(people: list[Person]) -> Any:
    messages, of = _chat_messages(people)
    opted = frozenset(f"x:u{i}" for i, (g, _) in enumerate(people) if g == "-")
    return compute_mix(
        CHAT,
        messages,
        groups=GROUPS,
        group_of=lambda _p, author_id, _h: of.get(author_id) if of.get(author_id) != "-" else None,
        opted_out=opted,
    )


# -- the brute force over the shown figures ---------------------------------------------


def _parts(total: int, m: int, low: int = 0, high: int | None = None) -> Iterator[tuple[int, ...]]:
    """Every ``m`` numbers in [low, high] summing to ``total``."""
    top = total if high is None else high
    if m == 0:
        if total == 0:
            yield ()
        return
    for first in range(low, min(top, total) + 1):
        for rest in _parts(total - first, m - 1, low, high):
            yield (first, *rest)


def _alike(values: tuple[int, ...]) -> bool:
    return len(set(values)) <= 1


def _overall_candidates(shown: dict[str, Any]) -> tuple[set[int], set[int]]:
    """The participant and answer counts any member of the fold could have: over every
    assignment (n, a) per member agreeing with the fold's sums and the fold's rule."""
    fold = shown["combined"]
    m = len(fold["members"])
    order = [g["key"] for g in shown["groups"]]
    big_shown = [g for g in shown["groups"] if not g["suppressed"] and g["participants"]]
    ns: set[int] = set()
    answers: set[int] = set()
    for n in _parts(fold["participants"], m, low=1):
        small = [i for i in range(m) if n[i] < SMALL_GROUP]
        big = [i for i in range(m) if n[i] >= SMALL_GROUP]
        if not small:
            continue
        # A big member was folded before any shown group: fewer participants, or as many
        # and earlier in the configured order.
        if any(
            (n[i], order.index(fold["members"][i])) > (g["participants"], order.index(g["key"]))
            for i in big
            for g in big_shown
        ):
            continue
        for a in _parts(fold["answers"], m):
            if _alike(n) or _alike(a):
                continue
            # Each big member was needed: without the last one the rest were alike.
            chosen = sorted(big, key=lambda i: (n[i], order.index(fold["members"][i])))
            needed = all(
                _alike(tuple(n[i] for i in small + chosen[:k]))
                or _alike(tuple(a[i] for i in small + chosen[:k]))
                for k in range(len(chosen))
            )
            if needed:
                ns.update(n)
                answers.update(a)
    return ns, answers


def _question_candidates(shown: dict[str, Any], q: dict[str, Any]) -> set[int]:
    """The answers to question ``q`` any member of the fold could have given: the mix
    shows the question's total only, so every split of its answers (less the opted-out
    ones', known to this attacker) among the groups with participants agrees with it."""
    assert q["withheld"] and not q["groups"]
    m = len(shown["combined"]["members"])
    others = sum(1 for g in [*shown["groups"], shown["not_declared"]] if g["participants"])
    found: set[int] = set()
    for values in _parts(q["answers"] - q["opted_out_answers"], m + others):
        found.update(values[:m])
    return found


def _cell_sizes() -> st.SearchStrategy[int]:
    return st.sampled_from([0, 1, 1, 2, 2, 3, 3, 4])


@st.composite
def chats(draw: st.DrawFn) -> list[Person]:
    people: list[Person] = []
    answers = st.tuples(*(st.integers(0, 2) for _ in QUESTIONS))
    for g in GROUPS:
        people += [(g.key, draw(answers)) for _ in range(draw(_cell_sizes()))]
    people += [("", draw(answers)) for _ in range(draw(st.integers(0, 2)))]
    people += [("-", draw(answers)) for _ in range(draw(st.integers(0, 2)))]
    return draw(st.permutations(people))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chats())
def test_no_folded_groups_figures_can_be_worked_out(people: list[Person]) -> None:
    mix = _mix(people)
    sizes = {g.key: sum(1 for k, _ in people if k == g.key) for g in GROUPS}
    small = [k for k, n in sizes.items() if 0 < n < SMALL_GROUP]
    if mix is None:
        # No mix at all: somebody was small and even every group folded stayed alike.
        assert small or not any(sizes.values())
        return
    shown = mix.to_dict()
    # Every group with 1 or 2 participants is hidden, and in the fold.
    for row in shown["groups"]:
        if row["key"] in small:
            assert row["suppressed"] and row["key"] in shown["combined"]["members"]
    if shown["combined"] is None:
        assert not small
        return
    opted = [a for k, a in people if k == "-"]
    for i, q in enumerate(shown["questions"]):
        q["opted_out_answers"] = sum(a[i] for a in opted)
    ns, answers = _overall_candidates(shown)
    fold = shown["combined"]
    truth = {k: (sizes[k], sum(sum(a) for g, a in people if g == k)) for k in fold["members"]}
    for n, a in truth.values():
        assert n in ns and a in answers  # the truth is among the candidates
    assert len(ns) >= 2, (fold, ns)
    assert len(answers) >= 2, (fold, answers)
    for i, q in enumerate(shown["questions"]):
        if q["answers"] - q["opted_out_answers"] == 0:
            continue  # nobody but the opted-out answered: every group's 0 is public
        found = _question_candidates(shown, q)
        for k in fold["members"]:
            assert sum(a[i] for g, a in people if g == k) in found
        assert len(found) >= 2, (q, found)


# -- the case --------------------------------------------------------------------


def test_one_group_of_two_is_counted_with_the_smallest_other() -> None:
    # 2 carers; 4 patients, 3 clinicians, 1 undeclared, 1 opted out: before, the carers'
    # 2 followed from 11 - 4 - 3 - 1 - 1.
    people: list[Person] = [
        *[("patient", (1, 1))] * 4,
        ("carer", (1, 0)),
        ("carer", (2, 1)),
        *[("clinician", (1, 2))] * 3,
        ("", (1, 0)),
        ("-", (0, 1)),
    ]
    mix = _mix(people)
    assert mix is not None
    rows = {r.key: (r.participants, r.answers) for r in mix.rows}
    assert rows["carer"] == rows["clinician"] == (None, None)
    assert rows["patient"] == (4, 8)
    assert mix.fold is not None and mix.fold_keys == ("carer", "clinician")
    assert (mix.fold.participants, mix.fold.answers) == (5, 13)
    md = "\n".join(groups_markdown(CHAT, mix))
    assert "| Carer | counted together | — | — | — |" in md
    assert "| Clinician | counted together | — | — | — |" in md
    assert "| Counted together: Carer, Clinician | 5 | 45% | 13 | 57% |" in md
    assert "| Patient | 4 | 36% | 8 | 35% |" in md
    assert "| **Total** | 11 | 100% | 23 | 100% |" in md
    assert "fewer than 3 |" not in md
    assert groups_summary(mix) == (
        "  groups: Patient 4, Counted together: Carer, Clinician 5, Not declared 1"
    )
    # Nobody of the fold is marked in the CSV and JSON.
    assert set(mix.member_groups.values()) == {"patient"}


def test_with_a_fold_the_questions_show_their_totals_only() -> None:
    # 1 carer and 3 patients; nobody of the fold answered Q2, which a cell of 0 would say.
    people: list[Person] = [
        ("carer", (3, 0)),
        ("patient", (1, 0)),
        ("patient", (1, 0)),
        ("patient", (0, 0)),
        *[("clinician", (1, 1))] * 3,
    ]
    mix = _mix(people)
    assert mix is not None and mix.fold_keys == ("patient", "carer")
    assert all(q.withheld and not q.cells for q in mix.questions)
    md = "\n".join(groups_markdown(CHAT, mix))
    section = md.split("### Answers per question by group", 1)[1]
    assert "Not shown when groups are counted together" in section
    assert "| Q1 |" not in section and "| Q2 |" not in section


def test_small_groups_alike_with_nobody_to_fold_show_no_mix() -> None:
    # One carer and one patient, one answer each, and nobody else declared: no fold of
    # theirs can differ, so no mix is shown.
    assert _mix([("carer", (1, 0)), ("patient", (1, 0)), ("", (1, 1))]) is None


def test_no_small_group_no_fold() -> None:
    mix = _mix([*[("carer", (1, 0))] * 3, *[("patient", (0, 1))] * 4])
    assert mix is not None and mix.fold is None and mix.to_dict()["combined"] is None
    assert [r.participants for r in mix.rows] == [4, 3, 0, 0]


def test_the_brute_force_tells_a_safe_fold_from_a_derivable_one() -> None:
    """The check can fail: two groups of one participant each, folded, are both 1."""
    groups = [
        {"key": "patient", "participants": None, "suppressed": True},
        {"key": "carer", "participants": None, "suppressed": True},
        {"key": "clinician", "participants": 5, "suppressed": False},
    ]
    derivable = {
        "groups": groups,
        "combined": {"members": ["patient", "carer"], "participants": 2, "answers": 3},
    }
    assert len(_overall_candidates(derivable)[0]) < 2
    safe = {
        "groups": groups,
        "combined": {"members": ["patient", "carer"], "participants": 4, "answers": 3},
    }
    assert _overall_candidates(safe) == ({1, 3}, {0, 1, 2, 3})
