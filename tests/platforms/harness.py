"""One harness per network, so the same contract tests run against every adapter.

A harness starts the real adapter against its network's fake (the local network file, the
fake Discord server, the fake X API, the fake Bluesky PDS and Jetstream, the fake Mastodon
instance), gives it a real store and a recording sink, and plays
the participants: they post, edit and delete through the fake, as people would on the
network. A new adapter passes the contract suite by adding one harness here and one entry in
`HARNESSES`.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from archive.models import Chat, ChatStatus, IncomingMessage, Question, Target
from archive.publish import PublishResult
from archive.store import AsyncStore
from bot.config import (
    BlueskyConfig,
    Config,
    DiscordConfig,
    LocalConfig,
    MastodonConfig,
    XConfig,
)
from bot.facilitator import Facilitator
from bot.platforms.base import Event, Platform, PlatformServices
from bot.platforms.bluesky.adapter import BlueskyPlatform
from bot.platforms.discord.adapter import DiscordPlatform
from bot.platforms.local.adapter import LocalNetwork, LocalPlatform, LocalUser
from bot.platforms.mastodon.adapter import MastodonPlatform
from bot.platforms.mastodon.content import html_to_text
from bot.platforms.x.adapter import XPlatform
from bot.platforms.x.search import since_key
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.mastodon_server import TOKEN as MASTODON_TOKEN
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.x_server import FakeX

TAG = "#WeDocs"
WITHIN = 10.0  # seconds any awaited condition may take


async def eventually(
    what: str, check: Callable[[], Awaitable[bool]], within: float = WITHIN
) -> None:
    """Wait until the async ``check()`` holds (re-checked every 20 ms), at most ``within`` s."""
    for _ in range(int(within / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


async def until(what: str, check: Callable[[], object], within: float = WITHIN) -> None:
    """Wait until ``check()`` holds (the state lives in fakes and other tasks: poll it)."""

    async def holds() -> bool:
        return bool(check())

    await eventually(what, holds, within)


@dataclass(frozen=True, slots=True)
class Stored:
    """A post as the network's fake holds it."""

    text: str
    attachment: tuple[str, bytes] | None = None
    embeds: int = 0


class Recorder:
    """The sink: keeps every event the adapter delivers, then hands it to a real facilitator
    (so the store holds what was captured, as in the running bot)."""

    def __init__(self, facilitator: Facilitator) -> None:
        self.facilitator = facilitator
        self.received: list[Event] = []
        self.reconnects = 0

    async def handle(self, event: Event) -> None:
        self.received.append(event)
        await self.facilitator.handle(event)

    async def capture_messages(self, messages: Sequence[IncomingMessage]) -> int:
        self.received.extend(messages)
        return await self.facilitator.capture_messages(messages)

    async def reconnected(self, platform: Platform) -> None:
        self.reconnects += 1
        await self.facilitator.reconnected(platform)


async def _no_publish(chat: Chat) -> PublishResult:
    raise AssertionError("the contract tests publish nothing through the facilitator")


def live_chat(platform: str, channel: str) -> Chat:
    """A chat running now (started 5 minutes ago) on one target."""
    now = datetime.now(UTC)
    return Chat(
        id="contract",
        title="Patients in QI",
        hashtag=TAG,
        start=now - timedelta(minutes=5),
        end=now + timedelta(minutes=55),
        timezone="Europe/London",
        questions=(Question(1, "How do you involve patients?", timedelta(minutes=5)),),
        targets=(Target(platform, channel),),
        status=ChatStatus.LIVE,
    )


