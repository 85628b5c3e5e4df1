"""Numbered migrations: from blank, from the checked-in first schema, never edited."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from superllmd.ledger import history, queries
from superllmd.ledger.db import Ledger, LedgerError
from superllmd.ledger.migrations import MIGRATIONS, latest_version, migrate, user_version
from tests.ledger import make_v1

V1 = Path(__file__).parent / "data" / "ledger-v1.sqlite3"
# rank 1 also compares an external-content index with its table.
_CHECK = "INSERT INTO runs_fts (runs_fts, rank) VALUES ('integrity-check', 1)"

# Shipped migrations never change: a new schema is a new migration at the end. If this test
# fails, undo the edit to the old migration and append a new one instead.
SHIPPED = {
    1: "29ddfddd92f2ebc25e98f0a100fdd6d8dd432f0f2137fe5a6404af41ba55cc9b",
    2: "d971a59c78feaab3620c52b041097753a4893d7cba3cc30dc2057617dde836f7",
    3: "6bc1e2d14bd6c4a86b126047031d160a066a356de8041fbc5a2721c1733f81f7",
    4: "e26322348049e8460fb94826e15b418b92aff361408b5f97fc1a7d1996acc3a4",
    5: "388e18e59399ca666d73d3b13be704f786f0838e91dc8970ff909e5d670f6be7",
    6: "b1a0866534785e3922009ffafb182d4404a1162aa9a0bb1178728d1f4213e5e7",
    7: "581925d984b9bd117b0348230879d357fe13ceb62d9ef5be177bde9beb6894a3",
    8: "8b6f1907ff17c482ad3a49a3ef30eee405d9b52b516ddc7cdd2bd2ede662a476",
    9: "03036c6ab3a9d812bd03ee05bcfdfefe5db6fe63553a894b361ee039a592363e",
    10: "7f6b59b5d959f506ae3bcb30a95b99300547d585b217626ac82235a7e58083e4",
    11: "6a548e5da835372b96c963012080d3048294b6e41069beea094f060cc82c38ed",
    12: "3bae86c8bb4312203c9b06a303c46bc49dc112163ee22a329c38850a46dba91b",
    13: "e0047f4bd8c9e7c4dfed650919f05cbde22ee007279d913ab53b4e1d7c4ee28e",
}


def test_shipped_migrations_are_unchanged() -> None:
    for version, digest in SHIPPED.items():
        assert hashlib.sha256(MIGRATIONS[version - 1].sqlite.encode()).hexdigest() == digest, (
            version
        )
    assert latest_version() >= len(SHIPPED)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migrate_from_blank(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "blank.sqlite3", isolation_level=None)
    assert migrate(conn) == list(range(1, latest_version() + 1))
    assert user_version(conn) == latest_version()
    expected = {"runs", "calls", "conversations", "messages", "fragments", "run_fragments"}
    assert expected | {"response_cache", "runs_fts"} <= _tables(conn)
    assert migrate(conn) == []  # idempotent
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_budget_refusals_get_their_own_status(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    migrate(conn, target=8)
    row = "INSERT INTO calls (id, time, run_id, mode, provider, model, status, error_code, token) "
    conn.execute(row + "VALUES ('a', 1, 'r', 'ask', 'p', 'm', 'error', 'budget', 't')")
    conn.execute(row + "VALUES ('b', 2, 'r', 'ask', 'p', 'm', 'error', 'auth', NULL)")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(row + "VALUES ('c', 3, 'r', 'ask', 'p', 'm', 'refused', 'budget', NULL)")
    migrate(conn, target=9)
    rows = conn.execute("SELECT id, status, error_code, token FROM calls ORDER BY id").fetchall()
    assert rows == [("a", "refused", "budget", "t"), ("b", "error", "auth", None)]
    conn.execute(row + "VALUES ('c', 3, 'r', 'ask', 'p', 'm', 'refused', 'budget', NULL)")
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"calls_time", "calls_run", "calls_in_flight", "calls_token"} <= indexes


def test_migration_12_drops_the_stale_words_an_old_replace_left_in_the_index(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    migrate(conn, target=11)
    row = "INSERT OR REPLACE INTO runs (id, time, mode, prompt, answer, status) VALUES "
    conn.execute(row + "('r', 1, 'ask', 'tides', NULL, 'running')")
    conn.execute(row + "('s', 2, 'ask', 'moon', NULL, 'running')")
    conn.execute(row + "('r', 1, 'ask', 'tides', 'walrus', 'ok')")  # how runs used to finish
    with pytest.raises(sqlite3.DatabaseError):  # the index disagrees with its table
        conn.execute(_CHECK)
    assert migrate(conn, target=12) == [12]
    conn.execute(_CHECK)
    (rowid,) = conn.execute("SELECT rowid FROM runs WHERE id = 'r'").fetchone()
    hits = conn.execute("SELECT rowid FROM runs_fts WHERE runs_fts MATCH 'tides'").fetchall()
    assert hits == [(rowid,)]  # once, under the run's rowid
    assert [r["run_id"] for r in history.search_runs(conn, "walrus")] == ["r"]


def test_a_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "l.sqlite3", isolation_level=None)
    migrate(conn, target=1)
    conn.execute("CREATE TABLE fragments (x)")  # migration 2 will collide with this
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert user_version(conn) == 1
    assert "response_cache" not in _tables(conn)


def test_upgrade_the_checked_in_first_schema(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    shutil.copy(V1, path)
    with sqlite3.connect(path) as old:
        assert user_version(old) == 1
    ledger = Ledger.open(path)
    ledger.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert user_version(conn) == latest_version()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Old rows survive, and work with today's queries.
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
    report = queries.usage_report(conn, by="provider")
    assert report["totals"]["calls"] == 5  # the in-flight one is settled as interrupted
    assert report["totals"]["errors"] == 2
    assert report["totals"]["cost_usd"] is None  # fake/echo was unpriced
    openai = next(r for r in report["rows"] if r["provider"] == "openai")
    assert openai["cost_usd"] == pytest.approx(0.0000468)
    assert queries.spent_usd(conn, 0, provider="openai") == (pytest.approx(0.0000468), False)
    statuses = dict(conn.execute("SELECT id, status FROM calls").fetchall())
    assert statuses["c-v1-5"] == "interrupted"
    # Runs written before search existed are searchable.
    assert [r["run_id"] for r in history.search_runs(conn, "capital France")] == ["r-v1-ask"]
    assert history.conversation_messages(conn, "c-v1") == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris."),
    ]


def test_the_checked_in_database_matches_its_script(tmp_path: Path) -> None:
    fresh = tmp_path / "v1.sqlite3"
    make_v1.make(fresh)
    with sqlite3.connect(fresh) as a, sqlite3.connect(V1) as b:
        assert list(a.iterdump()) == list(b.iterdump())


def test_a_newer_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(path)


def test_a_corrupt_file_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="Move the file aside"):
        Ledger.open(path)
