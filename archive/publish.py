"""Publishing: statistics and transcripts computed from the store and written as files.

Files are written atomically (a temporary file renamed into place), so a crash never leaves
a half-written transcript where an organiser could find it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archive.groups import GroupMix
from archive.highlights import HIGHLIGHTS_PER_QUESTION, Highlight
from archive.i18n import Translator, translator
from archive.labels import label_key
from archive.leftovers import process_prefix, remove_abandoned
from archive.models import Chat, ChatStatus, PostStatus, is_question_action
from archive.published import (
    Digest,
    file_digest,
    placed,
    record_published,
    transcript_options,
)
from archive.published import umask as _umask
from archive.stats import ChatStats, StatsCounter, compute_stats
from archive.store import Store
from archive.store.engagement import RowHighlights
from archive.transcripts import highlights as highlights_section
from archive.transcripts.html import (
    has_amp_link,
    render_html,
    render_html_chunks,
    render_html_lines_chunks,
    render_html_parts_chunks,
)
from archive.transcripts.jsonfmt import json_end, json_parts, render_json
from archive.transcripts.lists import Block, Spill, SpillList, TranscriptLists
from archive.transcripts.markdown import (
    markdown_parts,
    network_marks,
    render_markdown,
    render_markdown_chunks,
)
from archive.transcripts.rows import RowPass, SeveralNetworks

logger = logging.getLogger(__name__)

FORMATS = ("md", "html", "json")
# Discord refuses uploads over 10 MiB on most servers; a bigger Markdown file is not
# attached (the announcement still names the transcript), nor read back into memory.
ATTACHMENT_LIMIT = 8 * 2**20


@dataclass
class Rendered:
    """Everything one chat's publication needs, computed from the store."""

    chat: Chat
    stats: ChatStats
    markdown: str
    html: str
    json: str
    groups: GroupMix | None = None  # the stakeholder mix, when anyone has a group


@dataclass
class PublishResult:
    chat: Chat
    stats: ChatStats
    paths: dict[str, Path] = field(default_factory=dict)
    announcement: str = ""
    attachment: tuple[str, bytes] | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "paths": self.paths,
            "stats": self.stats,
            "announcement": self.announcement,
            "attachment": self.attachment,
        }


def question_posted_at(store: Store, chat: Chat) -> dict[str, datetime]:
    """When each question actually went out (earliest post across platforms)."""
    posted: dict[str, datetime] = {}
    for p in store.posts(chat.id):
        if p.status != PostStatus.SENT or p.posted_at is None:
            continue
        if is_question_action(p.action_key):
            key = p.action_key[1:]
            if key not in posted or p.posted_at < posted[key]:
                posted[key] = p.posted_at
    return posted


def question_not_posted(store: Store, chat: Chat) -> dict[str, str]:
    """The questions that never went out, and why, from the post ledger: skipped (by a host,
    by `end`, missed while the bot was down) or failed on every platform, or never reached
    because the chat was over first. A chat with no ledger at all (imported) has none."""
    posts = store.posts(chat.id)
    if not posts:
        return {}
    reasons: dict[str, list[str]] = {}
    sent = set()
    for p in posts:
        if not (is_question_action(p.action_key)):
            continue
        key = p.action_key[1:]
        if p.status == PostStatus.SENT:
            sent.add(key)
        elif p.status in (PostStatus.SKIPPED, PostStatus.FAILED):
            why = p.error if p.status == PostStatus.SKIPPED else f"failed: {p.error}"
            reasons.setdefault(key, []).append(why or str(p.status))
    over = chat.status in (ChatStatus.ENDED, ChatStatus.PUBLISHED, ChatStatus.CANCELLED)
    out = {}
    for q in chat.questions:
        if q.key in sent:
            continue
        if q.key in reasons:
            out[q.key] = "; ".join(dict.fromkeys(reasons[q.key]))
        elif over:
            out[q.key] = "the chat ended first"
    return out