class Harness(abc.ABC):
    """A started adapter, its network's fake, a real store and the participants' side.

    ``platform`` is started with services (a real `AsyncStore`) and a `Recorder` attached;
    ``chat`` is live in the store with one target, ``channel``, on this network.
    """

    name: ClassVar[str]
    announce_embeds: ClassVar[int] = 0  # embeds on an announcement (Discord posts one)
    user_id: str
    user_handle: str

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = AsyncStore(tmp_path / "tweetchat.db")
        self.recorder = Recorder(Facilitator(self.store, {}, publisher=_no_publish))
        self.stack = AsyncExitStack()
        self.channel = ""
        self.config = Config()
        self.environ: dict[str, str] = {}
        self._platform: Platform | None = None
        self._chat: Chat | None = None
        self._barriers: set[str] = set()
        self._barrier_count = itertools.count()

    # ---- life cycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.stack.push_async_callback(self.store.aclose)
        try:
            await self.open_network()
            self._chat = await self.store.add_chat(live_chat(self.name, self.channel))
            await self.come_back()
        except BaseException:
            await self.stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._platform is not None:
                await self._platform.stop()
        finally:
            await self.stack.aclose()

    @property
    def platform(self) -> Platform:
        assert self._platform is not None, "the adapter is down"
        return self._platform

    @property
    def chat(self) -> Chat:
        assert self._chat is not None
        return self._chat

    async def go_down(self) -> None:
        """Stop the adapter (as a bot process ends) once what is pending was delivered."""
        await self.deliver()
        await self.platform.stop()
        self._platform = None

    async def come_back(self) -> None:
        """Start a new adapter on the same store (as a restarted bot process)."""
        platform = self.make_platform()
        platform.use_services(PlatformServices(store=self.store))
        platform.attach(self.recorder)
        await platform.start()
        self._platform = platform

    # ---- what the adapter delivered -------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """What the sink received, without the harness's own barrier posts."""
        return [
            e
            for e in self.recorder.received
            if not (isinstance(e, IncomingMessage) and e.platform_id in self._barriers)
        ]

    def messages(self, platform_id: str) -> list[IncomingMessage]:
        """Every delivery of one message (its first post and its edits), in order."""
        return [
            e
            for e in self.events
            if isinstance(e, IncomingMessage) and e.platform_id == platform_id
        ]

    async def barrier(self) -> None:
        """Post a message no chat captures and wait for it: the network delivers in order, so
        everything before it has reached the sink (for push networks)."""
        text = f"barrier {next(self._barrier_count)}"
        platform_id = await self.post_as_barrier(text)
        self._barriers.add(platform_id)
        await until(
            f"{self.name} to deliver {text!r}",
            lambda: any(
                isinstance(e, IncomingMessage) and e.platform_id == platform_id
                for e in self.recorder.received
            ),
        )

    # ---- per network ----------------------------------------------------------------------

    @abc.abstractmethod
    async def open_network(self) -> None:
        """Start the network's fake and set ``channel``, ``config`` and ``environ``."""

    @abc.abstractmethod
    def make_platform(self) -> Platform:
        """A new, unstarted adapter for the fake (from ``config``)."""

    @abc.abstractmethod
    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        """A participant posts in ``channel``; returns the platform id."""

    @abc.abstractmethod
    async def user_edits(self, platform_id: str, text: str) -> None: ...

    @abc.abstractmethod
    async def user_deletes(self, platform_id: str) -> None: ...

    @abc.abstractmethod
    async def deliver(self) -> None:
        """Return once everything that happened on the network so far reached the sink."""

    @abc.abstractmethod
    def stored(self, platform_id: str) -> Stored:
        """What the fake holds for a post (proof that a post reached the network)."""

    @abc.abstractmethod
    async def others_engage(self, platform_id: str, times: int) -> None:
        """``times`` other people react to / like a post, the network's usual way."""

    @abc.abstractmethod
    def post_requests(self) -> int:
        """How many posting requests the network has received so far."""

    async def post_as_barrier(self, text: str) -> str:
        raise NotImplementedError(f"{self.name} delivers without barriers")

    async def user_posts_unseen(self, text: str) -> str:
        """A participant posts in ``channel``, and the network's live feed never carries it
        (lost in flight); returns the platform id. Default, for a network read by polling
        (no live feed to lose it): a plain post, which a poll may also bring."""
        return await self.user_posts(text)

    def outage(self, down: bool) -> bool:
        """Make every posting request fail with a server error (5xx) until called with
        False; returns False where the network has no server that can fail (local)."""
        return False

    def stored_text(self, platform_id: str) -> str:
        return self.stored(platform_id).text


