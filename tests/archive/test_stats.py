"""Statistics of a chat, field by field, on hand-built messages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from archive.models import CapturedMessage, Chat, MessageKind, Question
from archive.stats import OPTED_OUT_NAME, compute_stats, domains_in

K = MessageKind
START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


CHAT = Chat(
    id="c1",
    title="Test chat",
    hashtag="#Test",
    start=START,
    end=at(60),
    timezone="Europe/London",
    questions=(
        Question(1, "First?", timedelta(minutes=5)),
        Question(2, "Second?", timedelta(minutes=15)),
        Question(2, "Second, part b?", timedelta(minutes=20), part="b"),
    ),
    grace=timedelta(minutes=30),
    hosts=("@Host",),
)

_counter = iter(range(1, 10**9))


def msg(
    author: str,
    minute: float,
    kind: MessageKind = K.ANSWER,
    keys: tuple[str, ...] = ("1",),
    text: str = "hello",
    *,
    platform: str = "x",
    **kw: object,
) -> CapturedMessage:
    """A message by ``author`` (id = handle = name lower-cased) ``minute`` minutes in."""
    return CapturedMessage(
        chat_id="c1",
        platform=platform,
        platform_id=str(next(_counter)),
        author_id=author.lower(),
        author_name=author,
        author_handle=author.lower(),
        text=text,
        created_at=at(minute),
        kind=kind,
        question_keys=keys if kind in (K.ANSWER, K.QUESTION) else (),
        **kw,  # type: ignore[arg-type]
    )


def test_zero_message_chat_has_zero_counts_and_a_zero_filled_activity() -> None:
    stats = compute_stats(CHAT, iter(()))
    assert (stats.participants, stats.messages, stats.answers, stats.deletions) == (0, 0, 0, 0)
    assert stats.busiest_question is None
    assert stats.hosts_share == 0.0
    assert stats.answers_per_question == {"1": 0, "2": 0, "2b": 0}
    assert stats.median_first_answer == {"1": None, "2": None, "2b": None}
    assert stats.activity_per_minute == [(m, 0) for m in range(90)]


def test_only_deletions_count_as_deletions_and_nothing_else() -> None:
    deleted = [msg("Ann", 6, deleted_at=at(7)), msg("Bob", 7, K.COMMENT, deleted_at=at(8))]
    stats = compute_stats(CHAT, iter(deleted))
    assert stats.deletions == 2
    assert (stats.participants, stats.messages, stats.answers, stats.comments) == (0, 0, 0, 0)
    assert stats.contributors == []
    assert all(count == 0 for _, count in stats.activity_per_minute)


def test_messages_count_every_kind_but_not_deleted_ones() -> None:
    rows = [
        msg("Bot", 5, K.QUESTION),
        msg("Ann", 6),
        msg("Bob", 7, K.COMMENT),
        msg("Cat", 8, K.REPOST),
        msg("Dan", 9, deleted_at=at(10)),
    ]
    stats = compute_stats(CHAT, iter(rows))
    assert (stats.messages, stats.answers, stats.comments, stats.reposts) == (4, 1, 1, 1)


def test_participants_include_hosts_but_not_the_bot() -> None:
    rows = [
        msg("Bot", 5, K.QUESTION),
        msg("Bot", 6, K.HOST),
        msg("Host", 7, K.HOST),
        msg("Ann", 8),
        msg("Ann", 9),
    ]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.participants == 2
    assert stats.hosts == 1
    assert {c.key for c in stats.contributors} == {"x:host", "x:ann"}


def test_host_messages_and_share_include_the_bot_and_hosts() -> None:
    rows = [msg("Bot", 5, K.QUESTION), msg("Host", 7, K.HOST), msg("Ann", 8), msg("Bob", 9)]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.host_messages == 2
    assert stats.hosts_share == 0.5


def test_host_is_recognised_by_handle_ignoring_case_and_at_sign() -> None:
    stats = compute_stats(CHAT, iter([msg("HOST", 8, K.COMMENT)]))
    assert stats.contributors[0].host is True


def test_a_multi_answer_counts_once_as_answer_and_once_per_question() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", 16, keys=("1", "2"))]))
    assert stats.answers == 1
    assert stats.answers_per_question == {"1": 1, "2": 1, "2b": 0}


def test_participants_per_question_counts_distinct_authors() -> None:
    rows = [msg("Ann", 6), msg("Ann", 7), msg("Bob", 8), msg("Bob", 16, keys=("2",))]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.participants_per_question == {"1": 2, "2": 1, "2b": 0}


def test_top_contributors_rank_by_messages_then_answers_then_name() -> None:
    rows = [
        msg("Zed", 6),
        msg("Zed", 7, K.COMMENT),
        msg("Amy", 8, K.COMMENT),
        msg("Amy", 9, K.COMMENT),
        msg("Bea", 10),
        msg("Bea", 11),
        msg("Cal", 12),
    ]
    stats = compute_stats(CHAT, iter(rows))
    assert [c.name for c in stats.top_contributors] == ["Bea", "Zed", "Amy", "Cal"]
    assert (stats.top_contributors[0].messages, stats.top_contributors[0].answers) == (2, 2)


def test_top_contributors_keep_only_ten() -> None:
    rows = [msg(f"P{i:02d}", 6) for i in range(15)]
    stats = compute_stats(CHAT, iter(rows))
    assert len(stats.top_contributors) == 10
    assert len(stats.contributors) == 15


def test_contributor_shows_the_latest_name() -> None:
    first = msg("Ann", 6)
    renamed = replace(first, platform_id="r", author_name="Ann B", created_at=at(7))
    stats = compute_stats(CHAT, iter([first, renamed]))
    assert stats.contributors[0].name == "Ann B"


def test_opted_out_participants_are_counted_but_anonymised() -> None:
    rows = [msg("Secret", 6), msg("Secret", 7, K.COMMENT), msg("Ann", 8)]
    stats = compute_stats(CHAT, iter(rows), opted_out=frozenset({"x:secret"}))
    assert stats.participants == 2
    assert stats.messages == 3
    assert stats.hidden_messages == 2
    hidden = stats.contributors[0]
    assert (hidden.name, hidden.handle, hidden.key, hidden.hidden) == (
        OPTED_OUT_NAME,
        "",
        "opted-out-1",
        True,
    )
    assert "secret" not in json.dumps(stats.to_dict()).lower()


def test_mentions_of_opted_out_participants_are_not_ranked() -> None:
    rows = [msg("Secret", 6), msg("Ann", 7, mentions=("Secret", "Bob"))]
    stats = compute_stats(CHAT, iter(rows), opted_out=frozenset({"x:secret"}))
    assert stats.most_mentioned == [("Bob", 1)]


def test_first_time_and_returning_follow_history() -> None:
    rows = [msg("Ann", 6), msg("Bob", 7), msg("Cat", 8)]
    stats = compute_stats(CHAT, iter(rows), history={"x:ann": 2, "x:cat": 0})
    assert (stats.first_time, stats.returning) == (2, 1)
    assert {c.name: c.earlier_chats for c in stats.contributors}["Ann"] == 2


def test_most_mentioned_merges_case_and_at_sign_and_skips_reposts() -> None:
    rows = [
        msg("Ann", 6, mentions=("Bob",)),
        msg("Cat", 7, mentions=("@bob", "dan")),
        msg("Eve", 8, K.REPOST, mentions=("dan", "dan")),
    ]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.most_mentioned == [("Bob", 2), ("dan", 1)]


def test_top_domains_strip_www_and_ignore_non_http_links() -> None:
    text = "see https://www.NHS.uk/a and http://nhs.uk/b, ftp://files.org and https://bmj.com."
    stats = compute_stats(CHAT, iter([msg("Ann", 6, text=text)]))
    assert stats.top_domains == [("nhs.uk", 2), ("bmj.com", 1)]


def test_domains_in_ignores_malformed_urls() -> None:
    assert domains_in("broken https://[::1 and https://ok.org/x") == ["ok.org"]


def test_activity_is_zero_filled_per_minute_through_the_grace_window() -> None:
    rows = [msg("Ann", 0.5), msg("Bob", 0.9), msg("Cat", 62, late=True)]
    stats = compute_stats(CHAT, iter(rows))
    activity = dict(stats.activity_per_minute)
    assert len(stats.activity_per_minute) == 90
    assert (activity[0], activity[1], activity[62]) == (2, 0, 1)


def test_activity_extends_to_messages_before_the_start() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", -2, K.COMMENT)]))
    assert stats.activity_per_minute[0] == (-2, 1)
    assert stats.activity_per_minute[1] == (-1, 0)


def test_median_first_answer_uses_each_participants_first_answer() -> None:
    rows = [msg("Ann", 6), msg("Ann", 6.5), msg("Bob", 8), msg("Cat", 9)]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.first_answer["1"] == timedelta(minutes=1)
    assert stats.median_first_answer["1"] == timedelta(minutes=3)
    assert stats.median_first_answer["2"] is None


def test_median_first_answer_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", 6), msg("Bob", 8)]))
    assert stats.median_first_answer["1"] == timedelta(minutes=2)


def test_median_first_answer_counts_from_the_recorded_post_time() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", 9)]), question_posted_at={"1": at(7)})
    assert stats.median_first_answer["1"] == timedelta(minutes=2)


def test_question_post_is_the_fallback_for_when_a_question_went_out() -> None:
    rows = [msg("Bot", 6, K.QUESTION, keys=("1",)), msg("Ann", 9)]
    stats = compute_stats(CHAT, iter(rows))
    assert stats.question_posted_at["1"] == at(6)
    assert stats.question_posted_at["2"] == at(15)  # scheduled
    assert stats.median_first_answer["1"] == timedelta(minutes=3)


def test_an_answer_before_its_question_went_out_counts_as_immediate() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", 4)]))
    assert stats.first_answer["1"] == timedelta(0)


def test_per_platform_counts_messages_sorted_by_platform() -> None:
    rows = [msg("Ann", 6), msg("Bob", 7, platform="discord"), msg("Cat", 8)]
    stats = compute_stats(CHAT, iter(rows))
    assert list(stats.per_platform.items()) == [("discord", 1), ("x", 2)]


def test_same_author_id_on_two_platforms_is_two_participants() -> None:
    stats = compute_stats(CHAT, iter([msg("Ann", 6), msg("Ann", 7, platform="discord")]))
    assert stats.participants == 2


def test_edits_count_edited_messages() -> None:
    rows = [
        msg("Ann", 6, edited_at=at(7)),
        msg("Bob", 7),
        msg("Cat", 8, edited_at=at(9), deleted_at=at(10)),
    ]
    assert compute_stats(CHAT, iter(rows)).edits == 1


def test_late_answers_count_late_answers() -> None:
    rows = [msg("Ann", 61, late=True), msg("Bob", 62, late=True, deleted_at=at(63)), msg("Cat", 8)]
    assert compute_stats(CHAT, iter(rows)).late_answers == 1


def test_busiest_question_has_most_answers_and_ties_go_to_the_earlier() -> None:
    rows = [msg("Ann", 16, keys=("2",)), msg("Bob", 21, keys=("2b",)), msg("Cat", 22, keys=("2b",))]
    assert compute_stats(CHAT, iter(rows)).busiest_question == "2b"
    tie = [msg("Ann", 16, keys=("2",)), msg("Bob", 21, keys=("2b",))]
    assert compute_stats(CHAT, iter(tie)).busiest_question == "2"


def test_reactions_are_summed() -> None:
    rows = [msg("Ann", 6, reactions=3), msg("Bob", 7, reactions=2)]
    assert compute_stats(CHAT, iter(rows)).reactions == 5


def test_stats_are_computed_from_a_single_pass_generator() -> None:
    consumed = []

    def rows():  # type: ignore[no-untyped-def]
        for i in range(50):
            consumed.append(i)
            yield msg(f"P{i % 7}", 6 + i / 10)

    stats = compute_stats(CHAT, rows())
    assert len(consumed) == 50
    assert stats.answers == 50
    assert stats.participants == 7


def test_to_dict_is_json_ready() -> None:
    rows = [msg("Bot", 5, K.QUESTION), msg("Ann", 6, text="https://a.org"), msg("Bob", 8)]
    data = compute_stats(CHAT, iter(rows)).to_dict()
    again = json.loads(json.dumps(data))
    assert again == data
    assert data["median_first_answer_seconds"] == {"1": 120.0, "2": None, "2b": None}
    assert data["question_posted_at"]["1"] == "2026-12-01T20:05:00+00:00"
    assert data["top_domains"] == [["a.org", 1]]


def test_an_opted_out_participants_links_and_mentions_are_not_counted() -> None:
    """Found by a tester: the only link to leak.example.com, posted by a participant who
    then opted out, stayed in "Most shared sites" (a personal domain points at them)."""
    rows = [
        msg("Olivia", 8, text="A1 see https://leak.example.com/me @Ann", mentions=("Ann",)),
        msg("Ann", 9, text="A1 our notes: https://www.nhs.uk/qi @Bob", mentions=("Bob",)),
        msg("Bob", 10, text="A1 agree, https://nhs.uk/x @Ann", mentions=("Ann",)),
    ]
    shown = compute_stats(CHAT, iter(rows))
    assert dict(shown.top_domains) == {"leak.example.com": 1, "nhs.uk": 2}
    assert dict(shown.most_mentioned) == {"Ann": 2, "Bob": 1}
    hidden = compute_stats(CHAT, iter(rows), opted_out=frozenset({"x:olivia"}))
    assert dict(hidden.top_domains) == {"nhs.uk": 2}
    assert dict(hidden.most_mentioned) == {"Ann": 1, "Bob": 1}
    assert hidden.messages == 3  # still counted, anonymously
