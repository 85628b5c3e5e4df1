"""The ledger's schema, as numbered migrations that never change once shipped.

One ordered list for both backends: migration N (1-based) is ``MIGRATIONS[N - 1]``, a
:class:`Migration` holding the same change written for SQLite and for PostgreSQL. SQLite
keeps how many a database has had in ``PRAGMA user_version``; PostgreSQL in the one-row
table ``schema_version``. Each runs in its own transaction together with the version bump,
so a database is always at exactly one version. A shipped migration is never edited -- a
test pins each one's hash -- a change is a new migration appended at the end.
``tests/ledger/data/ledger-v1.sqlite3`` is a database of the first schema, upgraded by the
tests on every run; the tests also upgrade both backends from every earlier version.

Conventions the queries rely on:

- times are unix seconds (REAL; DOUBLE PRECISION in PostgreSQL, whose REAL is too short for
  them); money is USD; ``calls.cost_usd`` NULL means no known cost, and ``calls.unpriced = 1``
  marks a call that used tokens of a model without a price, so a total that includes it is
  unknown rather than understated;
- ``calls.status`` is ``in_flight`` while the attempt runs, then ``ok``, ``error``,
  ``refused`` (by a budget, before sending; since migration 9), ``interrupted`` or
  ``cached`` (a daemon that died mid-call leaves ``in_flight``: on SQLite the next start marks
  it ``interrupted``; on PostgreSQL a live instance does once the dead one's lease has run
  out, see migration 11);
- prompt and answer text columns are NULL when ``[daemon] log_prompts = false``;
- a prompt is stored once, in ``runs.prompt`` (fragments in ``fragments``): a message with
  ``from_run = 1`` takes its text from its run (see migration 5), and ``runs.request`` holds
  the rest of the request.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MIGRATIONS",
    "Migration",
    "latest_version",
    "migrate",
    "migrate_postgres",
    "postgres_version",
    "user_version",
]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change, in each backend's SQL."""

    sqlite: str
    postgres: str


_V1_CORE = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    time REAL NOT NULL,
    finished REAL,
    mode TEXT NOT NULL,
    label TEXT,
    conversation_id TEXT,
    participants TEXT NOT NULL DEFAULT '[]',
    prompt TEXT,
    answer TEXT,
    agreement REAL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    latency_ms INTEGER,
    status TEXT NOT NULL,
    error_code TEXT,
    request TEXT,
    result TEXT,
    transcript TEXT
);
CREATE INDEX runs_time ON runs (time);
CREATE INDEX runs_conversation ON runs (conversation_id, time);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    time REAL NOT NULL,
    ended REAL,
    run_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    participant TEXT,
    role TEXT,
    round INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 1,
    label TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    unpriced INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER,
    status TEXT NOT NULL
        CHECK (status IN ('in_flight', 'ok', 'error', 'interrupted', 'cached')),
    error_code TEXT
);
CREATE INDEX calls_time ON calls (time);
CREATE INDEX calls_run ON calls (run_id);
CREATE INDEX calls_in_flight ON calls (status) WHERE status = 'in_flight';

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    mode TEXT,
    model TEXT,
    label TEXT,
    title TEXT
);
CREATE INDEX conversations_updated ON conversations (updated);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    run_id TEXT,
    time REAL NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
"""

_V2_FRAGMENTS_AND_CACHE = """
CREATE TABLE fragments (
    hash TEXT PRIMARY KEY,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    content TEXT
);
CREATE TABLE run_fragments (
    run_id TEXT NOT NULL,
    hash TEXT NOT NULL REFERENCES fragments (hash),
    position INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,
    time REAL NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    response_model TEXT
);
CREATE INDEX response_cache_time ON response_cache (time);
"""

# External-content FTS over the runs' prompt and answer, kept in step by triggers; the
# 'rebuild' indexes the runs written before this migration.
_V3_SEARCH = """
CREATE VIRTUAL TABLE runs_fts USING fts5 (
    prompt, answer, content = 'runs', content_rowid = 'rowid', tokenize = 'unicode61'
);
CREATE TRIGGER runs_fts_insert AFTER INSERT ON runs BEGIN
    INSERT INTO runs_fts (rowid, prompt, answer) VALUES (new.rowid, new.prompt, new.answer);
END;
CREATE TRIGGER runs_fts_delete AFTER DELETE ON runs BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, prompt, answer)
        VALUES ('delete', old.rowid, old.prompt, old.answer);