def control_events(
    store: Store, chat: Chat, tr: Translator | None = None
) -> list[tuple[datetime, str]]:
    """The chat's timeline as the transcript shows it: each control with what came of it.

    A ``next`` names the question it brought forward and says, from the post ledger,
    whether and when that question went out (a host who asked for a question that was then
    never posted reads so, not just what was asked).

    The stored records (``kind``, ``detail``: see ``scheduler.controls``) are English data
    and stay so. Without ``tr`` each reads as recorded (``next: Q4 (went out at 20:15)``:
    the JSON transcript's); ``tr`` words them at rendering in its language, with the
    chat's labels (:func:`control_text`; English then reads as recorded too). A reason for a
    question not posted, from the post ledger, is shown as recorded.
    """
    shown = tr
    tr = tr or translator()
    posts = store.posts(chat.id)
    posted = question_posted_at(store, chat)
    why_not = {
        p.action_key[1:]: p.error or str(p.status)
        for p in posts
        if is_question_action(p.action_key) and p.status != PostStatus.SENT
    }
    events = []
    for at, kind, detail, _by in store.controls(chat.id):
        if shown is None:
            event = f"{kind}: {detail}" if detail else kind
        else:
            event = control_text(chat, kind, detail, shown)
        if kind == "next" and (key := label_key(detail)) is not None:
            if key in posted:
                local = posted[key].astimezone(chat.zone)
                event += tr.gettext(" (went out at {time})").format(time=tr.clock(local))
            else:
                why = why_not.get(key) or tr.gettext("the chat ended first")
                event += tr.gettext(" (not posted: {reason})").format(reason=why)
        events.append((at, event))
    return events


_EXTEND = re.compile(r"^by (\d+) min$")
_RESUME = re.compile(r"^after (\d+) (min|s)$")


def _relabel(chat: Chat, label: str) -> str:
    """A recorded question label in the chat's convention (``Q3`` read as ``C3``)."""
    key = label_key(label)
    if key is None:
        return label
    return chat.labels.question_label(key)


def control_text(chat: Chat, kind: str, detail: str, tr: Translator) -> str:
    """One stored control (``kind``, ``detail`` as ``scheduler.controls`` and the
    facilitator record them) in ``tr``'s language; a record of a shape this does not know
    is shown as stored (``kind: detail``)."""
    raw = f"{kind}: {detail}" if detail else kind
    if kind in ("next", "skip") and label_key(detail) is not None:
        label = _relabel(chat, detail)
        if kind == "next":
            # Translators: a host brought question {label} forward (a timeline entry).
            return tr.gettext("next: {label}").format(label=label)
        # Translators: a host skipped question {label} (a timeline entry).
        return tr.gettext("skip: {label}").format(label=label)
    if kind == "pause" and not detail:
        # Translators: a host paused the chat (a timeline entry).
        return tr.gettext("pause")
    if kind == "resume" and (m := _RESUME.match(detail)):
        n = int(m.group(1))
        if m.group(2) == "min":
            # Translators: a host resumed the chat after a pause of {n} minutes.
            return tr.counted("resume: after {n} min", "resume: after {n} min", n)
        # Translators: a host resumed the chat after a pause of {n} seconds.
        return tr.counted("resume: after {n} s", "resume: after {n} s", n)
    if kind == "extend" and (m := _EXTEND.match(detail)):
        n = int(m.group(1))
        # Translators: a host extended the chat by {n} minutes (a timeline entry).
        return tr.counted("extend: by {n} min", "extend: by {n} min", n)
    if kind == "end" and detail == "early":
        # Translators: a host ended the chat before its planned end (a timeline entry).
        return tr.gettext("end: early")
    if kind == "start" and detail == "started early":
        # Translators: a host started the chat before its planned start (a timeline entry).
        return tr.gettext("start: started early")
    if kind == "cancelled" and not detail:
        # Translators: a host cancelled the chat (a timeline entry).
        return tr.gettext("cancelled")
    if kind == "revised" and detail.startswith("wording of "):
        labels = [_relabel(chat, x.strip()) for x in detail[len("wording of ") :].split(",")]
        # Translators: a host changed the wording of questions {labels} (a timeline entry).
        return tr.gettext("revised: wording of {labels}").format(labels=", ".join(labels))
    if kind == "skipped" and ": " in detail:
        what, reason = detail.split(": ", 1)
        label = _relabel(chat, what)
        # Translators: the bot did not post {label} (a question, "intro", "wrap-up"), for
        # {reason} (as recorded, in English).
        return tr.gettext("skipped: {label}: {reason}").format(label=label, reason=reason)
    return raw