# ---- the local network ----------------------------------------------------------------------

ALICE_LOCAL = LocalUser("alice-1", "Alice", "alice")
BARRIER_LOCAL = LocalUser("barrier-1", "Barrier", "barrier")


class LocalHarness(Harness):
    name = "local"
    user_id = ALICE_LOCAL.id
    user_handle = ALICE_LOCAL.handle

    async def open_network(self) -> None:
        path = self.tmp_path / "network.sqlite"
        self.config = Config(local=LocalConfig(network=path, poll_interval=0.02))
        self.channel = "main"
        # The participants' own connection, as if from another process.
        self.net = await asyncio.to_thread(LocalNetwork, path)
        self.stack.callback(self.net.close)

    def make_platform(self) -> Platform:
        return LocalPlatform(
            self.config.local.network, poll_interval=self.config.local.poll_interval
        )

    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        at = datetime.now(UTC)
        return await asyncio.to_thread(
            self.net.post, self.channel, ALICE_LOCAL, text, at=at, reply_to=reply_to
        )

    async def post_as_barrier(self, text: str) -> str:
        return await asyncio.to_thread(
            self.net.post, self.channel, BARRIER_LOCAL, text, at=datetime.now(UTC)
        )

    async def user_edits(self, platform_id: str, text: str) -> None:
        await asyncio.to_thread(self.net.edit, platform_id, text, at=datetime.now(UTC))

    async def user_deletes(self, platform_id: str) -> None:
        await asyncio.to_thread(self.net.delete, platform_id, at=datetime.now(UTC))

    async def deliver(self) -> None:
        await self.barrier()

    async def others_engage(self, platform_id: str, times: int) -> None:
        for _ in range(times):
            await asyncio.to_thread(self.net.react, platform_id, at=datetime.now(UTC))

    def _row(self, platform_id: str) -> dict[str, object]:
        for row in self.net.messages(include_deleted=True):
            if str(row["seq"]) == platform_id:
                return dict(row)
        raise AssertionError(f"the local network holds no message {platform_id}")

    def stored(self, platform_id: str) -> Stored:
        row = self._row(platform_id)
        data = row["attachment"]
        attachment = (str(row["attachment_name"]), bytes(data)) if isinstance(data, bytes) else None
        return Stored(str(row["text"]), attachment)

    def post_requests(self) -> int:
        return sum(1 for row in self.net.messages(include_deleted=True) if row["is_bot"])


# ---- Discord ----------------------------------------------------------------------------------


