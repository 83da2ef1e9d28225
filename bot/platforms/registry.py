"""The networks the bot knows: their adapters (built from the config) and post limits.

The one place that names every network package. Client libraries (discord.py, tweepy, atproto) are
imported only when their network is enabled; post limits import none of them, so checking a
chat file stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.config import Config
from bot.platforms.bluesky.limits import post_limit as bluesky_post_limit
from bot.platforms.discord.limits import POST_LIMIT as DISCORD_LIMIT
from bot.platforms.local.limits import POST_LIMIT as LOCAL_LIMIT
from bot.platforms.mastodon.limits import post_limit as mastodon_post_limit
from bot.platforms.x.length import post_limit as x_post_limit
from scheduler.clock import Clock
from scheduler.limits import PostLimit

if TYPE_CHECKING:
    from bot.platforms.base import Platform


def post_limits(config: Config) -> dict[str, PostLimit]:
    """Every network's post limit by platform name, as configured (X: ``x.max_post_length``,
    Mastodon: ``mastodon.max_post_length``; the Mastodon adapter lowers it at start when the
    instance allows less, and says so)."""
    return {
        "local": LOCAL_LIMIT,
        "discord": DISCORD_LIMIT,
        "x": x_post_limit(config.x.max_post_length),
        "mastodon": mastodon_post_limit(config.mastodon.max_post_length),
        "bluesky": bluesky_post_limit(config.bluesky.max_post_length),
    }


def enabled_networks(config: Config) -> set[str]:
    """The platform names the config turns on (``{"local", "discord"}``)."""
    switches = {
        "local": config.local.enabled,
        "discord": config.discord.enabled,
        "x": config.x.enabled,
        "mastodon": config.mastodon.enabled,
        "bluesky": config.bluesky.enabled,
    }
    return {name for name, on in switches.items() if on}


def build_platforms(
    config: Config, clock: Clock, environ: Mapping[str, str]
) -> dict[str, Platform]:
    """The adapters the config enables, by platform name.

    Raises `bot.config.ConfigError` when an enabled network's secret is missing (at start).
    """
    platforms: dict[str, Platform] = {}
    if config.local.enabled:
        from bot.platforms.local.adapter import LocalPlatform

        platforms["local"] = LocalPlatform(
            config.local.network, clock=clock, poll_interval=config.local.poll_interval
        )
    if config.discord.enabled:
        from bot.platforms.discord.adapter import DiscordPlatform

        platforms["discord"] = DiscordPlatform(config.discord, environ=environ, clock=clock)
    if config.x.enabled:
        from bot.platforms.x.adapter import XPlatform

        platforms["x"] = XPlatform(config.x, environ=environ, clock=clock)
    if config.mastodon.enabled:
        from bot.platforms.mastodon.adapter import MastodonPlatform

        platforms["mastodon"] = MastodonPlatform(config.mastodon, environ=environ, clock=clock)
    if config.bluesky.enabled:
        from bot.platforms.bluesky.adapter import BlueskyPlatform

        platforms["bluesky"] = BlueskyPlatform(config.bluesky, environ=environ, clock=clock)
    return platforms
