"""Long-lived tasks that survive their own errors: supervised, with back-off and an alert.

Every task that runs for the bot's whole life (platform pollers and streams, the runner's
refresh) runs under `supervise`: an unexpected error is logged as one clear line (the
traceback at DEBUG), the task restarts after a back-off with jitter, and a task that keeps
failing alerts the hosts once per streak. Written once here (the errbot habit) and used by
every layer above.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

ALERT_AFTER = 5
"""Failures in a row after which the hosts are alerted (once per streak)."""

HEALTHY_AFTER = 60.0
"""Seconds a task must run without failing before a later failure starts a new streak."""


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Full-jitter delay before retry `attempt` (1-based): uniform in [0, min(cap, base * 2**n)]."""
    r = rng or random
    return r.uniform(0, min(cap, base * (2 ** (attempt - 1))))


def one_line(exc: BaseException) -> str:
    """``OSError: [Errno 28] No space left on device``: the error as one readable line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def supervise(
    work: Callable[[], Awaitable[None]],
    *,
    name: str,
    stop: asyncio.Event,
    alert: Callable[[str], Awaitable[None]] | None = None,
    base: float = 1.0,
    cap: float = 60.0,
    alert_after: int = ALERT_AFTER,
    failing: dict[str, str] | None = None,
) -> None:
    """Run ``work()`` until ``stop`` is set, restarting it whenever it returns or raises.

    ``failing``, when given, holds ``failing[name]`` = the last error while the task waits to
    restart after a failure, and loses the entry when it runs again (health checks read it).

    A failure is logged as one WARNING line naming the task and the error; back-off grows
    with each failure in a row (full jitter, at most ``cap`` seconds). After ``alert_after``
    failures in a row, one ERROR line, and ``alert(message)`` is awaited (its own errors are
    logged, never raised). A run longer than `HEALTHY_AFTER` seconds ends a streak; the first
    success after alerting is logged as recovered. Cancelling the task cancels ``work``.
    """
    failures = 0
    alerted = False
    while not stop.is_set():
        started = time.monotonic()
        if failing is not None:
            failing.pop(name, None)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - started > HEALTHY_AFTER:
                failures, alerted = 0, False
            failures += 1
            delay = backoff_delay(failures, base=base, cap=cap)
            logger.debug("%s failed", name, exc_info=True)
            if failing is not None:
                failing[name] = one_line(exc)
            if failures == alert_after and not alerted:
                alerted = True
                message = f"{name} has failed {failures} times in a row: {one_line(exc)}"
                logger.error("%s; still retrying", message)
                if alert is not None:
                    try:
                        await alert(message)
                    except Exception as alert_exc:
                        logger.warning("alerting the hosts failed: %s", one_line(alert_exc))
            elif failures < alert_after:
                logger.warning("%s failed: %s; restarting in %.1fs", name, one_line(exc), delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            continue
        if alerted:
            logger.warning("%s recovered", name)
        failures, alerted = 0, False
