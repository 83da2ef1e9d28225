"""Transcripts: golden files for a realistic chat, escaping of hostile text, anonymity, time zones.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/archive/test_transcripts.py`` and review the diff.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.models import CapturedMessage, Chat, MessageKind, Question, Target
from archive.stats import compute_stats, participant_key
from archive.transcripts import (
    render_csv,
    render_html,
    render_json,
    render_markdown,
    sanitize_html,
)
from archive.transcripts.csvfmt import csv_chunks
from archive.transcripts.html import ALLOWED_TAGS, markdown_to_html

GOLDEN = Path(__file__).parent / "golden"
K = MessageKind
START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "main"}


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


CHAT = Chat(
    id="wedocs-2026-12-01",
    title="Involving patients in quality improvement",
    hashtag="#WeDocs",
    start=START,
    end=at(60),
    timezone="Europe/London",
    questions=(
        Question(1, "How do you involve patients in QI?", timedelta(minutes=5)),
        Question(2, "What got in the way?", timedelta(minutes=15)),
        Question(3, "One thing you will try next month?", timedelta(minutes=25)),
    ),
    intro="Welcome to #WeDocs! Introduce yourself with your role.\nAnswer with A1, A2...",
    targets=(Target("x"), Target("discord", "42")),
    hosts=("drsmith",),
)

PEOPLE = {
    "bot": ("x", "900", "WeDocs bot", "wedocsbot"),
    "host": ("x", "100", "Dr Ann Smith", "drsmith"),
    "alice": ("x", "101", "Alice Jones", "alice_qi"),
    "bob": ("discord", "202", "Bob Brown", "bobb"),
    "carol": ("x", "103", "Carol White", "carolw"),
    "dave": ("x", "104", "Dave Hidden", "davehid"),
    "eve": ("discord", "205", "Eve <b>Evil</b>", "eve_"),
    "frank": ("x", "106", "Frank Green", "frankg"),
    "gina": ("x", "107", "Gina Gone", "ginag"),
}
HOSTILE = (
    "A2: # heading\n"
    "<script>alert(1)</script> [x](javascript:alert(1)) ![img](http://x.test/i.png)\n"
    "| a | b | *emphasis*"
)


def msg(
    n: int,
    who: str,
    minute: float,
    kind: MessageKind,
    text: str,
    keys: tuple[str, ...] = (),
    **kw: object,
) -> CapturedMessage:
    platform, author_id, name, handle = PEOPLE[who]
    link = f"https://x.com/{handle}/status/{n}" if platform == "x" else ""
    return CapturedMessage(
        chat_id=CHAT.id,
        platform=platform,
        platform_id=str(n),
        author_id=author_id,
        author_name=name,
        author_handle=handle,
        text=text,
        created_at=at(minute),
        kind=kind,
        question_keys=keys,
        permalink=link,
        **kw,  # type: ignore[arg-type]
    )


MESSAGES = [
    msg(1, "bot", 5, K.QUESTION, "Q1: How do you involve patients in QI? #WeDocs", ("1",)),
    msg(
        2,
        "alice",
        6.5,
        K.ANSWER,
        "A1: We co-design with our patient council @drsmith #WeDocs https://www.nhs.uk/qi",
        ("1",),
        mentions=("drsmith",),
    ),
    msg(3, "bob", 8, K.ANSWER, "A1 We ask patients first.\nThen we measure. #WeDocs", ("1",)),
    msg(
        4,
        "carol",
        12,
        K.ANSWER,
        "A1/A2: both, see https://example.org/guide_(v2). #WeDocs",
        ("1", "2"),
    ),
    msg(5, "bot", 15, K.QUESTION, "Q2: What got in the way? #WeDocs", ("2",)),
    msg(6, "dave", 17, K.ANSWER, "A2: time, always time #WeDocs", ("2",)),
    msg(
        7,
        "alice",
        18,
        K.ANSWER,
        "A2: agree with @davehid, *really* #WeDocs",
        ("2",),
        mentions=("davehid",),
        edited_at=at(19),
    ),
    msg(8, "eve", 20, K.ANSWER, HOSTILE, ("2",)),
    msg(
        9,
        "frank",
        22,
        K.COMMENT,
        "Great chat so far! Hello from Leeds #WeDocs",
        mentions=("alice_qi",),
    ),
    msg(10, "host", 23, K.HOST, "Reminder: answer with A2 #WeDocs"),
    msg(11, "bob", 24, K.REPOST, "RT @alice_qi: A1: We co-design...", mentions=("alice_qi",)),
    msg(12, "bot", 25, K.QUESTION, "Q3: One thing you will try next month? #WeDocs", ("3",)),
    msg(13, "gina", 30, K.ANSWER, "A3: this one was deleted", ("3",), deleted_at=at(40)),
    msg(14, "bob", 35, K.ANSWER, "A3: a patient on every project board #WeDocs", ("3",)),
    msg(15, "carol", 70, K.ANSWER, "A3 (late!) start small #WeDocs", ("3",), late=True),
]
OPTED_OUT = frozenset({"x:104"})
HISTORY = {"x:101": 3, "discord:202": 1, "x:100": 12}
POSTED = {"2": at(16)}
CONTROLS = [(at(40), "paused"), (at(42), "resumed")]
COST = "X API cost: about $0.12 (estimate)"
GENERATED = at(95)


def stats_of(chat: Chat = CHAT, messages: list[CapturedMessage] = MESSAGES):  # type: ignore[no-untyped-def]
    return compute_stats(
        chat, iter(messages), opted_out=OPTED_OUT, history=HISTORY, question_posted_at=POSTED
    )


def markdown_of(chat: Chat = CHAT, messages: list[CapturedMessage] = MESSAGES, **kw: object) -> str:
    options: dict[str, object] = {
        "opted_out": OPTED_OUT,
        "question_posted_at": POSTED,
        "controls": CONTROLS,
        "cost_note": COST,
        "generated_at": GENERATED,
    }
    options.update(kw)
    return render_markdown(chat, messages, stats_of(chat, messages), **options)  # type: ignore[arg-type]


def html_of(chat: Chat = CHAT, messages: list[CapturedMessage] = MESSAGES, **kw: object) -> str:
    return render_html(chat, markdown_of(chat, messages, **kw))


def json_of() -> str:
    return render_json(
        CHAT,
        MESSAGES,
        stats_of(),
        opted_out=OPTED_OUT,
        question_posted_at=POSTED,
        controls=CONTROLS,
        cost_note=COST,
    )


def csv_of() -> str:
    return render_csv(MESSAGES, opted_out=OPTED_OUT, zone="Europe/London")


def check_golden(name: str, actual: str) -> None:
    """Compare with golden/<name>; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"{path} is missing: run UPDATE_GOLDEN=1 pytest {__file__}", pytrace=False)
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"golden/{name}",
                "actual",
            )
        )
        pytest.fail(
            f"{name} differs from its golden file (UPDATE_GOLDEN=1 accepts it):\n{diff}",
            pytrace=False,
        )


