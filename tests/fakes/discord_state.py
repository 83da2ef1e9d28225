"""In-memory state of the fake Discord server and the mutations that also dispatch events.

Every mutation here does what Discord does: it changes the stored objects and sends the
matching gateway DISPATCH (MESSAGE_CREATE for a message, THREAD_CREATE for a thread ...),
then wakes anything waiting in :meth:`FakeDiscordState.wait_until`.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from tests.fakes.discord_gateway import PRIVILEGED_INTENTS, Gateway
from tests.fakes.discord_payloads import (
    ADMINISTRATOR,
    DEFAULT_EVERYONE_PERMISSIONS,
    MANAGE_EVENTS,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeUser,
    SnowflakeFactory,
    attachment_payload,
    iso,
    member_payload,
    mentioned_user_ids,
    message_payload,
    role_payload,
    scheduled_event_payload,
    snapshot_payload,
    text_channel_payload,
    thread_payload,
)

T = TypeVar("T")
EPHEMERAL = 1 << 6
MESSAGE_CONTENT = 1 << 15
ALL_PERMISSIONS = (1 << 53) - 1
_EVENT_KEYS = frozenset(
    {
        "channel_id",
        "name",
        "privacy_level",
        "scheduled_start_time",
        "scheduled_end_time",
        "description",
        "entity_type",
        "entity_metadata",
        "status",
        "image",
        "recurrence_rule",
    }
)


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """A file the bot uploaded, with its bytes, as tests read it back."""

    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str | None
    message_id: int | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int  # 2 application command, 5 modal submit
    payload: dict[str, Any]
    user: FakeUser
    channel_id: int
    guild_id: int | None
    created: float  # event-loop time, for the 3-second initial-response deadline
    deadline: float
    message: dict[str, Any] | None = None  # the message a component/modal came from
    response: dict[str, Any] | None = None  # the callback body {"type", "data"}
    original: dict[str, Any] | None = None  # the message the response created
    followups: list[dict[str, Any]] = field(default_factory=list)
    modal: dict[str, Any] | None = None  # the modal (callback type 9 data), if one was opened

    def is_expired(self) -> bool:
        return asyncio.get_running_loop().time() > self.created + self.deadline

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response was ephemeral."""
        if self.response is None:
            return False
        return bool(int((self.response.get("data") or {}).get("flags") or 0) & EPHEMERAL)

    @property
    def content(self) -> str:
        """The current text of the original response (after any edits)."""
        return "" if self.original is None else str(self.original.get("content") or "")


def _as_id(value: FakeUser | int | str) -> int:
    return value.id if isinstance(value, FakeUser) else int(value)


