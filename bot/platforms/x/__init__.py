"""X (Twitter): everything about the network in one package.

- ``adapter``: the `XPlatform` (tweepy's AsyncClient: standalone posts, polling recent search).
- ``search``: recent-search queries and their payloads as neutral messages.
- ``cost``: pay-per-use accounting shown to hosts.
- ``length``: how X counts a post's length (twitter-text v3), and the network's post limit.

Only this package imports tweepy.
"""
