"""Clocks: the real one, and a scaled one that compresses a chat's time for the demo and tests.

Chat time is what the archive records (a 60-minute chat from 20:00 to 21:00); real time is
when the runner fires. With `ScaledClock(speed=120)` one chat minute passes in half a second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current chat-time instant (aware, UTC)."""
        ...

    def to_real(self, at: datetime) -> datetime:
        """The real instant at which chat-time `at` happens."""
        ...

    def seconds_until(self, at: datetime) -> float:
        """Real seconds until chat-time `at` (negative when past)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_real(self, at: datetime) -> datetime:
        return at

    def seconds_until(self, at: datetime) -> float:
        return (at - datetime.now(UTC)).total_seconds()


class ScaledClock:
    """Chat time starts at `origin` now and runs `speed` times faster than real time."""

    def __init__(self, origin: datetime, speed: float) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.origin = origin.astimezone(UTC)
        self.speed = speed
        self._real0 = datetime.now(UTC)
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._mono0
        return self.origin + timedelta(seconds=elapsed * self.speed)

    def to_real(self, at: datetime) -> datetime:
        return self._real0 + (at - self.origin) / self.speed

    def seconds_until(self, at: datetime) -> float:
        return (at - self.now()).total_seconds() / self.speed
