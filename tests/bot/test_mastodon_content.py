"""Status HTML to plain text: what a reader sees, user text literal, links as URLs."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms.mastodon.content import html_to_text


def render(text: str) -> str:
    """Plain text as a Mastodon instance renders a local status (TextFormatter): escaped,
    paragraphs on blank lines, <br /> for single line breaks."""
    paragraphs = [p for p in re.split(r"\n{2,}", text) if p]
    return "".join(
        "<p>" + "<br />".join(html.escape(line) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def link(url: str) -> str:
    """A link as Mastodon renders it: scheme and tail invisible, the middle shown."""
    scheme, rest = url.split("://", 1)
    shown, tail = rest[:30], rest[30:]
    ellipsis = "ellipsis" if tail else ""
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{scheme}://</span><span class="{ellipsis}">'
        f'{html.escape(shown)}</span><span class="invisible">{html.escape(tail)}</span></a>'
    )


MENTION = (
    '<span class="h-card" translate="no"><a href="https://social.example/@ann" '
    'class="u-url mention">@<span>ann</span></a></span>'
)
HASHTAG = (
    '<a href="https://social.example/tags/wedocs" class="mention hashtag" rel="tag">'
    "#<span>WeDocs</span></a>"
)


def test_a_typical_status() -> None:
    content = (
        f"<p>{MENTION} A1: we ask patients first {HASHTAG} 🎉</p>"
        f"<p>See {link('https://example.org/reports/2026/patient-councils-in-practice')}"
        "<br />and tell me &lt;script&gt;alert(1)&lt;/script&gt; is just text &amp; fine</p>"
    )
    assert html_to_text(content) == (
        "@ann A1: we ask patients first #WeDocs 🎉\n\n"
        "See https://example.org/reports/2026/patient-councils-in-practice\n"
        "and tell me <script>alert(1)</script> is just text & fine"
    )


def test_script_and_style_elements_are_not_shown() -> None:
    assert html_to_text("<p>hi</p><script>alert(1)</script><style>p{}</style>") == "hi"


def test_a_labelled_link_keeps_label_and_url() -> None:
    assert html_to_text('<p><a href="https://a.example/x">the report</a></p>') == (
        "the report (https://a.example/x)"
    )


@pytest.mark.parametrize("href", ["javascript:alert(1)", "mailto:a@b.example", "", "/relative"])
def test_a_link_to_another_scheme_is_its_text(href: str) -> None:
    assert html_to_text(f'<p><a href="{href}">click</a></p>') == "click"


def test_lists_quotes_and_code_from_other_servers() -> None:
    content = (
        "<p>Intro</p><ul><li>one</li><li>two</li></ul><blockquote>q</blockquote><pre>a  b\nc</pre>"
    )
    assert html_to_text(content) == "Intro\n\n- one\n\n- two\n\nq\n\na  b\nc"


def test_empty_and_whitespace() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p></p>\n<p> </p>") == ""
    assert html_to_text("<p>a</p>\n<p>b</p>") == "a\n\nb"


_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs"))
_words = st.text(_chars, min_size=1, max_size=12)
_lines = st.lists(_words, min_size=1, max_size=6).map(" ".join)
_paragraphs = st.lists(_lines, min_size=1, max_size=3).map("\n".join)
_texts = st.lists(_paragraphs, min_size=1, max_size=3).map("\n\n".join)


@given(_texts)
@settings(max_examples=300, deadline=None)
def test_user_text_stays_literal(text: str) -> None:
    # Whatever a person types (<, >, &, quotes, emoji, tags spelled out) comes back as typed.
    assert html_to_text(render(text)) == text


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_input_gives_text_without_tags_from_markup(raw: str) -> None:
    # Never raises; escaped input never turns into markup, so nothing of it is dropped.
    text = html_to_text("<p>" + html.escape(raw) + "</p>")
    assert set(text) <= set(raw) | {" ", "\n"}
    assert html_to_text(raw) is not None


_url_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-._~/?=&%")


@given(
    st.sampled_from(["http", "https"]),
    st.text(_url_chars, min_size=1, max_size=80),
)
@settings(max_examples=200, deadline=None)
def test_links_become_their_url(scheme: str, rest: str) -> None:
    url = f"{scheme}://example.org/{rest}"
    assert html_to_text(f"<p>see {link(url)} ok</p>") == f"see {url} ok"
