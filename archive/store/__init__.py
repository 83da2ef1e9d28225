"""The SQLite store: the only source of truth for chats, posts and captured messages.

The package is split by table family; ``Store`` is all of them on one connection:

- ``connection``: ``Connection`` (one connection, explicit transactions, snapshots), the
  time format (``iso`` / ``parse_iso``) and the clock type ``Now``.
- ``errors``: ``StoreError``, ``NotFoundError``, ``DuplicateChatError``, ``ArchiveBusyError``,
  ``ArchiveUnavailableError``.
- ``chats``: chats and their questions, host controls, recorded transcripts.
- ``ledger``: the post ledger (intent -> sent / failed / skipped).
- ``messages``: captured messages and their full-text search index.
- ``participants``: opt-outs and participation history.
- ``groups``: stakeholder-group declarations, the roster, the configured groups.
- ``state``: cursors and other small state that survives restarts.
- ``queries``: the web archive's read queries.
- ``sync``: ``Store``, the synchronous store (one thread at a time).
- ``aio``: ``AsyncStore`` for the event loop: one writer thread owning the read-write
  connection, and a ``ReadPool`` of read-only connections that the web archive shares.

Every timestamp the store itself writes (a chat's creation, a post's intent, a message's
capture, an opt-out) comes from the ``now`` clock given to it, never from the system.
"""

from typing import TYPE_CHECKING, Any

from archive.store.connection import Now, iso, parse_iso, system_now
from archive.store.errors import (
    ArchiveBusyError,
    ArchiveUnavailableError,
    DuplicateChatError,
    NotFoundError,
    StoreError,
)
from archive.store.participants import participant_key
from archive.store.sync import Store

if TYPE_CHECKING:
    from archive.store.aio import AsyncStore, ReadPool


def __getattr__(name: str) -> Any:
    # The async store (asyncio, thread pools) is imported when first asked for: a short
    # command (`tweetchat transcript`) needs only the synchronous one.
    if name in ("AsyncStore", "ReadPool"):
        from archive.store import aio

        return getattr(aio, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArchiveBusyError",
    "ArchiveUnavailableError",
    "AsyncStore",
    "DuplicateChatError",
    "NotFoundError",
    "Now",
    "ReadPool",
    "Store",
    "StoreError",
    "iso",
    "parse_iso",
    "participant_key",
    "system_now",
]
