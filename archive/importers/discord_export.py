"""Import a DiscordChatExporter JSON export of one channel as an ended, published chat.

The export (``guild``, ``channel``, ``messages`` [...], in DiscordChatExporter's documented
JSON format) is read once, streamed (:mod:`archive.importers.exportjson`), so memory stays
flat however large it is. Which question a message answers can only be settled once every
question post is known, so the work is split in two:

1. the read (its pieces in :mod:`archive.importers.discord_staging`) validates the whole
   file, finds the channel, the time range, the bots and the question posts (host or bot
   messages that begin with a question label in the chat's convention: ``Q1`` by default,
   ``C1`` with ``--labels C/A``; in a topic convention, ``T``/``T``, only the first such
   post of each label, as the host's later ``T1 ...`` posts are the host's answers), and
   stages every message, already converted, in temporary files (``marshal`` batches);
2. the capture builds the chat and puts every staged message through the same capture
   rules as live messages, saving in batches inside one transaction, each batch indexed
   for search as it is saved.

Two processes share the work (:mod:`archive.importers.discord_worker`): a forked worker
parses the file and encodes each message's raw payload while this process converts and
stages the messages; then the worker applies the capture rules while this process writes
the rows to SQLite.
Asked to publish a new chat, both render its transcripts from the rows meanwhile.

A new chat asked to be published is first tried in one pass instead
(:mod:`archive.importers.one_pass`, whose ``import_discord_export`` the commands use: the
capture rules applied as the file is read, with the questions met so far); the two passes
here are for what that cannot settle.

A file that turns out malformed or truncated fails in the read, before anything is
written; any failure later (the worker's too) rolls the one transaction back.
Re-importing the same export (same channel, same first message) finds the chat it made
before by its ``source`` and, with the same options, changes nothing. With options the
capture rules depend on (:func:`changed_options`: hosts, labels, hashtag) the chat's
messages are captured again from the export in the same transaction, their verdicts
replacing those stored (:meth:`archive.store.Store.recapture_messages`); other options
only update the chat. A chat holding messages the export lacks (a longer export extended
it) is not captured again from it: refused, rather than losing them.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archive.capture import host_idents
from archive.groups import (
    Group,
    declaration_only,
    declared_words,
    every_label,
    group_label,
    match_declared,
)
from archive.hashtags import HashtagError, has_hashtag, normalise_hashtag
from archive.i18n import DEFAULT_LANGUAGE, language_tag, translator
from archive.importers.discord_staging import (
    PLATFORM,
    _bad_message,
    _has_list,
    _ids,
    _member,
    _QuestionFinder,
    _Scan,
    _Spill,
    _staged,
    _text,
    declaration_of,
    opt_of,
    source_key,
)
from archive.importers.discord_worker import IMPORTER_FORMATS, _Renderer, _Rendering, _Worker
from archive.importers.exportjson import ExportError
from archive.importers.progress import Progress, RunProgress, TerminalProgress, terminal_progress
from archive.importers.streams import readable_again
from archive.labels import DEFAULT_LABELS, Labels
from archive.models import (
    Chat,
    ChatStatus,
    Question,
    Target,
    chat_id_for,
)
from archive.publish import (
    PublicationInputs,
    PublishOptions,
    PublishResult,
    publication_inputs,
    publish_staged,
    publish_with,
    staged_paths,
    staging_folder,
)
from archive.store import Store, iso
from archive.store.engagement import RowHighlights
from archive.store.messages import index_search

__all__ = [
    "Declaration",
    "ExportError",
    "ImportResult",
    "Progress",
    "RunProgress",
    "TerminalProgress",
    "changed_options",
    "check_options",
    "import_discord_export",
    "paused_gc",
    "source_key",
    "terminal_progress",
]

logger = logging.getLogger(__name__)


# ---- the read -------------------------------------------------------------------------------


def _read(
    path: Path,
    hashtag: str,
    hosts: tuple[str, ...],
    spill: _Spill,
    worker: _Worker,
    progress: Progress | None,
    labels: Labels = DEFAULT_LABELS,
    group_names: Sequence[Group] = (),
) -> _Scan:
    """Read the export once (parsed by the worker): validate it, stage its messages, find
    the question posts. ``group_names``: what an ``!iam`` may name (``every_label``), to
    tell a post that is only a declaration."""
    scan = _Scan()
    finder = _QuestionFinder(hashtag, hosts, labels)
    first_at = last_at = None
    for raw, index, raw_text in worker.messages(progress):
        try:
            staged, mid, at = _staged(raw, index)
        except ValueError as e:
            raise _bad_message(path, index, worker.offset_of(index), str(e)) from None
        if first_at is None:
            scan.first_id = mid
            first_at = last_at = at
        elif at < first_at:
            first_at = at
        elif at > last_at:  # type: ignore[operator]
            last_at = at
        if staged is None:
            continue
        if (word := opt_of(staged)) is not None:  # applied by the import, not captured
            scan.opt_commands.append((PLATFORM, staged[2], staged[4], word))
            continue
        if (word := declaration_of(staged)) is not None:  # applied by the import, as live
            tagged = has_hashtag(staged[5], hashtag)
            words = declared_words(staged[5]) if word else ""  # a label may be two words
            scan.declarations.append(
                (staged[2], staged[4], words, at, staged[1], tagged, staged[7])
            )
            if declaration_only(staged[5], group_names):  # nothing else said: not captured
                continue
        spill.add(staged, raw_text)
        scan.staged += 1
        if staged[8]:  # is_bot
            scan.bot_authors.add(staged[2])
            scan.bot_posts.add(staged[1])
        entry = finder.entry(staged, at)
        if entry is not None:
            scan.questions.append(entry)
    scan.count = worker.count
    scan.first_at, scan.last_at = first_at, last_at
    scan.guild = _member(worker.members, "guild")
    scan.channel = _member(worker.members, "channel")
    if scan.count == 0 and not _has_list(path, "messages"):
        raise ExportError(
            f"{path}: not a DiscordChatExporter export (no 'messages' list); "
            "export the channel as JSON"
        )
    if not scan.channel or not _text(scan.channel.get("id")):
        raise ExportError(
            f"{path}: not a DiscordChatExporter export (no 'channel' with an 'id'); "
            "export the channel as JSON"
        )
    if scan.count == 0:
        raise ExportError(f"{path}: the export has no messages")
    return scan


# ---- the import -------------------------------------------------------------------------------


class Declaration(NamedTuple):
    """A participant's ``!iam`` met in an export, which the import records as the live bot
    does (``archive.groups``): their stakeholder group on the chat's hashtag."""

    who: str  # the participant's handle, else their user id
    word: str  # what followed !iam ("" when nothing did)
    group: str  # the key of the group it names, "" when it names none (not recorded)
    stands: bool = True  # False when a later declaration of theirs stands instead


