"""App wiring: the store, the enabled platforms, the facilitator and the runner, started and
stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.groups import groups_of
from archive.models import Chat, ChatStatus
from archive.publish import PublishResult, publish_chat
from archive.store import AsyncStore
from bot.config import Config, SchedulerConfig
from bot.facilitator import Facilitator
from bot.groups import sync_groups
from bot.instance_lock import InstanceLock
from bot.platforms.base import Platform, PlatformServices
from bot.platforms.registry import build_platforms, post_limits
from scheduler.clock import Clock, SystemClock
from scheduler.runner import Runner, RunnerOptions
from scheduler.supervision import one_line

logger = logging.getLogger(__name__)


def runner_options(sched: SchedulerConfig) -> RunnerOptions:
    """The runner's settings from the config's ``[scheduler]`` table."""
    return RunnerOptions(
        reminders=tuple(sched.reminders),
        missed=sched.missed_questions,
        misfire_grace=sched.misfire_grace,
        wrapup_lead=sched.wrapup_lead,
    )


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
        self.web_runner: Any = None
        self._finishing: asyncio.Task[None] | None = None
        self._private: asyncio.Task[None] | None = None  # _keep_files_private
        self._republishing = False
        self._lock: InstanceLock | None = None  # aiohttp AppRunner of the web archive, when enabled

    async def _publish(self, chat: Chat) -> PublishResult:
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
            highlights=self.config.highlights_per_question,
        )
        return result

    async def _republish(self, chat: Chat) -> None:
        """Regenerate a published chat's transcripts (deletions found later), without announcing."""
        assert self.facilitator is not None
        await self.facilitator.publish(chat, announce=False)

    async def _cost_note(self, chat: Chat) -> str:
        """What the chat cost on its networks (one line each; '' where posting is free)."""
        names = dict.fromkeys(t.platform for t in chat.targets)
        notes = [await self.platforms[n].cost_note(chat) for n in names if n in self.platforms]
        return " ".join(note for note in notes if note)

    async def _refresh(self) -> None:
        """Chats changed in the store (a host command): reschedule and recapture at once."""
        if self.runner is not None:
            await self.runner.reload(force=True)
        if self.facilitator is not None:
            self.facilitator.invalidate()

    async def _alert(self, message: str) -> None:
        """Something keeps failing (a supervised task): tell the hosts of every chat that is
        running now, on every network that carries host alerts. Never raises."""
        if self.store is None or self.facilitator is None:
            return
        try:
            chats = await self.store.list_chats((ChatStatus.LIVE,))
        except Exception as exc:  # the store may be what fails
            logger.warning("cannot list the live chats to alert their hosts: %s", exc)
            return
        for chat in chats:
            await self.facilitator.notify_hosts(chat, message)

    def health(self) -> dict[str, str | None]:
        """Each part of the running bot (the runner, every network) to what is wrong with it,
        or None when it works (served as ``/healthz`` with the web archive)."""
        parts: dict[str, str | None] = {
            "runner": self.runner.health() if self.runner is not None else "not started"
        }
        for name, platform in self.platforms.items():
            parts[name] = platform.health()
        return parts

    def services(self) -> PlatformServices:
        """What every adapter gets from the running bot (before it starts)."""
        assert self.store is not None
        return PlatformServices(
            store=self.store,
            clock=self.clock,
            republish=self._republish,
            refresh=self._refresh,
            post_limits=post_limits(self.config),
            default_timezone=self.config.timezone,
            default_reminders=tuple(self.config.scheduler.reminders),
            default_language=self.config.language,
            default_labels=self.config.labels.convention,
            wrapup_lead=self.config.scheduler.wrapup_lead,
            web_base_url=self.config.web.base_url,
            alert=self._alert,
            groups=groups_of(self.config.groups.labels),
        )

    async def start(self) -> None:
        """Take the archive's single-instance lock, open the store, start every platform, the
        runner and the web archive. Raises `AlreadyRunning` when another bot runs on the
        same database, `ConfigError` when a network refuses its credentials."""
        self._lock = InstanceLock(self.config.database).acquire()
        try:
            await self._start()
        except BaseException:
            self._lock.release()
            raise

    async def _start(self) -> None:
        self.store = await asyncio.to_thread(AsyncStore, self.config.database, now=self.clock.now)
        self.platforms = (
            self._platforms
            if self._platforms is not None
            else build_platforms(self.config, self.clock, self.environ)
        )
        await self.store.write(sync_groups, self.config)
        self.facilitator = Facilitator(
            self.store,
            self.platforms,
            publisher=self._publish,
            clock=self.clock,
            groups=groups_of(self.config.groups.labels),
        )
        self.runner = Runner(
            self.store,
            self.facilitator,
            clock=self.clock,
            options=runner_options(self.config.scheduler),
            alert=self._alert,
            notify=self.facilitator.notify_hosts,
        )
        # Half-done posts are reconciled when each platform connects, before its capture.
        await self.facilitator.prepare()
        services = self.services()
        for platform in self.platforms.values():
            platform.use_services(services)
            await platform.start()
            logger.info("platform %s connected", platform.name)
            # Connected: reconcile its half-done posts now, whatever the adapter does first
            # (Mastodon and Bluesky read their timelines before they report a reconnect),
            # so capture held back by `prepare` goes on at once, attributed right.
            await self.facilitator.reconcile(platform)
        await self.runner.start()
        self._finishing = asyncio.create_task(self._finish_published(), name="finish-published")
        self._private = asyncio.create_task(self._keep_files_private(), name="optout-republish")
        if self.config.web.enabled:
            from archive.web import start_server
            from scheduler.standing import standing_source

            web = self.config.web
            # The web archive reads through the store's own read pool.
            self.web_runner = await start_server(
                self.store.reads,
                host=web.host,
                port=web.port,
                base_url=web.base_url,
                page_size=web.page_size,
                now=self.clock.now,
                health=self.health,
                highlights=self.config.highlights_per_question,
                schedule=standing_source(wrapup_lead=self.config.scheduler.wrapup_lead),
            )

    async def _finish_published(self) -> None:
        """Finish what a crash left half-done in published chats (the runner finishes open
        chats' steps), trying again with back-off until it is done."""
        assert self.facilitator is not None
        for attempt in itertools.count(1):
            try:
                await self.facilitator.finish_published()
                return
            except Exception as exc:
                delay = min(60.0, 2.0**attempt)
                logger.warning("%s; retrying in %.0fs", one_line(exc), delay)
                await asyncio.sleep(delay)

    async def _keep_files_private(self) -> None:
        """Publish again the published chats whose files still show a participant who opted
        out, or a message since deleted or edited: at start (an opt-out the bot took before
        it stopped), then after every such change, trying again with back-off until it is
        done."""
        assert self.facilitator is not None
        facilitator = self.facilitator
        while True:
            facilitator.files_stale.clear()  # a change from here on asks for another round
            for attempt in itertools.count(1):
                self._republishing = True
                try:
                    await facilitator.republish_stale()
                    break
                except Exception as exc:
                    delay = min(60.0, 2.0**attempt)
                    logger.warning("%s; retrying in %.0fs", one_line(exc), delay)
                    # Not "busy" while it waits: `run --until-idle` does not wait for a
                    # failure that may not pass (an unwritable transcripts folder).
                    self._republishing = False
                    await asyncio.sleep(delay)
            self._republishing = False
            await facilitator.files_stale.wait()

    @property
    def republishing(self) -> bool:
        """Whether chats are (or are about to be) published again after an opt-out, a
        deletion or an edit."""
        if self.facilitator is not None and self.facilitator.files_stale.is_set():
            return True
        return self._republishing

    async def stop(self) -> None:
        for task in (self._finishing, self._private):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._finishing = self._private = None
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
        if self._lock is not None:
            self._lock.release()

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
