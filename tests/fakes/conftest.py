"""Fixtures for tests that run the real discord.py client against the fake Discord server.

Other test packages can reuse them with ``from tests.fakes.conftest import no_error_logs,
fake_discord  # noqa: F401`` in their own conftest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.discord_server import FakeDiscord


class ErrorLogCatcher(logging.Handler):
    """Collects ERROR (and worse) log records; some can be allowed by logger name pattern."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._allowed: list[re.Pattern[str]] = []

    def allow(self, logger_pattern: str) -> None:
        """Tolerate ERROR records from loggers whose name matches this regex (e.g. outages)."""
        self._allowed.append(re.compile(logger_pattern))

    def emit(self, record: logging.LogRecord) -> None:
        if not any(p.match(record.name) for p in self._allowed):
            self.records.append(record)

    def report(self) -> str:
        return "\n".join(
            f"{r.name}: {r.getMessage()}" + (f"\n{self.format(r)}" if r.exc_info else "")
            for r in self.records
        )


@pytest.fixture
def no_error_logs() -> Iterator[ErrorLogCatcher]:
    """Fail the test if anything logs at ERROR: discord.py logs some failures instead of raising."""
    catcher = ErrorLogCatcher()
    catcher.setFormatter(logging.Formatter())
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)
    if catcher.records:
        pytest.fail(f"ERROR records were logged:\n{catcher.report()}")


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running fake Discord server with discord.py pointed at it."""
    async with FakeDiscord() as fake:
        yield fake
