"""The digest: at publishing, a chat with ``digest = true`` in its chat file posts the top
answer of each question (its Highlights, `archive.highlights`, at most one a question) on
each of its networks.

Posts: a header, then one post a question that has a highlight, in question order. Each is
fitted to the network's post limit, counted the way that network counts (`PostLimit`): the
answer's text is shortened with "…" until the post fits. Authors are named by their display
name, never as an @mention: an answer from another network would mention a stranger there.
The posts go through the post ledger (action keys ``digest`` and ``digest-q1``...), so a
restart never posts one twice; the networks place them as they place the chat's own posts
(threaded under the intro on Bluesky and Mastodon, in the chat's thread on Discord in
thread mode, standalone on X and the local platform).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

from archive.highlights import Highlight
from archive.i18n import translator
from archive.models import Chat, Target
from archive.store import Store
from archive.transcripts.highlights import counts_label
from archive.transcripts.text import redact_handles
from scheduler.limits import PostLimit

_SPACE_RE = re.compile(r"\s+")
_MIN_EXCERPT = 20  # characters of the answer kept at least, before the post is given up


def digest_posts(
    chat: Chat,
    highlights: Mapping[str, Sequence[Highlight]],
    limit: PostLimit,
    *,
    hide: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """The digest as (action key, text) pairs that fit ``limit``; empty when no question
    has a highlight. ``hide``: handles to redact (opted-out participants). An answer post
    that cannot fit even with a short excerpt (a very long title or name) is left out."""
    if not highlights:
        return []
    tr = translator(chat.language)
    # Translators: the first post of the digest, posted when the transcript is out.
    header_text = tr.gettext(
        "Highlights of {hashtag} “{title}”: the answer with the most reactions, likes"
        " and reposts for each question."
    )
    header = _fit(
        lambda title: header_text.format(hashtag=chat.hashtag, title=title), chat.title, limit
    ) or tr.gettext("Highlights of {hashtag}").format(hashtag=chat.hashtag)
    posts = [("digest", header)]
    labels = {q.key: chat.label(q) for q in chat.questions}
    # Translators: a digest post: {label} is the question's ("Q1"), {counts} "4 reactions".
    answer_text = tr.gettext("Top answer to {label}, by {name}: “{excerpt}” ({counts}) {hashtag}")
    # Translators: the author of a top answer whose name and handle are unknown.
    someone = tr.gettext("someone")
    for key, found in highlights.items():
        top = found[0]
        m = top.message
        text = _SPACE_RE.sub(" ", redact_handles(m.text, hide) if hide else m.text).strip()

        def post(excerpt: str, top: Highlight = top, key: str = key) -> str:
            return answer_text.format(
                label=labels[key],
                name=top.message.author_name or top.message.author_handle or someone,
                excerpt=excerpt,
                counts=counts_label(top, tr),
                hashtag=chat.hashtag,
            )

        fitted = _fit(post, text, limit)
        if fitted is not None:
            posts.append((f"digest-q{key}", fitted))
    return posts


def _fit(render: Callable[[str], str], text: str, limit: PostLimit) -> str | None:
    """``render(text)``, or ``render`` of the longest prefix of ``text`` (ending "…") that
    fits ``limit``; None when not even `_MIN_EXCERPT` characters fit."""
    if limit.excess(render(text)) is None:
        return render(text)
    low, high = 0, len(text) - 1  # the longest fitting prefix length lies in [low, high]
    while low < high:
        mid = (low + high + 1) // 2
        if limit.excess(render(text[:mid].rstrip() + "…")) is None:
            low = mid
        else:
            high = mid - 1
    if low < min(_MIN_EXCERPT, len(text)):
        return None
    return render(text[:low].rstrip() + "…")


def top_answers(store: Store, chat: Chat) -> tuple[dict[str, list[Highlight]], list[str]]:
    """The chat's top answer per question and the handles to redact (on the store thread)."""
    return (
        store.highlights(chat, 1, opted_out=store.opted_out()),
        sorted(store.opted_out_handles(chat.id)),
    )


Poster = Callable[[Chat, str, Target, str], Awaitable[object]]


async def post_digest(
    chat: Chat,
    highlights: Mapping[str, Sequence[Highlight]],
    hide: Sequence[str],
    limits: Mapping[str, PostLimit],
    post: Poster,
) -> int:
    """Post the digest on each target of the chat (``post``: the facilitator's ledgered
    posting, which raises `StepFailed` for a failure worth retrying); ``limits``: each
    network's post limit. Returns how many posts were asked for."""
    asked = 0
    for target in chat.targets:
        limit = limits.get(target.platform)
        if limit is None:
            continue
        for action_key, text in digest_posts(chat, highlights, limit, hide=hide):
            await post(chat, action_key, target, text)
            asked += 1
    return asked