def chat_stats(store: Store, chat: Chat, *, opted_out: frozenset[str] | None = None) -> ChatStats:
    """A chat's statistics from the store, in one streamed pass over its messages."""
    return compute_stats(
        chat,
        store.iter_messages(chat.id),
        opted_out=store.opted_out() if opted_out is None else opted_out,
        history=store.participation_history(chat),
        question_posted_at=question_posted_at(store, chat),
        not_posted=question_not_posted(store, chat),
    )


def render_chat(
    store: Store,
    chat: Chat,
    *,
    generated_at: datetime | None = None,
    cost_note: str = "",
    highlights: int = HIGHLIGHTS_PER_QUESTION,
) -> Rendered:
    """Compute statistics and render Markdown, HTML and JSON for one chat; ``highlights``:
    the most answers each question's Highlights keep (0: no section)."""
    opted_out = store.opted_out()
    best = store.highlights(chat, highlights, opted_out=opted_out)
    posted = question_posted_at(store, chat)
    controls = control_events(store, chat)
    shown_controls = control_events(store, chat, translator(chat.language))
    stats = chat_stats(store, chat, opted_out=opted_out)
    messages = store.messages(chat.id, include_deleted=False)
    groups = store.group_mix(chat, opted_out)
    md = render_markdown(
        chat,
        messages,
        stats,
        opted_out=opted_out,
        question_posted_at=posted,
        controls=shown_controls,
        cost_note=cost_note,
        generated_at=generated_at,
        highlights=best,
        groups=groups,
    )
    html = render_html(chat, md, title=f"{chat.title} ({chat.hashtag})")
    js = render_json(
        chat,
        messages,
        stats,
        opted_out=opted_out,
        question_posted_at=posted,
        controls=controls,
        cost_note=cost_note,
        highlights=best,
        groups=groups,
    )
    return Rendered(chat, stats, md, html, js, groups)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A new binary file that takes the place of ``path`` (renamed into place) when the
    block ends without an error; on an error it is removed and ``path`` is left as it was.

    The file gets the permissions any new file of the process gets (0666 less the umask), not
    the 0600 of a temporary file, so a web server or another account can read transcripts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic_chunks(path: Path, chunks: Iterable[str | bytes]) -> None:
    """Write ``chunks`` one after another, in UTF-8 (a ``bytes`` chunk is already encoded),
    to a temporary file, then rename it into place (:func:`atomic_file`)."""
    with atomic_file(path) as fh:
        for chunk in chunks:
            fh.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))


@dataclass(frozen=True)
class PublishOptions:
    """Where and how :func:`publish_chat` writes a chat's transcripts (its keyword
    arguments), for a caller that publishes later, such as an import."""

    out_dir: Path
    generated_at: datetime | None = None
    cost_note: str = ""
    web_base_url: str = ""
    attachment_limit: int = ATTACHMENT_LIMIT
    highlights: int = HIGHLIGHTS_PER_QUESTION


@dataclass(frozen=True)
class PublicationInputs:
    """What a publication reads from the store beside the chat's rows (one state of it).

    ``opted_out``: participant keys left out; ``hide``: handles redacted in the texts;
    ``posted``/``not_posted``: the questions' posts (:func:`question_posted_at`,
    :func:`question_not_posted`); ``controls`` as recorded (the JSON's) and
    ``shown_controls`` in the chat's language; ``best``: the highlights; ``groups``: the
    stakeholder mix or None; ``history``: earlier chats per participant
    (``Store.participation_history``)."""

    opted_out: frozenset[str]
    hide: set[str]
    posted: dict[str, datetime]
    not_posted: dict[str, str]
    controls: list[tuple[datetime, str]]
    shown_controls: list[tuple[datetime, str]]
    best: dict[str, list[Highlight]]
    groups: GroupMix | None
    history: dict[str, int]

    def settled_by_rows(self, opted_out: frozenset[str]) -> bool:
        """Whether rows rendered (by a :class:`RowPublication`) with ``opted_out``, no
        hidden handle and no groups make the transcripts of these inputs."""
        return self.opted_out == opted_out and not self.hide and self.groups is None

    def stats(self, counter: StatsCounter) -> ChatStats:
        """The statistics of the rows ``counter`` counted, with these inputs."""
        return counter.result(
            opted_out=self.opted_out,
            history=self.history,
            question_posted_at=self.posted,
            not_posted=self.not_posted,
        )


