"""The stored Unicode class bodies: what this Python's unicodedata computes, used only for
the Unicode version they were generated for."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

import archive
from archive import _unicode_data, unicode_classes


def test_the_stored_tables_are_what_this_python_computes() -> None:
    # Under another Unicode version the tables are not used (the next test); under theirs
    # they must be exactly what unicodedata gives (after an upgrade of the project's Python,
    # run `python -m archive.unicode_classes` to store the new version's).
    if _unicode_data.UNICODE_VERSION != unicodedata.unidata_version:
        pytest.skip(
            f"tables stored for Unicode {_unicode_data.UNICODE_VERSION}, "
            f"this Python has {unicodedata.unidata_version}"
        )
    assert _unicode_data.COMBINING_MARKS == unicode_classes.compute_combining_marks()
    assert _unicode_data.DROPPED == unicode_classes.compute_dropped()
    stored = Path(archive.__file__).with_name("_unicode_data.py").read_text(encoding="utf-8")
    assert stored == unicode_classes.render_data()


def test_the_stored_tables_are_used_only_for_their_unicode_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_unicode_data, "COMBINING_MARKS", "a-c")
    monkeypatch.setattr(_unicode_data, "DROPPED", "x-z")
    assert unicode_classes.combining_marks() == "a-c"
    assert unicode_classes.dropped() == "x-z"
    monkeypatch.setattr(_unicode_data, "UNICODE_VERSION", "1.1.0")
    assert unicode_classes.combining_marks() == unicode_classes.compute_combining_marks()
    assert unicode_classes.dropped() == unicode_classes.compute_dropped()