END;
CREATE TRIGGER runs_fts_update AFTER UPDATE OF prompt, answer ON runs BEGIN
    INSERT INTO runs_fts (runs_fts, rowid, prompt, answer)
        VALUES ('delete', old.rowid, old.prompt, old.answer);
    INSERT INTO runs_fts (rowid, prompt, answer) VALUES (new.rowid, new.prompt, new.answer);
END;
INSERT INTO runs_fts (runs_fts) VALUES ('rebuild');
"""

# The TCP door's tokens: only a SHA-256 of each is kept (the token is 256 random bits, so
# the hash cannot be reversed or guessed); every call and run of a gateway caller carries
# the token's name.
_V4_GATEWAY_TOKENS = """
CREATE TABLE gateway_tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    expires REAL,
    revoked REAL,
    budget_daily_usd REAL,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    last_used REAL
);
ALTER TABLE calls ADD COLUMN token TEXT;
ALTER TABLE runs ADD COLUMN token TEXT;
CREATE INDEX calls_token ON calls (token, time) WHERE token IS NOT NULL;
"""

# Each prompt stored once. It used to be kept in the run's ``prompt``, again in its
# ``request`` JSON and again (with the run's fragments folded in) as the conversation's user
# message, and the answer in ``runs.answer`` and as the assistant message. Now a message row
# with ``from_run = 1`` has no content of its own: a user message is its run's fragments
# (in position order, joined by a blank line) then its run's ``prompt``, an assistant message
# its run's ``answer``; and ``request`` has no ``prompt`` key when it equals the run's. Old
# rows are folded where that is exact; a user turn of a run with fragments keeps its text.
_V5_PROMPTS_ONCE = """
ALTER TABLE messages ADD COLUMN from_run INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET content = NULL, from_run = 1
WHERE role = 'user' AND content IS NOT NULL AND run_id IS NOT NULL
    AND content = (SELECT r.prompt FROM runs r WHERE r.id = messages.run_id)
    AND NOT EXISTS (SELECT 1 FROM run_fragments f WHERE f.run_id = messages.run_id);
UPDATE messages SET content = NULL, from_run = 1
WHERE role = 'assistant' AND content IS NOT NULL AND run_id IS NOT NULL
    AND content = (SELECT r.answer FROM runs r WHERE r.id = messages.run_id);
UPDATE runs SET request = json_remove(request, '$.prompt')
WHERE prompt IS NOT NULL AND json_valid(request)
    AND json_type(request, '$.prompt') = 'text' AND json_extract(request, '$.prompt') = prompt;
"""

# PostgreSQL: the same tables. Times and money are DOUBLE PRECISION; counts are INTEGER, so
# their SUM is a BIGINT (a Python int), not a NUMERIC.
_PG_V1_CORE = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    time DOUBLE PRECISION NOT NULL,
    finished DOUBLE PRECISION,
    mode TEXT NOT NULL,
    label TEXT,
    conversation_id TEXT,
    participants TEXT NOT NULL DEFAULT '[]',
    prompt TEXT,
    answer TEXT,
    agreement DOUBLE PRECISION,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    latency_ms INTEGER,
    status TEXT NOT NULL,
    error_code TEXT,
    request TEXT,
    result TEXT,
    transcript TEXT
);
CREATE INDEX runs_time ON runs (time);
CREATE INDEX runs_conversation ON runs (conversation_id, time);

CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    time DOUBLE PRECISION NOT NULL,
    ended DOUBLE PRECISION,
    run_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    participant TEXT,
    role TEXT,
    round INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 1,
    label TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd DOUBLE PRECISION,
    unpriced INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER,
    status TEXT NOT NULL
        CHECK (status IN ('in_flight', 'ok', 'error', 'interrupted', 'cached')),
    error_code TEXT
);
CREATE INDEX calls_time ON calls (time);
CREATE INDEX calls_run ON calls (run_id);
CREATE INDEX calls_in_flight ON calls (status) WHERE status = 'in_flight';

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    mode TEXT,
    model TEXT,
    label TEXT,
    title TEXT
);
CREATE INDEX conversations_updated ON conversations (updated);

CREATE TABLE messages (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    run_id TEXT,
    time DOUBLE PRECISION NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
"""

_PG_V2_FRAGMENTS_AND_CACHE = """
CREATE TABLE fragments (
    hash TEXT PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    size INTEGER NOT NULL,
    content TEXT
);
CREATE TABLE run_fragments (
    run_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE response_cache (
    key TEXT PRIMARY KEY,
    time DOUBLE PRECISION NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    finish_reason TEXT,
    response_model TEXT
);
CREATE INDEX response_cache_time ON response_cache (time);
"""

