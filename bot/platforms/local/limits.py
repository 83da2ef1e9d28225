"""The local platform's post limit (a stand-in network: generous, but a limit all the same,
so the contract that every network refuses an over-long post holds here too)."""

from __future__ import annotations

from scheduler.limits import PostLimit, count_characters

# A room like Discord's channel: a split post's parts are consecutive messages, unnumbered.
POST_LIMIT = PostLimit(
    "the local platform", 4000, "characters", count_characters, number_parts=False
)
