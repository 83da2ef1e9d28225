"""A Babel extraction method that reads Python with :mod:`ast`, so that messages inside
f-strings are found too (Babel's own ``python`` method reads tokens, and before Python 3.12
an f-string is one token). Registered in ``babel.cfg``; used by ``make messages``.

Babel's extractor interface (``babel.messages.extract``): a function of
``(fileobj, keywords, comment_tags, options)`` that yields ``(lineno, funcname, messages,
comments)``, ``messages`` being the call's positional arguments (None for a non-literal) for
Babel to pick by the keyword's spec. Translator comments are the ``#`` comment lines just
above the call (or on its line) from the first one that starts with a comment tag.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any


def extract_python_ast(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str | tuple[str | None, ...] | None, list[str]]]:
    """Every call of a keyword (``gettext``, ``tr.ngettext``...) with its literal arguments."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    for node in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if not isinstance(name, str) or name not in keywords or not node.args:
            continue
        messages = tuple(
            arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
            for arg in node.args
        )
        if all(m is None for m in messages):
            continue
        yield (
            node.lineno,
            name,
            messages if len(messages) > 1 else messages[0],
            _comments_above(node.lineno, comments, lines, comment_tags),
        )


def _comments_above(
    lineno: int, comments: Mapping[int, str], lines: list[str], tags: Collection[str]
) -> list[str]:
    """The tagged comment block that ends just above ``lineno`` (or sits on it)."""
    block: list[str] = []
    line = lineno - 1
    while line >= 1 and line in comments and lines[line - 1].lstrip().startswith("#"):
        block.insert(0, comments[line])
        line -= 1
    if lineno in comments:
        block.append(comments[lineno])
    for i, text in enumerate(block):
        if any(text.startswith(tag) for tag in tags):
            return [" ".join(block[i:])]
    return []
