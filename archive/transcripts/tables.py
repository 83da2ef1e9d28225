"""A transcript's pipe table whose cells are plain text, written both ways: as Markdown
lines, and as the sanitised HTML that Python-Markdown's tables extension and nh3 make of
them (the participants table has a row per participant: thousands in a big chat, where
Python-Markdown took a third of a second). ``tests/archive/test_items.py`` compares the
two on hostile text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from archive.transcripts.items import html_text
from archive.transcripts.text import _lines, escape_inline

_ALIGN = {":--": "left", "--:": "right"}


def text_cell(text: str, suffix: str = "", *, empty: str = "") -> tuple[str, str]:
    """A cell of user text (escaped in Markdown) followed by ``suffix`` (plain text that
    Markdown leaves alone), or ``empty`` when the text is blank: ``(markdown, shown)``."""
    escaped = escape_inline(text)
    if not escaped:
        return empty + suffix, empty + suffix
    return escaped + suffix, " ".join(_lines(text)) + suffix


def plain_cell(text: str) -> tuple[str, str]:
    """A cell that Markdown shows as written (numbers, fixed words)."""
    return text, text


class Table:
    """A pipe table with at least one row; each cell is ``(markdown, shown text)``."""

    def __init__(
        self, header: Sequence[str], aligns: Sequence[str], rows: list[list[tuple[str, str]]]
    ) -> None:
        self.header = header
        self.aligns = aligns
        self.rows = rows

    def md_chunks(self) -> Iterator[str]:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "|".join(self.aligns) + "|"]
        lines += ["| " + " | ".join(md for md, _ in row) + " |" for row in self.rows]
        yield "\n".join(lines) + "\n"

    def html_chunks(self) -> Iterator[str]:
        aligns = [f' align="{_ALIGN[a]}"' for a in self.aligns]
        out = ["<table>\n<thead>\n<tr>\n"]
        out += [f"<th{a}>{html_text(h)}</th>\n" for h, a in zip(self.header, aligns, strict=True)]
        out.append("</tr>\n</thead>\n<tbody>\n")
        for row in self.rows:
            out.append("<tr>\n")
            out += [f"<td{a}>{html_text(t)}</td>\n" for (_, t), a in zip(row, aligns, strict=True)]
            out.append("</tr>\n")
        out.append("</tbody>\n</table>")
        yield "".join(out)
