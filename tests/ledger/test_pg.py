"""The PostgreSQL ledger against a real server (tests/pg.py): schema, writes, reads, and the
same answers as SQLite from the same rows."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from superllmd.config import ConfigStore
from superllmd.errors import ConfigError
from superllmd.ledger import history, queries
from superllmd.ledger.base import Backend
from superllmd.ledger.db import Ledger, LedgerError
from superllmd.ledger.migrations import (
    MIGRATIONS,
    latest_version,
    migrate,
    migrate_postgres,
    postgres_version,
    user_version,
)
from superllmd.ledger.pg import PgLedger, conn_adapter
from tests.pg import PgServer

pytestmark = pytest.mark.postgres

# Shipped PostgreSQL migrations never change either (see test_migrations.SHIPPED).
SHIPPED_PG = {
    1: "f681461684dea7ec3afc8ad16880cfbe3cc48941a166274ca3ed8990d086cd8d",
    2: "fcbfedf4079985f051e06776cecdfb19c0d70e7aa4a22a41f5ebbfbe71d77227",
    3: "f15bc54bafd24a1b2400f48142962c63ce736e585c4a4a6a932337c31f921a0f",
    4: "23b2204ceb61f95eb1d725d9b074cbaa5fd29fda85fc00a2c1071e854804a64c",
    5: "c5c651b77cfbd1bec332033cb3cc5f19f675f0a7d78ec82937ef388df9802a7e",
    6: "7a31d15ab7581d077f174412c2297eca7fe39257c06acae33512d3f5f8d65066",
    7: "16c9fb56d434754c95169413a4e042f01510a23ee55f6aba1c718d3c0b67b36b",
    8: "a5cff613ac416754bcb3627a7caa3faf869bb30fe88d14f9430d7bb4d4c79c75",
    9: "36f36d431d17615897b1e758cbe2c3034bf93e115a364e3d5a81a41f65e5a19e",
    10: "e404dcc6ead2265c71b1b431abf10e0ff081d18341891064e18ae299eb09073c",
    11: "0c65404c20132d21875d19dce4dbafc025e6255ddb61785d3189681fd5595f53",
}


def test_every_migration_has_both_dialects_and_shipped_ones_are_unchanged() -> None:
    for version, migration in enumerate(MIGRATIONS, 1):
        assert migration.sqlite.strip() and migration.postgres.strip(), version
    for version, digest in SHIPPED_PG.items():
        got = hashlib.sha256(MIGRATIONS[version - 1].postgres.encode()).hexdigest()
        assert got == digest, version


# Rows as each schema version knew them: what an old ledger holds when it is upgraded.
def _rows_at(version: int, now: float) -> list[tuple[str, tuple[Any, ...]]]:
    rows: list[tuple[str, tuple[Any, ...]]] = []
    if version >= 1:
        rows += [
            (
                "INSERT INTO runs (id, time, finished, mode, participants, prompt, answer, "
                "status) VALUES (?, ?, ?, 'ask', '[\"openai/gpt\"]', 'what is up', 'the sky', "
                "'ok')",
                (f"r{version}", now, now + 1),
            ),
            (
                "INSERT INTO calls (id, time, ended, run_id, mode, provider, model, "
                "input_tokens, output_tokens, cost_usd, status) "
                "VALUES (?, ?, ?, ?, 'ask', 'openai', 'gpt', 10, 5, 0.25, 'ok')",
                (f"c{version}", now, now + 1, f"r{version}"),
            ),
            (
                "INSERT INTO calls (id, time, run_id, mode, provider, model, status) "
                "VALUES (?, ?, ?, 'ask', 'openai', 'gpt', 'in_flight')",
                (f"c{version}-dead", now, f"r{version}"),
            ),
        ]
    if version >= 2:
        rows.append(
            (
                "INSERT INTO fragments (hash, created, size, content) VALUES ('h', ?, 1, 'x')",
                (now,),
            )
        )
    if version >= 1:
        # A call a budget refused: an error coded "budget" until migration 9 gave it a status.
        rows.append(
            (
                "INSERT INTO calls (id, time, run_id, mode, provider, model, status, "
                "error_code) VALUES (?, ?, ?, 'ask', 'openai', 'gpt', ?, 'budget')",
                (f"c{version}-budget", now, f"r{version}", "refused" if version >= 9 else "error"),
            )
        )
    if version >= 4:
        rows += [
            ("INSERT INTO gateway_tokens (name, hash, created) VALUES ('ci', 'abc', ?)", (now,)),
            (
                "INSERT INTO calls (id, time, ended, run_id, mode, provider, model, "
                "input_tokens, output_tokens, cost_usd, status, token) "
                "VALUES (?, ?, ?, ?, 'ask', 'openai', 'gpt', 1, 1, 0.5, 'ok', 'ci')",
                (f"c{version}-ci", now, now + 1, f"r{version}"),
            ),
        ]
    if version >= 6:
        rows.append(
            (
                "INSERT INTO reservations (call_id, key, amount, instance, expires) "
                "VALUES ('held', 'global||day|0', 0.5, 'gone', ?)",
                (now,),
            )
        )
    if version >= 8:
        rows += [
            ("INSERT INTO teams (name, created) VALUES ('platform', ?)", (now,)),
            ("INSERT INTO users (name, team, created) VALUES ('ana', 'platform', ?)", (now,)),
            ("UPDATE gateway_tokens SET user_name = 'ana' WHERE name = 'ci'", ()),
        ]
    return rows


def _check_upgraded(conn: Any, version: int) -> None:
    report = queries.usage_report(conn, by="model")
    # The call, the in-flight one now interrupted, and the token's call (not the refused one).
    expected = (2 if version >= 1 else 0) + (1 if version >= 4 else 0)
    assert report["totals"]["calls"] == expected
    if version >= 1:
        cost = 0.25 + (0.5 if version >= 4 else 0.0)
        assert report["totals"]["cost_usd"] == pytest.approx(cost)
        assert [r["run_id"] for r in history.list_runs(conn)] == [f"r{version}"]
        assert history.search_runs(conn, "sky")[0]["run_id"] == f"r{version}"
        status = conn.execute("SELECT status FROM calls WHERE id = ?", (f"c{version}-budget",))
        assert status.fetchone()[0] == "refused"
    if version >= 6:  # a reservation is kept: its lease decides when it stops counting
        assert conn.execute("SELECT count(*) FROM reservations").fetchone()[0] == 1
    if version >= 8:
        for by, key in (("user", "ana"), ("team", "platform")):
            rows = {r[by]: r["calls"] for r in queries.usage_report(conn, by=by)["rows"]}
            assert rows == {key: 1, "": 2}, by


@pytest.mark.parametrize("version", range(latest_version()))
def test_postgres_upgrades_from_every_earlier_version(pg_url: str, version: int) -> None:
    with psycopg.connect(pg_url) as conn:
        migrate_postgres(conn, target=version)
        assert postgres_version(conn) == version
        with conn.transaction():
            # Written an hour ago, by an instance long gone.
            for sql, params in _rows_at(version, time.time() - 3600):
                conn_adapter(conn).execute(sql, params)

    async def start() -> None:
        ledger = PgLedger.open(pg_url)  # migrates the rest at start
        ledger.start()
        await ledger.lease.stop_renewing()  # its beat, by hand:
        # It marks the old in-flight call interrupted: its row names no instance (written
        # before there were leases) and is older than a lease.
        assert await ledger.lease.beat() == ((1, 0) if version >= 1 else (0, 0))
        await ledger.aclose()

    asyncio.run(start())
    with psycopg.connect(pg_url) as conn:
        assert postgres_version(conn) == latest_version()
        _check_upgraded(conn_adapter(conn), version)
        # Old rows name no instance (the migrating session is none).
        if version >= 1:
            assert conn.execute("SELECT count(instance) FROM calls").fetchone() == (0,)


@pytest.mark.parametrize("version", range(latest_version()))
def test_sqlite_upgrades_from_every_earlier_version(tmp_path: Path, version: int) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=version)
    for sql, params in _rows_at(version, time.time()):
        conn.execute(sql, params)
    conn.close()
    Ledger.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert user_version(conn) == latest_version()
    _check_upgraded(conn, version)


def test_instances_starting_together_migrate_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            PgLedger.open(pg_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        assert postgres_version(conn) == latest_version()
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PgLedger.open(pg_url)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(LedgerError, match="newer than this superllm knows"):
        PgLedger.open(pg_url)


def test_an_unreachable_database_says_so_without_the_password(pg_server: PgServer) -> None:
    url = f"postgresql://someone:hunter2@127.0.0.1:{pg_server.port}/nosuchdb"
    with pytest.raises(LedgerError) as caught:
        PgLedger.open(url)
    assert "hunter2" not in caught.value.message
    assert "nosuchdb" in caught.value.message and "[ledger] url" in caught.value.message


def test_the_postgres_extra_brings_what_the_ledger_imports() -> None:
    """``pip install 'superllm-cli[postgres]'``: psycopg with its pool (pg.py opens an
    AsyncConnectionPool) and a libpq (the binary build), so nothing else is needed."""
    import tomllib

    from packaging.requirements import Requirement

    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["postgres"]
    (psycopg_req,) = [Requirement(r) for r in extra if Requirement(r).name == "psycopg"]
    assert {"binary", "pool"} <= psycopg_req.extras
    assert psycopg_req.specifier.contains("3.2")


def test_the_config_takes_only_postgres_urls(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[ledger]\nurl = "mysql://x/y"\n')
    with pytest.raises(ConfigError, match="ledger"):
        ConfigStore(path).get({})
    got = ConfigStore(path).get({"SUPERLLM_LEDGER__URL": "postgresql://db/superllm"})
    assert got.ledger.url == "postgresql://db/superllm"


# -- one workload, both backends ------------------------------------------------------------


def _workload(ledger: Backend, now: float) -> None:
    """What the recorder, the cache, the conversations and the tokens write, in their SQL."""
    ledger.write(
        "INSERT OR IGNORE INTO runs (id, time, mode, label, conversation_id, status, token) "
        "VALUES (?, ?, ?, ?, ?, 'running', ?)",
        ("run-a", now, "consensus", "nightly", "conv1", "ci"),
    )
    for i, (provider, cost, status) in enumerate(
        [("openai", 0.5, "ok"), ("anthropic", 0.25, "ok"), ("openai", None, "error")]
    ):
        ledger.write(
            "INSERT INTO calls (id, time, ended, run_id, mode, provider, model, label, "
            "input_tokens, output_tokens, cost_usd, status, token) "
            "VALUES (?, ?, ?, 'run-a', 'consensus', ?, 'm', 'nightly', ?, ?, ?, ?, 'ci') "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status",
            (f"call-{i}", now + i, now + i + 1, provider, 10 * i, 5 * i, cost, status),
        )
    ledger.write_many(
        [
            (
                "INSERT OR REPLACE INTO runs (id, time, finished, mode, label, conversation_id, "
                "participants, prompt, answer, status, token) "
                "VALUES (?, ?, ?, 'consensus', 'nightly', 'conv1', '[]', ?, ?, 'ok', 'ci')",
                ("run-a", now, now + 5, "why is the sky blue", "Rayleigh scattering, 100%"),
            ),
            (
                "INSERT INTO conversations (id, created, updated, mode, model, label, title) "
                "VALUES (?, ?, ?, 'consensus', NULL, 'nightly', 'sky') ON CONFLICT (id) DO "
                "UPDATE SET updated = excluded.updated, "
                "model = COALESCE(excluded.model, conversations.model)",
                ("conv1", now, now),
            ),
            (
                "INSERT INTO messages (conversation_id, run_id, time, role, content) "
                "VALUES ('conv1', 'run-a', ?, 'user', 'why is the sky blue')",
                (now,),
            ),
            (
                "INSERT INTO messages (conversation_id, run_id, time, role, content) "
                "VALUES ('conv1', 'run-a', ?, 'assistant', 'Rayleigh')",
                (now,),
            ),
        ]
    )
    ledger.write(
        "INSERT OR REPLACE INTO response_cache (key, time, provider, model, text, input_tokens, "
        "output_tokens, cached_tokens, finish_reason, response_model) "
        "VALUES ('k1', ?, 'openai', 'm', 'cached answer', 1, 2, 0, 'stop', 'm')",
        (now,),
    )
    ledger.write(
        "INSERT OR REPLACE INTO gateway_tokens (name, hash, created, expires, revoked, "
        "budget_daily_usd, rpm, tpm, models, last_used) "
        "VALUES ('ci', 'h1', ?, NULL, NULL, 1.5, 60, NULL, '[]', NULL)",
        (now,),
    )


def _answers(conn: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        by: queries.usage_report(conn, by=by) for by in queries.GROUPS if by != "week"
    }
    out["spent"] = queries.spent_usd(conn, 0, provider="openai")
    out["runs"] = history.list_runs(conn)
    run = history.get_run(conn, "run-a")
    out["run"] = {k: v for k, v in run.items() if k not in ("time", "finished")}
    out["search"] = [r["run_id"] for r in history.search_runs(conn, "sky blue")]
    out["conversation"] = history.conversation_messages(conn, "conv1")
    out["last"] = history.last_conversation(conn)
    out["cache"] = history.cache_get(conn, "k1", 0)
    return out


def test_postgres_answers_as_sqlite_does(pg_url: str, tmp_path: Path) -> None:
    now = time.time()
    sqlite_ledger = Ledger.open(tmp_path / "ledger.sqlite3")

    async def on_sqlite() -> dict[str, Any]:
        _workload(sqlite_ledger, now)
        await sqlite_ledger.barrier()
        answers = await sqlite_ledger.read(_answers)
        await sqlite_ledger.aclose()
        return answers

    async def on_postgres() -> dict[str, Any]:
        ledger = PgLedger.open(pg_url)
        _workload(ledger, now)
        await ledger.barrier()
        answers = await ledger.read(_answers)
        assert ledger.commits >= 1 and ledger.units_committed == 7
        await ledger.aclose()
        return answers

    expected, got = asyncio.run(on_sqlite()), asyncio.run(on_postgres())
    for key in expected:
        if key == "runs":
            for run in expected[key] + got[key]:
                run.pop("time"), run.pop("finished")
        assert got[key] == expected[key], key
    assert got["model"]["totals"]["cost_usd"] == pytest.approx(0.75)


def test_a_bad_write_is_dropped_alone(pg_url: str) -> None:
    async def main() -> tuple[Any, ...]:
        ledger = PgLedger.open(pg_url)
        ledger.write("INSERT INTO conversations (id, created, updated) VALUES ('a', 1, 1)")
        ledger.write("INSERT INTO conversations (id, created, updated) VALUES ('a', 1, 1)")
        ledger.write("INSERT INTO conversations (id, created, updated) VALUES ('b', 1, 1)")
        await ledger.barrier()
        rows = await ledger.read(
            lambda c: tuple(r[0] for r in c.execute("SELECT id FROM conversations ORDER BY id"))
        )
        await ledger.aclose()
        return rows

    assert asyncio.run(main()) == ("a", "b")


def test_writes_wait_out_a_database_restart(pg_server: PgServer, pg_url: str) -> None:
    """Nothing queued is lost when the database goes away: the barrier returns once the
    rows are committed, after the server is back."""

    async def main() -> int:
        ledger = PgLedger.open(pg_url)
        ledger.write("INSERT INTO conversations (id, created, updated) VALUES ('x0', 1, 1)")
        await ledger.barrier()  # the pool is warm: its connections will break
        await asyncio.to_thread(pg_server.stop, "immediate")
        for i in range(1, 50):
            ledger.write(
                "INSERT INTO conversations (id, created, updated) VALUES (?, 1, 1)", (f"x{i}",)
            )
        restart = asyncio.create_task(asyncio.to_thread(_start_later, pg_server, 1.0))
        await asyncio.wait_for(ledger.barrier(), 60)
        await restart
        count: int = await ledger.read(
            lambda c: c.execute("SELECT count(*) FROM conversations").fetchone()[0]
        )
        await ledger.aclose()
        return count

    assert asyncio.run(main()) == 50


def test_a_read_after_a_database_restart_gets_a_live_connection(
    pg_server: PgServer, pg_url: str
) -> None:
    """A restart breaks every idle pooled connection; the first read after it still answers
    (it once got a broken connection twice and said the database did not answer)."""

    def slow(c: Any) -> int:
        time.sleep(0.2)
        return int(c.execute("SELECT 1").fetchone()[0])

    async def main() -> int:
        ledger = PgLedger.open(pg_url, pool_size=4)
        assert await asyncio.gather(*(ledger.read(slow) for _ in range(4))) == [1] * 4
        await asyncio.to_thread(pg_server.restart, "immediate")
        try:
            return int(await ledger.read(lambda c: c.execute("SELECT 2").fetchone()[0]))
        finally:
            await ledger.aclose()

    assert asyncio.run(main()) == 2


def _start_later(server: PgServer, delay: float) -> None:
    time.sleep(delay)
    server.start()
