"""What people type, read into safe FTS5 queries; escaped, balanced snippets."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.store import Store
from archive.web.search import MARK_CLOSE, MARK_OPEN, SearchQuery, parse_query, snippet_html
from archive.web.templates import Site
from archive.web.views import search_page
from tests.archive.web.conftest import build_archive

TEXTS = [
    "Our quickstart guide for patients",
    "co-design with the patient council #WeDocs",
    "Carers and families at the board",
    "Café naïve NEAR AND OR",
    "running fast, then slower",
]


def _fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.executemany("INSERT INTO t (text) VALUES (?)", [(t,) for t in TEXTS])
    return conn


FTS = _fts()


def _found(typed: str) -> list[str]:
    q = parse_query(typed)
    sql, params = "SELECT text FROM t WHERE 1", []
    if q.match:
        sql += " AND t MATCH ?"
        params.append(q.match)
    if q.exclude:
        sql += " AND rowid NOT IN (SELECT rowid FROM t WHERE t MATCH ?)"
        params.append(q.exclude)
    return [r[0] for r in FTS.execute(sql + " ORDER BY rowid", params)]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Quickstarts", [TEXTS[0]]),  # stemmed
        ("PATIENT", [TEXTS[0], TEXTS[1]]),
        ("cafe naive", [TEXTS[3]]),  # diacritics folded
        ("run", [TEXTS[4]]),
        ("quick*", [TEXTS[0]]),
        ("slow*", [TEXTS[4]]),
        ('"patient council"', [TEXTS[1]]),
        ('"council patient"', []),
        ("carers OR running", [TEXTS[2], TEXTS[4]]),
        ("board OR fast families", [TEXTS[2]]),  # OR binds tighter than AND
        ("patients NOT council", [TEXTS[0]]),
        ("patients -council", [TEXTS[0]]),
        ('patient -"patient council"', [TEXTS[0]]),
        ("NOT patient", [TEXTS[2], TEXTS[3], TEXTS[4]]),
        ("#WeDocs", [TEXTS[1]]),
        ("co-design", [TEXTS[1]]),
        ("NEAR AND", [TEXTS[3]]),  # NEAR is a word; AND is the implicit AND
        ("or and not", []),  # lower case: words, found nowhere here
    ],
)
def test_search_finds_what_people_type(typed: str, found: list[str]) -> None:
    assert _found(typed) == found


def test_each_term_is_a_quoted_string() -> None:
    assert parse_query('#WeDocs NEAR(x "a b').match == '"#WeDocs" AND "NEAR(x" AND "a b"'


def test_a_prefix_is_a_quoted_string_with_a_star() -> None:
    assert parse_query("co-des*").match == '"co-des" *'


def test_terms_without_letters_or_digits_are_dropped() -> None:
    assert parse_query('* ( - OR NOT -* "').empty


def test_filters_are_read_apart_from_the_words() -> None:
    q = parse_query("from:@Alice council TAG:#WeDocs from:bob")
    assert q == SearchQuery('"council"', "", ("alice", "bob"), ("#wedocs",))


def test_empty_filters_are_ignored() -> None:
    assert parse_query("from: tag:#").empty


def test_operators_without_terms_around_them_are_ignored() -> None:
    assert parse_query("OR patients OR").match == '"patients"'
    assert parse_query("patients NOT").match == '"patients"'


def test_a_negated_term_never_joins_an_or() -> None:
    assert parse_query("a OR -b OR c").match == '("a" AND "c") NOT ("b")'


LEXICON = st.sampled_from(
    ['"', "*", "-", "(", ")", ":", "^", "+", "OR", "NOT", "AND", "NEAR", "from:", "tag:", "#"]
)


@settings(max_examples=300)
@given(st.lists(st.one_of(LEXICON, st.text(max_size=6)), max_size=12).map(" ".join))
def test_any_input_is_a_valid_query(typed: str) -> None:
    _found(typed)
    _found(typed.replace(" ", ""))


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_any_text_is_a_valid_query(typed: str) -> None:
    _found(typed)


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


# ---- through the search page, on a real archive ------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store.open_readonly(build_archive(tmp_path_factory.mktemp("search") / "a.db"))
    yield store
    store.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(LEXICON, st.text(max_size=8)), max_size=10).map(" ".join))
def test_the_search_page_answers_any_input(archive: Store, typed: str) -> None:
    page = search_page(archive, Site(), typed)
    assert "could not be read" not in page


def test_an_fts5_error_is_a_page_that_says_so(
    archive: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError('fts5: syntax error near ""')

    monkeypatch.setattr(archive, "search_messages", broken)
    assert "This search could not be read. Try plain words." in search_page(archive, Site(), "x")


def test_other_database_errors_are_not_hidden(
    archive: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(archive, "search_messages", locked)
    with pytest.raises(sqlite3.OperationalError):
        search_page(archive, Site(), "x")
