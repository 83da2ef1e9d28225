"""Importers: archive chats that ran before the bot was installed, from platform exports."""
