"""A new chat imported, captured and rendered in one pass over a DiscordChatExporter export.

:func:`archive.importers.discord_export.import_discord_export` reads an export twice over:
once to find the question posts, then, from the staged messages, through the capture rules.
A DiscordChatExporter export lists a channel's messages in time order, and the capture
rules of a message depend only on the posts before it, with a few exceptions this module
watches for. So, for a new chat it is asked to publish, it first tries one pass:

- the worker (forked) parses the file, converts each message and applies the capture rules
  with the questions, bot posts and bot accounts met so far (the messages before the first
  question wait for it: the chat's start decides which of them belong), and sends the rows;
- meanwhile this process saves them in one transaction and renders the transcripts from
  them (every format, with the statistics and the highlights), adding each question to the
  chat as the worker meets it.

When the pass is over, the worker checks that no message was judged on what a later one
changed: a question posted at the same instant as a message before it, an answer label
(``A3``) for a question met only later, a reply to a post that turned out to be the bot's or
a question, an author judged a person who turned out to be a bot, messages out of time
order, a message listed twice (the two-pass import takes an id's last question post for
every message), or more than :data:`WAITING_LIMIT` messages before the first question. Any
of these, or a chat imported before, rolls the transaction back and the import is made again the two
pass way (logged): the result is the same either way, only slower. The worker's frames:

  worker -> importer: P (messages read, fraction of the file); marshal
                      B the chat's start is known: (the scan so far: first message, its
                        time, channel and guild, the question posts met); pickle
                      Q (the question posts met since, in order); pickle
                      R [row, ...] (INSERT_MESSAGE's parameters, the chat id left ""); marshal
                      S the pass is over and stands: the whole scan; pickle
                      A the pass cannot stand: why; pickle
                      E an ExportError's message; F a traceback; pickle

Messages are sent in file order, and a question's Q before the rows after it, so the
renderers have the question before its answers.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import pickle
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

import orjson

from archive.capture import CaptureContext, label_grammar
from archive.importers import discord_export, discord_worker
from archive.importers.discord_export import (
    PUBLICATION_FAILURES,
    ImportResult,
    PublishFailed,
    _build_chat,
    checked_request,
    paused_gc,
    published_from_store,
    publishing,
    settled_inputs,
)
from archive.importers.discord_staging import (
    Row,
    _bad_message,
    _captured_row,
    _link_base,
    _member,
    _QuestionFinder,
    _Scan,
    _Staged,
    _staged,
    _text,
    declaration_of,
    opt_of,
    question_posts,
    source_key,
)
from archive.importers.discord_worker import _Renderer, _Rendering, _tell, _Worker, reported
from archive.importers.exportjson import ExportReader
from archive.importers.progress import Progress, again
from archive.importers.streams import readable_again
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import Chat, MessageKind, chat_id_for
from archive.publish import (
    FORMATS,
    PublishOptions,
    PublishResult,
    publish_staged,
    staged_paths,
    staging_folder,
)
from archive.store import Store, iso
from archive.store.engagement import RowHighlights
from archive.store.messages import RAW_COLUMN, Raw, export_json, index_search

__all__ = ["WAITING_LIMIT", "OnePass", "import_discord_export", "import_in_one_pass"]

logger = logging.getLogger(__name__)

# Messages held by the worker until the first question tells the chat's start (it decides
# which belong); past this many, the two-pass import (which stages them on disk) is used.
WAITING_LIMIT = 20_000
# Rows per R frame (~0.2-0.5 MB with their payloads).
ROWS_PER_FRAME = 500
# A chat's end while it is read: later than any message (the final chat's end is its last
# message's time, so no message of the export is late or past the window either way).
_OPEN_END = datetime(9999, 1, 1, tzinfo=UTC)


_NO_ANSWER_LABELS = frozenset({str(MessageKind.QUESTION), str(MessageKind.REPOST)})


def _payload(raw: Raw) -> bytes:
    """:func:`export_json` of a parsed message, encoded in UTF-8 (orjson's own output)."""
    try:
        return orjson.dumps(raw)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: export_json's fallback
        return export_json(raw).encode("utf-8")


class _GiveUp(Exception):
    """The one pass cannot stand (the message says why): the two-pass import is made."""


# ---- the worker ------------------------------------------------------------------------------


class _Pass:
    """The worker's side: the scan of the export so far, and its messages through the
    capture rules once the chat's start is known."""

    def __init__(
        self,
        conn: Connection,
        reader: ExportReader,
        hashtag: str,
        hosts: tuple[str, ...],
        labels: Labels,
        now: str,
    ) -> None:
        self.conn = conn
        self.reader = reader
        self.hashtag = hashtag
        self.hosts = hosts
        self.labels = labels
        self.now = now
        self.scan = _Scan()
        self.finder = _QuestionFinder(hashtag, hosts, labels)
        self.waiting: list[tuple[_Staged, datetime, bytes]] = []
        self.ctx: CaptureContext | None = None
        self.chat_posts: set[str] = set()
        self.topics_seen: set[str] = set()
        self.rows: list[Row] = []
        self.channel_id = self.link = ""
        # What the rules read of posts met later (checked at the end): the authors judged
        # people, the replies' targets unknown then. (The importer checks the answer keys.)
        self.people: set[str] = set()
        self.unknown_targets: set[str] = set()
        self.judged_at: datetime | None = None
        self.ids: set[str] = set()  # every message's id so far

    def add(self, staged: _Staged | None, mid: str, at: datetime, raw: bytes) -> None:
        scan = self.scan
        # A repeated id: the two-pass import takes each id's last question post (and its
        # key) for every message, those before it too, which one pass cannot.
        if mid in self.ids:
            raise _GiveUp(f"message {mid} is in the export twice")
        self.ids.add(mid)
        if scan.first_at is None:
            scan.first_id = mid
            scan.first_at = scan.last_at = at
        elif at < cast(datetime, scan.last_at):
            raise _GiveUp("the export's messages are not in time order")
        else:
            scan.last_at = at
        if staged is None:
            return
        if opt_of(staged) is not None:
            # Who is shown changes (the rows rendered before): the two-pass import applies
            # it, and publishes from the store.
            raise _GiveUp("a participant's opt-out or opt-in")
        if declaration_of(staged) is not None:
            # A stakeholder group recorded (the rows rendered do not say it; a post that is
            # only the declaration is not captured): the two-pass import records it.
            raise _GiveUp("a participant's !iam declaration")
        scan.staged += 1
        if staged[8]:  # is_bot
            scan.bot_authors.add(staged[2])
            scan.bot_posts.add(staged[1])
            self.chat_posts.add(staged[1])
        entry = self.finder.entry(staged, at)
        if entry is not None and self.labels.topics:
            # A topic chat's topic is the first post of its label (_topic_posts).
            if any(key in self.topics_seen for key in entry[2]):
                entry = None
            else:
                self.topics_seen.update(entry[2])
        if entry is not None:
            if self.judged_at is not None and at <= self.judged_at:
                raise _GiveUp("a question was posted at the same time as a message before it")
            scan.questions.append(entry)
            self.chat_posts.add(entry[1])
        if self.ctx is None:
            self.waiting.append((staged, at, raw))
            if entry is not None:
                self._start()
            elif len(self.waiting) > WAITING_LIMIT:
                raise _GiveUp(f"more than {WAITING_LIMIT:,} messages before the first question")
            return
        if entry is not None:
            self._flush()
            self.ctx = self._context()
            self._send(b"Q", pickle.dumps([entry]))
        self._judge(staged, at, raw)

    def _chat(self) -> Chat:
        """The chat as known so far (its start is)."""
        chat = _build_chat(
            self.scan,
            hashtag=self.hashtag,
            hosts=self.hosts,
            title="",
            timezone="UTC",
            labels=self.labels,
        )
        return replace(chat, end=_OPEN_END)

    def _context(self) -> CaptureContext:
        found = question_posts(self.scan.questions)  # as the two-pass import reads them
        return CaptureContext(
            chat=self._chat(),
            question_posts=found.posts,
            # Live: met later, a bot's post or account counts from then on (checked).
            chat_posts=cast(frozenset[str], self.chat_posts),
            question_times=found.times,
            bot_ids=cast(frozenset[str], self.scan.bot_authors),
            follow_ups=found.follow_ups,
        )

    def _start(self) -> None:
        """The chat's start is known: tell the importer, and judge the messages waiting."""
        scan = self.scan
        scan.guild = _member(self.reader.members, "guild")
        scan.channel = _member(self.reader.members, "channel")
        if not _text(scan.channel.get("id")):
            raise _GiveUp("the export's channel comes after its messages")
        self.channel_id, self.link = _link_base(scan)
        self.ctx = self._context()
        self._send(b"B", pickle.dumps(scan))
        waiting, self.waiting = self.waiting, []
        for staged, at, raw in waiting:
            self._judge(staged, at, raw)

    def _judge(self, staged: _Staged, at: datetime, raw: bytes) -> None:
        ctx = self.ctx
        assert ctx is not None
        author_id, reply_to = staged[2], staged[7]
        person = not (staged[8] or author_id in self.scan.bot_authors)
        if person:
            self.people.add(author_id)
        if reply_to and reply_to not in self.chat_posts:
            self.unknown_targets.add(reply_to)
        row = _captured_row(staged, ctx, "", self.channel_id, self.link, self.now, raw, at)
        self.judged_at = at
        if row is None:
            return
        self.rows.append(row)
        if len(self.rows) >= ROWS_PER_FRAME:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self._send(b"R", marshal.dumps(self.rows))
            self.rows = []

    def _send(self, kind: bytes, body: bytes) -> None:
        self.conn.send_bytes(kind + body)

    def finish(self) -> None:
        """The file is read: judge what still waits (no question: the chat starts with its
        first message), check what was judged, and send the scan."""
        scan = self.scan
        scan.count = self.reader.count
        if scan.count == 0:
            raise _GiveUp("the export has no messages")  # the two-pass import says why
        if self.ctx is None:
            self._start()
        self._flush()
        scan.guild = _member(self.reader.members, "guild")
        scan.channel = _member(self.reader.members, "channel")
        if _link_base(scan) != (self.channel_id, self.link):
            raise _GiveUp("the export's guild comes after its messages")
        if self.people & scan.bot_authors:
            raise _GiveUp("an author turned out to be a bot after their first messages")
        if self.unknown_targets & self.chat_posts:
            raise _GiveUp("a message replies to a later post of the bot")
        self._send(b"S", pickle.dumps(scan))


def _work(
    conn: Connection, path: Path, hashtag: str, hosts: tuple[str, ...], labels: Labels, now: str
) -> None:
    """The worker of the one pass (see the module's docstring)."""
    with reported(conn):

        def report(n: int, fraction: float) -> None:
            conn.send_bytes(b"P" + marshal.dumps((n, fraction)))

        reader = ExportReader(
            path,
            stream="messages",
            members=("guild", "channel"),
            item="message",
            on_progress=report,
        )
        work = _Pass(conn, reader, hashtag, hosts, labels, now)
        try:
            for raw, index in reader:
                try:
                    staged, mid, at = _staged(raw, index)
                except ValueError as e:
                    raise _bad_message(path, index, reader.offset_of(index), str(e)) from None
                # The payload as UTF-8 bytes: the importer decodes it (marshal copies bytes
                # as they are, where a str would be encoded again for the pipe).
                work.add(staged, mid, at, _payload(raw) if staged is not None else b"")
            work.finish()
        except _GiveUp as e:
            _tell(conn, b"A" + pickle.dumps(str(e)))


# ---- the importer ----------------------------------------------------------------------------


def import_discord_export(
    store: Store,
    path: Path,
    *,
    hashtag: str,
    hosts: tuple[str, ...] = (),
    title: str = "",
    timezone: str = "UTC",
    progress: Progress | None = None,
    labels: Labels = DEFAULT_LABELS,
    language: str = "en",
    publish: PublishOptions | None = None,
) -> ImportResult:
    """:func:`archive.importers.discord_export.import_discord_export` (the same arguments,
    result and errors), a new chat asked to be published tried in one pass first
    (:func:`import_in_one_pass`): what commands call. A stream (``/dev/stdin``, a FIFO) is
    copied to a regular file first (:func:`readable_again`): the two passes read it twice."""
    with readable_again(path, store.path) as readable:
        if publish is not None:
            tag, checked_language, checked_hosts = checked_request(
                hashtag, timezone, language, hosts
            )
            told = False  # whether the one pass reported anything (not when it gave up at once)

            def noted(verb: str, messages: int, fraction: float) -> None:
                nonlocal told
                told = True
                if progress is not None:
                    progress(verb, messages, fraction)

            with paused_gc():
                job = OnePass(
                    tag,
                    checked_hosts,
                    title,
                    timezone,
                    labels,
                    checked_language,
                    publish,
                    noted if progress is not None else None,
                )
                done = import_in_one_pass(store, readable, job)
            if done is not None:
                if done.published is None:  # imported, not rendered: published from the store
                    with publishing(done):
                        return published_from_store(store, done, publish, progress)
                return done
            if progress is not None and told:
                # Given up part-way: the file is read again, a phase of its own on the line.
                progress = again(progress)
        # Already readable twice: the two-pass import proper, not its stream check again.
        return discord_export._import_file(
            store,
            readable,
            hashtag=hashtag,
            hosts=hosts,
            title=title,
            timezone=timezone,
            progress=progress,
            labels=labels,
            language=language,
            publish=publish,
        )


@dataclass(frozen=True)
class OnePass:
    """What a one-pass import is asked: the export's hashtag (normalised), hosts, title,
    time zone, label convention and language (checked), where to publish, and whom to tell
    of its progress."""

    tag: str
    hosts: tuple[str, ...]
    title: str
    timezone: str
    labels: Labels
    language: str
    publish: PublishOptions
    progress: Progress | None


def import_in_one_pass(store: Store, path: Path, job: OnePass) -> ImportResult | None:
    """Import ``path`` as a new chat and publish it, in one pass (see the module's
    docstring); None, with the archive untouched, when the one pass cannot stand (the
    caller imports the two-pass way). Raises :class:`ExportError` for a bad file, as the
    two-pass import does, leaving the archive untouched; :class:`PublishFailed` when the
    import was committed but writing its transcripts failed (or was interrupted)."""
    if discord_worker._fork_context() is None:
        return None  # off Linux: one core, nothing to gain
    store.wait_for_background()  # forked: not while another thread runs SQLite
    now = iso(store.now())
    worker = _Worker(path, work=_work, args=(path, job.tag, job.hosts, job.labels, now))
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(worker.close)
            return _import(store, path, worker, stack, job)
    except _GiveUp as e:
        logger.info("%s: imported in two passes (%s)", path, e)
        return None


def _import(
    store: Store, path: Path, worker: _Worker, stack: contextlib.ExitStack, job: OnePass
) -> ImportResult:
    tag, labels, publish, progress = job.tag, job.labels, job.publish, job.progress

    def chat_of(scan: _Scan) -> Chat:
        chat = _build_chat(
            scan,
            hashtag=tag,
            hosts=job.hosts,
            title=job.title,
            timezone=job.timezone,
            labels=labels,
            language=job.language,
        )
        return replace(chat, language=job.language)

    chat: Chat | None = None
    renderer: _Renderer | None = None
    picked: RowHighlights | None = None
    rendering: _Rendering | None = None
    source = ""
    captured = 0
    scan: _Scan | None = None
    so_far: _Scan | None = None
    asked: set[str] = set()
    # Answer labels (A3) of rows saved before their question was met (read by the importer:
    # the worker is the busier side): any of them asked later gives up the pass.
    reply = label_grammar(labels.answer)
    early: set[str] = set()
    with store.bulk_load(after=index_search), store.transaction():
        while True:
            kind, body = worker._receive()
            if kind == b"P":
                n, fraction = marshal.loads(body)
                if progress is not None:
                    progress("reading", n, fraction)
            elif kind == b"B":
                so_far = pickle.loads(body)
                source = source_key(_text(so_far.channel.get("id")), so_far.first_id)
                if store.find_chat_by_source(source) is not None:
                    raise _GiveUp("imported before")
                draft = chat_of(so_far)
                base = chat_id_for(tag, draft.start.astimezone(draft.zone))
                chat = store.add_chat(replace(draft, id=store.unique_chat_id(base)), source=source)
                try:
                    staging = stack.enter_context(staging_folder(publish.out_dir))
                except OSError as e:
                    raise _GiveUp(f"the transcripts' folder: {e}") from None
                opted_out = store.opted_out()
                rendering = _Rendering(staged_paths(chat, staging), opted_out)
                renderer = stack.enter_context(
                    contextlib.closing(_Renderer(chat, rendering, FORMATS))
                )
                picked = RowHighlights(chat, publish.highlights, opted_out=opted_out)
                asked = {q.key for q in chat.questions}
            elif kind == b"Q":
                assert chat is not None and renderer is not None and so_far is not None
                so_far.questions.extend(pickle.loads(body))
                grown = replace(chat_of(so_far), id=chat.id, created_at=chat.created_at)
                for q in grown.questions:
                    if q.key not in asked:
                        asked.add(q.key)
                        renderer.add_question(grown, q.key)
                chat = grown
            elif kind == b"R":
                assert chat is not None and renderer is not None and picked is not None
                rows = marshal.loads(body)
                chat_id = chat.id
                for row in rows:
                    row[0] = chat_id
                    row[RAW_COLUMN] = row[RAW_COLUMN].decode("utf-8")
                    # A question's or a repost's labels are not its answers' (row[9]: kind).
                    if row[9] not in _NO_ANSWER_LABELS:
                        for key in reply.parse(row[7]):  # row[7]: text
                            if key not in asked:
                                early.add(key)
                store.save_message_rows(rows, index=False, all_new=True)
                renderer.feed(rows)
                picked.feed(rows)
                captured += len(rows)
            elif kind == b"S":
                scan = pickle.loads(body)
                if early & asked:
                    raise _GiveUp("an answer label came before its question")
                break
            elif kind == b"A":
                raise _GiveUp(pickle.loads(body))
            else:
                raise worker._unexpected(kind)
        assert scan is not None and chat is not None and renderer is not None
        final = replace(chat_of(scan), id=chat.id, created_at=chat.created_at)
        chat = store.add_chat(final, source=source, replace_existing=True)
        new = store.count_messages(chat.id)
        generation = store.generation_at_commit()
    # Committed: what fails from here on fails the publication only (PublishFailed).
    committed = ImportResult(chat, True, scan.count, captured, new)
    try:
        if progress is not None:
            progress("imported", scan.count, 1.0)
        assert rendering is not None and picked is not None
        renderer.settle(chat)
        picked.chat = chat
        published = _publish(
            store,
            chat,
            renderer,
            rendering,
            picked,
            publish,
            generation=generation if new == captured else None,
            progress=progress,
            count=scan.count,
        )
    except PUBLICATION_FAILURES as e:
        raise PublishFailed(committed, e) from e
    logger.info(
        "imported %s from %s in one pass: %d messages read, %d captured, %d new",
        chat.id,
        path,
        scan.count,
        captured,
        new,
    )
    if published is None:
        return committed
    return replace(committed, chat=published.chat, published=published)


def _publish(
    store: Store,
    chat: Chat,
    renderer: _Renderer,
    rendering: _Rendering,
    picked: RowHighlights,
    publish: PublishOptions,
    *,
    generation: int | None,
    progress: Progress | None,
    count: int,
) -> PublishResult | None:
    """Publish the transcripts rendered from the rows as they were saved, once committed
    at ``generation`` (None: the chat's rows are not those rendered); None (logged) when
    they do not make the transcripts a publication from the store would, or writing them
    failed: the chat is then published from the store. Raises OSError or sqlite3.Error
    when the files cannot be moved into place or recorded."""
    inputs = settled_inputs(store, chat, renderer, rendering, picked, publish, generation)
    if inputs is None:
        return None
    assert generation is not None
    if progress is not None:
        progress("publishing", count, 0.0)
    try:
        stats = renderer.stats(inputs)
        renderer.finish(inputs, publish.generated_at, publish.cost_note, stats)
        hashed = renderer.digests()
    except Exception as e:  # the import stands: the chat is published from the store
        # A full disk fails that too, and is reported then: a warning only for the rest.
        level = logging.INFO if isinstance(e, OSError) else logging.WARNING
        logger.log(level, "%s: writing its transcripts as imported failed: %r", chat.id, e)
        return None
    # The record is a write: it waits for the search index here, not on the busy timeout.
    store.wait_for_background()
    published = publish_staged(
        store,
        chat,
        rendering.paths,
        stats,
        publish,
        generation=generation,
        hashed=hashed,
        mark_published=True,
    )
    logger.info("%s rendered from the import's rows while they were saved", chat.id)
    return published
