"""`AsyncStore`: the store for the event loop. Writes go through one writer thread that owns
the only read-write connection; reads go through a small pool of read-only connections,
each on its own thread (the datasette habit: ``execute_write_fn`` / ``execute_fn``)."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from archive.models import CapturedMessage, Chat, ChatStatus, Post
from archive.store.connection import Now, system_now
from archive.store.messages import Raw
from archive.store.sync import Store

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

READERS = 4


class ReadPool:
    """Read-only stores, one per thread of a small pool; each call runs on one of them.

    Every connection is opened read-only (``mode=ro``, ``query_only``): in WAL mode the
    readers never block the writer nor each other, and each read sees the last committed
    state. The database must exist and be migrated (``Store(path)`` does both).
    """

    def __init__(self, path: Path | str, *, size: int = READERS, now: Now = system_now) -> None:
        """A pool of at most ``size`` reader threads on the database at ``path``; the
        connections are opened lazily, on first use by each thread."""
        if str(path) == ":memory:":
            raise ValueError("a read pool needs a database file, not :memory:")
        self.path = Path(path)
        self.size = size
        self._now = now
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="store-read")
        self._local = threading.local()
        self._stores: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_readonly(self.path, now=self._now)
            self._local.store = store
            with self._lock:
                self._stores.append(store)
        return store

    def _call(
        self, fn: Callable[Concatenate[Store, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        return fn(self._store(), *args, **kwargs)

    async def run(
        self, fn: Callable[Concatenate[Store, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(store, *args, **kwargs)`` on a reader thread, with that thread's read-only
        store. Whatever ``fn`` raises is raised here; a write raises
        ``sqlite3.OperationalError`` (attempt to write a readonly database)."""
        loop = asyncio.get_running_loop()
        call = functools.partial(self._call, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    @property
    def connections(self) -> int:
        """How many reader connections are open."""
        with self._lock:
            return len(self._stores)

    def close(self) -> None:
        """Finish the reads in progress, then close every connection. Blocks."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        with self._lock:
            for store in self._stores:
                store.close()
            self._stores.clear()


class AsyncStore:
    """The store for async code: every call is awaited, none blocks the event loop.

    Writes run on ONE writer thread that owns the read-write connection, so write
    transactions never contend and run in the order they were awaited; reads run on a
    :class:`ReadPool` of read-only connections, concurrently. A read awaited after a write
    sees it (the write committed before its await returned). The named methods below are
    the typed API; :meth:`read` and :meth:`write` run any function of a ``Store``.
    """

    def __init__(self, path: Path | str, *, now: Now = system_now, readers: int = READERS) -> None:
        """Open (creating and migrating) the database file at ``path``. ``now`` is the
        clock of the timestamps the store writes (aware UTC); ``readers`` the size of the
        read pool. Blocks while the file is opened and migrated."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-write")
        self.now = now
        # The connection is made on the writer thread, the only thread that uses it.
        self._store: Store | None = self._executor.submit(Store, path, now=now).result()
        self.reads = ReadPool(path, size=readers, now=now)

    @property
    def sync(self) -> Store:
        """The writer's store, for code already running on the writer thread."""
        assert self._store is not None, "the store is closed"
        return self._store

    # ---- the two calls everything goes through -------------------------------------------

    async def write(
        self, fn: Callable[Concatenate[Store, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(store, *args, **kwargs)`` on the writer thread, with the read-write store;
        calls run one at a time, in order. Whatever ``fn`` raises is raised here."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, self.sync, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)

    async def read(
        self, fn: Callable[Concatenate[Store, P], R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``fn(store, *args, **kwargs)`` on a reader thread, with a read-only store (a
        write raises ``sqlite3.OperationalError``). Whatever ``fn`` raises is raised here."""
        return await self.reads.run(fn, *args, **kwargs)

    # ---- chats --------------------------------------------------------------------------

    async def add_chat(
        self,
        chat: Chat,
        *,
        reminders: Sequence[timedelta] = (),
        source: str = "",
        replace_existing: bool = False,
    ) -> Chat:
        """See :meth:`Store.add_chat`. Raises DuplicateChatError."""
        return await self.write(
            Store.add_chat,
            chat,
            reminders=reminders,
            source=source,
            replace_existing=replace_existing,
        )

    async def get_chat(self, chat_id: str) -> Chat:
        """Raises NotFoundError."""
        return await self.read(Store.get_chat, chat_id)

    async def list_chats(
        self, statuses: Iterable[ChatStatus] | None = None, *, imported: bool = True
    ) -> list[Chat]:
        """Every chat (or those with one of ``statuses``), by start time then id; see
        ``Store.list_chats`` for ``imported``."""
        return await self.read(Store.list_chats, statuses, imported=imported)

    async def chat_reminders(self, chat_id: str) -> tuple[timedelta, ...]:
        """Raises NotFoundError."""
        return await self.read(Store.chat_reminders, chat_id)

    async def set_status(self, chat_id: str, status: ChatStatus) -> None:
        """Raises NotFoundError."""
        await self.write(Store.set_status, chat_id, status)

    async def mark_published(self, chat_id: str) -> None:
        """:meth:`Store.mark_published`: an ended chat published, as bookkeeping."""
        await self.write(Store.mark_published, chat_id)

    async def record_control(
        self, chat_id: str, at: datetime, kind: str, detail: str, by: str
    ) -> None:
        await self.write(Store.record_control, chat_id, at, kind, detail, by)

    async def controls(self, chat_id: str) -> list[tuple[datetime, str, str, str]]:
        """(at, kind, detail, by) of the chat's controls, in the order they were made."""
        return await self.read(Store.controls, chat_id)

    async def transcripts(self, chat_id: str) -> dict[str, Path]:
        """format -> file of the chat's recorded transcripts."""
        return await self.read(Store.transcripts, chat_id)

    # ---- the post ledger ----------------------------------------------------------------

    async def record_intent(
        self, chat_id: str, action_key: str, platform: str, channel: str, text: str
    ) -> Post | None:
        """See :meth:`Store.record_intent`: None when the action was already handled."""
        return await self.write(Store.record_intent, chat_id, action_key, platform, channel, text)

    async def mark_sent(
        self,
        chat_id: str,
        action_key: str,
        platform: str,
        channel: str,
        platform_message_id: str,
        posted_at: datetime,
    ) -> None:
        await self.write(
            Store.mark_sent, chat_id, action_key, platform, channel, platform_message_id, posted_at
        )

    async def mark_failed(
        self, chat_id: str, action_key: str, platform: str, channel: str, error: str
    ) -> None:
        await self.write(Store.mark_failed, chat_id, action_key, platform, channel, error)

    async def note_post_error(
        self, chat_id: str, action_key: str, platform: str, channel: str, error: str
    ) -> None:
        await self.write(Store.note_post_error, chat_id, action_key, platform, channel, error)

    async def mark_skipped(
        self, chat_id: str, action_key: str, platform: str, channel: str, reason: str
    ) -> None:
        await self.write(Store.mark_skipped, chat_id, action_key, platform, channel, reason)

    async def plan_posts(
        self,
        chat_id: str,
        action_key: str,
        platform: str,
        channel: str,
        parts: list[str],
        *,
        thread: bool,
    ) -> list[tuple[int, str]]:
        """See :meth:`Store.plan_posts`: the plan that stands (the first recorded wins)."""
        return await self.write(
            Store.plan_posts, chat_id, action_key, platform, channel, parts, thread=thread
        )

    async def post_plan(
        self, chat_id: str, action_key: str, platform: str, channel: str
    ) -> list[tuple[int, str]]:
        """See :meth:`Store.post_plan`: ``(number, text)`` in order, ``[]`` when none."""
        return await self.read(Store.post_plan, chat_id, action_key, platform, channel)

    async def chats_with_intents(self) -> list[str]:
        """Ids of the chats that have a post still at ``intent`` (half-done)."""
        return await self.read(Store.chats_with_intents)

    async def posts(self, chat_id: str) -> list[Post]:
        """The chat's ledger rows, in the order they were intended."""
        return await self.read(Store.posts, chat_id)

    # ---- messages -----------------------------------------------------------------------

    async def follow_up_posts(self, chat_id: str) -> list[tuple[str, tuple[str, ...]]]:
        """See :meth:`Store.follow_up_posts`."""
        return await self.read(Store.follow_up_posts, chat_id)

    async def save_messages(
        self, messages: Iterable[CapturedMessage], raws: Iterable[Raw] | None = None
    ) -> int:
        """See :meth:`Store.save_messages`: rows written, in one transaction."""
        return await self.write(Store.save_messages, messages, raws)

    async def mark_deleted(self, platform: str, platform_id: str, at: datetime) -> bool:
        """Whether the message was known."""
        return await self.write(Store.mark_deleted, platform, platform_id, at)

    async def edit_message(
        self, platform: str, platform_id: str, text: str, edited_at: datetime
    ) -> str | None:
        """The message's chat id, if it is stored."""
        return await self.write(Store.edit_message, platform, platform_id, text, edited_at)

    async def add_reactions(self, platform: str, platform_id: str, delta: int) -> None:
        await self.write(Store.add_reactions, platform, platform_id, delta)

    async def message_chat(self, platform: str, platform_id: str) -> str | None:
        """The id of the chat a stored message belongs to, if it is stored."""
        return await self.read(Store.message_chat, platform, platform_id)

    async def messages(
        self, chat_id: str, *, include_deleted: bool = True
    ) -> list[CapturedMessage]:
        """The chat's messages in time order."""
        return await self.read(Store.messages, chat_id, include_deleted=include_deleted)

    async def message_ids(self, chat_id: str, platform: str) -> list[str]:
        """Platform ids of the chat's undeleted messages on ``platform``."""
        return await self.read(Store.message_ids, chat_id, platform)

    async def count_messages(self, chat_id: str) -> int:
        """The chat's undeleted messages."""
        return await self.read(Store.count_messages, chat_id)

    # ---- participants and state ----------------------------------------------------------

    async def opt_out(self, platform: str, author_id: str, handle: str = "") -> None:
        await self.write(Store.opt_out, platform, author_id, handle)

    async def opt_in(self, platform: str, author_id: str) -> bool:
        """Whether the participant had opted out."""
        return await self.write(Store.opt_in, platform, author_id)

    async def declare_group(
        self,
        hashtag: str,
        platform: str,
        author_id: str,
        group: str,
        at: datetime,
        *,
        source: str = "self",
        handle: str = "",
        message_id: str = "",
    ) -> bool:
        """:meth:`Store.declare_group`: whether the declaration is news."""
        return await self.write(
            Store.declare_group,
            hashtag,
            platform,
            author_id,
            group,
            at,
            source=source,
            handle=handle,
            message_id=message_id,
        )

    async def get_state(self, key: str, default: str | None = None) -> str | None:
        """The value stored under ``key``, or ``default``."""
        return await self.read(Store.get_state, key, default)

    async def states(self, prefix: str) -> dict[str, str]:
        """Every non-empty state value whose key starts with ``prefix``."""
        return await self.read(Store.states, prefix)

    async def set_state(self, key: str, value: str) -> None:
        await self.write(Store.set_state, key, value)

    async def mark_once(self, key: str, value: str) -> bool:
        """See :meth:`Store.mark_once`: True when this call set the mark."""
        return await self.write(Store.mark_once, key, value)

    # ---- closing ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Finish the reads and the writes in progress, then close every connection."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """:meth:`aclose` for code off the event loop. Blocks; closing twice is harmless."""
        store = self._store
        if store is None:
            return
        self.reads.close()  # readers first: the writer's close checkpoints the WAL
        self._executor.submit(store.close).result()
        self._executor.shutdown(wait=True)
        self._store = None
