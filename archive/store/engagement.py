"""Engagement of captured posts (likes, reposts...), read once at publishing, and the
answers that drew any: what a transcript's Highlights section is made of.

Reactions are kept in ``messages.reactions`` (live events add and remove them); the other
counts in the ``engagement`` table (migration 10), one row per (platform, platform id).
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Generic, TypeVar, cast

from archive.highlights import HIGHLIGHTS_PER_QUESTION, Engagement, Highlight
from archive.models import Chat
from archive.store.connection import Connection, iso, parse_iso
from archive.store.messages import STREAM_COLUMNS_OF_M, SQLRow, message_from_tuple

_WITH_ENGAGEMENT = (
    "FROM messages m LEFT JOIN engagement e"
    " ON e.platform = m.platform AND e.platform_id = m.platform_id"
)
# The chat's (``?``) undeleted answers that drew any engagement.
_ENGAGED_ANSWER = (
    "m.chat_id = ? AND m.kind = 'answer' AND m.deleted_at IS NULL"
    " AND (m.reactions > 0 OR e.likes > 0 OR e.reposts > 0 OR e.quotes > 0)"
)
# Highlight.score, in SQL.
_SCORE = "m.reactions + COALESCE(e.likes, 0) + COALESCE(e.reposts, 0) + COALESCE(e.quotes, 0)"
# A Highlight's columns (_highlight reads them).
_HIGHLIGHT_COLUMNS = (
    f"{STREAM_COLUMNS_OF_M}, COALESCE(e.likes, 0), COALESCE(e.reposts, 0),"
    " COALESCE(e.quotes, 0), COALESCE(e.replies, 0)"
)
_WIDTH = len(STREAM_COLUMNS_OF_M.split(","))


def _highlight(r: SQLRow) -> Highlight:
    """A Highlight from a row of ``_HIGHLIGHT_COLUMNS``."""
    return Highlight(message_from_tuple(r[:_WIDTH]), *r[_WIDTH:])


class EngagementTable(Connection):
    """The ``engagement`` table."""

    def chat_has_engagement(self, chat_id: str) -> bool:
        """Whether the ``engagement`` table holds counts for any message of the chat."""
        # An archive with no engagement recorded at all (imports, local chats) answers at
        # once: the join walks every message of the chat (~0.03-0.15 s for 100k).
        if not self.conn.execute("SELECT EXISTS (SELECT 1 FROM engagement)").fetchone()[0]:
            return False
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM engagement e JOIN messages m"
            " ON m.platform = e.platform AND m.platform_id = e.platform_id"
            " WHERE m.chat_id = ?)",
            (chat_id,),
        ).fetchone()
        return bool(row[0])

    def set_engagement(self, platform: str, counts: Mapping[str, Engagement]) -> int:
        """Record what ``platform`` counts on each of these posts (platform id -> counts),
        replacing what was recorded before, in one transaction; where a count carries
        ``reactions``, the message's reaction count is set to it. Returns how many posts."""
        if not counts:
            return 0
        now = iso(self.now())
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO engagement (platform, platform_id, likes, reposts, quotes, replies,"
                " refreshed_at) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT (platform, platform_id) DO UPDATE SET likes = excluded.likes,"
                " reposts = excluded.reposts, quotes = excluded.quotes,"
                " replies = excluded.replies, refreshed_at = excluded.refreshed_at",
                [
                    (platform, pid, e.likes, e.reposts, e.quotes, e.replies, now)
                    for pid, e in counts.items()
                ],
            )
            self.conn.executemany(
                "UPDATE messages SET reactions = ? WHERE platform = ? AND platform_id = ?",
                [
                    (max(0, e.reactions), platform, pid)
                    for pid, e in counts.items()
                    if e.reactions is not None
                ],
            )
        return len(counts)

    def engagement(self, platform: str, platform_id: str) -> Engagement:
        """What was recorded for one post (zeros when nothing was; reactions from the
        message, 0 when it is not stored)."""
        row = self.conn.execute(
            "SELECT likes, reposts, quotes, replies FROM engagement"
            " WHERE platform = ? AND platform_id = ?",
            (platform, platform_id),
        ).fetchone()
        reacted = self.conn.execute(
            "SELECT reactions FROM messages WHERE platform = ? AND platform_id = ?",
            (platform, platform_id),
        ).fetchone()
        reactions = int(reacted[0]) if reacted is not None else 0
        if row is None:
            return Engagement(reactions=reactions)
        return Engagement(int(row[0]), int(row[1]), int(row[2]), int(row[3]), reactions)

    def engaged_answers(self, chat_id: str) -> Iterator[Highlight]:
        """The chat's undeleted answers that drew any reaction, like, repost or quote, with
        their counts, in time order (the candidates of `archive.highlights.select_highlights`;
        opted-out authors are the caller's to leave out)."""
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(
            f"SELECT {_HIGHLIGHT_COLUMNS} {_WITH_ENGAGEMENT} WHERE {_ENGAGED_ANSWER}"
            " ORDER BY m.created_at, m.id",
            (chat_id,),
        )
        for r in cur:
            yield _highlight(r)

    def highlights(
        self,
        chat: Chat,
        per_question: int = HIGHLIGHTS_PER_QUESTION,
        *,
        opted_out: frozenset[str],
    ) -> dict[str, list[Highlight]]:
        """The chat's highlights (`archive.highlights.select_highlights`) among the answers a
        transcript shows (``opted_out``: participant keys left out, ``Store.opted_out()``).

        The same choice as ``select_highlights`` over :meth:`engaged_answers`, made on the
        few columns the ranking needs: only the answers kept are read whole. (A chat of
        100k messages may have tens of thousands of answers with a reaction: a message
        built for each of them took ~0.3 s of its publication; tests compare the two.)
        """
        if per_question <= 0:
            return {}
        cur = self.conn.cursor()
        cur.row_factory = None
        cur.execute(
            "SELECT m.id, m.platform, m.platform_id, m.author_id, m.created_at,"
            f" m.question_keys, {_SCORE} {_WITH_ENGAGEMENT} WHERE {_ENGAGED_ANSWER}",
            (chat.id,),
        )
        ranking: _Ranking[int] = _Ranking(per_question, opted_out)  # of row ids
        for row_id, platform, platform_id, author_id, created, keys, score in cur:
            ranking.add(score, platform, platform_id, author_id, created, keys, row_id)
        best = ranking.best(chat)
        if not best:
            return {}
        kept = sorted({row_id for ids in best.values() for row_id in ids})
        cur = self.conn.cursor()
        cur.row_factory = None
        answers: dict[int, Highlight] = {}
        for start in range(0, len(kept), 500):  # SQLite's limit on parameters
            chunk = kept[start : start + 500]
            cur.execute(
                f"SELECT m.id, {_HIGHLIGHT_COLUMNS} {_WITH_ENGAGEMENT}"
                f" WHERE m.id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            for r in cur:
                answers[r[0]] = _highlight(r[1:])
        return {key: [answers[row_id] for row_id in ids] for key, ids in best.items()}

    def engagement_scores(self, chat_id: str) -> dict[tuple[str, str], int]:
        """(platform, platform id) -> score of every undeleted message of the chat that drew
        any engagement (the CSV's ``engagement`` column; empty when none did)."""
        rows = self.conn.execute(
            f"SELECT m.platform, m.platform_id, {_SCORE} AS score {_WITH_ENGAGEMENT}"
            " WHERE m.chat_id = ? AND m.deleted_at IS NULL",
            (chat_id,),
        ).fetchall()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows if r[2]}

    def answer_ids(self, chat_id: str, platform: str) -> list[str]:
        """Platform ids of the chat's undeleted answers on ``platform`` (whose engagement a
        refresh at publishing reads)."""
        rows = self.conn.execute(
            "SELECT platform_id FROM messages WHERE chat_id = ? AND platform = ?"
            " AND kind = 'answer' AND deleted_at IS NULL ORDER BY created_at, id",
            (chat_id, platform),
        ).fetchall()
        return [str(r[0]) for r in rows]