class DiscordHarness(Harness):
    name = "discord"
    announce_embeds = 1

    async def open_network(self) -> None:
        self.fake = await self.stack.enter_async_context(FakeDiscord())
        self.config = Config(
            local=LocalConfig(enabled=False),
            discord=DiscordConfig(enabled=True, guilds=(str(self.fake.guild_id),)),
        )
        self.environ = {"DISCORD_TOKEN": self.fake.token}
        self.channel = str(self.fake.channel_id)
        self.alice = self.fake.add_user("alice", global_name="Alice")
        self.barrier_user = self.fake.add_user("barrier")
        self.user_id = str(self.alice.id)
        self.user_handle = "alice"

    def outage(self, down: bool) -> bool:
        if down:
            self.fake.fail_next("POST /channels/*/messages", 503, times=1_000_000)
        else:
            self.fake.clear_failures()
        return True

    def make_platform(self) -> Platform:
        return DiscordPlatform(
            self.config.discord,
            environ=self.environ,
            backoff=0.01,
            guild_ready_timeout=0.05,
            ready_timeout=5,
        )

    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        posted = self.fake.post_user_message(
            self.fake.channel_id, self.alice, text, reply_to=reply_to or None
        )
        return str(posted["id"])

    async def post_as_barrier(self, text: str) -> str:
        return str(self.fake.post_user_message(self.fake.channel_id, self.barrier_user, text)["id"])

    async def user_posts_unseen(self, text: str) -> str:
        stored = self.fake.store_message(
            self.fake.channel_id, self.fake.user(self.alice), text, gateway=False
        )
        return str(stored["id"])

    async def user_edits(self, platform_id: str, text: str) -> None:
        self.fake.edit_message(self.fake.channel_id, int(platform_id), text)

    async def user_deletes(self, platform_id: str) -> None:
        self.fake.delete_message(self.fake.channel_id, int(platform_id))

    async def others_engage(self, platform_id: str, times: int) -> None:
        for n in range(times):
            fan = self.fake.add_user(f"fan{platform_id}-{n}")
            self.fake.add_reaction(self.fake.channel_id, int(platform_id), fan, "👍")

    async def deliver(self) -> None:
        await self.barrier()

    def stored(self, platform_id: str) -> Stored:
        message = self.fake.find_message(self.fake.channel_id, int(platform_id))
        if message is None:
            raise AssertionError(f"the fake Discord holds no message {platform_id}")
        files = [
            (a.filename, a.data)
            for a in self.fake.attachments(self.fake.channel_id)
            if a.message_id == int(platform_id)
        ]
        return Stored(
            str(message["content"]), files[0] if files else None, len(message.get("embeds", []))
        )

    def post_requests(self) -> int:
        return len(self.fake.requests_to("POST /channels/*/messages"))


# ---- X ------------------------------------------------------------------------------------------

ALICE_X = {"id": "2001", "username": "alice", "name": "Alice A."}
SEARCH = "/2/tweets/search/recent"


class XHarness(Harness):
    name = "x"
    user_id = ALICE_X["id"]
    user_handle = ALICE_X["username"]

    async def open_network(self) -> None:
        # The adapter polls every 50 ms here; X's real 450 searches per 15 minutes would run
        # out within a test.
        self.fake = await self.stack.enter_async_context(
            FakeX(rate_limits={f"GET {SEARCH}": 100_000})
        )
        self.config = Config(
            local=LocalConfig(enabled=False),
            x=XConfig(
                enabled=True, api_base_url=self.fake.base_url, poll_interval=0.05, max_results=10
            ),
        )
        creds = self.fake.credentials
        self.environ = {
            "X_BEARER_TOKEN": creds["bearer_token"],
            "X_CONSUMER_KEY": creds["consumer_key"],
            "X_CONSUMER_SECRET": creds["consumer_secret"],
            "X_ACCESS_TOKEN": creds["access_token"],
            "X_ACCESS_TOKEN_SECRET": creds["access_token_secret"],
        }
        self.channel = ""  # X has one public timeline: targets name no channel

    def outage(self, down: bool) -> bool:
        if down:
            self.fake.fail_next("/2/tweets", 503, times=1_000_000, method="POST")
        else:
            self.fake._injections.clear()
        return True

    def make_platform(self) -> Platform:
        return XPlatform(self.config.x, environ=self.environ, backoff=0.01, sweep_settle=0)

    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        return self.fake.add_tweet(ALICE_X, text, reply_to=reply_to or None)

    async def user_edits(self, platform_id: str, text: str) -> None:
        self.fake.edit_tweet(platform_id, text)

    async def user_deletes(self, platform_id: str) -> None:
        self.fake.delete_tweet(platform_id)

    async def others_engage(self, platform_id: str, times: int) -> None:
        self.fake.like(platform_id, times)

    async def deliver(self) -> None:
        """Wait for the adapter's own polling: one whole poll after now, and the stored
        since_id at the newest post search can find (set once the posts are delivered)."""
        searches = len(self.fake.requests_to(SEARCH))
        # The search after next starts only once a poll that began after now has finished.
        await until("two X polls", lambda: len(self.fake.requests_to(SEARCH)) >= searches + 2)
        newest = max(
            (
                int(t.id)
                for t in self.fake.tweets.values()
                if not (t.deleted or t.superseded_by) and TAG.casefold() in t.text.casefold()
            ),
            default=0,
        )

        async def caught_up() -> bool:
            since = await self.store.get_state(since_key(TAG))
            return newest == 0 or (since is not None and int(since) >= newest)

        await eventually("the X cursor to reach the newest post", caught_up)

    def stored(self, platform_id: str) -> Stored:
        tweet = self.fake.tweets.get(platform_id)
        if tweet is None or tweet.deleted:
            raise AssertionError(f"the fake X holds no post {platform_id}")
        return Stored(tweet.text)

    def post_requests(self) -> int:
        return len(self.fake.requests_to("/2/tweets", "POST"))