def publication_inputs(
    store: Store, chat: Chat, highlights: int, *, rows_highlights: RowHighlights | None = None
) -> PublicationInputs:
    """The :class:`PublicationInputs` of ``chat`` as the store has them now (call it inside
    ``store.snapshot()`` or a transaction, for one state); ``highlights`` as in
    :func:`write_transcripts`. ``rows_highlights``: the highlights picked from the chat's
    rows as they were saved (for ``highlights`` per question), taken instead of reading the
    chat's answers back when they are the store's: same opt-outs, no engagement recorded
    for the chat's messages."""
    opted_out = store.opted_out()
    if (
        rows_highlights is not None
        and rows_highlights.per_question == highlights
        and rows_highlights.opted_out == opted_out
        and not store.chat_has_engagement(chat.id)
    ):
        best = rows_highlights.best()
    else:
        best = store.highlights(chat, highlights, opted_out=opted_out)
    return PublicationInputs(
        opted_out=opted_out,
        hide=store.opted_out_handles(chat.id),
        posted=question_posted_at(store, chat),
        not_posted=question_not_posted(store, chat),
        controls=control_events(store, chat),  # the JSON's: the records' words
        shown_controls=control_events(store, chat, translator(chat.language)),
        best=best,
        groups=store.group_mix(chat, opted_out),
        history=store.participation_history(chat),
    )


def write_transcripts(
    store: Store,
    chat: Chat,
    paths: Mapping[str, Path],
    *,
    generated_at: datetime | None = None,
    cost_note: str = "",
    highlights: int = HIGHLIGHTS_PER_QUESTION,
) -> ChatStats:
    """Write the chat's transcripts in the formats of ``paths`` (``md``, ``html``, ``json``,
    any of them) to those files; returns the statistics. Nothing is recorded in the store.
    ``highlights``: the most answers each question's Highlights section keeps (0: none).

    The same documents as :func:`render_chat`, but streamed: the chat's messages are read
    once, in time order, as the store's plain rows (:mod:`archive.transcripts.rows`: no
    ``CapturedMessage`` per row, and the work that depends only on the author or on the
    kind done once); the statistics count them while each shown message is rendered
    (Markdown item, HTML ``<li>``, JSON entry) into temporary files, one per message list
    and one for the JSON entries, whose bytes are then copied into place around the parts
    that need the statistics. No transcript, nor the list of the chat's messages, is ever
    whole in memory.
    """
    _check_formats(paths)
    # Spills go beside the first output: same file system, and the space is checked where
    # the transcripts will need it anyway.
    spill_dir = next(iter(paths.values())).parent
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as spills:
        # Every read below sees one state of the archive, even while another process
        # (an import, a command) writes to it: the lists, the network marks and the
        # statistics cannot disagree.
        with store.snapshot():
            inputs = publication_inputs(store, chat, highlights)
            member_groups = None if inputs.groups is None else inputs.groups.member_groups
            # Items name their network when the chat is on several: its targets say so, or
            # its messages do, which the pass reads. It starts from the targets, and
            # starts again marking the items if it meets a second network.
            network = network_marks(chat, ())
            while True:
                attempt = contextlib.ExitStack()
                try:
                    lists, json_entries, rows, counter = _row_pass(
                        chat,
                        paths,
                        attempt,
                        spill_dir,
                        network=network,
                        opted_out=inputs.opted_out,
                        hide=inputs.hide,
                        groups=member_groups,
                    )
                    for batch in store.iter_message_rows(chat.id):
                        rows.feed(batch)
                except SeveralNetworks:
                    attempt.close()
                    if network:
                        raise
                    network = True
                    continue
                except BaseException:
                    attempt.close()
                    raise
                spills.enter_context(attempt)
                break
        return _write_documents(
            chat,
            paths,
            spills,
            spill_dir,
            lists,
            json_entries,
            rows,
            counter,
            inputs,
            generated_at=generated_at,
            cost_note=cost_note,
        )


def _check_formats(paths: Mapping[str, Path]) -> None:
    unknown = set(paths) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown transcript formats: {', '.join(sorted(unknown))}")