_T = TypeVar("_T")

# A row of INSERT_MESSAGE's parameters (archive.store.messages) as a row of STREAM_COLUMNS.
_STREAM_OF_INSERTED = operator.itemgetter(
    0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 3, 20
)


class _Ranking(Generic[_T]):
    """The highlights' choice, shared by :meth:`EngagementTable.highlights` and
    :class:`RowHighlights`: per question, the ``per_question`` best answers (each given with
    an item to keep: a row id, a row) by :meth:`Highlight.sort_key`, among those scoring
    above 0 by someone not in ``opted_out``. Memory stays bounded: each question keeps only
    a few more candidates than it needs as they come."""

    def __init__(self, per_question: int, opted_out: frozenset[str]) -> None:
        self.per_question = per_question
        self.opted_out = opted_out
        self._found: dict[str, list[tuple[tuple[int, datetime, str, str], _T]]] = {}

    def add(
        self,
        score: int,
        platform: str,
        platform_id: str,
        author_id: str,
        created: str,
        question_keys: str,
        item: _T,
    ) -> None:
        """One answer: its score, as stored (``created`` as iso() text, ``question_keys``
        space-separated)."""
        if score <= 0 or f"{platform}:{author_id}" in self.opted_out:
            return
        rank = (-score, parse_iso(created), platform, platform_id)  # Highlight.sort_key
        keep = self.per_question
        for key in dict.fromkeys(question_keys.split()):
            ranked = self._found.setdefault(key, [])
            ranked.append((rank, item))
            if len(ranked) >= 8 * keep:  # prune: only the best few can be kept
                ranked[:] = heapq.nsmallest(keep, ranked, key=_rank)

    def best(self, chat: Chat) -> dict[str, list[_T]]:
        """Question key -> the items of its best answers, best first, in the order of the
        chat's questions; questions without any candidate are left out."""
        out: dict[str, list[_T]] = {}
        for q in chat.questions:
            ranked = self._found.get(q.key)
            if ranked:
                out[q.key] = [
                    item for _r, item in heapq.nsmallest(self.per_question, ranked, key=_rank)
                ]
        return out