class _Page(HTMLParser):
    """Collects an HTML page's tags, link targets and visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k in ("href", "src")]
        if tag in ("style", "title", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def section(markdown_text: str, heading: str) -> str:
    """The Markdown between the line ``heading`` (a question's heading ends with its
    section's anchor) and the next level-2 heading."""
    found = re.search(f'^{re.escape(heading)}( <a id="[^"]+"></a>)?$', markdown_text, re.M)
    assert found is not None, heading
    start = found.start()
    end = markdown_text.find("\n## ", start + 1)
    return markdown_text[start : end if end != -1 else None]


# -- golden files -------------------------------------------------------------------------


def test_markdown_matches_golden() -> None:
    check_golden("wedocs.md", markdown_of())


def test_html_matches_golden() -> None:
    check_golden("wedocs.html", html_of())


def test_json_matches_golden() -> None:
    check_golden("wedocs.json", json_of())


def test_csv_matches_golden() -> None:
    check_golden("wedocs.csv", csv_of())


def test_rendering_is_deterministic() -> None:
    assert markdown_of() == markdown_of()
    assert json_of() == json_of()


# -- Markdown structure -------------------------------------------------------------------


def test_header_shows_local_time_range_zone_and_offset() -> None:
    assert "Tue 1 Dec 2026, 20:00–21:00 GMT (UTC+0)" in markdown_of()


def test_dst_day_chat_shows_summer_time() -> None:
    start = datetime(2026, 3, 29, 18, 0, tzinfo=UTC)  # the clocks went forward at 01:00 UTC
    chat = replace(CHAT, start=start, end=start + timedelta(hours=1))
    answer = replace(MESSAGES[1], created_at=start + timedelta(minutes=7))
    text = markdown_of(chat, [answer], controls=(), generated_at=None)
    assert "Sun 29 Mar 2026, 19:00–20:00 BST (UTC+1)" in text
    assert "@alice_qi · X · 19:07" in text


def test_chat_across_midnight_shows_both_days() -> None:
    start = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    chat = replace(CHAT, start=start, end=start + timedelta(hours=1))
    text = markdown_of(chat, [], controls=())
    assert "Tue 1 Dec 2026, 23:30 GMT – Wed 2 Dec 2026, 00:30 GMT" in text


def test_zone_without_abbreviation_shows_the_offset() -> None:
    chat = replace(CHAT, timezone="America/Sao_Paulo")
    assert "Tue 1 Dec 2026, 17:00–18:00 UTC-3 (UTC-3)" in markdown_of(chat, [], controls=())


def test_each_question_has_a_section_with_when_it_went_out() -> None:
    text = markdown_of()
    assert (
        '## Q2 · What got in the way? <a id="q-2"></a>\n\n'
        "*Went out at 20:16 GMT · 4 answers from 4 participants*" in text
    )


def test_a_multi_answer_appears_under_each_question() -> None:
    text = markdown_of()
    assert "A1/A2: both" in section(text, "## Q1 · How do you involve patients in QI?")
    assert "A1/A2: both" in section(text, "## Q2 · What got in the way?")
    # Its anchor is under Q1 only, where links to it go: one id once in the page.
    assert '<a id="m-x-4"></a>' in section(text, "## Q1 · How do you involve patients in QI?")
    assert '<a id="m-x-4"></a>' not in section(text, "## Q2 · What got in the way?")
    ids = re.findall(r'\bid="([^"]+)"', html_of())
    assert "m-x-4" in ids and len(ids) == len(set(ids)), sorted(ids)


def test_answers_are_in_time_order_with_name_handle_time_and_permalink() -> None:
    q1 = section(markdown_of(), "## Q1 · How do you involve patients in QI?")
    assert q1.index("Alice Jones") < q1.index("Bob Brown") < q1.index("Carol White")
    assert (
        '- <a id="m-x-2"></a>**Alice Jones** @alice_qi · X · 20:06 · [link](https://x.com/alice_qi/status/2)'
        in q1
    )


def test_message_lines_stay_inside_one_list_item() -> None:
    page = html_of()
    assert "We ask patients first.<br>\n  Then we measure." in page


def test_late_answers_have_their_own_section_and_not_their_questions() -> None:
    text = markdown_of()
    assert "start small" in section(text, "## Late answers")
    assert "start small" not in section(text, "## Q3 · One thing you will try next month?")
    assert '- <a id="m-x-15"></a>A3 · **Carol White**' in section(text, "## Late answers")


def test_comments_and_host_posts_are_other_messages() -> None:
    other = section(markdown_of(), "## Other messages")
    assert "Hello from Leeds" in other
    assert "Host · **Dr Ann Smith**" in other


def test_reposts_and_question_posts_are_not_listed() -> None:
    text = markdown_of()
    assert "RT @alice" not in text
    assert "Q1: How do you involve" not in text


def test_deleted_messages_leave_every_output() -> None:
    for output in (markdown_of(), html_of(), json_of(), csv_of()):
        assert "was deleted" not in output
        assert "Gina" not in output


def test_participants_table_has_first_time_and_returning() -> None:
    people = section(markdown_of(), "## Participants")
    assert "| Alice Jones | @alice_qi | X | 2 | 2 | returning (3 earlier chats) |" in people
    assert "| Frank Green | @frankg | X | 1 | 0 | first time |" in people
    assert "Dr Ann Smith (host)" in people


def test_activity_chart_is_a_code_block_marking_questions() -> None:
    activity = section(markdown_of(), "## Activity")
    assert "```text\n20:00       0\n20:05 Q1    3 " in activity
    assert "21:00 close 0" in activity


def test_short_chat_activity_is_per_minute() -> None:
    chat = replace(CHAT, end=at(20), grace=timedelta(minutes=5))
    assert "Messages per minute" in markdown_of(chat, MESSAGES[:3], controls=())


def test_timeline_lists_controls_only_when_there_are_some() -> None:
    assert "## Timeline\n\n- 20:40 · paused\n- 20:42 · resumed" in markdown_of()
    assert "## Timeline" not in markdown_of(controls=())


def test_footer_has_generated_time_and_cost_note() -> None:
    assert markdown_of().endswith(
        "*Generated Tue 1 Dec 2026, 21:35 GMT (2026-12-01 21:35 UTC)"
        " · X API cost: about $0.12 (estimate)*\n"
    )
    assert "Generated" not in markdown_of(generated_at=None)


def test_zero_message_chat_renders_every_format() -> None:
    empty = compute_stats(CHAT, iter(()))
    text = render_markdown(CHAT, [], empty)
    assert "| Messages | 0 |" in text
    assert "*No answers shown.*" in text
    assert "<h1>" in render_html(CHAT, text)
    assert json.loads(render_json(CHAT, [], empty))["messages"] == []
    assert render_csv([], zone="Europe/London").count("\n") == 1


# -- escaping -----------------------------------------------------------------------------


def test_hostile_message_is_not_live_markup_in_html() -> None:
    page = parse(html_of())
    body = page.tags[page.tags.index("main") :]
    assert "script" not in page.tags and "img" not in page.tags
    assert body.count("h1") == 1  # the chat's title only
    assert not any(h.lower().startswith("javascript") for h in page.hrefs)
    assert "<em>emphasis</em>" not in html_of()


def test_hostile_message_is_visible_as_literal_text() -> None:
    text = "".join(parse(html_of()).text)
    assert "A2: # heading" in text
    assert "<script>alert(1)</script> [x](javascript:alert(1)) ![img](http://x.test/i.png)" in text
    assert "| a | b | *emphasis*" in text
    assert "Eve <b>Evil</b>" in text


@pytest.mark.parametrize(
    "hostile",
    [
        "# heading",
        "*emphasis* _under_ **strong**",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "![img](http://x)",
        "| a | b |\n|---|---|\n| c | d |",
        "> quoted\n>> twice",
        "Title\n===",
        "Title\n---",
        "1. one\n2. two\n- three\n+ four",
        "    indented code",
        "```\nfenced\n```",
        "~~~\nfenced\n~~~ ~~strike~~",
        "`code` and \\`escaped\\`",
        "&lt;b&gt; &amp; &#60;",
        "<http://autolink.test> <mailto:a@b.c>",
        "line with trailing spaces  \nnext",
        "a\x02b\x03c",
        "[ref]: http://x.test\n[ref]",
        "\u202egnirts desrever",
    ],
)
def test_markdown_syntax_in_a_message_renders_as_plain_text(hostile: str) -> None:
    message = replace(MESSAGES[2], text=hostile)
    fragment = markdown_to_html(
        render_markdown(CHAT, [message], compute_stats(CHAT, iter([message])))
    )
    item = fragment[fragment.index("Bob Brown") :]
    item = item[: item.index("</li>")]
    parsed = parse(item)
    assert set(parsed.tags) <= {"strong", "br", "a"}  # links only for http(s) URLs
    assert all(h.startswith("http") for h in parsed.hrefs)
    visible_text = "".join(parsed.text)
    for word in re.findall(r"\w+", hostile):
        assert word in visible_text


def test_links_in_text_are_http_only_and_show_the_url_as_written() -> None:
    message = replace(
        MESSAGES[2], text="see https://example.org/é?a=1&b=(2) and javascript:alert(1)"
    )
    page = parse(
        render_html(CHAT, render_markdown(CHAT, [message], compute_stats(CHAT, iter([message]))))
    )
    assert "https://example.org/%C3%A9?a=1&b=%282%29" in page.hrefs
    assert "https://example.org/é?a=1&b=(2)" in "".join(page.text)
    assert not any("javascript" in h for h in page.hrefs)


def test_permalink_must_be_http() -> None:
    message = replace(MESSAGES[2], permalink="javascript:alert(1)")
    text = render_markdown(CHAT, [message], compute_stats(CHAT, iter([message])))
    assert "javascript" not in text
    assert "[link]" not in text


def test_title_and_intro_are_escaped() -> None:
    chat = replace(CHAT, title="# <b>Big</b> *chat*", intro="> not a quote\n<i>x</i>")
    page = html_of(chat, [], controls=())
    assert "<h1># &lt;b&gt;Big&lt;/b&gt; *chat*</h1>" in page
    assert "&gt; not a quote<br>" in page


_MARKDOWNISH = st.sampled_from([*"<>&*_`[]()#!|\\~=-+.:/ \n\t\"'@", "http://", "](", "\x02"])


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.one_of(_MARKDOWNISH, st.text(max_size=8)), max_size=25).map("".join),
    name=st.text(max_size=20),
)
def test_any_text_renders_to_allowed_tags_and_keeps_its_words(text: str, name: str) -> None:
    message = replace(MESSAGES[2], text=text, author_name=name)
    page = render_html(CHAT, render_markdown(CHAT, [message], compute_stats(CHAT, iter([message]))))
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS | PAGE_TAGS
    assert all(h.startswith(("http://", "https://")) for h in parsed.hrefs)
    visible_text = "".join(parsed.text)
    for word in re.findall(r"\w+", text):
        assert word in visible_text


