"""Versioned schema migrations, each applied in its own transaction and recorded in a table.

Add a migration by appending a function to ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

Migration = Callable[[sqlite3.Connection], None]


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE chats (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            hashtag TEXT NOT NULL,
            hashtag_key TEXT NOT NULL,          -- casefolded, for series/history look-ups
            start TEXT NOT NULL,                -- ISO 8601 UTC with offset
            end TEXT NOT NULL,
            timezone TEXT NOT NULL,
            intro TEXT NOT NULL DEFAULT '',
            closing TEXT NOT NULL DEFAULT '',
            grace_seconds INTEGER NOT NULL,
            targets TEXT NOT NULL,              -- JSON list of {platform, channel}
            hosts TEXT NOT NULL,                -- JSON list
            reminders TEXT NOT NULL DEFAULT '[]', -- JSON list of seconds before start
            status TEXT NOT NULL,
            series_id TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',    -- the chat file (or command) it came from
            created_at TEXT NOT NULL
        );
        CREATE INDEX chats_start ON chats(start);
        CREATE INDEX chats_hashtag ON chats(hashtag_key, start);

        CREATE TABLE questions (
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            number INTEGER NOT NULL,
            part TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            offset_seconds REAL NOT NULL,
            PRIMARY KEY (chat_id, position)
        );

        CREATE TABLE posts (
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            action_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT '',
            platform_message_id TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,               -- intent | sent | failed
            text TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            intent_at TEXT NOT NULL,
            posted_at TEXT,
            PRIMARY KEY (chat_id, action_key, platform, channel)
        );

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            platform TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT '',
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            author_handle TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            question_keys TEXT NOT NULL DEFAULT '',  -- space-separated: "1 2a"
            late INTEGER NOT NULL DEFAULT 0,
            reply_to TEXT NOT NULL DEFAULT '',
            permalink TEXT NOT NULL DEFAULT '',
            edited_at TEXT,
            deleted_at TEXT,
            mentions TEXT NOT NULL DEFAULT '',       -- space-separated handles
            reactions INTEGER NOT NULL DEFAULT 0,
            raw TEXT NOT NULL DEFAULT '{}',          -- the platform payload, verbatim JSON
            captured_at TEXT NOT NULL,
            UNIQUE (platform, platform_id)
        );
        CREATE INDEX messages_chat_time ON messages(chat_id, created_at);

        CREATE TABLE optouts (
            platform TEXT NOT NULL,
            author_id TEXT NOT NULL,
            handle TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            PRIMARY KEY (platform, author_id)
        );

        CREATE TABLE transcripts (
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            format TEXT NOT NULL,
            path TEXT NOT NULL,
            generated_at TEXT NOT NULL,
            PRIMARY KEY (chat_id, format)
        );

        CREATE TABLE controls (
            id INTEGER PRIMARY KEY,
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            by TEXT NOT NULL DEFAULT ''
        );

        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


def _m002_messages_fts(conn: sqlite3.Connection) -> None:
    # Trigger bodies contain ';', so each statement goes through execute(), never the
    # script splitter. External content: the index holds no copy of the text.
    conn.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text); END"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " END"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text); END"
    )
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


SEARCH_CURSOR_KEY = "search_indexed_to"
"""``state`` key: every message with ``id`` at or below this value is in ``messages_fts``."""

_INDEXED = f"(SELECT CAST(value AS INTEGER) FROM state WHERE key = '{SEARCH_CURSOR_KEY}')"


def _m003_batch_search_indexing(conn: sqlite3.Connection) -> None:
    # A per-row FTS5 insert trigger made every captured message cost ~16 µs of index work;
    # one INSERT ... SELECT per write transaction does the same work ~5x cheaper (see
    # benchmarks/README.md). Store.save_messages now indexes the rows it inserted, in its own
    # transaction, so search never lags. Edits and deletions still go through triggers, but
    # only for rows already indexed: within a save, a row inserted and then updated by a later
    # entry of the same batch is not in the index yet, and an external-content FTS5 'delete'
    # of text that was never indexed would corrupt it.
    conn.execute("DROP TRIGGER messages_fts_insert")
    conn.execute("DROP TRIGGER messages_fts_delete")
    conn.execute("DROP TRIGGER messages_fts_update")
    conn.execute(
        "INSERT OR REPLACE INTO state (key, value) "
        f"SELECT '{SEARCH_CURSOR_KEY}', COALESCE(MAX(id), 0) FROM messages"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages "
        f"WHEN old.id <= {_INDEXED} BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " END"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages "
        f"WHEN old.id <= {_INDEXED} BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
        " INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text); END"
    )


def _m004_stemmed_search(conn: sqlite3.Connection) -> None:
    # Search finds what people type: the Porter stemmer over unicode61 (diacritics folded),
    # so "Quickstarts" finds "quickstart" and "running" finds "run". A tokenizer is fixed
    # when an FTS5 table is created: recreate the index and rebuild it from the messages.
    # The triggers of migration 3 name the table, not its tokenizer, and stay. 'rebuild'
    # indexes every row, so every row is now at or below the search cursor.
    conn.execute("DROP TABLE messages_fts")
    conn.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages',"
        " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    conn.execute(
        "INSERT OR REPLACE INTO state (key, value) "
        f"SELECT '{SEARCH_CURSOR_KEY}', COALESCE(MAX(id), 0) FROM messages"
    )


def _m005_message_attachments(conn: sqlite3.Connection) -> None:
    # Files and stickers a message carries besides its text (Discord), which transcripts
    # show: a JSON list of {"kind", "name", "url"}, or '' for none (almost every message,
    # so existing rows need no rewrite and a message without any costs one empty string).
    conn.execute("ALTER TABLE messages ADD COLUMN attachments TEXT NOT NULL DEFAULT ''")


def _m006_split_long_posts(conn: sqlite3.Connection) -> None:
    # The chat file's `split_long_posts` (a long intro or closing may go out as a thread).
    conn.execute("ALTER TABLE chats ADD COLUMN split_long_posts INTEGER NOT NULL DEFAULT 0")


def _m007_chat_labels(conn: sqlite3.Connection) -> None:
    # Each chat's label convention (archive.labels): the letters of its questions and
    # answers. Chats stored before it have the English one, Q1 / A1.
    conn.executescript(
        """
        ALTER TABLE chats ADD COLUMN question_label TEXT NOT NULL DEFAULT 'Q';
        ALTER TABLE chats ADD COLUMN answer_label TEXT NOT NULL DEFAULT 'A';
        """
    )


def _m008_chat_language(conn: sqlite3.Connection) -> None:
    # The language of the bot's words for a chat (a BCP 47 tag, archive.i18n); chats stored
    # before languages existed were English.
    conn.execute("ALTER TABLE chats ADD COLUMN language TEXT NOT NULL DEFAULT 'en'")


def _m009_stakeholder_groups(conn: sqlite3.Connection) -> None:
    # Stakeholder groups (archive/groups.py): declarations per hashtag and participant, the
    # latest of each source kept (a participant's own, their Discord roles'); the organisers'
    # roster and the configured groups, as the running bot last read them from its config.
    conn.executescript(
        """
        CREATE TABLE group_declarations (
            hashtag_key TEXT NOT NULL,          -- casefolded, as chats.hashtag_key
            platform TEXT NOT NULL,
            author_id TEXT NOT NULL,
            source TEXT NOT NULL,               -- self | role
            group_key TEXT NOT NULL,
            handle TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT '', -- the post that declared it ('' for a command)
            at TEXT NOT NULL,                   -- when it was declared (ISO 8601 UTC)
            PRIMARY KEY (hashtag_key, platform, author_id, source)
        );
        CREATE TABLE group_roster (
            platform TEXT NOT NULL,
            ident TEXT NOT NULL,                -- an author id or a handle, casefolded
            group_key TEXT NOT NULL,
            PRIMARY KEY (platform, ident)
        );
        CREATE TABLE group_labels (
            position INTEGER PRIMARY KEY,
            group_key TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL
        );
        """
    )


def _m010_engagement(conn: sqlite3.Connection) -> None:
    # What the networks count on each captured post, read once at publishing (likes,
    # reposts...; archive/highlights.py). Reactions stay in messages.reactions, which live
    # events keep current. No foreign key: a refresh may name a post not captured (yet).
    # chats.digest: the chat file's `digest = true` (the top answers posted at publishing).
    conn.executescript(
        """
        CREATE TABLE engagement (
            platform TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            likes INTEGER NOT NULL DEFAULT 0,
            reposts INTEGER NOT NULL DEFAULT 0,
            quotes INTEGER NOT NULL DEFAULT 0,
            replies INTEGER NOT NULL DEFAULT 0,
            refreshed_at TEXT NOT NULL,
            PRIMARY KEY (platform, platform_id)
        );
        ALTER TABLE chats ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
        """
    )


GENERATION_KEY = "generation"
"""``meta`` key: the archive's generation, a counter that every write transaction which
changed rows moves by one (``Connection.transaction``), as does every migration from 11 on.
A published transcript records the generation it was rendered at (``archive.published``):
while the archive is still at that generation, nothing it was made from has changed."""

READ_GENERATION = f"SELECT value FROM meta WHERE key = '{GENERATION_KEY}'"
BUMP_GENERATION = f"UPDATE meta SET value = value + 1 WHERE key = '{GENERATION_KEY}'"


def _m011_generation(conn: sqlite3.Connection) -> None:
    # The archive's generation (see GENERATION_KEY), and what each recorded transcript was
    # made from: the generation (NULL: not known, e.g. recorded before this migration, so
    # never served as current), a fingerprint of the options and code that rendered it,
    # and the file's size and SHA-256 as written.
    conn.executescript(
        f"""
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        );
        INSERT INTO meta (key, value) VALUES ('{GENERATION_KEY}', 0);
        ALTER TABLE transcripts ADD COLUMN generation INTEGER;
        ALTER TABLE transcripts ADD COLUMN options TEXT NOT NULL DEFAULT '';
        ALTER TABLE transcripts ADD COLUMN size INTEGER;
        ALTER TABLE transcripts ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''
        """
    )


def _m012_thread_plans(conn: sqlite3.Connection) -> None:
    # The posts an action that may be split (a long intro or closing) was planned as, per
    # target, written once when it is first posted: part 0 alone is one post under the
    # action's own key; parts 1..n are a thread (ledger keys ``intro#1``...). A run that
    # resumes goes on with these texts, whatever the post limit is by then.
    conn.executescript(
        """
        CREATE TABLE post_plans (
            chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            action_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT '',
            number INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (chat_id, action_key, platform, channel, number)
        )
        """
    )


def _m013_optout_generation(conn: sqlite3.Connection) -> None:
    # The archive's generation an opt-out was committed at: a transcript file recorded at
    # an earlier generation was written before it, and still shows the participant
    # (Store.chats_showing_opted_out). NULL for the opt-outs before this migration: when
    # they came is not known, and their files are left as they are.
    conn.executescript("ALTER TABLE optouts ADD COLUMN generation INTEGER")


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema", _m001_initial),
    (2, "full-text search over message text", _m002_messages_fts),
    (3, "search index written per transaction, not per row", _m003_batch_search_indexing),
    (4, "search stems words (porter over unicode61)", _m004_stemmed_search),
    (5, "messages keep their attachments and stickers", _m005_message_attachments),
    (6, "chats may split long intros and closings", _m006_split_long_posts),
    (7, "each chat's question and answer label letters", _m007_chat_labels),
    (8, "a chat's language", _m008_chat_language),
    (9, "stakeholder groups: declarations, roster, labels", _m009_stakeholder_groups),
    (
        10,
        "engagement of captured posts for highlights; the chats' digest setting",
        _m010_engagement,
    ),
    (11, "the archive's generation; what each recorded transcript was made from", _m011_generation),
    (
        12,
        "the parts a long intro or closing was planned as, kept for a resumed thread",
        _m012_thread_plans,
    ),
    (13, "the generation each opt-out was made at", _m013_optout_generation),
]


def apply_migrations(conn: sqlite3.Connection) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now.

    Safe when several processes open a new (or older) archive at once: each migration
    takes the write lock, then looks again whether another process applied it meanwhile,
    so the later ones wait for the first and find its migrations recorded. An archive
    with every migration recorded is only read (no write lock)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    # Read outside the lock, a first look: what is recorded never goes away.
    done = {row[0] for row in conn.execute("SELECT version FROM _migrations")}
    applied: list[int] = []
    for version, name, migrate in MIGRATIONS:
        if version in done:
            continue
        # executescript() commits first, so wrap the whole step in an explicit transaction.
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Looked at again inside the lock: another process may have applied it while
            # this one waited for the lock.
            recorded = conn.execute(
                "SELECT 1 FROM _migrations WHERE version = ?", (version,)
            ).fetchone()
            if recorded is None:
                migrate_in_tx(conn, migrate)
                if has_generation(conn):
                    # A migration may change what transcripts are made of (a column's
                    # default is a value they show): no transcript recorded before it is
                    # current after.
                    conn.execute(BUMP_GENERATION)
                conn.execute(
                    "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).isoformat()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if recorded is not None:
            continue
        logger.info("applied migration %d: %s", version, name)
        applied.append(version)
    return applied


def has_generation(conn: sqlite3.Connection) -> bool:
    """Whether the database has the generation (migration 11 applied: always, once
    ``apply_migrations`` ran, but for the older schemas that tests build)."""
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        is not None
    )


def migrate_in_tx(conn: sqlite3.Connection, migrate: Migration) -> None:
    """Run a migration's statements inside the caller's open transaction."""
    # executescript() would COMMIT the open transaction; split the script and run each
    # statement so the migration and its record commit together or not at all.
    recorder = _StatementRecorder()
    migrate(recorder)  # type: ignore[arg-type]
    for statement in recorder.statements:
        conn.execute(statement)


class _StatementRecorder:
    """Collects the statements a migration would run, so they can join one transaction."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def executescript(self, script: str) -> None:
        for part in _split_sql(script):
            self.statements.append(part)

    def execute(self, statement: str) -> None:
        self.statements.append(statement)


def _split_sql(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
