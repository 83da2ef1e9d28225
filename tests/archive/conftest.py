"""Fixtures shared by the archive's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.store import Store


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two empty archives on real files: one the test works on, the other its reference
    (the same export imported another way, or cleanly)."""
    a, b = Store(tmp_path / "a.sqlite"), Store(tmp_path / "b.sqlite")
    yield a, b
    a.close()
    b.close()
