"""Discord: everything about the network in one package.

- ``adapter``: the `DiscordPlatform` (gateway in a background task, REST posting, backfill).
- ``payloads``: discord.py objects to neutral values (messages, channel keys, sent posts).
- ``embeds``: the summary embed of a published chat.
- ``commands``: the `/tweetchat` slash commands hosts run chats with.
- ``scheduled_events``: the server's Scheduled Events that mirror the chats.

Only this package imports discord.py.
"""
