"""The runner: turns every stored chat's timeline into APScheduler jobs, and fires them.

The store is the only source of truth. At every start (and whenever the stored chats
change) the runner rebuilds its jobs from the store in a memory job store with stable ids
(`chat-id:action-key`). Each job, when it fires, performs *every* due action of its chat in
timeline order under a per-chat lock, so sub-parts posted at the same instant keep their
order and actions missed while the bot was down are caught up in order.

Missed-action policy. An action performed at most ``misfire_grace`` after its time (a
busy machine, a quick restart) is performed as usual. Later than that it counts as missed,
whether the bot was down or the process stalled:
- reminders are dropped (a reminder after the fact helps nobody);
- intro, questions and wrap-up: with ``missed="catch_up"`` they are posted once, in order,
  with a short note, while the chat is still running; with ``missed="skip"`` (or once the
  chat has ended) they are marked skipped and recorded in the chat's timeline;
- close and publish always happen.

Failed steps. A step that fails (a post the network would not take yet, a publication on
a full disk) is logged as one line naming the chat, the step and the error, and the chat's
due actions are tried again after a back-off with jitter (growing to ``retry_cap``), in
this process and, because only done steps are recorded as done, after any restart. The
hosts are told (``notify``) when a chat's steps have failed `ALERT_AFTER` times in a row.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from archive.i18n import translator
from archive.models import OPEN_STATUSES, Chat
from archive.store import AsyncStore, NotFoundError
from scheduler.clock import Clock, SystemClock
from scheduler.controls import compute_shifts
from scheduler.supervision import ALERT_AFTER, one_line, supervise
from scheduler.timeline import WRAPUP_LEAD, Action, ActionKind, timeline

logger = logging.getLogger(__name__)

POSTING_KINDS = (ActionKind.INTRO, ActionKind.QUESTION, ActionKind.WRAPUP)


class StepFailed(Exception):
    """A step of a chat's life could not be done now and is worth trying again; its text
    names the part that failed and why ("writing the transcripts: OSError: ...")."""


class Performer(Protocol):
    """What the runner calls back into (implemented by bot/facilitator.py)."""

    async def perform(self, chat: Chat, action: Action, *, note: str = "") -> None:
        """Carry out one action on every platform of the chat (idempotent per platform)."""
        ...

    async def skip(self, chat: Chat, action: Action, reason: str) -> None:
        """Record that an action will not happen."""
        ...

    async def done_actions(self, chat: Chat) -> set[str]:
        """Keys of the chat's actions already carried out (or skipped) everywhere."""
        ...

    def invalidate(self) -> None:
        """Forget anything cached about chats: the store's chats changed."""
        ...

    async def chats_changed(self, chat_ids: Sequence[str]) -> None:
        """These chats changed (or went away), whoever changed them; platforms that mirror
        chats elsewhere follow. Errors are logged by the runner, never raised to it."""
        ...


@dataclass(frozen=True)
class RunnerOptions:
    """The ``[scheduler]`` settings the runner follows (built from the config by bot/app.py)."""

    reminders: tuple[timedelta, ...] = (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )
    missed: str = "catch_up"  # or "skip": what happens to a missed intro, question, wrap-up
    refresh_seconds: float = 2.0  # how often to look for chats changed by another process
    # How late (chat time) an action may still be performed as usual; later, it is missed.
    misfire_grace: timedelta = timedelta(minutes=10)
    wrapup_lead: timedelta = WRAPUP_LEAD  # the wrap-up goes out this long before the end
    retry_base: float = 1.0  # seconds before a failed step is first tried again
    retry_cap: float = 60.0  # the longest wait between two tries of a failed step


