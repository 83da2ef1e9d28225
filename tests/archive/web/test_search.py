"""Safe FTS5 queries and escaped, balanced snippets."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.web.search import MARK_CLOSE, MARK_OPEN, fts_query, snippet_html


def _fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text)")
    conn.execute("INSERT INTO t (text) VALUES ('co-design with patients #WeDocs'), ('NEAR AND OR')")
    return conn


def test_each_token_becomes_a_quoted_string() -> None:
    assert fts_query('#WeDocs say"hi') == '"#WeDocs" "say""hi"'


def test_tokens_without_letters_or_digits_are_dropped() -> None:
    assert fts_query('" * ( -') == ""


def test_operators_are_searched_as_words() -> None:
    rows = _fts().execute("SELECT text FROM t WHERE t MATCH ?", (fts_query("NEAR AND"),))
    assert rows.fetchall() == [("NEAR AND OR",)]


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_any_input_is_a_valid_match_expression(text: str) -> None:
    query = fts_query(text)
    if query:
        _fts().execute("SELECT count(*) FROM t WHERE t MATCH ?", (query,)).fetchall()


def test_snippet_text_is_escaped_and_marks_become_mark_tags() -> None:
    got = snippet_html(f"<b>{MARK_OPEN}patients{MARK_CLOSE}</b> & more")
    assert got == "&lt;b&gt;<mark>patients</mark>&lt;/b&gt; &amp; more"


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from(["a", "<", MARK_OPEN, MARK_CLOSE, "&"]), max_size=30))
def test_snippet_marks_are_always_balanced(snippet: str) -> None:
    got = snippet_html(snippet)
    assert "<" not in got.replace("<mark>", "").replace("</mark>", "")
    depth = 0
    for tag in (t for t in got.split("<")[1:]):
        depth += -1 if tag.startswith("/") else 1
        assert depth in (0, 1)
    assert depth == 0


def test_hidden_handles_are_redacted_even_when_highlighted() -> None:
    got = snippet_html(f"thanks @{MARK_OPEN}olivia{MARK_CLOSE} and @bob", ["olivia"])
    assert got == "thanks @(opted out) and @bob"


def test_redaction_leaves_longer_handles_alone() -> None:
    assert snippet_html("@olivia2 hi", ["olivia"]) == "@olivia2 hi"
