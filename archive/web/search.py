"""Full-text search over transcripts: what people type, read into a safe FTS5 query, and
highlighted, escaped snippets.

The query language is a search box's, not FTS5's: words (stemmed by the index, so
``Quickstarts`` finds "quickstart"), ``quick*`` for words that start so, ``"quoted
phrases"``, ``OR`` between two terms, ``NOT`` or ``-`` before a term to leave it out,
``from:handle`` and ``tag:WeDocs`` to keep to a participant's messages or a hashtag's
chats. Terms are ANDed; ``OR`` binds tighter (``patients OR carers council`` is
``(patients OR carers) AND council``). Only these upper-case operators are operators.

Every term reaches FTS5 as a quoted string literal, so ``#WeDocs``, ``"``, ``NEAR(``, ``^``
or ``col:`` are searched as text, and the expression is built by this module alone: no
input can make a syntax error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Private-use characters: FTS5 puts them around matches; we turn them into <mark> only
# after escaping the text, so a match can never inject markup.
MARK_OPEN = "\ue000"
MARK_CLOSE = "\ue001"
MAX_TERMS = 16
MAX_FILTERS = 8
MAX_QUERY_CHARS = 500

# A quoted phrase (the closing quote may be missing), optionally negated by a leading
# "-"; or a run of anything else up to a space or a quote.
_LEXEME = re.compile(r'(-?)"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to search for: ``match`` / ``exclude`` are FTS5 expressions ("" for none),
    ``authors`` handles, ``hashtag_keys`` casefolded ``#tag`` keys."""

    match: str = ""
    exclude: str = ""
    authors: tuple[str, ...] = ()
    hashtag_keys: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.match or self.exclude or self.authors or self.hashtag_keys)


def _searchable(text: str) -> bool:
    # A term with no letter or digit is an empty phrase to FTS5: it matches nothing.
    return any(ch.isalnum() for ch in text)


def _literal(text: str, prefix: bool = False) -> str:
    return '"' + text.replace('"', '""') + '"' + (" *" if prefix else "")


def parse_query(text: str) -> SearchQuery:
    """Read what was typed into the search box (see the module's docstring)."""
    groups: list[list[str]] = []  # ANDed groups of ORed terms
    negatives: list[str] = []
    authors: list[str] = []
    tags: list[str] = []
    negate = or_pending = group_open = False
    terms = 0
    # SQLite reads NUL as the end of the string: an unterminated literal.
    for found in _LEXEME.finditer(text[:MAX_QUERY_CHARS].replace("\x00", " ")):
        dash, phrase, word = found.groups()
        prefix, negated = False, negate or bool(dash)
        if word is not None:
            if word == "OR":
                or_pending = group_open
                continue
            if word == "AND":
                continue
            if word == "NOT":
                negate = True
                continue
            low = word.casefold()
            if low.startswith(("from:", "tag:")):
                name, _, value = low.partition(":")
                value = value.lstrip("@" if name == "from" else "#")
                if _searchable(value) and len(authors) + len(tags) < MAX_FILTERS:
                    if name == "from":
                        authors.append(value)
                    else:
                        tags.append("#" + value)
                continue
            if word.startswith("-") and len(word) > 1:
                negated, word = True, word[1:]
            prefix = word.endswith("*")
            phrase = word.rstrip("*")
        if not _searchable(phrase) or terms == MAX_TERMS:
            continue
        terms += 1
        term = _literal(phrase, prefix)
        negate = False
        if negated:
            negatives.append(term)
            or_pending = group_open = False
        elif or_pending:
            groups[-1].append(term)
            or_pending = False
        else:
            groups.append([term])
            group_open = True
    positive = " AND ".join(g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups)
    excluded = " OR ".join(negatives)
    if positive and excluded:
        match = f"({positive}) NOT ({excluded})"
        excluded = ""
    else:
        match = positive
    return SearchQuery(match, excluded, tuple(dict.fromkeys(authors)), tuple(dict.fromkeys(tags)))


def _handle_pattern(handles: Iterable[str]) -> re.Pattern[str] | None:
    names = sorted({h.strip().lstrip("@") for h in handles if h.strip().lstrip("@")}, key=len)
    if not names:
        return None
    marks = f"[{MARK_OPEN}{MARK_CLOSE}]?"
    alternatives = "|".join(re.escape(n) for n in reversed(names))
    return re.compile(f"@{marks}(?:{alternatives}){marks}(?![\\w])", re.IGNORECASE)


def snippet_html(snippet: str, hidden_handles: Iterable[str] = ()) -> str:
    """Escape an FTS5 snippet and turn its match markers into balanced ``<mark>`` tags;
    mentions of opted-out participants are replaced as in the transcripts."""
    pattern = _handle_pattern(hidden_handles)
    if pattern is not None:
        snippet = pattern.sub("@(opted out)", snippet)
    out: list[str] = []
    open_ = False
    for part in re.split(f"([{MARK_OPEN}{MARK_CLOSE}])", snippet):
        if part == MARK_OPEN:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif part == MARK_CLOSE:
            if open_:
                out.append("</mark>")
                open_ = False
        else:
            out.append(html.escape(part, quote=True))
    if open_:
        out.append("</mark>")
    return "".join(out)