# ---- Bluesky -------------------------------------------------------------------------------------

SEARCH_POSTS = "app.bsky.feed.searchPosts"
CREATE_RECORD = "com.atproto.repo.createRecord"


class BlueskyHarness(Harness):
    """The atproto client against the fake PDS and AppView; capture from the fake Jetstream.

    The adapter subscribes to Jetstream only while a Bluesky chat is in its capture window;
    the harness's chat is live, so it subscribes at start. Jetstream keeps only posts that
    matter to a chat, so the barrier posts carry the chat's hashtag (the store keeps them;
    the harness hides them from `events`).
    """

    name = "bluesky"

    async def open_network(self) -> None:
        self.fake = await self.stack.enter_async_context(FakeBluesky())
        self.config = Config(
            local=LocalConfig(enabled=False),
            bluesky=BlueskyConfig(
                enabled=True,
                handle=self.fake.bot.handle,
                service_url=self.fake.base_url,
                jetstream_url=self.fake.jetstream_url,
                idle_reconnect=30.0,  # the fake sends no heartbeat: no redial in a quiet test
            ),
        )
        self.environ = {self.config.bluesky.app_password_env: self.fake.password}
        self.channel = ""  # one public network: targets name no channel
        self.alice = self.fake.add_account("alice.bsky.social", "Alice A.")
        self.barrier_user = self.fake.add_account("barrier.bsky.social", "Barrier")
        self.user_id = self.alice.did
        self.user_handle = self.alice.handle

    def outage(self, down: bool) -> bool:
        if down:
            self.fake.fail_next("com.atproto.repo.createRecord", 502, times=1_000_000)
        else:
            self.fake._injections.clear()
        return True

    def make_platform(self) -> Platform:
        return BlueskyPlatform(
            self.config.bluesky, environ=self.environ, backoff=0.01, rate_wait_cap=0.3
        )

    async def come_back(self) -> None:
        """Start, then wait until Jetstream is subscribed and, when the adapter subscribed
        without a cursor, its backfill from search was asked (a post made during the search
        could otherwise arrive twice: found and streamed)."""
        dials = len(self.fake.subscriptions)
        searches = len(self.fake.requests_to(SEARCH_POSTS))
        await super().come_back()
        platform = self.platform
        assert isinstance(platform, BlueskyPlatform)
        await until(
            "the Jetstream subscription",
            lambda: platform.connected.is_set() and len(self.fake.subscriptions) > dials,
        )
        if "cursor" not in self.fake.subscriptions[-1]:
            # The fake answers a search from the posts it holds when the request arrives.
            await until(
                "the backfill search",
                lambda: len(self.fake.requests_to(SEARCH_POSTS)) > searches,
            )

    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        return self.fake.add_post(self.alice, text, reply_to=reply_to)

    async def post_as_barrier(self, text: str) -> str:
        return self.fake.add_post(self.barrier_user, f"{text} {TAG}")

    async def user_posts_unseen(self, text: str) -> str:
        return self.fake.add_post(self.alice, text, stream=False)

    async def user_edits(self, platform_id: str, text: str) -> None:
        self.fake.edit_post(platform_id, text)

    async def user_deletes(self, platform_id: str) -> None:
        self.fake.delete_post(platform_id)

    async def others_engage(self, platform_id: str, times: int) -> None:
        self.fake.like(platform_id, times)

    async def deliver(self) -> None:
        await self.barrier()

    def stored(self, platform_id: str) -> Stored:
        post = self.fake.posts.get(platform_id)
        if post is None or post.deleted:
            raise AssertionError(f"the fake Bluesky holds no post {platform_id}")
        return Stored(post.text)

    def post_requests(self) -> int:
        return len(self.fake.requests_to(CREATE_RECORD))