# -- HTML page ----------------------------------------------------------------------------


def test_html_page_is_standalone_html5_for_phones() -> None:
    page = html_of()
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>" in page and "table" in page[page.index("<style>") : page.index("</style>")]


def test_html_title_is_escaped() -> None:
    page = render_html(CHAT, "hi", title="</title><script>x</script>")
    assert "<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;</title>" in page


def test_html_links_get_nofollow_noopener() -> None:
    assert 'href="https://x.com/alice_qi/status/2" rel="nofollow noopener noreferrer"' in html_of()


def test_sanitize_html_keeps_allowed_markup_and_drops_the_rest() -> None:
    dirty = (
        '<h2 onclick="x()">Hi</h2><script>alert(1)</script><img src=x onerror=y>'
        '<a href="javascript:alert(1)">j</a><a href="mailto:a@b.c">m</a>'
        '<span class="late" style="color:red">s</span><iframe src="https://e.vil"></iframe>'
    )
    assert sanitize_html(dirty) == (
        '<h2>Hi</h2><a rel="nofollow noopener noreferrer">j</a>'
        '<a href="mailto:a@b.c" rel="nofollow noopener noreferrer">m</a>'
        '<span class="late">s</span>'
    )


def test_sanitize_html_keeps_only_known_table_alignments() -> None:
    assert sanitize_html(
        '<table><tr><td align="right" x="1">1</td><td align="evil">2</td></tr></table>'
    ) == ('<table><tbody><tr><td align="right">1</td><td>2</td></tr></tbody></table>')


