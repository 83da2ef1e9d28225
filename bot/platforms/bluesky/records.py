"""Bluesky payloads as pure functions: post records out, posts and Jetstream events in.

Every path that meets a payload goes through here (the hikari habit): the records the bot
writes (``app.bsky.feed.post`` with tag and link facets, byte offsets in UTF-8, and reply
references), and the posts it reads, whether from a Jetstream commit event (see
bluesky-social/jetstream ``docs/README.md`` §5.2) or from an XRPC ``postView``
(``app.bsky.feed.defs#postView``), turned into neutral `IncomingMessage` values.
Records are plain dicts in the atproto JSON data model; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex

from archive.hashtags import tag_key
from archive.models import IncomingMessage

PLATFORM = "bluesky"
POST = "app.bsky.feed.post"
TAG = "app.bsky.richtext.facet#tag"
LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
QUOTES = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")

# A tag as the bot writes it: '#' at the start or after white space, then word characters
# (the project's hashtag rule: letters, digits, '_'). Links: http(s) up to white space, less
# trailing punctuation (as the Bluesky app detects them).
_TAG_RE = regex.compile(r"(?:^|(?<=\s))[#＃](\w+)")
_LINK_RE = regex.compile(r"https?://\S+")
_TRAILING = ".,;:!?)\"'"


@dataclass(frozen=True, slots=True)
class StrongRef:
    """``com.atproto.repo.strongRef``: a record's at:// URI and the CID of its version."""

    uri: str
    cid: str

    def as_dict(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def _span(text: str, start: int, end: int) -> dict[str, int]:
    """A facet index: byte offsets of ``text[start:end]`` in UTF-8 (what the lexicon wants)."""
    return {
        "byteStart": len(text[:start].encode("utf-8")),
        "byteEnd": len(text[:end].encode("utf-8")),
    }


def facets(text: str, mentions: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Tag facets for hashtags, link facets for URLs and, for each ``@handle`` of
    ``mentions`` (handle -> DID) in the text, a mention facet with its DID, in text order."""
    found: list[tuple[int, dict[str, Any]]] = []
    for handle, did in (mentions or {}).items():
        start = text.find(f"@{handle}")
        if start < 0:
            continue
        feature = {"$type": MENTION, "did": did}
        span = _span(text, start, start + 1 + len(handle))
        found.append((start, {"index": span, "features": [feature]}))
    for match in _LINK_RE.finditer(text):
        url = match.group().rstrip(_TRAILING)
        end = match.start() + len(url)
        feature = {"$type": LINK, "uri": url}
        found.append(
            (match.start(), {"index": _span(text, match.start(), end), "features": [feature]})
        )
    links = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for _, f in found]
    for match in _TAG_RE.finditer(text):
        start = match.start()
        byte_start = len(text[:start].encode("utf-8"))
        if any(a <= byte_start < b for a, b in links):
            continue  # a '#' inside a link is the link's fragment
        feature = {"$type": TAG, "tag": match.group(1)}
        found.append((start, {"index": _span(text, start, match.end()), "features": [feature]}))
    return [facet for _, facet in sorted(found, key=lambda pair: pair[0])]


def post_record(
    text: str,
    created_at: datetime,
    *,
    root: StrongRef | None = None,
    parent: StrongRef | None = None,
    mentions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An ``app.bsky.feed.post`` record; with `root` and `parent`, a reply in that thread;
    ``mentions`` (handle -> DID) makes each ``@handle`` in the text a mention facet."""
    record: dict[str, Any] = {
        "$type": POST,
        "text": text,
        "createdAt": atproto_time(created_at),
    }
    found = facets(text, mentions)
    if found:
        record["facets"] = found
    if root is not None and parent is not None:
        record["reply"] = {"root": root.as_dict(), "parent": parent.as_dict()}
    return record


def atproto_time(at: datetime) -> str:
    """An atproto datetime: UTC with milliseconds and 'Z'."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def parse_time(value: object) -> datetime | None:
    """An aware datetime from an atproto or Jetstream timestamp; None when unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def at_uri(did: str, rkey: str, collection: str = POST) -> str:
    return f"at://{did}/{collection}/{rkey}"


def uri_parts(uri: str) -> tuple[str, str, str]:
    """(did, collection, rkey) of an at:// URI; empty strings where it has none."""
    parts = uri.removeprefix("at://").split("/")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def permalink(handle_or_did: str, uri: str) -> str:
    """``https://bsky.app/profile/HANDLE/post/RKEY``."""
    return f"https://bsky.app/profile/{handle_or_did}/post/{uri_parts(uri)[2]}"


def record_tags(record: Mapping[str, Any]) -> list[str]:
    """The hashtags a record carries, as written: tag facets, then the ``tags`` field."""
    tags: list[str] = []
    for facet in record.get("facets") or ():
        for feature in facet.get("features") or ():
            if feature.get("$type") == TAG and feature.get("tag"):
                tags.append(str(feature["tag"]))
    tags.extend(str(t) for t in record.get("tags") or () if t)
    return tags


def mentioned_dids(record: Mapping[str, Any]) -> set[str]:
    return {
        str(feature.get("did"))
        for facet in record.get("facets") or ()
        for feature in facet.get("features") or ()
        if feature.get("$type") == MENTION
    }


def reply_parent(record: Mapping[str, Any]) -> str:
    """The at:// URI this record replies to ('' for a top-level post)."""
    reply = record.get("reply") or {}
    return str((reply.get("parent") or {}).get("uri") or "")


def quoted(record: Mapping[str, Any]) -> str:
    """The at:// URI of the post this record quotes ('' when it quotes none)."""
    embed = record.get("embed") or {}
    if embed.get("$type") == "app.bsky.embed.record":
        return str((embed.get("record") or {}).get("uri") or "")
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        inner = (embed.get("record") or {}).get("record") or {}
        return str(inner.get("uri") or "")
    return ""


def carries_tag(record: Mapping[str, Any], tags: Iterable[str]) -> bool:
    """Whether the record carries one of `tags` (bodies as `archive.hashtags.tag_key` gives
    them, without '#') in a tag facet, its ``tags`` field or its text."""
    wanted = set(tags)
    if not wanted:
        return False
    if any(tag_key(t) in wanted for t in record_tags(record)):
        return True
    return any(tag_key(m.group(1)) in wanted for m in _TAG_RE.finditer(str(record.get("text", ""))))


def visible_text(record: Mapping[str, Any]) -> str:
    """The post's text, with the hashtags it carries only outside the text (the ``tags``
    field) appended, so the one capture rule (which reads text) sees every tag."""
    text = str(record.get("text", ""))
    in_text = {tag_key(m.group(1)) for m in _TAG_RE.finditer(text)}
    extra = []
    for tag in record_tags(record):
        if tag_key(tag) not in in_text:
            in_text.add(tag_key(tag))
            extra.append(f"#{tag}")
    return f"{text} {' '.join(extra)}".strip() if extra else text


def message(
    *,
    did: str,
    uri: str,
    record: Mapping[str, Any],
    handle: str,
    name: str,
    bot_did: str,
    seen_at: datetime,
    edited_at: datetime | None = None,
    raw: dict[str, Any] | None = None,
) -> IncomingMessage:
    """A post as a neutral message. A reply's ``reply_to`` is its parent; a quote's is the
    quoted post (so a quote of a question counts as an answer to it)."""
    created = parse_time(record.get("createdAt")) or seen_at
    if created > seen_at:  # a client clock in the future cannot move a post out of the chat
        created = seen_at
    return IncomingMessage(
        platform=PLATFORM,
        platform_id=uri,
        channel="",
        author_id=did,
        author_name=name or handle,
        author_handle=handle,
        text=visible_text(record),
        created_at=created,
        reply_to=reply_parent(record) or quoted(record),
        is_bot=bool(bot_did) and did == bot_did,
        permalink=permalink(handle or did, uri),
        edited_at=edited_at,
        raw=raw if raw is not None else {"record": dict(record)},
    )


def view_message(view: Mapping[str, Any], bot_did: str) -> IncomingMessage | None:
    """A ``postView`` (searchPosts, getPostThread, getPosts) as a neutral message."""
    record = view.get("record") or {}
    author = view.get("author") or {}
    if record.get("$type") not in (POST, None) or not view.get("uri"):
        return None
    seen = parse_time(view.get("indexedAt")) or datetime.now(UTC)
    return message(
        did=str(author.get("did", "")),
        uri=str(view["uri"]),
        record=record,
        handle=str(author.get("handle", "")),
        name=str(author.get("displayName") or ""),
        bot_did=bot_did,
        seen_at=seen,
        raw={"post": dict(view)},
    )


def thread_views(thread: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every ``postView`` under a ``threadViewPost`` (the post and its replies, depth first);
    ``notFoundPost`` and ``blockedPost`` entries are skipped."""
    found: list[Mapping[str, Any]] = []
    stack = [thread]
    while stack:
        node = stack.pop()
        post = node.get("post")
        if isinstance(post, Mapping):
            found.append(post)
        stack.extend(reversed([r for r in node.get("replies") or () if isinstance(r, Mapping)]))
    return found
