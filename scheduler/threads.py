"""Long intros and closings split into a thread of posts at sentence boundaries (pure).

A chat file with ``split_long_posts = true`` lets the intro (with the line the bot adds on how
to answer) and the closing (with what the bot adds) go out as a thread of posts when they are
too long for one post on a network; questions, reminders and the wrap-up are never split.

Sentences are found by `sentencex` (Wikimedia's rule-based segmenter: abbreviations such as
"Dr." or "e.g.", decimals, e-mail addresses and links stay inside their sentence). A boundary
is used only where it falls on white space, or after a CJK full stop, and never inside a link,
so a word or a URL is never cut. Sentences are packed greedily, in order, into as few posts as
fit the network's limit counted its way (`PostLimit.count`); where each post of a thread is
read on its own (X, Bluesky, Mastodon: `PostLimit.number_parts`) each part ends with its
number, `` (1/3)``. A sentence that cannot fit one post even alone is refused
(`SplitError`), and the chat file with it.

The ledger keys of a split post's parts are ``intro#1``, ``intro#2``... (`part_key`); the
action's own row (``intro``) holds the whole text and is sent once every part is.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import sentencex

from scheduler.limits import PostLimit
from scheduler.timeline import ActionKind

SPLIT_KINDS = frozenset({ActionKind.INTRO, ActionKind.CLOSE})
"""The actions a host may let be split (``split_long_posts``): the intro and the closing."""

SPLIT_SETTING = "split_long_posts"
"""The chat-file key that lets long intros and closings be split into a thread."""

_PART_SEP = "#"
_LANGUAGE = "en"  # sentencex's English rules; they also end sentences at 。！？ and the like
_CJK_STOPS = frozenset("。！？．｡")
# Links as people write them; a boundary inside one is never used.
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


class SplitError(ValueError):
    """The text cannot be split so that every part fits: one sentence is too long alone.

    ``sentence`` is that sentence (stripped), ``size`` its length in the network's unit with
    the part number it would carry.
    """

    def __init__(self, message: str, *, sentence: str, size: int) -> None:
        super().__init__(message)
        self.sentence = sentence
        self.size = size


@dataclass(frozen=True, slots=True)
class _Unit:
    """One piece that may start or end a post: ``text[start:end]``, without outer spaces."""

    start: int
    end: int


def part_key(action_key: str, number: int) -> str:
    """The ledger key of part ``number`` (from 1) of a split post: ``intro#2``."""
    return f"{action_key}{_PART_SEP}{number}"


def action_of(key: str) -> str:
    """The action a ledger key belongs to: ``intro`` for ``intro#2`` and for ``intro``."""
    return key.split(_PART_SEP, 1)[0]


def is_part_key(key: str) -> bool:
    """True for the key of one part of a split post (``close#1``), not the action's own."""
    return _PART_SEP in key


def part_number(key: str) -> int:
    """The part a ledger key names: 2 for ``intro#2``; 0 for an action's own key."""
    _action, _sep, number = key.partition(_PART_SEP)
    return int(number) if number.isdigit() else 0


def part_suffix(number: int, total: int) -> str:
    """`` (2/3)``: what ends part ``number`` of ``total`` where parts are numbered."""
    return f" ({number}/{total})"


def _units(text: str) -> list[_Unit]:
    """The text's sentences, as spans between the boundaries that may be used."""
    pieces = list(sentencex.segment(_LANGUAGE, text))
    if "".join(pieces) != text:  # never expected; then the text has no usable boundary
        pieces = [text]
    links = [(m.start(), m.end()) for m in _URL.finditer(text)]
    cuts: list[int] = [0]
    at = 0
    for piece in pieces[:-1]:
        at += len(piece)
        before, after = text[at - 1], text[at]
        if not (before.isspace() or after.isspace() or before in _CJK_STOPS):
            continue  # inside a word: "end.Next" stays one piece
        if any(start < at < end for start, end in links):
            continue
        cuts.append(at)
    cuts.append(len(text))
    units = []
    for start, end in itertools.pairwise(cuts):
        chunk = text[start:end]
        stripped = chunk.strip()
        if not stripped:
            continue  # white space between paragraphs
        lead = len(chunk) - len(chunk.lstrip())
        units.append(_Unit(start + lead, start + lead + len(stripped)))
    return units


def split_post(text: str, limit: PostLimit) -> list[str]:
    """``text`` as the posts of a thread, each within ``limit`` counted its way.

    Returns ``[text]`` unchanged when it fits one post. Otherwise the parts, in order: each
    is the original text of whole sentences (white space inside kept, at its ends dropped),
    followed by `part_suffix` where ``limit.number_parts``. Raises `SplitError` when a
    sentence does not fit a post alone (with its part number).
    """
    if limit.excess(text) is None:
        return [text]
    units = _units(text.strip())
    body = text.strip()
    total = 1
    while True:
        spans = _pack(body, units, limit, total)
        if len(spans) <= total:
            break
        total = len(spans)  # more parts than guessed: longer numbers, pack again
    count = len(spans)
    if count == 1:  # it was too long only by white space at its ends
        return [body]
    parts = []
    for n, (start, end) in enumerate(spans, 1):
        suffix = part_suffix(n, count) if limit.number_parts else ""
        parts.append(body[start:end] + suffix)
    return parts


def _pack(body: str, units: list[_Unit], limit: PostLimit, total: int) -> list[tuple[int, int]]:
    """Greedy packing of ``units`` into spans of ``body`` that fit with the part number of a
    thread of ``total`` parts (the widest number such a thread has)."""
    suffix = part_suffix(total, total) if limit.number_parts else ""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    end = 0
    for unit in units:
        if start is not None and limit.excess(body[start : unit.end] + suffix) is None:
            end = unit.end
            continue
        if start is not None:
            spans.append((start, end))
        alone = body[unit.start : unit.end]
        size = limit.count(alone + suffix)
        if size > limit.max_length:
            shown = alone if len(alone) <= 60 else alone[:57] + "..."
            numbered = " with its part number" if suffix else ""
            raise SplitError(
                f"the sentence {shown!r} alone is {size}{numbered}",
                sentence=alone,
                size=size,
            )
        start, end = unit.start, unit.end
    if start is not None:
        spans.append((start, end))
    return spans


def split_problem(text: str, limit: PostLimit) -> str | None:
    """Why ``text`` cannot go out on this network even split into a thread, or None when it
    fits one post or can be split: ``"the sentence 'Our guest...' alone is 301 with its
    part number"`` (counted as ``limit`` counts)."""
    if limit.excess(text) is None:
        return None
    try:
        split_post(text, limit)
    except SplitError as e:
        return str(e)
    return None