def _write_documents(
    chat: Chat,
    paths: Mapping[str, Path],
    spills: contextlib.ExitStack,
    spill_dir: Path,
    lists: TranscriptLists | None,
    json_entries: Spill | None,
    rows: RowPass,
    counter: StatsCounter,
    inputs: PublicationInputs,
    *,
    generated_at: datetime | None,
    cost_note: str,
    stats: ChatStats | None = None,
) -> ChatStats:
    """The documents of :func:`write_transcripts` written to ``paths`` once every row has
    gone through ``rows`` (the lists and JSON entries in their spills); the statistics
    (``stats`` when given: counted elsewhere over the same rows)."""
    if stats is None:
        stats = inputs.stats(counter)
    with contextlib.ExitStack() as jobs:
        json_written = None
        if json_entries is not None:
            head, tail = json_parts(
                chat,
                stats,
                question_posted_at=inputs.posted,
                controls=inputs.controls,
                cost_note=cost_note,
                highlights=highlights_section.json_entries(inputs.best, hide=inputs.hide),
                groups=inputs.groups,
            )
            end = json_end(tail, empty=not rows.json_entries)
            # Written on a thread while this one writes the Markdown and HTML: it copies the
            # entries' spill into the file, which holds no lock the Python code needs.
            pool = jobs.enter_context(ThreadPoolExecutor(1, thread_name_prefix="json"))
            json_written = pool.submit(
                write_atomic_chunks,
                paths["json"],
                itertools.chain([head], json_entries.chunks(), [end]),
            )
        if lists is not None:
            _write_markdown_and_html(
                chat,
                paths,
                spills,
                spill_dir,
                markdown_parts(
                    chat,
                    lists,
                    stats,
                    question_posted_at=inputs.posted,
                    controls=inputs.shown_controls,
                    cost_note=cost_note,
                    generated_at=generated_at,
                    highlights=inputs.best,
                    hide=inputs.hide,
                    groups=inputs.groups,
                ),
                html_direct=lambda: lists.html_direct,
            )
        if json_written is not None:
            json_written.result()  # its failure (a full disk...) is this one's
    return stats


class RowPublication:
    """:func:`write_transcripts` fed the chat's rows instead of reading them from the store:
    for a chat whose rows a caller already holds (an import, while it saves them), with
    nobody's handle hidden, no stakeholder groups and its messages on its targets' network.

    ``feed`` takes every row, in the store's order (``Store.iter_message_rows``: time, then
    the order saved), as tuples of ``TRANSCRIPT_COLUMNS``; it raises :class:`SeveralNetworks`
    for a message from another network. ``finish`` writes the documents to ``paths`` from
    the :class:`PublicationInputs` read once the rows are stored (their ``opted_out`` must
    be the one given here, ``hide`` empty, ``groups`` None: ``ValueError`` otherwise) and
    returns the statistics: the same bytes :func:`write_transcripts` writes then. ``close``
    removes the spills (a context manager closes it too).

    ``counted=False`` leaves the statistics to another publication fed the same rows (the
    formats split between two processes): ``finish`` is then given them.
    """

    def __init__(
        self,
        chat: Chat,
        paths: Mapping[str, Path],
        *,
        opted_out: frozenset[str],
        counted: bool = True,
    ):
        _check_formats(paths)
        self.chat = chat
        self.paths = dict(paths)
        self.opted_out = opted_out
        self._spill_dir = next(iter(paths.values())).parent
        self._spills = contextlib.ExitStack()
        try:
            self._lists, self._json, self._rows, self._counter = _row_pass(
                chat,
                paths,
                self._spills,
                self._spill_dir,
                network=network_marks(chat, ()),
                opted_out=opted_out,
                hide=set(),
                groups=None,
                counter=StatsCounter(chat) if counted else _NotCounted(chat),
            )
        except BaseException:
            self._spills.close()
            raise

    def __enter__(self) -> RowPublication:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def feed(self, rows: Iterable[Sequence[object]]) -> None:
        """Count and render the chat's next ``rows``."""
        self._rows.feed(rows)

    def add_question(self, chat: Chat, key: str) -> None:
        """A question of the chat found after this publication was made (an import that
        learns them as it reads; ``chat``: the chat as known now, holding it), before any
        row that answers it."""
        if self._lists is not None:
            self._lists.add_question(chat, key)
        self._counter.add_question(key)

    def settle(self, chat: Chat) -> None:
        """The chat now known whole (same id and start, every question added, its end):
        :meth:`finish` writes its documents."""
        self.chat = chat
        self._counter.settle(chat)

    def finish(
        self,
        inputs: PublicationInputs,
        *,
        generated_at: datetime | None = None,
        cost_note: str = "",
        stats: ChatStats | None = None,
    ) -> ChatStats:
        """Write the documents; the statistics (``stats``, given when not counted here)."""
        if not inputs.settled_by_rows(self.opted_out):
            raise ValueError("the rows were rendered for other opt-outs, hidden handles or groups")
        if stats is None:
            stats = self.stats(inputs)
        return _write_documents(
            self.chat,
            self.paths,
            self._spills,
            self._spill_dir,
            self._lists,
            self._json,
            self._rows,
            self._counter,
            inputs,
            generated_at=generated_at,
            cost_note=cost_note,
            stats=stats,
        )

    def digests(self) -> dict[str, Digest]:
        """format -> (size, SHA-256) of each file :meth:`finish` wrote
        (:func:`archive.published.file_digest`), for :func:`publish_staged`."""
        # On threads: reading and hashing hold no lock the others need (hashlib lets go of
        # the interpreter's for large pieces).
        with ThreadPoolExecutor(len(self.paths), thread_name_prefix="digest") as pool:
            digests = dict(zip(self.paths, pool.map(file_digest, self.paths.values()), strict=True))
        return digests

    def stats(self, inputs: PublicationInputs) -> ChatStats:
        """The statistics of the rows fed, with ``inputs``; ``ValueError`` when they were
        not counted here."""
        return inputs.stats(self.counter)

    @property
    def counter(self) -> StatsCounter:
        """What was counted of the rows fed (picklable: for another process that writes
        the other formats, :meth:`PublicationInputs.stats`); ``ValueError`` when they were
        not counted here."""
        if isinstance(self._counter, _NotCounted):
            raise ValueError("the statistics of these rows are counted by another publication")
        return self._counter

    def close(self) -> None:
        self._spills.close()


