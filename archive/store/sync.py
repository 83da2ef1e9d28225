"""`Store`: the synchronous store, every table family on one connection."""

from __future__ import annotations

from archive.store.chats import ChatTables
from archive.store.engagement import EngagementTable
from archive.store.groups import GroupTables
from archive.store.ledger import PostLedger
from archive.store.messages import MessageTables
from archive.store.participants import Participants
from archive.store.queries import WebQueries
from archive.store.state import StateTable


class Store(
    GroupTables,
    ChatTables,
    PostLedger,
    MessageTables,
    Participants,
    StateTable,
    WebQueries,
    EngagementTable,
):
    """Synchronous access to the archive database through one connection.

    ``Store(path, now=...)`` opens (creating and migrating) the file for reading and writing;
    ``Store.open_readonly(path)`` opens it read-only. Not thread-safe: use an instance from
    one thread at a time; in the running bot, ``AsyncStore`` owns the instances.
    """