def _declare(
    store: Store,
    chat: Chat,
    declarations: list[tuple[str, str, str, datetime, str, bool, str]],
    captured: set[str],
    replied: set[str],
) -> tuple[tuple[Declaration, ...], bool]:
    """Record the export's ``!iam`` declarations (``_Scan.declarations``) on ``chat``'s
    hashtag, as the live bot does: those of posts that belong to the chat (``captured``
    ids; a post that is only a declaration, a reply to one of ``replied``, the bot's and
    the question posts) or that carry its hashtag; a group by its key or label, the label
    as the archive's groups give it or in the chat's language. A word naming no group
    records nothing. Returns the declarations (in export order) and whether the recorded
    groups changed (an export imported again records nothing new)."""
    groups = store.configured_groups()
    tr = translator(chat.language)
    shown = [Group(g.key, group_label(g.key, g.label, tr)) for g in groups]
    before = store.group_sources(chat.hashtag).own
    out = []
    for author_id, handle, word, at, message_id, tagged, reply_to in declarations:
        if not (tagged or message_id in captured or reply_to in replied):
            continue  # live, a post in no chat declares nothing ("no chat runs here")
        group = (match_declared(word, groups) or match_declared(word, shown)) if word else None
        stands = True
        if group is not None:
            stands = store.declare_group(
                chat.hashtag,
                PLATFORM,
                author_id,
                group.key,
                at,
                handle=handle,
                message_id=message_id,
            )
        out.append(Declaration(handle or author_id, word, group.key if group else "", stands))
    return tuple(out), store.group_sources(chat.hashtag).own != before