class _NotCounted(StatsCounter):
    """A counter that counts nothing: for a :class:`RowPublication` whose statistics are
    counted by another."""

    def add(self, *message: object) -> None:  # type: ignore[override]
        return None


def _row_pass(
    chat: Chat,
    paths: Mapping[str, Path],
    spills: contextlib.ExitStack,
    spill_dir: Path,
    *,
    network: bool,
    opted_out: frozenset[str],
    hide: set[str],
    groups: Mapping[str, str] | None,
    counter: StatsCounter | None = None,
) -> tuple[TranscriptLists | None, Spill | None, RowPass, StatsCounter]:
    """The row pass of a publication, to be fed the chat's rows: the lists (when Markdown
    or HTML is asked; items marked with their network when ``network``) and the JSON
    entries (when JSON is asked) spilled under ``spill_dir``, and the statistics counted.
    Its ``feed`` raises :class:`SeveralNetworks` when ``network`` is False and the messages
    are on several."""
    lists = (
        TranscriptLists(
            chat,
            hide=hide,
            opted_out=opted_out,
            network=network,
            new_list=lambda: spills.enter_context(contextlib.closing(SpillList(spill_dir))),
            html="html" in paths,
        )
        if "md" in paths or "html" in paths
        else None
    )
    # The JSON's entries wait in a spill too: what comes before them in the document
    # depends on the statistics (the questions' times).
    json_entries = (
        spills.enter_context(contextlib.closing(Spill(spill_dir))) if "json" in paths else None
    )
    counter = StatsCounter(chat) if counter is None else counter
    rows = RowPass(
        counter,
        lists=lists,
        json_write=None if json_entries is None else json_entries.write_now,
        opted_out=opted_out,
        hide=hide,
        groups=groups,
        networks={t.platform for t in chat.targets},
    )
    return lists, json_entries, rows, counter


def _write_markdown_and_html(
    chat: Chat,
    paths: Mapping[str, Path],
    spills: contextlib.ExitStack,
    spill_dir: Path,
    parts: Iterable[str | Block],
    *,
    html_direct: Callable[[], bool],
) -> None:
    """The Markdown and HTML of :func:`write_transcripts` (either, or both) from the
    transcript's ``parts`` (its lists filled); the HTML needs the Markdown written first
    only when an item or a line cannot be rendered directly (``html_direct()``)."""
    # Made once for both documents (the participants table alone is a row per
    # participant): the text around the lists is small, and the lists stay in their spills.
    every = list(parts)
    amp_link = False
    for part in every:
        # Lines outside the lists (the intro) may hold links too; see has_amp_link.
        if isinstance(part, str) and has_amp_link(part):
            amp_link = True
    md_path = paths.get("md")
    if md_path is None:  # the HTML alone; its fallback reads the Markdown
        md_path = spill_dir / f".{chat.id}.{os.getpid()}.md"
        spills.callback(md_path.unlink, missing_ok=True)
    write_atomic_chunks(md_path, render_markdown_chunks(every))
    if "html" not in paths:
        return
    title = f"{chat.title} ({chat.hashtag})"
    if html_direct() and not amp_link:
        pages = render_html_parts_chunks(chat, every, title=title)
        write_atomic_chunks(paths["html"], pages)
    else:  # rare: a part only Python-Markdown can convert; the Markdown file is read
        _write_html_from_markdown(chat, md_path, paths["html"], title)


