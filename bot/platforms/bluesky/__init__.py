"""Bluesky: everything about the network in one package.

- ``adapter``: the `BlueskyPlatform` (atproto's AsyncClient for XRPC): the session, posts
  with tag and link facets, questions threaded under the intro, host alerts, finding our
  posts, deletions and engagement read back; it runs the capture below.
- ``capture``: the live feed from Jetstream (atproto's Jetstream client) with a stored
  cursor, the backfill from search and the question posts' threads, and the sweep before
  publishing.
- ``xrpc``: one XRPC call with Bluesky's failure rules (retries, 429 waits, refusals) and
  `BlueskyPostError`.
- ``records``: post records and Jetstream events as pure functions (facets, threading,
  conversion to neutral messages).
- ``limits``: how Bluesky counts a post's length (graphemes), and the network's post limit.

Only this package imports atproto.
"""
