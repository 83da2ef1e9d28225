"""X's pay-per-use arithmetic: the running cost estimate of a chat.

Pure functions and a small value type; the adapter keeps the counts in the store's state table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from archive.store import Store
from bot.config import XConfig
from bot.platforms.x.length import URL_RE


def has_url(text: str) -> bool:
    """Whether X bills this post at the (much higher) price of a post with a link."""
    return URL_RE.search(text) is not None


@dataclass(frozen=True, slots=True)
class XUsage:
    """What one chat has cost on X so far: posts read, posts created (with a link or not)."""

    reads: int = 0
    posts: int = 0
    posts_with_url: int = 0

    def add(self, *, reads: int = 0, posts: int = 0, posts_with_url: int = 0) -> XUsage:
        return XUsage(self.reads + reads, self.posts + posts, self.posts_with_url + posts_with_url)

    def dollars(self, config: XConfig) -> float:
        return (
            self.reads * config.price_per_read
            + self.posts * config.price_per_post
            + self.posts_with_url * config.price_per_post_with_url
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> XUsage:
        """Parse what `to_json` wrote; anything unreadable counts as no usage yet."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(int(data["reads"]), int(data["posts"]), int(data["posts_with_url"]))
        except (ValueError, KeyError, TypeError):
            return cls()


def _price(value: float) -> str:
    return f"${value:g}" if value < 0.01 else f"${value:.2f}"


def cost_line(usage: XUsage, config: XConfig) -> str:
    """One line for the host: counts, the estimate and the prices it assumes."""
    created = usage.posts + usage.posts_with_url
    prices = f"at {_price(config.price_per_read)}/read, {_price(config.price_per_post)}/post"
    if usage.posts_with_url:
        prices += f", {_price(config.price_per_post_with_url)}/post with a link"
    return (
        f"X API cost estimate: {usage.reads} posts read, {created} posts created"
        f" ≈ ${usage.dollars(config):.2f} ({prices})"
    )


def bump_usage(store: Store, chat_id: str, delta: XUsage, config: XConfig) -> None:
    """Add `delta` to a chat's X usage and refresh its cost line (on the store thread)."""
    with store.transaction():
        usage = XUsage.from_json(store.get_state(f"x:usage:{chat_id}")).add(
            reads=delta.reads, posts=delta.posts, posts_with_url=delta.posts_with_url
        )
        store.set_state(f"x:usage:{chat_id}", usage.to_json())


def stored_cost_note(store: Store, chat_id: str, config: XConfig) -> str:
    """A chat's cost line from its stored usage ('' when it never used X).

    Only the counts are stored; the line is derived from them and the configured prices
    wherever it is shown (`tweetchat show`, `tweetchat transcript`, the publisher).
    """
    raw = store.get_state(f"x:usage:{chat_id}")
    return "" if raw is None else cost_line(XUsage.from_json(raw), config)