# PostgreSQL searches prompts and answers with ILIKE (history.search_runs): no index to keep.
_PG_V3_SEARCH = "-- search needs nothing stored in PostgreSQL"

_PG_V4_GATEWAY_TOKENS = """
CREATE TABLE gateway_tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION,
    revoked DOUBLE PRECISION,
    budget_daily_usd DOUBLE PRECISION,
    rpm INTEGER,
    tpm INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    last_used DOUBLE PRECISION
);
ALTER TABLE calls ADD COLUMN token TEXT;
ALTER TABLE runs ADD COLUMN token TEXT;
CREATE INDEX calls_token ON calls (token, time) WHERE token IS NOT NULL;
"""

# Requests are written by json.dumps, so every one casts to jsonb.
_PG_V5_PROMPTS_ONCE = """
ALTER TABLE messages ADD COLUMN from_run INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET content = NULL, from_run = 1
WHERE role = 'user' AND content IS NOT NULL AND run_id IS NOT NULL
    AND content = (SELECT r.prompt FROM runs r WHERE r.id = messages.run_id)
    AND NOT EXISTS (SELECT 1 FROM run_fragments f WHERE f.run_id = messages.run_id);
UPDATE messages SET content = NULL, from_run = 1
WHERE role = 'assistant' AND content IS NOT NULL AND run_id IS NOT NULL
    AND content = (SELECT r.answer FROM runs r WHERE r.id = messages.run_id);
UPDATE runs SET request = (request::jsonb - 'prompt')::text
WHERE prompt IS NOT NULL AND request IS NOT NULL
    AND jsonb_typeof(request::jsonb -> 'prompt') = 'string'
    AND request::jsonb ->> 'prompt' = prompt;
"""

# Budget reservations in the database (ledger/shared.py): what calls in flight on every
# gateway instance hold against each budget key, each with a lease its instance renews.
# Only the PostgreSQL ledger uses them (one SQLite daemon holds its reservations in memory);
# the table exists in both so the two schemas stay one.
_V6_RESERVATIONS = """
CREATE TABLE reservations (
    call_id TEXT NOT NULL,
    key TEXT NOT NULL,
    amount REAL NOT NULL,
    instance TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (call_id, key)
);
CREATE INDEX reservations_key ON reservations (key, expires);
CREATE INDEX reservations_instance ON reservations (instance);
"""

_PG_V6_RESERVATIONS = """
CREATE TABLE reservations (
    call_id TEXT NOT NULL,
    key TEXT NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    instance TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (call_id, key)
);
CREATE INDEX reservations_key ON reservations (key, expires);
CREATE INDEX reservations_instance ON reservations (instance);
"""

# Gateway tokens' requests and tokens per minute across instances (ledger/shared_limits.py):
# one row per admitted request (requests = 1) or settled call (tokens = its tokens). Only the
# PostgreSQL ledger uses it; the table exists in both so the two schemas stay one.
_V7_RATE_EVENTS = """
CREATE TABLE rate_events (
    token TEXT NOT NULL,
    time REAL NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rate_events_token ON rate_events (token, time);
"""

_PG_V7_RATE_EVENTS = """
CREATE TABLE rate_events (
    token TEXT NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rate_events_token ON rate_events (token, time);
"""

# Teams and users of a team gateway: a token may belong to a user, a user to a team, and
# each may have a daily budget. Usage and budgets find a call's user and team through its
# token.
_V8_TEAMS_AND_USERS = """
CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    budget_daily_usd REAL
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    team TEXT,
    created REAL NOT NULL,
    budget_daily_usd REAL
);
CREATE INDEX users_team ON users (team);
ALTER TABLE gateway_tokens ADD COLUMN user_name TEXT;
CREATE INDEX gateway_tokens_user ON gateway_tokens (user_name);
"""

_PG_V8_TEAMS_AND_USERS = """
CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    budget_daily_usd DOUBLE PRECISION
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    team TEXT,
    created DOUBLE PRECISION NOT NULL,
    budget_daily_usd DOUBLE PRECISION
);
CREATE INDEX users_team ON users (team);
ALTER TABLE gateway_tokens ADD COLUMN user_name TEXT;
CREATE INDEX gateway_tokens_user ON gateway_tokens (user_name);
"""

