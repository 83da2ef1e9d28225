"""App wiring: the store, the enabled platforms, the facilitator and the runner, started and
stopped together."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.models import Chat
from archive.publish import publish_chat
from archive.store import AsyncStore
from bot.config import Config
from bot.facilitator import Facilitator
from bot.platforms.base import Platform
from scheduler.clock import Clock, SystemClock
from scheduler.runner import Runner, RunnerOptions

logger = logging.getLogger(__name__)


def build_platforms(
    config: Config, clock: Clock, environ: Mapping[str, str]
) -> dict[str, Platform]:
    """The adapters the config enables; heavy client libraries are imported only when used."""
    platforms: dict[str, Platform] = {}
    if config.local.enabled:
        from bot.platforms.local import LocalPlatform

        platforms["local"] = LocalPlatform(
            config.local.network, clock=clock, poll_interval=config.local.poll_interval
        )
    if config.discord.enabled:
        from bot.platforms.discord import DiscordPlatform

        platforms["discord"] = DiscordPlatform(config.discord, environ=environ, clock=clock)
    if config.x.enabled:
        from bot.platforms.x import XPlatform

        platforms["x"] = XPlatform(config.x, environ=environ, clock=clock)
    return platforms


class App:
    """The running bot. `await app.start()`, then `await app.stop()`."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        platforms: dict[str, Platform] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.environ = environ if environ is not None else os.environ
        self._platforms = platforms
        self.store: AsyncStore | None = None
        self.facilitator: Facilitator | None = None
        self.runner: Runner | None = None
        self.platforms: dict[str, Platform] = {}
        self.extra_services: list[object] = []
        self.web_runner: Any = None  # aiohttp AppRunner of the web archive, when enabled

    async def _publish(self, chat: Chat) -> dict[str, object]:
        assert self.store is not None
        generated: datetime = self.clock.now()
        # On the writer thread: the transcripts are read in one snapshot, then recorded.
        result = await self.store.write(
            publish_chat,
            chat,
            self.config.transcripts_dir,
            generated_at=generated,
            cost_note=await self._cost_note(chat),
            web_base_url=self.config.web.base_url,
        )
        return result.as_dict()

    async def _republish(self, chat: Chat) -> None:
        """Regenerate a published chat's transcripts (deletions found later), without announcing."""
        assert self.facilitator is not None
        await self.facilitator.publish(chat, announce=False)

    async def _cost_note(self, chat: Chat) -> str:
        note_for = getattr(self.platforms.get("x"), "cost_note", None)
        if note_for is None:
            return ""
        return str(await note_for(chat.id))

    async def start(self) -> None:
        self.store = await asyncio.to_thread(AsyncStore, self.config.database, now=self.clock.now)
        self.platforms = (
            self._platforms
            if self._platforms is not None
            else build_platforms(self.config, self.clock, self.environ)
        )
        self.facilitator = Facilitator(
            self.store, self.platforms, publisher=self._publish, clock=self.clock
        )
        sched = self.config.scheduler
        self.runner = Runner(
            self.store,
            self.facilitator,
            clock=self.clock,
            options=RunnerOptions(reminders=tuple(sched.reminders), missed=sched.missed_questions),
        )
        for platform in self.platforms.values():
            platform_store = getattr(platform, "use_store", None)
            if platform_store is not None:
                platform_store(self.store)
            use_republisher = getattr(platform, "use_republisher", None)
            if use_republisher is not None:
                use_republisher(self._republish)
            use_app = getattr(platform, "use_app", None)
            if use_app is not None:  # host commands steer the store and the runner
                use_app(self)
            await platform.start()
            logger.info("platform %s connected", platform.name)
        await self.runner.start()
        if self.config.web.enabled:
            from archive.web import start_server

            web = self.config.web
            # The web archive reads through the store's own read pool.
            self.web_runner = await start_server(
                self.store.reads,
                host=web.host,
                port=web.port,
                base_url=web.base_url,
                page_size=web.page_size,
                now=self.clock.now,
            )

    async def stop(self) -> None:
        if self.web_runner is not None:
            await self.web_runner.cleanup()
            self.web_runner = None
        if self.runner is not None:
            await self.runner.shutdown()
        for platform in self.platforms.values():
            try:
                await platform.stop()
            except Exception:
                logger.exception("stopping %s failed", platform.name)
        if self.store is not None:
            await self.store.aclose()
            self.store = None

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
