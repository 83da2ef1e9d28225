"""supervise(): a long-lived task that fails restarts with back-off, says so in one line, and
alerts the hosts once when it keeps failing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scheduler.supervision import supervise


async def test_a_failing_task_restarts_alerts_once_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler.supervision")
    stop = asyncio.Event()
    runs: list[int] = []
    alerts: list[str] = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) <= 7:
            raise OSError(28, "No space left on device")
        if len(runs) == 8:
            return  # a clean run: the streak is over
        stop.set()

    async def alert(message: str) -> None:
        alerts.append(message)

    await asyncio.wait_for(
        supervise(work, name="local: capture", stop=stop, alert=alert, base=0.001, cap=0.01),
        timeout=10,
    )
    assert len(runs) == 9
    assert alerts == [
        "local: capture has failed 5 times in a row: OSError: [Errno 28] No space left on device"
    ]
    lines = [r.getMessage() for r in caplog.records]
    warnings = [m for m in lines if m.startswith("local: capture failed: OSError")]
    assert len(warnings) == 4  # then the alert line; failures 6 and 7 say nothing more
    assert sum("still retrying" in m for m in lines) == 1
    assert "local: capture recovered" in lines
    assert all("Traceback" not in m for m in lines)


async def test_an_alert_that_fails_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    count = 0

    async def work() -> None:
        nonlocal count
        count += 1
        if count > 3:
            stop.set()
            return
        raise RuntimeError("boom")

    async def alert(message: str) -> None:
        raise ConnectionError("the network is down too")

    await supervise(work, name="x", stop=stop, alert=alert, base=0.001, cap=0.01, alert_after=2)
    assert "alerting the hosts failed: ConnectionError: the network is down too" in caplog.text


async def test_stopping_ends_the_supervisor_between_runs() -> None:
    stop = asyncio.Event()

    async def work() -> None:
        stop.set()
        raise RuntimeError("failed just as we stopped")

    await asyncio.wait_for(supervise(work, name="t", stop=stop, base=5, cap=5), timeout=2)