# ---- Mastodon ------------------------------------------------------------------------------------

STATUSES = "/api/v1/statuses"
NOTIFICATIONS = "/api/v1/notifications"


class MastodonHarness(Harness):
    """Mastodon.py against the fake instance; capture from the hashtag stream.

    The timeline is read at start and after every (re)connect of the stream (the adapter's
    catch-up); the periodic read is set an hour apart so that, within a test, everything
    after start comes from the stream, in order. The barrier posts carry the hashtag (the
    stream is the hashtag's).
    """

    name = "mastodon"

    async def open_network(self) -> None:
        self.fake = await self.stack.enter_async_context(FakeMastodon())
        self.config = Config(
            local=LocalConfig(enabled=False),
            mastodon=MastodonConfig(
                enabled=True, api_base_url=self.fake.base_url, poll_interval=3600.0
            ),
        )
        self.environ = {self.config.mastodon.access_token_env: MASTODON_TOKEN}
        self.channel = ""  # the hashtag's public timeline: targets name no channel
        self.alice = self.fake.add_account("alice", display_name="Alice A.")
        self.barrier_user = self.fake.add_account("barrier")
        self.user_id = str(self.alice["id"])
        self.user_handle = f"alice@{self.fake.domain}"

    def outage(self, down: bool) -> bool:
        if down:
            self.fake.fail_next("POST", "/api/v1/statuses", 503, times=1_000_000)
        else:
            self.fake._failures.clear()
        return True

    def make_platform(self) -> Platform:
        return MastodonPlatform(self.config.mastodon, environ=self.environ, backoff=0.01)

    async def come_back(self) -> None:
        """Start, then wait until the first timeline read is done (its last request is for
        mentions) and the stream is open and caught up (the adapter then tells its sink it
        reconnected)."""
        reconnects = self.recorder.reconnects
        mentions = len(self.fake.requests_to(NOTIFICATIONS))
        await super().come_back()
        await until(
            "the first timeline read",
            lambda: len(self.fake.requests_to(NOTIFICATIONS)) > mentions,
        )
        await until("the hashtag stream", lambda: self.recorder.reconnects > reconnects)

    async def user_posts(self, text: str, *, reply_to: str = "") -> str:
        return str(self.fake.post(self.alice, text, in_reply_to_id=reply_to or None)["id"])

    async def post_as_barrier(self, text: str) -> str:
        return str(self.fake.post(self.barrier_user, f"{text} {TAG}")["id"])

    async def user_posts_unseen(self, text: str) -> str:
        return str(self.fake.post(self.alice, text, stream=False)["id"])

    async def user_edits(self, platform_id: str, text: str) -> None:
        self.fake.edit(platform_id, text)

    async def user_deletes(self, platform_id: str) -> None:
        self.fake.delete(platform_id)

    async def others_engage(self, platform_id: str, times: int) -> None:
        self.fake.favourite(platform_id, times)

    async def deliver(self) -> None:
        await self.barrier()

    def stored(self, platform_id: str) -> Stored:
        status = self.fake.statuses.get(platform_id)
        if status is None:
            raise AssertionError(f"the fake Mastodon holds no status {platform_id}")
        # The instance keeps what it rendered (HTML); a reader sees its text.
        return Stored(html_to_text(str(status["content"])))

    def post_requests(self) -> int:
        return len(self.fake.requests_to(STATUSES, "POST"))


HARNESSES: dict[str, type[Harness]] = {
    "local": LocalHarness,
    "discord": DiscordHarness,
    "x": XHarness,
    "bluesky": BlueskyHarness,
    "mastodon": MastodonHarness,
}