class Runner:
    def __init__(
        self,
        store: AsyncStore,
        performer: Performer,
        *,
        clock: Clock | None = None,
        options: RunnerOptions | None = None,
        alert: Callable[[str], Awaitable[None]] | None = None,
        notify: Callable[[Chat, str], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.alert = alert  # tells the hosts when reloading keeps failing
        self.notify = notify  # tells a chat's hosts when its steps keep failing
        self.performer = performer
        self.clock: Clock = clock or SystemClock()
        self.options = options or RunnerOptions()
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._locks: dict[str, asyncio.Lock] = {}
        self._seen: dict[str, tuple[object, ...]] = {}  # chat id -> what reload last saw
        self._refresh_task: asyncio.Task[None] | None = None
        self._stop_refresh = asyncio.Event()
        self._failing: dict[str, str] = {}
        self._started_at = self.clock.now()
        self._closing = False
        self._failures: dict[str, int] = {}  # chat id -> steps failed in a row
        self._retry_at: dict[str, datetime] = {}  # chat id -> not before (chat time)

    # ---- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        self.scheduler.start()
        self._started_at = self.clock.now()
        await self.reload()
        self._stop_refresh = asyncio.Event()
        self._refresh_task = asyncio.create_task(
            supervise(
                self._refresh_loop,
                name="runner: reloading chats from the store",
                stop=self._stop_refresh,
                alert=self.alert,
                base=self.options.refresh_seconds,
                failing=self._failing,
            ),
            name="runner-refresh",
        )

    def health(self) -> str | None:
        """What is wrong with the runner (for ``/healthz``), or None when it is running."""
        if not self.scheduler.running:
            return "not running"
        return "; ".join(f"{name}: {error}" for name, error in self._failing.items()) or None

    async def shutdown(self) -> None:
        self._stop_refresh.set()
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            try:
                await self._refresh_task
            except asyncio.CancelledError:
                pass
        self._closing = True
        # Let an action in progress finish (its post and its write) first: shutting the
        # scheduler down cancels the job tasks still running.
        for lock in list(self._locks.values()):
            async with lock:
                pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def _refresh_loop(self) -> None:
        """Look for chats changed by another process, forever (an error ends the run: the
        supervisor logs it once and restarts it)."""
        while True:
            await asyncio.sleep(self.options.refresh_seconds)
            await self.reload()

    # ---- building jobs from the store --------------------------------------------------

    async def reload(self, *, force: bool = False) -> None:
        """Rebuild jobs when the stored chats changed (or always, with `force`)."""
        # Not an imported chat: ended until its transcripts are written (an import's
        # publication failed), it was never the bot's to close or announce.
        chats = await self.store.list_chats(OPEN_STATUSES, imported=False)
        controls = {c.id: await self.store.controls(c.id) for c in chats}
        seen: dict[str, tuple[object, ...]] = {
            c.id: (c.status, c.start, c.end, len(controls[c.id])) for c in chats
        }
        if seen == self._seen and not force:
            return
        changed = [chat_id for chat_id, state in seen.items() if self._seen.get(chat_id) != state]
        changed += [chat_id for chat_id in self._seen if chat_id not in seen]  # cancelled, ended
        for chat_id in changed:  # one log line for every control, wherever it was given
            before = self._seen.get(chat_id)
            known = int(str(before[3])) if before is not None else len(controls.get(chat_id, ()))
            for _at, kind, detail, by in controls.get(chat_id, [])[known:]:
                logger.info(
                    "chat %s: %s%s (by %s)", chat_id, kind, f": {detail}" if detail else "", by
                )
        self._seen = seen
        # Chats changed (perhaps from another process): capture must see them at once.
        self.performer.invalidate()
        wanted = {c.id for c in chats}
        for job in self.scheduler.get_jobs():
            if job.id.split(":", 1)[0] not in wanted:
                job.remove()
        for chat in chats:
            await self.schedule_chat(chat)
        # Whoever changed them (a host command, the CLI in another process, the chat's own
        # clock), platforms that show chats elsewhere follow (Discord's Scheduled Events).
        if changed:
            try:
                await self.performer.chats_changed(changed)
            except Exception:
                logger.exception("telling the platforms about changed chats failed")

    async def actions_for(self, chat: Chat) -> list[Action]:
        """The chat's timeline with the host's recorded live controls applied."""
        reminders = await self.store.chat_reminders(chat.id)
        recorded = [
            (at, kind, detail) for at, kind, detail, _by in await self.store.controls(chat.id)
        ]
        lead = self.options.wrapup_lead
        plain = timeline(chat, reminders=reminders, wrapup_lead=lead)
        return timeline(
            chat, reminders=reminders, shifts=compute_shifts(plain, recorded), wrapup_lead=lead
        )

    async def schedule_chat(self, chat: Chat) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith(chat.id + ":"):
                job.remove()
        actions = await self.actions_for(chat)
        done = await self.performer.done_actions(chat)
        now = self.clock.now()
        for action in actions:
            if action.key in done:
                continue
            if action.at <= now:
                # Due or overdue: one job right away performs everything due, in order
                # (after the back-off of a step that just failed).
                at = max(now, self._retry_at.get(chat.id, now))
                self._add_job(chat.id, "due", self.clock.to_real(at))
                continue
            self._add_job(chat.id, action.key, self.clock.to_real(action.at))

    def _add_job(self, chat_id: str, key: str, run_at: object) -> None:
        self.scheduler.add_job(
            self._fire,
            "date",
            run_date=run_at,
            args=[chat_id],
            id=f"{chat_id}:{key}",
            replace_existing=True,
            misfire_grace_time=None,  # a late job still runs; the policy below decides what to post
            coalesce=True,
        )

    # ---- firing ------------------------------------------------------------------------

    async def _fire(self, chat_id: str) -> None:
        try:
            await self.run_due(chat_id)
        except NotFoundError:
            logger.info("chat %s was deleted; nothing left to do", chat_id)
        except Exception as exc:  # reading the chat failed, before any step
            await self._step_failed(chat_id, None, "reading its due actions", exc)

    async def run_due(self, chat_id: str) -> list[str]:
        """Perform every due, not-yet-done action of a chat, in timeline order."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        performed: list[str] = []
        async with lock:
            if self._closing:
                return performed
            chat = await self.store.get_chat(chat_id)
            if chat.status not in OPEN_STATUSES:
                return performed
            actions = await self.actions_for(chat)
            done = await self.performer.done_actions(chat)
            now = self.clock.now()
            due = [a for a in actions if a.key not in done and a.at <= now]
            for action in due:
                try:
                    await self._carry_out(chat, action, now)
                except Exception as exc:
                    # Later actions wait for this one: the chat keeps its order.
                    await self._step_failed(chat_id, chat, action.key, exc)
                    return performed
                self._failures.pop(chat_id, None)
                self._retry_at.pop(chat_id, None)
                performed.append(action.key)
                chat = await self.store.get_chat(chat_id)
                if chat.status not in OPEN_STATUSES:
                    break
        return performed

    async def _carry_out(self, chat: Chat, action: Action, now: datetime) -> None:
        verdict = self._policy(chat, action, now)
        # Missed while this process was not running, or while it was (a stall).
        why = "while the bot was offline" if action.at < self._started_at else "late"
        if verdict == "drop":
            await self.performer.skip(chat, action, f"reminder time passed {why}")
        elif verdict == "skip":
            await self.performer.skip(chat, action, f"time passed {why}")
        else:
            note = ""
            if verdict == "late":  # a catch-up note, in the chat's language
                tr = translator(chat.language)
                note = (
                    tr.gettext("(posted late: the bot was offline)")
                    if action.at < self._started_at
                    else tr.gettext("(posted late)")
                )
            await self.performer.perform(chat, action, note=note)

    async def _step_failed(
        self, chat_id: str, chat: Chat | None, step: str, exc: Exception
    ) -> None:
        """One line naming the chat, the step and the error; the chat's due actions are
        tried again after a back-off; the hosts are told when it keeps failing."""
        failures = self._failures.get(chat_id, 0) + 1
        self._failures[chat_id] = failures
        ceiling = min(self.options.retry_cap, self.options.retry_base * 2 ** (failures - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        reason = str(exc) if isinstance(exc, StepFailed) else one_line(exc)
        logger.debug("chat %s: %s failed", chat_id, step, exc_info=exc)
        message = f"chat {chat_id}: {step} failed ({reason})"
        if failures == ALERT_AFTER:
            logger.error("%s %d times in a row; still retrying", message, failures)
            if self.notify is not None and chat is not None:
                try:
                    tr = translator(chat.language)
                    # Translators: an alert to the hosts; {step} names the step ("posting
                    # q2 on x") and {reason} is the error, both in English.
                    alert = tr.ngettext(
                        "{step} has failed {n} time in a row: {reason}",
                        "{step} has failed {n} times in a row: {reason}",
                        failures,
                    )
                    await self.notify(
                        chat, alert.format(step=step, n=tr.number(failures), reason=reason)
                    )
                except Exception as alert_exc:
                    logger.warning("alerting the hosts failed: %s", one_line(alert_exc))
        else:
            logger.warning("%s; retrying in %.1fs", message, delay)
        if self._closing:
            return
        at = self.clock.now() + timedelta(seconds=delay)
        self._retry_at[chat_id] = at
        self._add_job(chat_id, "due", self.clock.to_real(at))

    def _policy(self, chat: Chat, action: Action, now: datetime) -> str:
        """post | late | skip | drop for one due action (see the module docstring)."""
        if action.kind in (ActionKind.CLOSE, ActionKind.PUBLISH):
            return "post"
        if now - action.at <= self.options.misfire_grace:
            return "post"
        if action.kind == ActionKind.REMIND:
            return "drop"
        if action.kind in POSTING_KINDS:
            if self.options.missed == "skip" or now >= chat.end:
                return "skip"
            return "late"
        return "post"
