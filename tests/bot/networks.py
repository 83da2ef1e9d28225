"""Each network's setup for end-to-end chats, shared by the tests that run one or several:
configs and adapters pointed at the loopback fakes, and what an organiser checks afterwards."""

from __future__ import annotations

from typing import Any

from archive.models import CapturedMessage, ChatStatus
from archive.store import Store
from bot.config import BlueskyConfig, Config, DiscordConfig, MastodonConfig
from bot.platforms.discord.adapter import DiscordPlatform
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.mastodon_server import TOKEN, FakeMastodon

MASTODON_ENV = {"MASTODON_ACCESS_TOKEN": TOKEN}


def mastodon_config(fake: FakeMastodon) -> MastodonConfig:
    # poll_interval below the config's minimum of 5 s: the dataclass is built directly.
    return MastodonConfig(enabled=True, api_base_url=fake.base_url, poll_interval=0.3)


def bluesky_config(fake: FakeBluesky, **changes: object) -> BlueskyConfig:
    values: dict[str, object] = {
        "enabled": True,
        "handle": fake.bot.handle,
        "service_url": fake.base_url,
        "jetstream_url": fake.jetstream_url,
        "idle_reconnect": 5.0,
    }
    values.update(changes)
    return BlueskyConfig(**values)  # type: ignore[arg-type]


def discord_platform(config: DiscordConfig, fake: FakeDiscord) -> DiscordPlatform:
    """The real adapter against the fake, with the waits and backoffs cut for tests."""
    return DiscordPlatform(
        config,
        environ={"DISCORD_TOKEN": fake.token},
        backoff=0.01,
        guild_ready_timeout=0.05,
        ready_timeout=5,
        identify_delay=0,
    )


def mastodon_bot_status(fake: FakeMastodon, prefix: str) -> dict[str, Any] | None:
    """The bot's first status on the fake whose text starts with ``prefix``."""
    return next((s for s in fake.by_bot() if "<p>" + prefix in str(s["content"])), None)


def published(config: Config, chat_id: str) -> bool:
    store = Store(config.database)
    try:
        return store.get_chat(chat_id).status == ChatStatus.PUBLISHED
    finally:
        store.close()


def captured(
    config: Config, chat_id: str, platform: str, platform_id: str
) -> CapturedMessage | None:
    """The chat's stored message with this id on this network, if the bot has it yet."""
    store = Store(config.database)
    try:
        return next(
            (
                m
                for m in store.messages(chat_id)
                if m.platform == platform and m.platform_id == platform_id
            ),
            None,
        )
    finally:
        store.close()
