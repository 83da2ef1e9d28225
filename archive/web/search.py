"""Full-text search over transcripts: safe FTS5 queries and highlighted, escaped snippets.

The user's words are never FTS5 syntax: each whitespace-separated token becomes a quoted
string literal, so ``#WeDocs``, ``"``, ``AND``, ``*`` or ``NEAR(`` are searched as text
(implicit AND between tokens) and never raise a syntax error.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

# Private-use characters: FTS5 puts them around matches; we turn them into <mark> only
# after escaping the text, so a match can never inject markup.
MARK_OPEN = "\ue000"
MARK_CLOSE = "\ue001"
MAX_TOKENS = 16
MAX_QUERY_CHARS = 500


def fts_query(text: str) -> str:
    """The FTS5 MATCH expression for the user's input, or "" when nothing is searchable."""
    tokens = []
    # SQLite reads NUL as the end of the string: an unterminated literal.
    for raw in text[:MAX_QUERY_CHARS].replace("\x00", " ").split():
        # Tokens with no letter or digit give an empty phrase: skip them.
        if not any(ch.isalnum() for ch in raw):
            continue
        tokens.append('"' + raw.replace('"', '""') + '"')
        if len(tokens) == MAX_TOKENS:
            break
    return " ".join(tokens)


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