def _rank(
    candidate: tuple[tuple[int, datetime, str, str], object],
) -> tuple[int, datetime, str, str]:
    return candidate[0]


class RowHighlights:
    """:meth:`EngagementTable.highlights` picked from the chat's rows as they are saved
    (each a sequence of ``INSERT_MESSAGE``'s parameters, as an import saves them), for when
    no engagement is recorded for them: the score is then the reactions alone. Used by
    :func:`archive.publish.publication_inputs` only when ``opted_out`` is the store's and
    :meth:`EngagementTable.chat_has_engagement` is False; the same choice (:class:`_Ranking`),
    without reading the chat's answers back (~0.1-0.2 s of an import's publication of 100k
    messages).
    """

    def __init__(
        self, chat: Chat, per_question: int = HIGHLIGHTS_PER_QUESTION, *, opted_out: frozenset[str]
    ) -> None:
        self.chat = chat
        self.per_question = per_question
        self.opted_out = opted_out
        self._ranking: _Ranking[SQLRow] = _Ranking(
            per_question, opted_out
        )  # rows of STREAM_COLUMNS

    def feed(self, rows: Iterable[Sequence[object]]) -> None:
        """Take the chat's next saved rows (any order)."""
        if self.per_question <= 0:
            return
        add = self._ranking.add
        for row in rows:
            # An undeleted answer (its score, the reactions, is checked by the ranking).
            if row[9] != "answer" or row[15] is not None:
                continue
            stream = _STREAM_OF_INSERTED(row)
            add(
                cast(int, stream[16]),  # reactions
                cast(str, stream[1]),  # platform
                cast(str, stream[2]),  # platform_id
                cast(str, stream[3]),  # author_id
                cast(str, stream[7]),  # created_at
                cast(str, stream[9]),  # question_keys
                stream,
            )

    def best(self) -> dict[str, list[Highlight]]:
        """Question key -> its highlights, as :meth:`EngagementTable.highlights` gives them
        for these rows with no engagement recorded."""
        if self.per_question <= 0:
            return {}
        return {
            key: [Highlight(message_from_tuple(row), 0, 0, 0, 0) for row in rows]
            for key, rows in self._ranking.best(self.chat).items()
        }