# A call a budget refused before sending it has its own status, ``refused``, apart from the
# provider's failures (earlier such rows were errors with code ``budget``: only a budget's
# before-call check raised that). SQLite cannot alter a CHECK: the table is rebuilt.
_V9_REFUSED_CALLS = """
CREATE TABLE calls_v9 (
    id TEXT PRIMARY KEY,
    time REAL NOT NULL,
    ended REAL,
    run_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    participant TEXT,
    role TEXT,
    round INTEGER NOT NULL DEFAULT 0,
    attempt INTEGER NOT NULL DEFAULT 1,
    label TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    unpriced INTEGER NOT NULL DEFAULT 0,
    latency_ms INTEGER,
    status TEXT NOT NULL
        CHECK (status IN ('in_flight', 'ok', 'error', 'refused', 'interrupted', 'cached')),
    error_code TEXT,
    token TEXT
);
INSERT INTO calls_v9 SELECT id, time, ended, run_id, mode, provider, model, participant, role,
    round, attempt, label, input_tokens, output_tokens, cached_tokens, cost_usd, unpriced,
    latency_ms,
    CASE WHEN status = 'error' AND error_code = 'budget' THEN 'refused' ELSE status END,
    error_code, token FROM calls;
DROP TABLE calls;
ALTER TABLE calls_v9 RENAME TO calls;
CREATE INDEX calls_time ON calls (time);
CREATE INDEX calls_run ON calls (run_id);
CREATE INDEX calls_in_flight ON calls (status) WHERE status = 'in_flight';
CREATE INDEX calls_token ON calls (token, time) WHERE token IS NOT NULL;
"""

_PG_V9_REFUSED_CALLS = """
ALTER TABLE calls DROP CONSTRAINT calls_status_check;
UPDATE calls SET status = 'refused' WHERE status = 'error' AND error_code = 'budget';
ALTER TABLE calls ADD CONSTRAINT calls_status_check
    CHECK (status IN ('in_flight', 'ok', 'error', 'refused', 'interrupted', 'cached'));
"""

# Shared budgets and rate limits that stay cheap as the ledger grows: what settled calls
# cost per budget key is kept as a running sum (budget_spend), added to by the same
# statement that drops the call's reservation, instead of summing a month of calls per
# check; rate windows are kept per second (rate_buckets), at most 60 rows per token and
# minute, instead of a row per request. The old per-request rows are transient: dropped.
_V10_COUNTERS = """
CREATE TABLE budget_spend (
    key TEXT PRIMARY KEY,
    spent REAL NOT NULL DEFAULT 0,
    unpriced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE rate_buckets (
    token TEXT NOT NULL,
    second INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token, second)
);
DROP TABLE rate_events;
"""

_PG_V10_COUNTERS = """
CREATE TABLE budget_spend (
    key TEXT PRIMARY KEY,
    spent DOUBLE PRECISION NOT NULL DEFAULT 0,
    unpriced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE rate_buckets (
    token TEXT NOT NULL,
    second BIGINT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (token, second)
);
DROP TABLE rate_events;
"""

# Which gateway instance wrote each call and run, and each instance's lease
# (ledger/instances.py): with several instances on one PostgreSQL ledger, none may mark every
# ``in_flight`` call interrupted at its start, so each marks those of instances whose lease
# ran out. In PostgreSQL the column's default is the session's ``superllm.instance``, which
# the ledger's connections set: every row an instance writes names it, and rows written before
# this migration (or by other tools) have none. The default is set after the column is added,
# so existing rows stay NULL. One SQLite daemon recovers at its start and leaves them NULL;
# the table and columns exist in both so the two schemas stay one.
_V11_INSTANCES = """
CREATE TABLE instances (
    name TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    started REAL NOT NULL,
    expires REAL NOT NULL
);
ALTER TABLE calls ADD COLUMN instance TEXT;
ALTER TABLE runs ADD COLUMN instance TEXT;
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
"""

_PG_V11_INSTANCES = """
CREATE TABLE instances (
    name TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    started DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
ALTER TABLE calls ADD COLUMN instance TEXT;
ALTER TABLE runs ADD COLUMN instance TEXT;
ALTER TABLE calls ALTER COLUMN instance
    SET DEFAULT nullif(current_setting('superllm.instance', true), '');
ALTER TABLE runs ALTER COLUMN instance
    SET DEFAULT nullif(current_setting('superllm.instance', true), '');
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
"""