class OptCommand(NamedTuple):
    """A participant's ``!optout`` or ``!optin`` met in an export, which the import applies
    as the live bot does (``archive.optouts``)."""

    word: str  # "optout" or "optin"
    who: str  # the participant's handle, else their user id


@dataclass(frozen=True, slots=True)
class ImportResult:
    chat: Chat
    created: bool  # False when the export had been imported before
    read: int  # messages in the export
    captured: int  # messages of the export that belong to the chat (an id listed twice counts once)
    new_messages: int  # rows the archive did not have before
    published: PublishResult | None = None  # when the import was asked to publish
    # A re-import: the options that changed the stored chat (``--host``, ``--title``...),
    # and whether its messages were captured again under new rules (changed_options()).
    changed: tuple[str, ...] = ()
    recaptured: bool = False
    # A re-capture: the chat as it stood before and its participants then (the later chats'
    # statistics counted those; `tweetchat import` republishes the ones this changes).
    earlier: Chat | None = None
    earlier_participants: frozenset[str] = frozenset()
    # Captured messages the export lists more than once (a hand-merged export): each stored
    # and counted once.
    repeated: int = 0
    # The participants' opt commands met in the export, applied in order: an opt-out
    # leaves the participant out of every transcript, as live.
    opt_commands: tuple[OptCommand, ...] = ()
    # The participants' !iam declarations met in the export, in order (recorded when they
    # name a group): their stakeholder group, as live.
    declarations: tuple[Declaration, ...] = ()


class PublishFailed(Exception):
    """The import of an export was committed, but its transcripts were not written: the
    disk or the transcripts' folder failed (OSError), the record of the files did
    (sqlite3.Error), or an interrupt came (KeyboardInterrupt; Ctrl-C, or SIGTERM as the
    command line turns it). ``result`` is the import (``published`` None), ``cause``
    the failure. The chat stays ended (or as it was, re-imported) and the transcripts'
    folder holds the files it had: importing the same export again writes them."""

    def __init__(self, result: ImportResult, cause: BaseException) -> None:
        super().__init__(f"{result.chat.id}: its transcripts were not written: {cause}")
        self.result = result
        self.cause = cause

    @property
    def interrupted(self) -> bool:
        """Whether an interrupt, not a failure, stopped the publication."""
        return isinstance(self.cause, KeyboardInterrupt)


# What stops the publication of an import already committed (see PublishFailed).
PUBLICATION_FAILURES = (OSError, sqlite3.Error, KeyboardInterrupt)


@contextmanager
def publishing(result: ImportResult) -> Iterator[None]:
    """Around what follows the commit of the import ``result``: a failure to write or record
    its transcripts, or an interrupt, raises :class:`PublishFailed` naming it."""
    try:
        yield
    except PUBLICATION_FAILURES as e:
        raise PublishFailed(replace(result, published=None), e) from e


def _topic_posts(scan: _Scan) -> None:
    """Keep, of a topic chat's labelled host and bot posts, the first of each label: the
    topic itself (a later ``T1 ...`` by a host is the host's answer to it)."""
    seen: set[str] = set()
    topics = []
    for entry in sorted(scan.questions, key=lambda q: q[0]):
        keys = entry[2]
        if any(key in seen for key in keys):
            continue
        seen.update(keys)
        topics.append(entry)
    scan.questions = topics


