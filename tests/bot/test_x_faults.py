"""X's faults as the real service answers them (issue 13, item 6): the 429 is text/plain
"Rate limit exceeded" with ``x-rate-limit-reset`` in whole epoch seconds, 402 is the
pay-per-use CreditsDepleted problem, 401/403 refuse. Errors are classified by status code
whatever the content type, waits are rounded up, a search is rebuilt from the store after a
wait, and a refused post reaches the hosts on the chat's other networks and `show`."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.models import Target
from archive.store import AsyncStore
from bot.cli import main as cli_main
from bot.facilitator import Facilitator
from bot.platforms.local.adapter import ALERT_PREFIX, LocalNetwork, LocalPlatform, LocalUser
from bot.platforms.x.adapter import XPlatform, XPostError, reset_wait
from tests.bot import test_x_platform as xp
from tests.bot.helpers import until
from tests.fakes.conftest import ErrorLogCatcher
from tests.fakes.x_server import RATE_LIMITED, FakeX

fake, store, x, no_error_logs = xp.fake, xp.store, xp.x, xp.no_error_logs
POST, SEARCH, ALICE = xp.POST, xp.SEARCH, xp.ALICE


def test_a_reset_in_whole_seconds_is_waited_until_the_second_after_it() -> None:
    headers = {"x-rate-limit-reset": "1000"}
    assert reset_wait(headers, now=998.7) == 3.0  # never early: the reset second may be late
    assert reset_wait(headers, now=1000.0) == 1.0
    assert reset_wait(headers, now=1005.0) == 0.0
    assert reset_wait({}, now=1000.0) is None


async def test_x_s_plain_text_429_on_a_post_waits_for_the_reset_then_posts(
    fake: FakeX, x: XPlatform
) -> None:
    reset = int(time.time()) + 2
    fake.fail_next(
        POST, 429, headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}
    )

    sent = await x.send("", "Q1: anything? #WeDocs")

    assert time.time() >= reset  # rounded up: never a fraction of a second early
    assert [r.status for r in fake.requests_to(POST, "POST")] == [429, 201]
    assert [t.id for t in fake.posts_by_host()] == [sent.platform_message_id]


async def test_a_plain_text_429_on_search_is_waited_out_once_not_hammered(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await xp.with_chat(store, x)
    fake.add_tweet(ALICE, "Hello #WeDocs")
    reset = int(time.time()) + 2
    fake.fail_next(SEARCH, 429, headers={"x-rate-limit-reset": str(reset)}, body=RATE_LIMITED)

    assert await x.poll_once() == 1

    assert time.time() >= reset
    assert [r.status for r in fake.requests_to(SEARCH)] == [429, 200]


async def test_the_rate_limit_headers_of_an_error_answer_pause_polling(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await xp.with_chat(store, x)
    reset = int(time.time()) + 600
    fake.fail_next(
        SEARCH,
        429,
        times=10,
        headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )
    x.rate_wait_cap = 0.05  # the adapter's own wait, capped short for the test

    with pytest.raises(XPostError):
        await x.poll_once()

    # The next poll waits for the reset X gave with the 429 (capped), not the poll interval.
    x.rate_wait_cap = 900.0
    assert x._poll_delay() > 500


async def test_a_search_retried_after_a_wait_is_rebuilt_from_the_store(
    fake: FakeX, store: AsyncStore, x: XPlatform
) -> None:
    await xp.with_chat(store, x)
    chat = await store.get_chat("wedocs")
    reset = int(time.time()) + 2
    fake.fail_next(SEARCH, 429, headers={"x-rate-limit-reset": str(reset)})
    polling = asyncio.create_task(x.poll_once())
    await until("the rate-limited search", lambda: fake.requests_to(SEARCH), within=10)

    # While the search waits for the reset, Q1 goes out, and Alice replies without the tag.
    q1 = await x.send("", "Q1: How do you involve patients? #WeDocs")
    await store.record_intent(chat.id, "q1", "x", "", "Q1: How do you involve patients? #WeDocs")
    await store.mark_sent(chat.id, "q1", "x", "", q1.platform_message_id, q1.posted_at)
    fake.add_tweet(ALICE, "We ask them first", reply_to=q1.platform_message_id)

    await asyncio.wait_for(polling, timeout=30)

    first, second = fake.requests_to(SEARCH)
    assert f"conversation_id:{q1.platform_message_id}" not in first.query["query"]
    assert f"conversation_id:{q1.platform_message_id}" in second.query["query"]
    texts = await store.read(lambda s: [r[0] for r in s.conn.execute("SELECT text FROM messages")])
    assert "We ask them first" in texts


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (401, None, "", "X rejected the credentials"),
        (401, "Unauthorized", "text/plain", "X rejected the credentials"),
        (402, None, "", "X credits are exhausted"),
        (402, "Payment Required", "text/plain", "X credits are exhausted"),
        (403, None, "", "X refused posting (403 forbidden)"),
        (403, "<html>Forbidden</html>", "text/html", "X refused posting (403 forbidden)"),
    ],
)
async def test_refusals_are_classified_by_status_code_whatever_the_content_type(
    fake: FakeX, x: XPlatform, status: int, body: str | None, content_type: str, expected: str
) -> None:
    fake.fail_next(POST, status, body=body, content_type=content_type, method="POST")

    with pytest.raises(XPostError, match=re.escape(expected)) as raised:
        await x.send("", "Q1: anything? #WeDocs")

    assert not raised.value.transient  # a refusal: told to the hosts, not retried
    assert len(fake.requests_to(POST, "POST")) == 1


async def test_a_server_error_page_is_retried_and_running_out_of_tries_is_transient(
    fake: FakeX, x: XPlatform
) -> None:
    fake.fail_next(POST, 503, times=2, body="<html>Over capacity</html>", method="POST")
    await x.send("", "Q1: anything? #WeDocs")
    assert [r.status for r in fake.requests_to(POST, "POST")] == [503, 503, 201]

    fake.fail_next(POST, 503, times=10, method="POST")
    with pytest.raises(XPostError) as raised:
        await x.send("", "Q2: anything? #WeDocs")
    assert raised.value.transient  # the runner tries the step again later


async def test_a_post_refused_by_x_reaches_the_hosts_on_the_local_network_and_show(
    fake: FakeX,
    store: AsyncStore,
    x: XPlatform,
    tmp_path: Path,
    no_error_logs: ErrorLogCatcher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_error_logs.allow(r"bot\.facilitator$")  # the refusal is logged at ERROR by design
    local = LocalPlatform(tmp_path / "net.sqlite", poll_interval=0.02)
    chat = xp.live_chat(targets=(Target("x"), Target("local", "main")))
    await store.add_chat(chat)
    facilitator = Facilitator(store, {"x": x, "local": local}, publisher=xp.no_publish)
    await local.start()
    try:
        fake.fail_next(POST, 402, method="POST")
        for target in chat.targets:
            await facilitator.post(chat, "q1", target, "Q1: How do you involve patients? #WeDocs")
        net = LocalNetwork(tmp_path / "net.sqlite")
        try:
            net.post(
                "main", LocalUser("p1", "Ann", "ann"), "A1: after #WeDocs", at=datetime.now(UTC)
            )
            alerts = [r["text"] for r in net.messages("main") if r["text"].startswith(ALERT_PREFIX)]
        finally:
            net.close()

        async def texts() -> list[str]:
            return await store.read(
                lambda s: [r[0] for r in s.conn.execute("SELECT text FROM messages")]
            )

        for _ in range(200):
            if "A1: after #WeDocs" in await texts():
                break
            await asyncio.sleep(0.05)
    finally:
        await local.stop()

    assert len(alerts) == 1
    assert "q1 on x" in alerts[0] and "X credits are exhausted" in alerts[0]
    captured = await texts()
    assert "A1: after #WeDocs" in captured
    assert not [t for t in captured if t.startswith(ALERT_PREFIX)]  # alerts are not captured

    config = tmp_path / "config.toml"
    config.write_text(f'database = "{tmp_path / "tweetchat.db"}"\n', encoding="utf-8")
    await store.aclose()
    assert cli_main(["--config", str(config), "show", chat.id]) == 0
    shown = capsys.readouterr().out
    # Q1 went out on the local network, not on X, and show says why.
    (q1,) = [line for line in shown.splitlines() if line.strip().split()[1:2] == ["Q1"]]
    assert "partly posted" in q1
    assert "(x: X credits are exhausted: posting was refused (402)" in q1