# -- opted-out anonymity ------------------------------------------------------------------


@pytest.mark.parametrize("render", [markdown_of, html_of, json_of, csv_of])
def test_opted_out_participant_appears_nowhere(render) -> None:  # type: ignore[no-untyped-def]
    output = render()
    for secret in ("Dave Hidden", "davehid", "x:104", "time, always time"):
        assert secret not in output


def test_opted_out_participant_still_counts_in_totals() -> None:
    data = json.loads(json_of())
    assert data["stats"]["answers_per_question"]["2"] == 4
    assert data["stats"]["hidden_messages"] == 1
    assert "1 participant who asked not to appear" in markdown_of()


def test_mentions_of_an_opted_out_handle_are_redacted_in_others_text() -> None:
    assert "agree with @(opted out)" in markdown_of()


# -- JSON and CSV -------------------------------------------------------------------------


def test_json_has_format_chat_and_shown_messages() -> None:
    data = json.loads(json_of())
    assert data["format"] == 1
    assert data["chat"]["start"] == "2026-12-01T20:00:00+00:00"
    assert data["chat"]["timezone"] == "Europe/London"
    assert [q["posted_at"] for q in data["chat"]["questions"]] == [
        "2026-12-01T20:05:00+00:00",
        "2026-12-01T20:16:00+00:00",
        "2026-12-01T20:25:00+00:00",
    ]
    ids = [m["id"] for m in data["messages"]]
    assert ids == ["1", "2", "3", "4", "5", "7", "8", "9", "10", "11", "12", "14", "15"]


