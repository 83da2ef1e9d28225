"""Bluesky: everything about the network in one package.

- ``adapter``: the `BlueskyPlatform` (atproto's AsyncClient for XRPC, its Jetstream client
  for the live feed): posts with tag and link facets, questions threaded under the intro,
  capture from Jetstream with a stored cursor, backfill from search.
- ``records``: post records and Jetstream events as pure functions (facets, threading,
  conversion to neutral messages).
- ``limits``: how Bluesky counts a post's length (graphemes), and the network's post limit.

Only this package imports atproto.
"""