def _default_title(scan: _Scan, hashtag: str, language: str = DEFAULT_LANGUAGE) -> str:
    """An imported chat's title without ``--title``, in the chat's language: ``#WeDocs in
    #qi-chat`` (``#WeDocs sur #qi-chat``...)."""
    channel_name = _text(scan.channel.get("name")) or _ids(scan)[1]
    # Translators: an imported chat's title: its hashtag, and the channel it was held in.
    text = translator(language).gettext("{hashtag} in #{channel}")
    return text.format(hashtag=hashtag, channel=channel_name)


def _build_chat(
    scan: _Scan,
    *,
    hashtag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    labels: Labels = DEFAULT_LABELS,
    language: str = DEFAULT_LANGUAGE,
) -> Chat:
    assert scan.first_at is not None and scan.last_at is not None
    start = min(at for at, *_ in scan.questions) if scan.questions else scan.first_at
    seen: dict[str, Question] = {}
    for at, _mid, keys, text in sorted(scan.questions, key=lambda q: q[0]):
        for key in keys:
            if key in seen:
                continue
            number = int(key.rstrip("abcdefghijklmnopqrstuvwxyz"))
            seen[key] = Question(number, text, at - start, key[len(str(number)) :])
    end = max(scan.last_at, start)
    return Chat(
        id="",
        title=title or _default_title(scan, hashtag, language),
        hashtag=hashtag,
        start=start,
        end=end,
        timezone=timezone,
        questions=tuple(seen.values()),
        targets=(Target(PLATFORM, _ids(scan)[1]),),
        hosts=hosts,
        # Published once its transcripts are written and recorded (Store.mark_published):
        # an import whose publication fails, or that was not asked for one, says so.
        status=ChatStatus.ENDED,
        grace=timedelta(0),
        labels=labels,
    )


