"""Tables rendered ahead give the HTML that Python-Markdown and nh3 make of their
Markdown, whatever the user text in their cells."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.transcripts.html import markdown_to_html
from archive.transcripts.tables import Table, plain_cell, text_cell

_TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            [*"ab z*_`#-+.!|[](){}<>&~=\\\t\n@:/01é\u00a0\u202e\x02", "``", "\\|", "&#1", "&amp;"]
        ),
        st.characters(codec="utf-8"),
    ),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_TEXT, _TEXT, st.booleans(), st.integers(0, 10**6)), min_size=1, max_size=4
    )
)
def test_table_html_equals_the_converted_markdown(rows: list[tuple[str, str, bool, int]]) -> None:
    table = Table(
        ["Name", "Platform", "Messages"],
        [":--", ":--", "--:"],
        [
            [
                text_cell(name, " (host)" if host else "", empty="—"),
                text_cell(platform),
                plain_cell(f"{n}"),
            ]
            for name, platform, host, n in rows
        ],
    )
    md = "".join(table.md_chunks())
    assert "".join(table.html_chunks()) == markdown_to_html(md)