def test_json_message_fields() -> None:
    edited = next(m for m in json.loads(json_of())["messages"] if m["id"] == "7")
    assert edited == {
        "author": {"handle": "alice_qi", "id": "101", "name": "Alice Jones"},
        "created_at": "2026-12-01T20:18:00+00:00",
        "edited": True,
        "edited_at": "2026-12-01T20:19:00+00:00",
        "id": "7",
        "kind": "answer",
        "late": False,
        "permalink": "https://x.com/alice_qi/status/7",
        "platform": "x",
        "questions": ["2"],
        "text": "A2: agree with @(opted out), *really* #WeDocs",
    }


def test_csv_has_one_row_per_shown_message_with_local_time() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_of())))
    assert len(rows) == 13
    first = rows[1]
    assert (first["created_at_utc"], first["local_time"]) == (
        "2026-12-01T20:06:30+00:00",
        "2026-12-01 20:06:30 GMT",
    )
    assert rows[2]["text"] == "A1 We ask patients first.\nThen we measure. #WeDocs"


def test_csv_neutralises_spreadsheet_formulas() -> None:
    message = replace(MESSAGES[2], text='=HYPERLINK("http://e.vil")', author_name="+Bob")
    row = next(csv.DictReader(io.StringIO(render_csv([message], zone=UTC))))
    assert row["text"] == '\'=HYPERLINK("http://e.vil")'
    assert row["author_name"] == "'+Bob"


def test_csv_in_pieces_is_the_whole_csv() -> None:
    hide = {m.author_handle for m in MESSAGES if participant_key(m) in OPTED_OUT}
    pieces = list(
        csv_chunks(MESSAGES, hide=hide, opted_out=OPTED_OUT, zone="Europe/London", rows_per_chunk=2)
    )
    assert len(pieces) > 2 and "".join(pieces) == csv_of()
