"""XRPC calls with Bluesky's failure rules, shared by posting (`adapter`) and capture (`capture`).

One call (atproto's ``AsyncClient``) is retried with `bot.retry` while it fails in a way
that may pass: 429 (waiting for ``RateLimit-Reset`` or ``Retry-After``, capped), connection
errors and 5xx; a refusal (400, 401, another 4xx) gives up at once. Either way the caller
gets a `BlueskyPostError`, ``transient`` when the service kept failing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from atproto_client.exceptions import (
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.models.utils import get_model_as_dict

from bot.platforms.base import PostError
from bot.retry import GiveUp, RetryError, retry

T = TypeVar("T")


class BlueskyPostError(PostError, GiveUp):
    """A Bluesky call failed for good; retrying more cannot help."""


class Transient(Exception):
    """A failure worth retrying; `wait` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def plain(value: Any) -> Any:
    """A model from the SDK as plain JSON data (dicts pass through)."""
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    return get_model_as_dict(value)


def rate_wait(exc: RateLimitExceededError) -> float | None:
    """Seconds until the window resets (``RateLimit-Reset``), or ``Retry-After``."""
    if exc.retry_after is not None:
        return exc.retry_after
    reset = exc.reset_at
    return None if reset is None else max(0.0, reset.timestamp() - time.time())


async def call(
    what: str,
    request: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    backoff: float,
    cap: float,
    handle: str,
    password_env: str,
) -> T:
    """Make `request` (what it does: `what`, for messages) at most `attempts` times, with
    back-off from `backoff` seconds up to `cap`; `handle` and `password_env` name the account
    and its app password's variable when Bluesky refuses the credentials. Raises
    `BlueskyPostError` (``transient`` when every attempt failed in a way that may pass)."""

    async def once() -> T:
        try:
            return await request()
        except RateLimitExceededError as exc:
            raise Transient("rate limited by Bluesky (429)", rate_wait(exc)) from exc
        except UnauthorizedError as exc:
            raise BlueskyPostError(
                f"Bluesky refused the credentials while {what} ({exc}); check the app "
                f"password in {password_env} for @{handle}"
            ) from exc
        except BadRequestError as exc:
            raise BlueskyPostError(f"Bluesky refused {what}: {exc}") from exc
        except NetworkError as exc:
            raise Transient(f"connection to Bluesky failed: {exc!r}") from exc
        except RequestException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500:
                raise Transient(f"Bluesky server error: {exc}") from exc
            raise BlueskyPostError(f"Bluesky refused {what}: {exc}") from exc

    try:
        return await retry(
            once,
            what=f"bluesky: {what}",
            attempts=attempts,
            base=backoff,
            cap=cap,
            retry_on=(Transient,),
            delay_hint=lambda exc: exc.wait if isinstance(exc, Transient) else None,
        )
    except RetryError as exc:
        # The service kept failing (5xx, connection, rate limit): it may pass, so the
        # facilitator keeps the intent and the runner tries the step again later.
        raise BlueskyPostError(
            f"{what} failed after {attempts} attempts: {exc.__cause__}", transient=True
        ) from exc
