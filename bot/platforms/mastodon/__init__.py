"""Mastodon (and compatible fediverse servers): everything about the network in one package.

- ``limits``: how an instance counts a status's length (links 23, mentions without their
  domain) and the post limit built from it; imports nothing of Mastodon.py.
- ``content``: status HTML turned into plain text (BeautifulSoup).
- ``payloads``: pure conversions of API entities (Status, Notification, Instance) and
  streaming events into neutral values; the idempotency key of a post.
- ``stream``: the hashtag stream (server-sent events) read with aiohttp.
- ``adapter``: the `MastodonPlatform` (Mastodon.py, every call off the event loop).

Only this package imports Mastodon.py (``mastodon``).
"""