def publish_chat(
    store: Store,
    chat: Chat,
    out_dir: Path,
    *,
    generated_at: datetime | None = None,
    cost_note: str = "",
    web_base_url: str = "",
    attachment_limit: int = ATTACHMENT_LIMIT,
    highlights: int = HIGHLIGHTS_PER_QUESTION,
) -> PublishResult:
    """Write the chat's transcripts under `out_dir` and record them in the store; the
    Markdown is returned as an attachment when it is at most ``attachment_limit`` bytes."""
    options = PublishOptions(
        out_dir,
        generated_at=generated_at,
        cost_note=cost_note,
        web_base_url=web_base_url,
        attachment_limit=attachment_limit,
        highlights=highlights,
    )
    return publish_with(store, chat, options)


def publish_with(
    store: Store, chat: Chat, options: PublishOptions, *, mark_published: bool = False
) -> PublishResult:
    """:func:`publish_chat` with its arguments in ``options``; ``mark_published``: see
    :func:`publish_staged`. Raises OSError when the files cannot be written (the folder
    left as it was), sqlite3.Error when they cannot be recorded (the folder put back)."""
    # Read before rendering: a write that lands meanwhile leaves the files not current
    # (archive.published), never the other way.
    generation = store.generation()
    with staging_folder(options.out_dir) as staging:
        staged = staged_paths(chat, staging)
        stats = write_transcripts(
            store,
            chat,
            staged,
            generated_at=options.generated_at,
            cost_note=options.cost_note,
            highlights=options.highlights,
        )
        return publish_staged(
            store,
            chat,
            staged,
            stats,
            options,
            generation=generation,
            mark_published=mark_published,
        )


_STAGING = ".publishing-"


def remove_abandoned_staging(out_dir: Path) -> list[Path]:
    """Remove the staging folders (:func:`staging_folder`) in ``out_dir`` left by a process
    of this host that no longer runs (killed with SIGKILL, or the machine stopped): a
    publication's hidden partial files, as big as its transcripts. Returns those removed.
    Never a live publisher's (:mod:`archive.leftovers`)."""
    return remove_abandoned(out_dir, _STAGING, folders=True, what="a publisher")


def later_chats_changed(
    store: Store, chat: Chat, *, among: AbstractSet[str] | None = None
) -> list[Chat]:
    """The published chats of ``chat``'s hashtag after it whose transcripts a new ``chat``
    changes: its participants who take part in them count it among their earlier chats
    (first-time / returning participants, "returning (1 earlier chat)"), so those that share
    a participant with it. ``among``: only those that share one of these participant keys
    (those whose taking part in ``chat`` changed: ``chat`` captured again under other
    rules); by default ``chat``'s participants."""
    later = store.published_later_chats(chat)
    if not later:
        return later
    mine = store.participants_of(chat) if among is None else among
    if not mine:
        return []
    return [other for other in later if not mine.isdisjoint(store.participants_of(other))]


def later_chats_behind(store: Store, chat: Chat) -> list[Chat]:
    """Of :func:`later_chats_changed` (``chat`` as it stands), those whose Markdown
    transcript was recorded before ``chat``'s, at a lower archive generation: written
    before ``chat`` was archived, they may not count it yet. An import run again finds
    them so (its republication of them was interrupted, or failed)."""
    mine = store.recorded_transcript(chat.id, "md")
    if mine is None or mine.generation is None:
        return []
    behind = []
    for later in later_chats_changed(store, chat):
        theirs = store.recorded_transcript(later.id, "md")
        if theirs is None or theirs.generation is None or theirs.generation < mine.generation:
            behind.append(later)
    return behind