def changed_options(existing: Chat, chat: Chat) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The options of a re-import that make ``chat`` (as this import builds it) differ from
    the ``existing`` one: first those the capture rules and the chat's questions depend on
    (the hashtag, which messages carry and which a question post's text drops; the hosts,
    whose labelled posts are the questions; the label convention), then those that only
    change how the chat is shown (its title, time zone, language, and the spelling of a
    hashtag or a host that the rules read alike)."""
    rules: list[str] = []
    shown: list[str] = []
    if existing.hashtag.casefold() != chat.hashtag.casefold():
        rules.append("--hashtag")
    elif existing.hashtag != chat.hashtag:
        shown.append("--hashtag")
    if host_idents(existing.hosts) != host_idents(chat.hosts):
        rules.append("--host")
    elif existing.hosts != chat.hosts:
        shown.append("--host")
    if existing.labels != chat.labels:
        rules.append("--labels")
    for option, name in (
        ("--title", "title"),
        ("--timezone", "timezone"),
        ("--language", "language"),
    ):
        if getattr(existing, name) != getattr(chat, name):
            shown.append(option)
    return tuple(rules), tuple(shown)


def _export_ids(spill: _Spill) -> set[str]:
    """The ids of the export's staged messages (every one that could be captured)."""
    return {staged[1] for batch in spill.batches() for staged in batch}


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
    """Archive the export at ``path`` as an ended chat; re-importing changes nothing.

    ``labels`` is the chat's label convention (:mod:`archive.labels`): which posts are
    questions (``Q1``; ``C1`` in a Welsh chat) and which labels answer them (``A1``; ``R1``
    in a French chat); it is stored with the chat, for its transcripts.
    ``language`` is the chat's (BCP 47, ``archive.i18n``): its transcripts are written in it.
    Raises :class:`ExportError` (and leaves the archive untouched) for a bad option or file;
    :class:`PublishFailed` when the import was committed but publishing it failed.

    ``publish``: also publish the chat there (``ImportResult.published``: what
    :func:`archive.publish.publish_chat` returns, the same files and record). This is the
    two-pass import: :func:`archive.importers.one_pass.import_discord_export` (the one
    commands use) tries one pass first for a new chat to publish. A new chat is rendered by
    the worker from the rows it captures while this process saves them (see "the worker");
    otherwise (a re-import, a case the rows alone cannot settle: messages
    out of time order, an opted-out participant's handle to hide, stakeholder groups, a
    failure of the worker's rendering) it is published from the store once imported.
    The chat becomes published with the record of its transcripts (a re-imported one
    keeps its status). Without it, transcripts are not written: publish the returned chat
    afterwards.

    A stream (``/dev/stdin``, a FIFO) is copied to a regular file first, read twice
    (:func:`archive.importers.streams.readable_again`).
    """
    with readable_again(path, store.path) as readable:
        return _import_file(
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


def _import_file(
    store: Store,
    path: Path,
    *,
    hashtag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    progress: Progress | None,
    labels: Labels,
    language: str,
    publish: PublishOptions | None,
) -> ImportResult:
    """:func:`import_discord_export` of a file that can be read more than once."""
    tag, language, hosts = checked_request(hashtag, timezone, language, hosts)
    # Beside the archive: the same file system, and the space the rows will need anyway.
    spill = _Spill(store.path.parent if store.path != Path(":memory:") else None)
    # The worker is forked: not while the thread a previous import left (its search index
    # and checkpoint, usually over by now) runs SQLite, whose locks the child would copy.
    store.wait_for_background()
    try:
        with paused_gc(), _Worker(path, spill) as worker:
            group_names = every_label(store.configured_groups())
            scan = _read(path, tag, hosts, spill, worker, progress, labels, group_names)
            spill.finish()
            if labels.topics:
                _topic_posts(scan)
            result = _capture(
                store,
                path,
                scan,
                spill,
                worker,
                tag,
                hosts,
                title,
                timezone,
                progress,
                labels,
                language,
                publish,
            )
    finally:
        spill.close()
    if publish is not None and result.published is None:
        # Published from the store, as any chat (the staged messages' files are gone: the
        # publication's own take their place on the disk).
        with publishing(result):
            result = published_from_store(store, result, publish, progress)
    return result


def checked_request(
    hashtag: str, timezone: str, language: str, hosts: tuple[str, ...]
) -> tuple[str, str, tuple[str, ...]]:
    """The hashtag normalised, the language as a BCP 47 tag, the hosts stripped;
    :class:`ExportError` names a bad ``--hashtag``, ``--timezone`` or ``--language``."""
    tag = _validate(hashtag, timezone)
    try:
        language = language_tag(language)
    except ValueError as e:
        raise ExportError(f"--language: {e}") from None
    return tag, language, tuple(h.strip() for h in hosts if h.strip())


def published_from_store(
    store: Store, result: ImportResult, publish: PublishOptions, progress: Progress | None
) -> ImportResult:
    """``result`` with its chat published from the store (as any chat), and marked
    published. Raises OSError or sqlite3.Error (:func:`archive.publish.publish_with`)."""
    if progress is not None:
        progress("publishing", result.read, 0.0)
    with paused_gc():
        published = publish_with(store, result.chat, publish, mark_published=True)
    return replace(result, chat=published.chat, published=published)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything).

    An import makes millions of short-lived, acyclic objects (parsed messages, rows); each
    collection would walk every live one again for nothing: 10-20% of an import or a
    publication of 100k messages.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _capture(
    store: Store,
    path: Path,
    scan: _Scan,
    spill: _Spill,
    worker: _Worker,
    tag: str,
    hosts: tuple[str, ...],
    title: str,
    timezone: str,
    progress: Progress | None,
    labels: Labels = DEFAULT_LABELS,
    language: str = "en",
    publish: PublishOptions | None = None,
) -> ImportResult:
    """Build (or find) the chat, have the worker put the staged messages through the capture
    rules, and save the rows it sends back, in one transaction; publish the chat when asked
    and its rows settle its transcripts (rendered as they are saved: see "the worker"; else
    ``published`` is None and the caller publishes from the store)."""
    _guild_id, channel_id = _ids(scan)
    source = source_key(channel_id, scan.first_id)
    draft = replace(
        _build_chat(
            scan,
            hashtag=tag,
            hosts=hosts,
            title=title,
            timezone=timezone,
            labels=labels,
            language=language,
        ),
        language=language,
    )
    captured = done = 0
    published = None
    committed: ImportResult | None = None
    try:
        with contextlib.ExitStack() as stack:
            # The search index of the rows is made once they are committed, on another thread
            # (while the import is published): one statement for all of them, off this core.
            with store.bulk_load(after=index_search), store.transaction():
                existing = store.find_chat_by_source(source)
                rules: tuple[str, ...] = ()
                changed: tuple[str, ...] = ()
                stored: set[str] = set()
                earlier: tuple[Chat, frozenset[str]] | None = None
                if existing is not None:
                    # Its status too: a published chat stays so (its files stand until the
                    # publication after this import replaces them).
                    chat = replace(
                        draft,
                        id=existing.id,
                        created_at=existing.created_at,
                        status=existing.status,
                    )
                    rules, shown = changed_options(existing, chat)
                    if not title and existing.title == _default_title(
                        scan, existing.hashtag, existing.language
                    ):
                        # The default title follows the hashtag: no --title was given or changed.
                        shown = tuple(option for option in shown if option != "--title")
                    changed = rules + shown
                    stored = store.platform_ids(existing.id, PLATFORM)
                    missing = stored - _export_ids(spill)
                    if missing and rules:
                        # Captured again from this export, they would be dropped: refused.
                        raise ExportError(
                            f"{path}: {existing.id} holds {len(missing)} messages that are not in "
                            "this export (a longer export of the channel added them); importing it "
                            f"again with the new options ({', '.join(rules)}) would lose them: "
                            "re-import the longest export of the channel with those options"
                        )
                    if rules:
                        earlier = (existing, frozenset(store.participants_of(existing)))
                    if missing:
                        # An export that lacks stored messages: an older, shorter export of a
                        # chat a longer one extended, or a later one of a channel where some
                        # were deleted since. The chat keeps its questions, its start and the
                        # messages it holds; it ends at the later of the two ends, so that what
                        # a later export adds is captured (it was dropped, past the old end);
                        # otherwise only how it is shown may change.
                        chat = replace(
                            existing,
                            title=chat.title,
                            hashtag=chat.hashtag,
                            hosts=chat.hosts,
                            timezone=chat.timezone,
                            language=chat.language,
                            end=max(existing.end, draft.end),
                        )
                    if chat != existing:  # a later export of the same channel, or new options
                        chat = store.add_chat(chat, source=source, replace_existing=True)
                else:
                    base = chat_id_for(tag, draft.start.astimezone(draft.zone))
                    chat = store.add_chat(
                        replace(draft, id=store.unique_chat_id(base)), source=source
                    )
                # A chat just added holds no message (its id was free).
                before = 0 if existing is None else store.count_messages(chat.id)
                rendering = None
                picked = None
                # The ids captured, and those met again (an export listing a message twice):
                # the captured messages are counted by id, not by row (a message stored in
                # another chat before is captured, not new, and no repeat).
                ids: set[str] = set()
                again: set[str] = set()
                if publish is not None and existing is None and worker.forked:
                    try:
                        staging = stack.enter_context(staging_folder(publish.out_dir))
                    except OSError as e:  # the publication after the import reports it
                        logger.info("%s: not rendered while imported: %s", path, e)
                    else:
                        # Closed before the staging folder is removed, whatever happens.
                        stack.callback(worker.close)
                        opted_out = store.opted_out()
                        rendering = _Rendering(staged_paths(chat, staging), opted_out)
                        # The highlights are picked from the rows too (publication_inputs takes
                        # them when nothing else decides them: no engagement recorded).
                        picked = RowHighlights(chat, publish.highlights, opted_out=opted_out)
                renderer = stack.enter_context(
                    contextlib.closing(_Renderer(chat, rendering, IMPORTER_FORMATS, counted=False))
                )
                # The participants' !optout / !optin messages, in export order: applied, as the
                # live bot applies them, not captured (platform, author id, handle, word).
                commands = scan.opt_commands
                # Options that change the capture rules: every message is judged again, and the
                # verdicts (kind, question keys, late) replace those stored.
                verdicts: list[tuple[str, str, int, str]] | None = [] if rules else None
                # While the worker captures the next batch, this process saves the last one
                # (and renders its share of the transcripts from it).
                for count, rows in worker.capture(scan, spill, chat, iso(store.now()), rendering):
                    done += count
                    captured += len(rows)
                    store.save_message_rows(rows, index=False, all_new=existing is None)
                    for r in rows:
                        mid = cast(str, r[2])
                        if mid in ids:
                            again.add(mid)
                        else:
                            ids.add(mid)
                    if verdicts is not None:
                        verdicts.extend(
                            (cast(str, r[9]), cast(str, r[10]), cast(int, r[11]), cast(str, r[2]))
                            for r in rows
                        )
                    renderer.feed(rows)
                    if picked is not None:
                        picked.feed(rows)
                    if progress is not None:
                        progress("imported", scan.count, done / max(scan.staged, 1))
                if verdicts is not None:
                    dropped = store.recapture_messages(chat.id, PLATFORM, verdicts)
                    new = len({v[3] for v in verdicts} - stored)
                    logger.info(
                        "%s captured again with new options (%s): %d messages no longer belong",
                        chat.id,
                        ", ".join(rules),
                        dropped,
                    )
                else:
                    new = store.count_messages(chat.id) - before
                # An export imported again opts out nobody already out (nor in anyone in):
                # it changes nothing, as its messages change nothing.
                opted = set(store.opted_out())
                for platform, author_id, handle, word in commands:
                    key = f"{platform}:{author_id}"
                    if word == "optout" and key not in opted:
                        store.opt_out(platform, author_id, handle)
                        opted.add(key)
                    elif word != "optout" and key in opted:
                        store.opt_in(platform, author_id)
                        opted.discard(key)
                replied = scan.bot_posts | {q[1] for q in scan.questions}
                declared, regrouped = _declare(store, chat, scan.declarations, ids, replied)
                generation = store.generation_at_commit()
            # Committed: the search index is made on another thread from here on. What
            # fails from here on fails the publication only (PublishFailed).
            committed = ImportResult(
                chat,
                existing is None,
                scan.count,
                len(ids),
                new,
                changed=changed,
                recaptured=bool(rules),
                earlier=earlier[0] if earlier else None,
                earlier_participants=earlier[1] if earlier else frozenset(),
                repeated=len(again),
                opt_commands=tuple(OptCommand(w, h or a) for _p, a, h, w in commands),
                declarations=declared,
            )
            if progress is not None:
                progress("imported", scan.count, 1.0)
            if rendering is not None and worker.rendered:
                assert publish is not None
                # The rows rendered are the chat's rows only if every one was inserted as sent
                # (none already stored, no repeat in the export).
                published = _publish_rendered(
                    store,
                    chat,
                    worker,
                    renderer,
                    rendering,
                    picked,
                    publish,
                    # (nor if an opt command changed who is shown: rendered before it was met)
                    # (nor if a declaration changed the groups: the rows do not say them)
                    generation=generation
                    if new == captured and not commands and not regrouped
                    else None,
                    progress=progress,
                    count=scan.count,
                )
    except PUBLICATION_FAILURES as e:
        if committed is None:  # rolled back: the archive is untouched
            raise
        raise PublishFailed(committed, e) from e
    assert committed is not None
    logger.info(
        "imported %s from %s: %d messages read, %d captured, %d new",
        chat.id,
        path,
        scan.count,
        committed.captured,
        new,
    )
    if published is not None:
        committed = replace(committed, chat=published.chat)
    return replace(committed, published=published)


