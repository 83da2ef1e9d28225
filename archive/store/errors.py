"""The store's exceptions: small, named for what went wrong."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for store failures that a user can act on."""


class NotFoundError(StoreError):
    """No chat (or other row) with that id."""


class DuplicateChatError(StoreError):
    """A chat with that id already exists."""