class FakeDiscordState:
    """Guilds, channels, users, messages, events, commands and interactions of the fake."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        clock: Callable[[], datetime] | None = None,
        heartbeat_interval_ms: int = 1000,
        privileged_intents: int = PRIVILEGED_INTENTS,
        interaction_deadline: float = 3.0,
        bot_name: str = "tweetchat-bot",
    ) -> None:
        self.token = token
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.privileged_intents = privileged_intents
        self.interaction_deadline = interaction_deadline
        self.snowflakes = SnowflakeFactory(self.now)
        self.gateway = Gateway(self)  # type: ignore[arg-type]
        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.roles: dict[int, dict[int, dict[str, Any]]] = {}
        self.members: dict[int, dict[int, dict[str, Any]]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}
        self.attachment_bytes: dict[int, bytes] = {}
        self._attachment_meta: dict[int, StoredAttachment] = {}
        self.events: dict[int, dict[int, dict[str, Any]]] = {}
        self.commands: dict[int | None, dict[int, dict[str, Any]]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self._changed = asyncio.Event()
        self.base_url = "http://127.0.0.1:0"

        self.bot_user = self._new_user(bot_name, bot=True)
        self.application_id = self.bot_user.id
        self.owner = self._new_user("guild-owner", global_name="Guild Owner")
        self.guild_id = self.add_guild("Tweetchat Test Guild")
        self.channel_id = self.add_text_channel("general")

    # -- time, waiting -----------------------------------------------------------------

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the fake Discord clock must return aware datetimes")
        return moment

    def notify(self) -> None:
        """Wake every :meth:`wait_until` so it re-checks its predicate."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self, predicate: Callable[[], T], *, within: float = 5.0, what: str = "condition"
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every state change); return it."""
        try:
            async with asyncio.timeout(within):
                while True:
                    changed = self._changed
                    result = predicate()
                    if result:
                        return result
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"fake Discord: timed out after {within}s waiting for {what}"
            ) from None

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a raw gateway DISPATCH to every connected (or resumable) session."""
        self.gateway.dispatch(event, data)
        self.notify()

    # -- users, guilds, roles, channels ------------------------------------------------

    def _new_user(
        self, username: str, *, global_name: str | None = None, bot: bool = False
    ) -> FakeUser:
        user = FakeUser(self.snowflakes.next(), username, global_name, bot)
        self.users[user.id] = user
        return user

    def guild_ids(self) -> list[int]:
        return list(self.guilds)

    def add_guild(self, name: str) -> int:
        """Create a guild with an @everyone role, the bot (with a "Bot" role) and its owner."""
        guild_id = self.snowflakes.next()
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "emojis": [],
            "stickers": [],
        }
        self.roles[guild_id] = {
            guild_id: role_payload(guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, 0)
        }
        self.members[guild_id] = {}
        self.events[guild_id] = {}
        bot_role = self.add_role(
            "Bot",
            permissions=DEFAULT_EVERYONE_PERMISSIONS
            | MANAGE_MESSAGES
            | MANAGE_EVENTS
            | MANAGE_GUILD,
            guild_id=guild_id,
        )
        self.roles[guild_id][bot_role]["managed"] = True
        self.roles[guild_id][bot_role]["tags"] = {"bot_id": str(self.bot_user.id)}
        self.add_member(self.bot_user, guild_id=guild_id, roles=[bot_role])
        self.add_member(self.owner, guild_id=guild_id)
        return guild_id

    def require_guild(self, guild_id: int) -> dict[str, Any]:
        from tests.fakes.discord_rest import DiscordError

        guild = self.guilds.get(guild_id)
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    def add_role(self, name: str, *, permissions: int = 0, guild_id: int | None = None) -> int:
        gid = guild_id or self.guild_id
        role_id = self.snowflakes.next()
        role = role_payload(role_id, name, permissions, len(self.roles[gid]))
        self.roles[gid][role_id] = role
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(gid), "role": role})
        return role_id

    def add_member(
        self,
        user: FakeUser,
        *,
        guild_id: int | None = None,
        roles: Iterable[int] = (),
        nick: str | None = None,
    ) -> dict[str, Any]:
        gid = guild_id or self.guild_id
        member = member_payload(user, roles, self.now(), nick=nick)
        self.members[gid][user.id] = member
        if gid in self.guilds and self.gateway.sessions:
            self.dispatch("GUILD_MEMBER_ADD", member | {"guild_id": str(gid)})
        return member

    def add_user(
        self,
        username: str,
        *,
        global_name: str | None = None,
        bot: bool = False,
        roles: Iterable[int] = (),
        guild_id: int | None = None,
    ) -> FakeUser:
        """Create a user who is a member of ``guild_id`` (default: the default guild)."""
        user = self._new_user(username, global_name=global_name, bot=bot)
        self.add_member(user, guild_id=guild_id, roles=roles)
        return user

    def user(self, user: FakeUser | int) -> FakeUser:
        return self.users[_as_id(user)]

    def member_payloads(self, guild_id: int) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.members.get(guild_id, {}).values()))

    def permissions(self, user: FakeUser | int, guild_id: int | None = None) -> int:
        """The member's guild-level permissions (owner and administrators get everything)."""
        gid = guild_id or self.guild_id
        uid = _as_id(user)
        if self.guilds[gid]["owner_id"] == str(uid):
            return ALL_PERMISSIONS
        roles = self.roles[gid]
        value = int(roles[gid]["permissions"])
        member = self.members[gid].get(uid)
        for role_id in member["roles"] if member else []:
            value |= int(roles[int(role_id)]["permissions"])
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def add_text_channel(self, name: str, *, guild_id: int | None = None) -> int:
        gid = guild_id or self.guild_id
        channel_id = self.snowflakes.next()
        position = sum(1 for c in self.channels.values() if c["guild_id"] == str(gid))
        self.channels[channel_id] = text_channel_payload(channel_id, gid, name, position)
        self._messages[channel_id] = {}
        self.dispatch("CHANNEL_CREATE", copy.deepcopy(self.channels[channel_id]))
        return channel_id

    def require_channel(self, channel_id: int) -> dict[str, Any]:
        from tests.fakes.discord_rest import DiscordError

        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def create_thread(
        self,
        channel_id: int,
        name: str,
        *,
        owner: FakeUser | int | None = None,
        message_id: int | None = None,
        private: bool = False,
        auto_archive_duration: int = 1440,
    ) -> dict[str, Any]:
        """Create a thread in a text channel (from a message when ``message_id`` is given)."""
        parent = self.require_channel(channel_id)
        guild_id = int(parent["guild_id"])
        owner_user = self.user(owner) if owner is not None else self.bot_user
        thread_id = message_id if message_id is not None else self.snowflakes.next()
        thread = thread_payload(
            thread_id,
            guild_id,
            channel_id,
            owner_user.id,
            name,
            self.now(),
            private=private,
            auto_archive_duration=auto_archive_duration,
        )
        self.channels[thread_id] = thread
        self._messages[thread_id] = {}
        if message_id is not None:
            self._messages[channel_id][message_id]["thread"] = thread
        event = copy.deepcopy(thread) | {"newly_created": True}
        if owner_user.id == self.bot_user.id:
            event["member"] = {
                "id": str(thread_id),
                "user_id": str(self.bot_user.id),
                "join_timestamp": iso(self.now()),
                "flags": 1,
            }
        self.dispatch("THREAD_CREATE", event)
        return copy.deepcopy(thread)

    def _guild_channels(self, guild_id: int, *, threads: bool) -> list[dict[str, Any]]:
        kinds = (PUBLIC_THREAD, PRIVATE_THREAD)
        return [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c["guild_id"] == str(guild_id) and (c["type"] in kinds) == threads
        ]

    def guild_rest_payload(self, guild_id: int) -> dict[str, Any]:
        guild = copy.deepcopy(self.require_guild(guild_id))
        guild["roles"] = copy.deepcopy(list(self.roles[guild_id].values()))
        return guild

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        """The GUILD_CREATE body: the guild with channels, threads, members and events."""
        payload = self.guild_rest_payload(guild_id)
        members = self.member_payloads(guild_id)
        payload.update(
            joined_at=iso(self.now()),
            large=False,
            unavailable=False,
            member_count=len(members),
            voice_states=[],
            members=members,
            channels=self._guild_channels(guild_id, threads=False),
            threads=self._guild_channels(guild_id, threads=True),
            presences=[],
            stage_instances=[],
            guild_scheduled_events=self.scheduled_events(guild_id),
            soundboard_sounds=[],
        )
        return payload

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "bot": self.bot_user.to_payload(),
            "owner": self.owner.to_payload(),
            "summary": "",
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    # -- messages ----------------------------------------------------------------------

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """The channel's stored messages, oldest first (as REST would show them)."""
        stored = self._messages.get(channel_id, {})
        return [self.rest_view(stored[mid]) for mid in sorted(stored)]

    def find_message(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        return self._messages.get(channel_id, {}).get(message_id)

    def require_message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        from tests.fakes.discord_rest import DiscordError

        self.require_channel(channel_id)
        message = self.find_message(channel_id, message_id)
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    def rest_view(self, message: dict[str, Any]) -> dict[str, Any]:
        """A copy of a stored message as REST returns it (live referenced_message)."""
        view = copy.deepcopy(message)
        for reaction in view.get("reactions", []):
            reaction.pop("_users", None)
        ref = view.get("message_reference")
        if ref is not None and view.get("type") == 19:
            target = self.find_message(int(ref["channel_id"]), int(ref["message_id"]))
            if target is not None:
                target_view = copy.deepcopy(target)
                target_view.pop("referenced_message", None)
                view["referenced_message"] = target_view
            else:
                view["referenced_message"] = None
        if not self.privileged_intents & MESSAGE_CONTENT and not self._content_visible(view):
            view.update(content="", embeds=[], attachments=[], components=[])
        return view

    def _content_visible(self, message: dict[str, Any]) -> bool:
        bot_id = str(self.bot_user.id)
        return message["author"]["id"] == bot_id or any(
            u.get("id") == bot_id for u in message.get("mentions", [])
        )

    def event_view(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as a MESSAGE_CREATE/UPDATE body (guild_id and member added)."""
        view = self.rest_view(message)
        channel = self.channels.get(int(message["channel_id"]))
        if channel is not None:
            gid = int(channel["guild_id"])
            view["guild_id"] = str(gid)
            member = self.members[gid].get(int(message["author"]["id"]))
            if member is not None and "webhook_id" not in message:
                view["member"] = {k: v for k, v in copy.deepcopy(member).items() if k != "user"}
            for mention in view["mentions"]:
                mention_member = self.members[gid].get(int(mention["id"]))
                if mention_member is not None:
                    mention["member"] = {
                        k: v for k, v in copy.deepcopy(mention_member).items() if k != "user"
                    }
        return view

    def _mentions(self, content: str) -> list[dict[str, Any]]:
        return [
            self.users[uid].to_payload() for uid in mentioned_user_ids(content) if uid in self.users
        ]

    def store_message(
        self,
        channel_id: int,
        author: FakeUser,
        content: str,
        *,
        reply_to: int | None = None,
        forward_of: tuple[int, int] | None = None,
        at: datetime | None = None,
        attachments: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        components: list[dict[str, Any]] | None = None,
        flags: int = 0,
        dispatch: bool = True,
        gateway: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """Store a message in the channel's history and dispatch MESSAGE_CREATE.

        ``dispatch`` False: only build the payload (neither stored nor sent). ``gateway``
        False: stored in the history, but its MESSAGE_CREATE is lost in flight (never sent).

        ``forward_of`` (channel id, message id): a forward of that message, as Discord
        makes one: type 0, a reference of type 1 (FORWARD), the message's snapshot, no
        content of its own.
        """
        channel = self.require_channel(channel_id)
        created = at if at is not None else self.now()
        message_id = self.snowflakes.next(created)
        reference = extra.pop("reference", None)  # as given (a pin's, a thread starter's)
        if forward_of is not None:
            source_channel, source_id = forward_of
            source = self.require_message(source_channel, source_id)
            reference = {
                "type": 1,
                "message_id": str(source_id),
                "channel_id": str(source_channel),
                "guild_id": self.require_channel(source_channel)["guild_id"],
            }
            extra.setdefault("message_type", 0)
            extra["message_snapshots"] = [snapshot_payload(source)]
        elif reply_to is not None:
            reference = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                "guild_id": channel["guild_id"],
            }
        message = message_payload(
            message_id,
            channel_id,
            author,
            content,
            created,
            mentions=self._mentions(content),
            reference=reference,
            attachments=attachments,
            embeds=embeds,
            components=components,
            flags=flags,
            **extra,
        )
        for attachment in message["attachments"]:
            meta = self._attachment_meta.get(int(attachment["id"]))
            if meta is not None:
                self._attachment_meta[meta.id] = StoredAttachment(
                    meta.id,
                    meta.channel_id,
                    meta.filename,
                    meta.data,
                    meta.content_type,
                    message_id,
                )
        if dispatch:
            self._messages[channel_id][message_id] = message
            if (
                channel.get("last_message_id") is None
                or int(channel["last_message_id"]) < message_id
            ):
                channel["last_message_id"] = str(message_id)
            if channel["type"] in (PUBLIC_THREAD, PRIVATE_THREAD):
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
            if gateway:
                self.dispatch("MESSAGE_CREATE", self.event_view(message))
        return message

    def apply_edit(
        self,
        channel_id: int,
        message_id: int,
        changes: dict[str, Any],
        *,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Change a stored message and dispatch MESSAGE_UPDATE (a full message, as Discord does)."""
        message = self.require_message(channel_id, message_id)
        self._apply_changes(message, changes, at)
        self.dispatch("MESSAGE_UPDATE", self.event_view(message))
        return message

    def _apply_changes(
        self, message: dict[str, Any], changes: dict[str, Any], at: datetime | None
    ) -> None:
        message.update(copy.deepcopy(changes))
        if "content" in changes:
            message["mentions"] = self._mentions(message["content"])
            message["mention_everyone"] = "@everyone" in message["content"]
            message["edited_timestamp"] = iso(at if at is not None else self.now())

    def edit_message(
        self, channel_id: int, message_id: int, content: str, *, at: datetime | None = None
    ) -> dict[str, Any]:
        """A user edits their message: update it and dispatch MESSAGE_UPDATE."""
        return self.rest_view(self.apply_edit(channel_id, message_id, {"content": content}, at=at))

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message and dispatch MESSAGE_DELETE."""
        channel = self.require_channel(channel_id)
        self.require_message(channel_id, message_id)
        del self._messages[channel_id][message_id]
        self.dispatch(
            "MESSAGE_DELETE",
            {"id": str(message_id), "channel_id": str(channel_id), "guild_id": channel["guild_id"]},
        )

    def add_reaction(
        self, channel_id: int, message_id: int, user: FakeUser | int, emoji: str = "👍"
    ) -> None:
        """``user`` reacts with a unicode emoji: count it and dispatch MESSAGE_REACTION_ADD."""
        channel = self.require_channel(channel_id)
        message = self.require_message(channel_id, message_id)
        reactor = self.user(user)
        name = unquote(emoji)
        reactions = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["emoji"]["name"] == name), None)
        if entry is None:
            entry = {
                "count": 0,
                "count_details": {"burst": 0, "normal": 0},
                "me": False,
                "me_burst": False,
                "burst_colors": [],
                "emoji": {"id": None, "name": name},
                "_users": [],
            }
            reactions.append(entry)
        if reactor.id in entry["_users"]:
            return
        entry["_users"].append(reactor.id)
        entry["count"] += 1
        entry["count_details"]["normal"] += 1
        entry["me"] = entry["me"] or reactor.id == self.bot_user.id
        gid = int(channel["guild_id"])
        event: dict[str, Any] = {
            "user_id": str(reactor.id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(gid),
            "emoji": {"id": None, "name": name},
            "message_author_id": message["author"]["id"],
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        if reactor.id in self.members[gid]:
            event["member"] = copy.deepcopy(self.members[gid][reactor.id])
        self.dispatch("MESSAGE_REACTION_ADD", event)

    def remove_reaction(
        self, channel_id: int, message_id: int, user: FakeUser | int, emoji: str
    ) -> None:
        channel = self.require_channel(channel_id)
        message = self.require_message(channel_id, message_id)
        reactor = self.user(user)
        name = unquote(emoji)
        for entry in message.get("reactions", []):
            if entry["emoji"]["name"] == name and reactor.id in entry["_users"]:
                entry["_users"].remove(reactor.id)
                entry["count"] -= 1
                entry["count_details"]["normal"] -= 1
                if reactor.id == self.bot_user.id:
                    entry["me"] = False
                self.dispatch(
                    "MESSAGE_REACTION_REMOVE",
                    {
                        "user_id": str(reactor.id),
                        "channel_id": str(channel_id),
                        "message_id": str(message_id),
                        "guild_id": channel["guild_id"],
                        "emoji": {"id": None, "name": name},
                        "burst": False,
                        "type": 0,
                    },
                )
        message["reactions"] = [r for r in message.get("reactions", []) if r["count"] > 0]

    # -- attachments -------------------------------------------------------------------

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        content_type: str | None,
        *,
        description: str | None = None,
    ) -> dict[str, Any]:
        attachment_id = self.snowflakes.next()
        self.attachment_bytes[attachment_id] = data
        self._attachment_meta[attachment_id] = StoredAttachment(
            attachment_id, channel_id, filename, data, content_type
        )
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        return attachment_payload(
            attachment_id, filename, len(data), url, content_type, description
        )

    def attachments(
        self, channel_id: int, *, include_ephemeral: bool = True
    ) -> list[StoredAttachment]:
        """Files attached to messages in the channel, oldest first (bytes included).

        With ``include_ephemeral``, files on ephemeral interaction responses sent in that
        channel are included too (they are not part of the channel history).
        """
        found: list[StoredAttachment] = []
        sources = list(self._messages.get(channel_id, {}).values())
        if include_ephemeral:
            for interaction in self.interactions.values():
                for message in [interaction.original, *interaction.followups]:
                    if message is not None and int(message["channel_id"]) == channel_id:
                        if int(message.get("flags", 0)) & EPHEMERAL:
                            sources.append(message)
        for message in sorted(sources, key=lambda m: int(m["id"])):
            for attachment in message["attachments"]:
                meta = self._attachment_meta.get(int(attachment["id"]))
                if meta is not None:
                    found.append(meta)
        return found

    # -- scheduled events --------------------------------------------------------------

    def scheduled_events(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        gid = guild_id or self.guild_id
        self.require_guild(gid)
        return [copy.deepcopy(e) for _, e in sorted(self.events[gid].items())]

    def create_scheduled_event(self, guild_id: int, body: dict[str, Any]) -> dict[str, Any]:
        event_id = self.snowflakes.next()
        event = scheduled_event_payload(event_id, guild_id, self.bot_user, body)
        self.events[guild_id][event_id] = event
        self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", copy.deepcopy(event))
        return copy.deepcopy(event)

    def update_scheduled_event(
        self, guild_id: int, event_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        event = self.events[guild_id][event_id]
        event.update({k: v for k, v in body.items() if k in _EVENT_KEYS})
        self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", copy.deepcopy(event))
        return copy.deepcopy(event)

    def delete_scheduled_event(self, guild_id: int, event_id: int) -> None:
        event = self.events[guild_id].pop(event_id)
        self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)

    # -- application commands ----------------------------------------------------------

    def overwrite_commands(
        self, scope: int | None, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Replace the commands of a scope (None: global), keeping ids of same-named ones."""
        from tests.fakes.discord_rest import invalid_form

        old = {(c["type"], c["name"]): c for c in self.commands.get(scope, {}).values()}
        new: dict[int, dict[str, Any]] = {}
        for index, body in enumerate(bodies):
            kind = int(body.get("type", 1))
            name = body.get("name") or ""
            problem = _command_problem(body, kind)
            if problem:
                raise invalid_form(str(index), "APPLICATION_COMMAND_INVALID", problem)
            previous = old.get((kind, name))
            command_id = int(previous["id"]) if previous else self.snowflakes.next()
            command: dict[str, Any] = {
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(self.snowflakes.next()),
                "type": kind,
                "name": name,
                "name_localizations": body.get("name_localizations"),
                "description": body.get("description", ""),
                "description_localizations": body.get("description_localizations"),
                "default_member_permissions": body.get("default_member_permissions"),
                "nsfw": bool(body.get("nsfw", False)),
                "contexts": body.get("contexts"),
                "integration_types": body.get("integration_types", [0]),
            }
            if body.get("options"):
                command["options"] = copy.deepcopy(body["options"])
            if scope is None:
                command["dm_permission"] = body.get("dm_permission", True)
            else:
                command["guild_id"] = str(scope)
            new[command_id] = command
        self.commands[scope] = new
        self.notify()
        return copy.deepcopy(list(new.values()))

    def find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        """A registered chat-input command, guild commands first, then global ones."""
        for scope in (guild_id, None):
            for command in self.commands.get(scope, {}).values():
                if command["name"] == name and command["type"] == 1:
                    return command
        return None

    # -- interaction messages ----------------------------------------------------------

    def interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def new_interaction_token(self) -> str:
        return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)

    def interaction_message(
        self,
        interaction: FakeInteraction,
        data: dict[str, Any],
        *,
        attachments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The message an interaction response or followup creates (stored unless ephemeral)."""
        flags = int(data.get("flags") or 0)
        ephemeral = bool(flags & EPHEMERAL)
        is_command = interaction.type == 2
        metadata = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": interaction.user.to_payload(),
            "authorizing_integration_owners": {"0": str(interaction.guild_id)},
        }
        if is_command:
            metadata["name"] = interaction.payload["data"]["name"]
        message = self.store_message(
            interaction.channel_id,
            self.bot_user,
            data.get("content") or "",
            attachments=attachments,
            embeds=data.get("embeds"),
            components=data.get("components"),
            flags=flags,
            dispatch=not ephemeral,
            webhook_id=self.application_id,
            application_id=self.application_id,
            interaction_metadata=metadata,
            message_type=20 if is_command else 0,
        )
        self.notify()
        return message

    def edit_interaction_message(
        self, interaction: FakeInteraction, message: dict[str, Any], changes: dict[str, Any]
    ) -> dict[str, Any]:
        channel_id = int(message["channel_id"])
        if self.find_message(channel_id, int(message["id"])) is message:
            return self.apply_edit(channel_id, int(message["id"]), changes)
        self._apply_changes(message, changes, None)
        self.notify()
        return message

    def delete_interaction_message(
        self, interaction: FakeInteraction, message: dict[str, Any]
    ) -> None:
        channel_id = int(message["channel_id"])
        if self.find_message(channel_id, int(message["id"])) is message:
            self.delete_message(channel_id, int(message["id"]))
        if interaction.original is message:
            interaction.original = None
        elif message in interaction.followups:
            interaction.followups.remove(message)
        self.notify()

    def record_interaction_response(
        self, interaction: FakeInteraction, body: dict[str, Any]
    ) -> None:
        interaction.response = copy.deepcopy(body)
        self.notify()


def _command_problem(body: dict[str, Any], kind: int) -> str:
    """Why Discord would reject this command definition ('' when it is fine)."""
    name = body.get("name") or ""
    if not 1 <= len(name) <= 32:
        return f"name {name!r} must be 1-32 characters"
    if kind == 1:
        if name != name.lower() or " " in name:
            return f"chat input command name {name!r} must be lower case without spaces"
        if not 1 <= len(body.get("description") or "") <= 100:
            return f"command {name!r} needs a 1-100 character description"
        for option in body.get("options") or []:
            problem = _command_problem(option, 1)
            if problem:
                return problem
    return ""
