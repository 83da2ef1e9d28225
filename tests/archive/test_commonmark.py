"""User text in a transcript reads as literal text in CommonMark viewers too (GitHub, most
editors), not only in Python-Markdown, which ``test_items`` checks.

The escaping is contextual (a '-' or '#' is escaped at the start of a line only, a '_'
only at the edge of a word), so each context the transcripts use is rendered here: lines
of a list item, a blockquote (the intro), a heading and a table cell.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from archive.transcripts.tables import Table, text_cell
from archive.transcripts.text import _lines, escape_inline, escape_text
from tests.archive.test_transcripts import _Page, parse

# CommonMark with GFM's tables and strikethrough (what GitHub adds that could interpret text).
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [
                *"ab z*_`#-+.)!|[](){}<>&~=\\\t\n@:/019éñ\u00a0",
                "1. ",
                "2) ",
                "- ",
                "+ ",
                "# ",
                "---",
                "===",
                "> ",
                "```",
                "~~",
                "a_b",
                "_x_",
                "__y__",
                "**z**",
                "[x](http://e.org)",
                "![i](http://e.org/i.png)",
                "<b>",
                "&amp;",
                "http://x.org/a_b",
                "https://e.com/(x).",
                "www.e.org",
                "    ",
                " | --- | ",
            ]
        ),
        st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
    ),
    max_size=30,
).map("".join)


def _render(markdown: str) -> _Page:
    return parse(MD.render(markdown))


def _literal(page: _Page, expected: str, allowed: set[str]) -> None:
    assert set(page.tags) <= allowed, page.tags
    assert all(h.startswith(("http://", "https://")) for h in page.hrefs)
    assert "".join(page.text).strip() == expected.strip()


@settings(max_examples=500, deadline=None)
@given(text=_TEXT)
@example(text="1. one\n- two\n# three\n+ four\n=== five\n2) six")
@example(text="a_b _c_ __d__ e_ _f C#")
@example(text="!http://x.org/a_b")
def test_message_lines_in_a_list_item_are_literal(text: str) -> None:
    lines = _lines(text)
    body = escape_text(text, line_sep="  \n  ")
    page = _render(f"- **Alice** · 20:00  \n  {body}\n")
    shown = "\n".join(["Alice · 20:00", *lines])
    _literal(page, shown, {"ul", "li", "strong", "br", "a"})


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_intro_lines_in_a_blockquote_are_literal(text: str) -> None:
    if not _lines(text):
        return
    page = _render("> " + escape_text(text, line_sep="  \n> ") + "\n")
    _literal(page, "\n".join(_lines(text)), {"blockquote", "p", "br", "a"})


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
@example(text="We love C#")
@example(text="##")
def test_a_heading_shows_the_whole_text(text: str) -> None:
    # As the transcripts write a question's heading: its section's anchor at the end.
    page = _render(f'## Q1 · {escape_inline(text)} <a id="q-1"></a>\n')
    _literal(page, "Q1 · " + " ".join(_lines(text)), {"h2", "a"})
    assert page.tags.count("a") == 1, page.tags


@settings(max_examples=300, deadline=None)
@given(name=_TEXT, handle=_TEXT)
def test_table_cells_stay_in_their_cells(name: str, handle: str) -> None:
    table = Table(
        ["Name", "Handle"], [":--", ":--"], [[text_cell(name), text_cell(handle, empty="—")]]
    )
    page = _render("".join(table.md_chunks()))
    assert page.tags.count("td") == 2, page.tags
    assert set(page.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}
    cells = [" ".join(_lines(name)), " ".join(_lines(handle)) or "—"]
    assert "".join(page.text).split() == ["Name", "Handle", *" ".join(cells).split()]