# Until 2026-12-06 a finished run was written over its starting row with INSERT OR REPLACE,
# which deletes without firing runs_fts_delete: the index kept the starting row's words under
# a rowid no run has, and its integrity check failed. Rebuilding the index from the runs drops
# them. PostgreSQL has no search index (history.py searches with ILIKE), so nothing to do.
_V12_REBUILD_SEARCH = """
INSERT INTO runs_fts (runs_fts) VALUES ('rebuild');
"""

_PG_V12_REBUILD_SEARCH = """
SELECT 1;
"""

# What the sweep of a lost instance's calls (ledger/instances.py) charged each budget for a
# call it marked interrupted, so that if the call's instance was alive after all (cut off
# from the database for longer than its lease) and settles it later, the settle adds the
# rest of its cost, once: it deletes the rows as it reads them.
_V13_SWEPT_CHARGES = """
CREATE TABLE swept_charges (
    call_id TEXT NOT NULL,
    key TEXT NOT NULL,
    charged REAL NOT NULL,
    time REAL NOT NULL,
    PRIMARY KEY (call_id, key)
);
"""

_PG_V13_SWEPT_CHARGES = """
CREATE TABLE swept_charges (
    call_id TEXT NOT NULL,
    key TEXT NOT NULL,
    charged DOUBLE PRECISION NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (call_id, key)
);
"""

#: Migration N is MIGRATIONS[N - 1]. Append only; never edit or reorder a shipped entry.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(_V1_CORE, _PG_V1_CORE),
    Migration(_V2_FRAGMENTS_AND_CACHE, _PG_V2_FRAGMENTS_AND_CACHE),
    Migration(_V3_SEARCH, _PG_V3_SEARCH),
    Migration(_V4_GATEWAY_TOKENS, _PG_V4_GATEWAY_TOKENS),
    Migration(_V5_PROMPTS_ONCE, _PG_V5_PROMPTS_ONCE),
    Migration(_V6_RESERVATIONS, _PG_V6_RESERVATIONS),
    Migration(_V7_RATE_EVENTS, _PG_V7_RATE_EVENTS),
    Migration(_V8_TEAMS_AND_USERS, _PG_V8_TEAMS_AND_USERS),
    Migration(_V9_REFUSED_CALLS, _PG_V9_REFUSED_CALLS),
    Migration(_V10_COUNTERS, _PG_V10_COUNTERS),
    Migration(_V11_INSTANCES, _PG_V11_INSTANCES),
    Migration(_V12_REBUILD_SEARCH, _PG_V12_REBUILD_SEARCH),
    Migration(_V13_SWEPT_CHARGES, _PG_V13_SWEPT_CHARGES),
)

# Held (per transaction) while PostgreSQL migrates: instances starting together take turns.
_PG_MIGRATE_LOCK = 0x5355504C  # "SUPL"


def latest_version() -> int:
    return len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, target: int | None = None) -> list[int]:
    """Bring ``conn``'s database up to ``target`` (default: the latest); the versions applied.

    Each migration and its version bump commit together or not at all. A database newer than
    this code is refused rather than written with an older idea of the schema.
    """
    target = latest_version() if target is None else target
    current = user_version(conn)
    if current > latest_version():
        raise RuntimeError(
            f"the ledger has schema version {current}, newer than this superllm knows "
            f"({latest_version()}); upgrade superllm"
        )
    applied: list[int] = []
    for version in range(current + 1, target + 1):
        script = MIGRATIONS[version - 1].sqlite
        # executescript commits any open transaction first, then runs the text as given:
        # the explicit BEGIN/COMMIT make the migration and its version one transaction.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.rollback()
            raise
        applied.append(version)
    return applied


def postgres_version(conn: Any) -> int:
    """The version of a PostgreSQL ledger (0 for an empty database); ``conn`` is psycopg's."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    found = conn.execute("SELECT version FROM schema_version").fetchone()
    return 0 if found is None else int(found[0])


def migrate_postgres(conn: Any, target: int | None = None) -> list[int]:
    """``migrate`` for PostgreSQL over a synchronous psycopg connection (autocommit off).

    Several instances may start at once: each migration runs under a transaction-level
    advisory lock and re-reads the version inside it, so every migration runs exactly once.
    """
    target = latest_version() if target is None else target
    applied: list[int] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            current = postgres_version(conn)
            if current > latest_version():
                raise RuntimeError(
                    f"the ledger has schema version {current}, newer than this superllm knows "
                    f"({latest_version()}); upgrade superllm"
                )
            if current >= target:
                return applied
            version = current + 1
            # No parameters: sent as a simple query, several statements in one.
            conn.execute(MIGRATIONS[version - 1].postgres)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        applied.append(version)