@contextlib.contextmanager
def staging_folder(out_dir: Path) -> Iterator[Path]:
    """A folder of our own inside ``out_dir`` (made if missing) to write a chat's
    transcripts into before :func:`publish_staged` moves them into place; removed after
    (an interrupt too). Those a killed process left are removed first
    (:func:`remove_abandoned_staging`). Raises OSError when it cannot be made."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(out_dir)
    with tempfile.TemporaryDirectory(
        prefix=process_prefix(_STAGING, os.getpid()), dir=out_dir
    ) as staging:
        yield Path(staging)


def staged_paths(chat: Chat, staging: Path) -> dict[str, Path]:
    """format -> where in ``staging`` (:func:`staging_folder`) the chat's transcript in it
    is written, under the name it will have in place."""
    return {fmt: staging / f"{chat.id}.{fmt}" for fmt in FORMATS}


def publish_staged(
    store: Store,
    chat: Chat,
    staged: Mapping[str, Path],
    stats: ChatStats,
    options: PublishOptions,
    *,
    generation: int,
    hashed: Mapping[str, Digest] | None = None,
    mark_published: bool = False,
) -> PublishResult:
    """Move the transcripts written to ``staged`` (:func:`staged_paths`, every format)
    into ``options.out_dir``, record them in the store as rendered at ``generation`` (the
    archive's, read before they were rendered: see :mod:`archive.published`), and make
    the announcement; what :func:`publish_chat` returns. ``hashed``: the digests of the
    staged files already taken (:meth:`RowPublication.digests`). ``mark_published``: an
    ended chat becomes published with the record (``Store.mark_published``; the result's
    chat says so), for a publication nobody announces afterwards (an import's).

    All or nothing: when a file cannot be moved into place (OSError) or the record cannot
    be written (sqlite3.Error), the folder gets back the files it had, nothing is
    recorded, and the error is raised."""
    paths = {fmt: options.out_dir / f"{chat.id}.{fmt}" for fmt in FORMATS}
    # Written into a folder of our own beside them, hashed there, then moved into place:
    # the digests recorded are of the bytes written there (archive.published).
    with placed(staged, paths, hashed) as digests:
        record_published(
            store,
            chat.id,
            paths,
            digests,
            options.generated_at or chat.grace_end,
            generation=generation,
            options=transcript_options(cost_note=options.cost_note, highlights=options.highlights),
            mark_published=mark_published,
        )
    if mark_published and chat.status == ChatStatus.ENDED:
        chat = replace(chat, status=ChatStatus.PUBLISHED)
    base = options.web_base_url
    link = f" {base.rstrip('/')}/chats/{chat.id}" if base else ""
    tr = translator(chat.language)
    announcement = (
        tr.gettext(
            "Thank you for joining {hashtag}! Transcript of “{title}”: "
            "{participants}, {messages}, {answers}."
        ).format(
            hashtag=chat.hashtag,
            title=chat.title,
            participants=tr.counted("{n} participant", "{n} participants", stats.participants),
            messages=tr.counted("{n} message", "{n} messages", stats.messages),
            answers=tr.counted("{n} answer", "{n} answers", stats.answers),
        )
        + link
    )
    attachment = None
    size = paths["md"].stat().st_size
    if size <= options.attachment_limit:
        attachment = (f"{chat.id}.md", paths["md"].read_bytes())
    else:
        logger.info("chat %s: transcript of %d bytes is too big to attach", chat.id, size)
    logger.info("chat %s published: %s", chat.id, ", ".join(str(p) for p in paths.values()))
    return PublishResult(
        chat=chat,
        stats=stats,
        paths=paths,
        announcement=announcement,
        attachment=attachment,
    )


def _write_html_from_markdown(chat: Chat, md_path: Path, html_path: Path, title: str) -> None:
    """The HTML page converted from the Markdown file, read back line by line (or whole
    when a link URL holds ``&``: such a transcript can only be converted whole)."""
    with md_path.open(encoding="utf-8", newline="\n") as fh:
        amp_link = any(has_amp_link(line) for line in fh)
    if amp_link:
        pages = render_html_chunks(chat, md_path.read_text(encoding="utf-8"), title=title)
        write_atomic_chunks(html_path, pages)
        return
    with md_path.open(encoding="utf-8", newline="\n") as fh:
        lines = itertools.chain((line.removesuffix("\n") for line in fh), [""])
        write_atomic_chunks(html_path, render_html_lines_chunks(chat, lines, title=title))
