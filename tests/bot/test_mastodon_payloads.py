"""Pure Mastodon conversions: stream events, Status entities, instance settings, keys."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.platforms.mastodon.payloads import (
    idempotency_key,
    max_characters,
    snowflake_at,
    status_message,
    streaming_base,
)
from bot.platforms.mastodon.stream import HEARTBEAT, EventParser, StreamEvent

STATUS = {
    "id": "111",
    "created_at": "2026-01-08T20:01:02.000Z",
    "edited_at": None,
    "account": {"id": "7", "username": "ann", "acct": "ann", "display_name": ""},
    "content": "<p>A1: yes <a href='https://x.example/tags/wedocs' class='mention hashtag'>#<span>WeDocs</span></a></p>",
    "spoiler_text": "",
    "in_reply_to_id": "100",
    "url": "https://x.example/@ann/111",
    "mentions": [{"id": "1", "acct": "bot"}],
    "reblog": None,
    "visibility": "public",
}


def test_the_parser_yields_events_and_heartbeats() -> None:
    parser = EventParser()
    lines = [
        ":)",
        "event: update",
        'data: {"id": "1"}',
        "",
        ":thump",
        "event: delete",
        "data: 5",
        "",
    ]
    out = [e for e in map(parser.feed, lines) if e is not None]
    assert out == [
        HEARTBEAT,
        StreamEvent("update", '{"id": "1"}'),
        HEARTBEAT,
        StreamEvent("delete", "5"),
    ]


def test_a_status_becomes_a_neutral_message() -> None:
    msg = status_message(STATUS, bot_id="1", domain="x.example")
    assert (msg.platform, msg.platform_id, msg.channel) == ("mastodon", "111", "")
    assert msg.author_handle == "ann@x.example" and msg.author_name == "ann"
    assert msg.text == "A1: yes #WeDocs" and msg.reply_to == "100"
    assert msg.created_at == datetime(2026, 1, 8, 20, 1, 2, tzinfo=UTC)
    assert msg.mentions == ("bot",) and not msg.is_bot and msg.permalink.endswith("/111")


def test_mastodon_py_datetimes_and_content_warnings() -> None:
    status = STATUS | {
        "created_at": datetime(2026, 1, 8, 20, 1, 2, tzinfo=UTC),
        "edited_at": datetime(2026, 1, 8, 20, 5, tzinfo=UTC),
        "spoiler_text": "CW: health",
        "account": STATUS["account"] | {"id": "1"},
    }
    msg = status_message(status, bot_id="1", domain="x.example")
    assert msg.is_bot and msg.edited_at == datetime(2026, 1, 8, 20, 5, tzinfo=UTC)
    assert msg.text == "CW: health\n\nA1: yes #WeDocs"
    assert msg.raw["created_at"] == "2026-01-08T20:01:02+00:00"  # JSON-ready


def test_instance_settings() -> None:
    instance = {
        "configuration": {
            "urls": {"streaming": "wss://streaming.x.example"},
            "statuses": {"max_characters": 1000},
        }
    }
    assert max_characters(instance) == 1000
    assert max_characters({}) is None
    assert streaming_base(instance, "https://x.example") == "https://streaming.x.example"
    assert streaming_base({}, "https://x.example/") == "https://x.example"


@given(st.text(), st.text(), st.text())
def test_idempotency_keys_are_stable_and_distinct(chat: str, action: str, target: str) -> None:
    key = idempotency_key(chat, action, target)
    assert key == idempotency_key(chat, action, target)
    assert key != idempotency_key(chat + "x", action, target)
    assert len(key) <= 64 and key.isascii()


def test_snowflake_floor_orders_with_real_ids() -> None:
    at = datetime(2026, 1, 8, 20, tzinfo=UTC)
    assert int(snowflake_at(at)) >> 16 == int(at.timestamp() * 1000)
