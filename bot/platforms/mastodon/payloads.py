"""Pure conversions of Mastodon API entities into neutral values, and the keys the adapter
keeps. No I/O: every function is a function of its input.

Entities (docs.joinmastodon.org/entities/): Status, Account, Notification, Instance (v2).
Mastodon.py hands them over as dicts with timestamps already parsed into datetimes; the
streaming API sends the same entities as JSON with ISO 8601 strings. Both are accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archive.hashtags import wanted_tag
from archive.models import IncomingMessage
from bot.platforms.mastodon.content import html_to_text

PLATFORM = "mastodon"


def as_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from Mastodon.py's datetime or the API's ISO 8601 string."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def plain(value: Any) -> Any:
    """A JSON-ready copy (datetimes as ISO strings, Mastodon.py's dict types as dicts)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


def handle_of(account: Mapping[str, Any], domain: str) -> str:
    """``user@instance`` for every account: ``acct`` is bare for the bot's own instance."""
    acct = str(account.get("acct") or account.get("username") or "")
    if "@" in acct or not acct or not domain:
        return acct
    return f"{acct}@{domain}"


def status_text(status: Mapping[str, Any]) -> str:
    """A status's text: its content warning (if any), then its content as plain text."""
    text = html_to_text(str(status.get("content") or ""))
    warning = str(status.get("spoiler_text") or "").strip()
    return f"{warning}\n\n{text}" if warning else text


def status_message(status: Mapping[str, Any], *, bot_id: str, domain: str) -> IncomingMessage:
    """A Status entity as a neutral message (a boost is a repost carrying the boosted text).

    Raises KeyError or ValueError for a payload without an id, account or creation time.
    """
    reblog = status.get("reblog")
    shown = reblog if isinstance(reblog, Mapping) else status
    account = status["account"]
    created = as_datetime(status.get("created_at"))
    if created is None:
        raise ValueError(f"status {status.get('id')!r} has no creation time")
    return IncomingMessage(
        platform=PLATFORM,
        platform_id=str(status["id"]),
        channel="",
        author_id=str(account["id"]),
        author_name=str(account.get("display_name") or account.get("username") or ""),
        author_handle=handle_of(account, domain),
        text=status_text(shown),
        created_at=created,
        reply_to=str(status.get("in_reply_to_id") or ""),
        is_repost=shown is not status,
        is_bot=bool(bot_id) and str(account["id"]) == bot_id,
        permalink=str(status.get("url") or status.get("uri") or ""),
        edited_at=as_datetime(status.get("edited_at")),
        mentions=tuple(str(m.get("acct") or "") for m in shown.get("mentions") or ()),
        raw=plain(status),
    )


def is_public(status: Mapping[str, Any]) -> bool:
    return str(status.get("visibility") or "public") in ("public", "unlisted")


def idempotency_key(chat_id: str, action_key: str, target: str) -> str:
    """The ``Idempotency-Key`` of one post: the same chat, action and target give the same
    key, so a retry after a crash cannot post twice (Mastodon keeps keys for an hour)."""
    digest = hashlib.sha256(f"{chat_id}\x1f{action_key}\x1f{target}".encode()).hexdigest()
    return f"tweetchat-{digest[:40]}"


def max_characters(instance: Mapping[str, Any]) -> int | None:
    """``configuration.statuses.max_characters`` of an Instance (v2) entity, if given."""
    config = instance.get("configuration") or {}
    value = (config.get("statuses") or {}).get("max_characters")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def streaming_base(instance: Mapping[str, Any], api_base_url: str) -> str:
    """The streaming server's HTTP(S) base from ``configuration.urls.streaming`` (a ws(s)
    URL), or the API's own base when the instance names none."""
    config = instance.get("configuration") or {}
    url = str((config.get("urls") or {}).get("streaming") or "")
    parts = urlsplit(url)
    scheme = {"wss": "https", "ws": "http", "https": "https", "http": "http"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        return api_base_url.rstrip("/")
    return f"{scheme}://{parts.netloc}"


def snowflake_at(at: datetime) -> str:
    """The smallest status id Mastodon could give at `at` (ms << 16), for ``min_id``."""
    return str(int(at.timestamp() * 1000) << 16)


def id_key(status_id: str) -> tuple[int, str]:
    """Order of Mastodon ids (numeric strings; longer is newer)."""
    return (len(status_id), status_id)


def tag_body(hashtag: str) -> str:
    """``WeDocs`` from ``#WeDocs``: what the tag timeline and the stream take."""
    return hashtag.lstrip("#")


def cursor_key(hashtag: str) -> str:
    return f"mastodon:min_id:{wanted_tag(hashtag)}"


NOTIFICATIONS_KEY = "mastodon:notifications:min_id"


def url_key(status_id: str) -> str:
    return f"mastodon:url:{status_id}"
