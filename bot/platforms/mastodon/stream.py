"""The server-sent events of Mastodon's streaming API (docs.joinmastodon.org/methods/streaming/),
parsed line by line: ``event: update`` / ``status.update`` / ``delete`` with a ``data:`` line,
a blank line ending each event, and ``:`` comment lines as heartbeats.

Pure: the adapter feeds the lines it reads (aiohttp, off nothing: the stream is asynchronous)
and acts on what comes out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event: its name (``update``...) and its data (JSON of a Status, or a status id)."""

    event: str
    data: str


HEARTBEAT = StreamEvent("heartbeat", "")


class EventParser:
    """Feed lines (without their line ending); get events back as they complete."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> StreamEvent | None:
        """The event this line completes, `HEARTBEAT` for a comment line, else None."""
        if not line:
            if not self._data and not self._event:
                return None
            event = StreamEvent(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return HEARTBEAT
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None
