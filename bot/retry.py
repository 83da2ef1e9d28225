"""Bounded retry with exponential back-off and full jitter, written once for every network call."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from scheduler.supervision import backoff_delay

logger = logging.getLogger(__name__)

T = TypeVar("T")


class GiveUp(Exception):
    """Raised by a call to say that retrying cannot help (bad credentials, no credit...)."""


class RetryError(Exception):
    """Every attempt failed; `__cause__` holds the last error."""


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 5,
    base: float = 0.5,
    cap: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    delay_hint: Callable[[BaseException], float | None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Call `fn` until it succeeds, at most `attempts` times.

    `delay_hint` may read a server-given wait (Retry-After, x-rate-limit-reset) from the error;
    it is honoured but still capped, so one bad header cannot stall a chat for hours.
    """
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except GiveUp:
            raise
        except retry_on as exc:
            last = exc
            if attempt == attempts:
                break
            delay = backoff_delay(attempt, base=base, cap=cap)
            if delay_hint is not None:
                hinted = delay_hint(exc)
                if hinted is not None:
                    delay = min(cap, max(0.0, hinted) + random.uniform(0, base))
            logger.warning(
                "%s failed (attempt %d of %d): %s; retrying in %.1fs",
                what,
                attempt,
                attempts,
                exc,
                delay,
            )
            await sleep(delay)
    raise RetryError(f"{what} failed after {attempts} attempts: {last}") from last
