"""Label conventions: the letters a chat's questions and answers are labelled with.

Each chat has its own convention, stored with it (the chat file's ``[labels]`` table, the
config's ``[labels]`` defaults, ``/tweetchat schedule labels:``, ``tweetchat import
--labels``), and everything that writes or reads a label uses it: the posts (``Q1: ...``,
the intro's "Reply with A1, A2…"), capture's label grammar (:mod:`archive.capture`),
imports, transcripts, feeds and the web pages.

Conventions in use:

- ``Q`` / ``A``: the English default (``Q1`` asked, ``A1`` answered);
- ``Q`` / ``R``: French chats (*question* / *réponse*: ``Q1``, ``R1``);
- ``C`` / ``A``: Welsh chats (*cwestiwn* / *ateb*: ``C1``, ``A1``);
- ``T`` / ``T``: topic chats. The host posts discussion topics (``T1: ...``) instead of
  questions, and participants answer with the topic's own label (``T1 ...``): there is no
  separate answer letter. A convention whose two letters are the same is a topic
  convention; capture then tells the topic post from the host's own answers by which post
  it is (the bot's post, or an import's first host post of that label), not by its letter.

A letter is one letter with a plain upper and lower case (``Q``, ``R``, ``Ε``, ``В``...),
kept upper-case; as in the English convention, a label reads the letter in either case,
and a space may follow the upper-case letter only (``R 1``, not ``r 1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LABELS",
    "LabelError",
    "Labels",
    "label_key",
    "label_letter",
    "labels_from",
]


class LabelError(ValueError):
    """A label letter or convention that cannot be used; the message says why and how to fix."""


def label_letter(value: object, what: str = "label") -> str:
    """``value`` as a label letter (upper-case), or :class:`LabelError` naming ``what``
    (nothing when empty).

    A letter is exactly one character with a one-character upper and lower case of its own:
    ``"r"`` gives ``"R"``; ``"R1"``, ``"Re"``, ``"1"``, ``"#"``, ``"ß"`` are refused.
    """

    def problem(message: str) -> LabelError:
        return LabelError(f"{what}: {message}" if what else message)

    if not isinstance(value, str):
        raise problem('expected one letter in quotes, like "Q"')
    letter = value.strip()
    if len(letter) > 1 and letter[:1].isalpha() and letter[1:].isdecimal():
        raise problem(f'give the letter alone, "{letter[0].upper()}" (the bot adds the numbers)')
    up, low = letter.upper(), letter.lower()
    if len(letter) != 1 or not letter.isalpha() or len(up) != 1 or len(low) != 1 or up == low:
        raise problem(f'expected one letter, like "Q" or "R", not "{letter}"')
    return up


@dataclass(frozen=True, slots=True)
class Labels:
    """A chat's label letters: ``question`` (``Q`` in ``Q1``) and ``answer`` (``A`` in ``A1``).

    Both are single upper-case letters (:func:`label_letter`); equal letters make a topic
    convention (``T1`` topic, ``T1`` answers). Raises :class:`LabelError` otherwise.
    """

    question: str = "Q"
    answer: str = "A"

    def __post_init__(self) -> None:
        for what in ("question", "answer"):
            letter = getattr(self, what)
            if label_letter(letter, what) != letter:
                raise LabelError(f'{what}: write the letter upper-case, "{letter.upper()}"')

    @property
    def topics(self) -> bool:
        """Whether this is a topic convention: answers carry the question's own label."""
        return self.question == self.answer

    def question_label(self, key: str) -> str:
        """The label of question ``key`` (``"1"``, ``"2a"``) as posted: ``Q1``, ``C2a``."""
        return f"{self.question}{key}"

    def answer_label(self, key: str) -> str:
        """The label that answers question ``key``: ``A1``, ``R2a``, ``T1``."""
        return f"{self.answer}{key}"

    def __str__(self) -> str:
        """``Q/R``: how a host writes the convention on the command line."""
        return f"{self.question}/{self.answer}"


DEFAULT_LABELS = Labels()


def labels_from(value: str, what: str = "labels") -> Labels:
    """A convention written ``Q/R`` (also ``Q1/R1``, ``q / r``, ``T``: topics), or
    :class:`LabelError` naming ``what`` (e.g. ``--labels``)."""
    text = value.strip()
    parts = [p.strip() for p in text.split("/")]
    if len(parts) == 1 and parts[0]:
        parts = [parts[0], parts[0]]
    if len(parts) != 2 or not all(parts):
        raise LabelError(
            f'{what}: expected the question and answer letters as "Q/R" '
            f'(or one letter, "T", for topics), not "{text}"'
        )
    # "Q1/R1" is how hosts often say it: the trailing 1 is the example's number.
    letters = [p[:-1] if len(p) == 2 and p[1] == "1" else p for p in parts]
    try:
        return Labels(label_letter(letters[0], "question"), label_letter(letters[1], "answer"))
    except LabelError as e:
        raise LabelError(f"{what}: {e}") from None


_LABEL_RE = re.compile(r"\s*[^\W\d_](\d{1,2}[a-zA-Z]?)\s*")


def label_key(label: str) -> str | None:
    """The question key a label names, whatever its letter: ``"Q3"`` and ``"C3"`` give
    ``"3"``, ``"R2A"`` gives ``"2a"``; None for anything else (``"intro"``, ``""``).

    For what the bot records in its own words, such as the question a ``next`` control
    named (``next: C3`` in a Welsh chat, ``next: Q3`` in chats recorded before labels
    were per chat).
    """
    found = _LABEL_RE.fullmatch(label)
    return found.group(1).lower() if found else None