def settled_inputs(
    store: Store,
    chat: Chat,
    renderer: _Renderer,
    rendering: _Rendering,
    picked: RowHighlights | None,
    publish: PublishOptions,
    generation: int | None,
) -> PublicationInputs | None:
    """What the publication of the rows rendered as imported reads beside them, once
    committed at ``generation`` (None: the chat's rows are not those rendered), when those
    rows settle the transcripts a publication from the store would write; else None (the
    chat is then published from the store; a stopped rendering is logged)."""
    inputs = None
    if renderer.stopped:
        logger.info("%s: not rendered while imported: %s", chat.id, renderer.stopped)
    elif generation is not None:
        with store.snapshot():
            if store.generation() == generation:  # nothing written since the import
                inputs = publication_inputs(store, chat, publish.highlights, rows_highlights=picked)
    if inputs is None or not inputs.settled_by_rows(rendering.opted_out):
        return None
    return inputs


def _publish_rendered(
    store: Store,
    chat: Chat,
    worker: _Worker,
    renderer: _Renderer,
    rendering: _Rendering,
    picked: RowHighlights | None,
    publish: PublishOptions,
    *,
    generation: int | None,
    progress: Progress | None,
    count: int,
) -> PublishResult | None:
    """Publish the transcripts rendered as the chat's rows were captured (``renderer`` here,
    the worker's part there), once the import committed them at ``generation`` (None: the
    chat's rows are not those rendered); None (and the worker told) when they do not make
    the transcripts a publication from the store would (see :class:`_Rendering`) or when
    writing them failed (logged): the chat is then published from the store. Raises
    OSError or sqlite3.Error when the files cannot be moved into place or recorded."""
    inputs = settled_inputs(store, chat, renderer, rendering, picked, publish, generation)
    if inputs is None:
        worker.abandon_rendering()
        return None
    assert generation is not None
    if progress is not None:
        progress("publishing", count, 0.0)
    try:
        assert worker.counter is not None  # sent with the end of a capture fully rendered
        stats = inputs.stats(worker.counter)
    except Exception as e:  # the import stands: the chat is published from the store
        logger.warning("%s: its statistics as imported failed: %r", chat.id, e)
        worker.abandon_rendering()
        return None
    if not worker.finish_rendering(inputs, publish, stats):
        return None
    try:
        renderer.finish(inputs, publish.generated_at, publish.cost_note, stats)
        hashed = renderer.digests()  # while the worker hashes its files
    except Exception as e:  # the import stands: the chat is published from the store
        # A full disk fails that too, and is reported then: a warning only for the rest.
        level = logging.INFO if isinstance(e, OSError) else logging.WARNING
        logger.log(level, "%s: writing its transcripts as imported failed: %r", chat.id, e)
        return None
    theirs = worker.rendered_digests()
    if theirs is None:
        return None
    # The record is a write: it waits for the search index (a write transaction as long as
    # the import is big) here, not on SQLite's busy timeout.
    store.wait_for_background()
    published = publish_staged(
        store,
        chat,
        rendering.paths,
        stats,
        publish,
        generation=generation,
        hashed=hashed | theirs,
        mark_published=True,
    )
    logger.info("%s rendered from the import's rows while they were saved", chat.id)
    return published


def check_options(hashtag: str, timezone: str) -> str:
    """The hashtag, normalised; :class:`ExportError` names a bad ``--hashtag``/``--timezone``."""
    return _validate(hashtag, timezone)


def _validate(hashtag: str, timezone: str) -> str:
    try:
        tag = normalise_hashtag(hashtag)
    except HashtagError as e:
        raise ExportError(f"--hashtag: {e}") from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(
            f"--timezone: unknown time zone {timezone!r} (use an IANA name such as Europe/London)"
        ) from None
    return tag
