"""Engagement refreshed at publishing: each network of a chat is asked once what it counts
on the chat's answers (reactions, likes, reposts), and the archive records it for the
transcripts' Highlights (`archive.highlights`).

A network that cannot be read does not hold the transcript back: it is published with the
counts already stored (live reactions on Discord and the local platform), and the failure
is one warning naming the chat and the network.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from archive.models import Chat
from archive.store import AsyncStore, Store
from bot.platforms.base import Platform
from scheduler.supervision import one_line

logger = logging.getLogger(__name__)


async def refresh_engagement(
    store: AsyncStore, chat: Chat, platforms: Mapping[str, Platform]
) -> int:
    """Read and record the engagement of the chat's answers on each of its networks that
    can tell (`Capabilities.engagement`); returns how many posts were recorded. Never
    raises for a network's failure (logged instead)."""
    recorded = 0
    for name in dict.fromkeys(t.platform for t in chat.targets):
        platform = platforms.get(name)
        if platform is None or not platform.capabilities.engagement:
            continue
        ids = await store.read(Store.answer_ids, chat.id, name)
        if not ids:
            continue
        try:
            counts = await platform.engagement(ids)
        except Exception as exc:
            logger.warning(
                "chat %s: engagement on %s not refreshed (%s); publishing with what is stored",
                chat.id,
                name,
                one_line(exc),
            )
            continue
        recorded += await store.write(Store.set_engagement, name, counts)
    if recorded:
        logger.info("chat %s: engagement of %d posts refreshed", chat.id, recorded)
    return recorded
