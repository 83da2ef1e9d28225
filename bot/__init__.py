"""Top floor: the running program (config, CLI, app wiring, platform adapters)."""

from __future__ import annotations


def version() -> str:
    """The installed package's version (``0.1.0``), or ``unknown`` when run from a bare tree."""
    from importlib import metadata  # on demand: importing it costs a short command ~40 ms

    try:
        return metadata.version("tweetchat")
    except metadata.PackageNotFoundError:
        return "unknown"
