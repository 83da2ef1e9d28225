"""The `adapter` fixture: every contract test runs once per network, each through its harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes import conftest as fake_fixtures
from tests.fakes.conftest import ErrorLogCatcher
from tests.platforms.harness import HARNESSES, Harness

no_error_logs = fake_fixtures.no_error_logs  # fail on ERROR records


@pytest.fixture(params=list(HARNESSES))
async def adapter(
    request: pytest.FixtureRequest, tmp_path: Path, no_error_logs: ErrorLogCatcher
) -> AsyncIterator[Harness]:
    """A started adapter against its network's fake, with a store and a recording sink."""
    async with HARNESSES[request.param](tmp_path) as harness:
        yield harness
