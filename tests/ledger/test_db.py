"""The ledger's writer thread and reader: durable when the barrier returns, never blocking."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from superllmd.ledger import queries
from superllmd.ledger.db import Ledger, connect

CALL = (
    "INSERT INTO calls (id, time, run_id, mode, provider, model, cost_usd, unpriced, status, "
    "label) VALUES (?, ?, 'r', 'ask', ?, 'm', ?, ?, ?, ?)"
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(tmp_path / "data" / "ledger.sqlite3")
    try:
        yield opened
    finally:
        opened.close()


def _count(path: Path, table: str = "calls") -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_open_makes_a_wal_database(ledger: Ledger) -> None:
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_a_write_is_committed_when_the_barrier_returns(ledger: Ledger) -> None:
    async def go() -> int:
        ledger.write(CALL, ("c1", 1.0, "p", 0.5, 0, "ok", None))
        await ledger.barrier()
        # Another process (a fresh connection) sees it: it is on disk, not in a buffer.
        return _count(ledger.path)

    assert asyncio.run(go()) == 1


def test_many_threads_write_without_lock_errors(ledger: Ledger) -> None:
    def writer(n: int) -> None:
        for i in range(200):
            ledger.write(CALL, (f"c{n}-{i}", 1.0, "p", 0.001, 0, "ok", None))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def go() -> tuple[float, bool]:
        return await ledger.spent_usd(0)

    spent, unpriced = asyncio.run(go())
    assert spent == pytest.approx(1.6) and not unpriced
    assert _count(ledger.path) == 1600
    assert ledger.units_committed == 1600
    assert ledger.commits < 1600  # queued writes were batched


def test_writes_of_one_loop_iteration_reach_the_writer_together(ledger: Ledger) -> None:
    async def go() -> None:
        for i in range(50):  # one iteration: no await between them
            ledger.write(CALL, (f"c{i}", 1.0, "p", 0.001, 0, "ok", None))
        time.sleep(0.3)  # the writer thread is free to run, but has not been handed them
        assert _count(ledger.path) == 0
        await asyncio.sleep(0.3)  # the iteration ended: handed over as one, then committed
        assert _count(ledger.path) == 50
        ledger.write(CALL, ("late", 1.0, "p", 0.001, 0, "ok", None))
        # A write from a thread without a loop goes after what the loop has pending.
        await asyncio.to_thread(ledger.write, CALL, ("thread", 1.0, "p", 0.001, 0, "ok", None))
        await ledger.barrier()
        assert _count(ledger.path) == 52

    asyncio.run(go())
    assert ledger.units_committed == 52
    assert ledger.commits <= 3  # the 50 as one, then "late" and "thread"


def test_a_bad_write_does_not_sink_its_batch(ledger: Ledger) -> None:
    async def go() -> None:
        ledger.write(CALL, ("ok-1", 1.0, "p", 0.1, 0, "ok", None))
        ledger.write_many(
            [
                (CALL, ("half", 1.0, "p", 0.1, 0, "ok", None)),
                (CALL, ("bad", 1.0, "p", 0.1, 0, "no-such-status", None)),  # CHECK fails
            ]
        )
        ledger.write(CALL, ("ok-2", 1.0, "p", 0.1, 0, "ok", None))
        await ledger.barrier()

    asyncio.run(go())
    conn = sqlite3.connect(ledger.path)
    ids = {r[0] for r in conn.execute("SELECT id FROM calls")}
    conn.close()
    assert ids == {"ok-1", "ok-2"}  # the failed unit is gone whole, its neighbours stay


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "ledger.sqlite3")
    for i in range(500):
        ledger.write(CALL, (f"c{i}", 1.0, "p", 0.0, 0, "ok", None))
    ledger.close()
    ledger.close()  # idempotent
    assert _count(ledger.path) == 500


def test_reads_run_off_the_loop_on_a_read_only_connection(ledger: Ledger) -> None:
    async def go() -> tuple[str, str]:
        name = await ledger.read(lambda _: threading.current_thread().name)
        try:
            await ledger.read(lambda c: c.execute("DELETE FROM calls"))
        except sqlite3.OperationalError as exc:
            return name, str(exc)
        return name, ""

    thread, refused = asyncio.run(go())
    assert thread.startswith("ledger-read")
    assert "readonly" in refused


def test_spent_usd_filters_and_flags_unpriced(ledger: Ledger) -> None:
    rows = [
        ("a", 100.0, "openai", 1.0, 0, "ok", None),
        ("b", 200.0, "openai", 2.0, 0, "ok", "nightly"),
        ("c", 200.0, "fake", None, 1, "ok", "nightly"),
        ("d", 300.0, "openai", 4.0, 0, "cached", None),  # cost 0 in real rows; here 4
        ("e", 300.0, "openai", None, 0, "in_flight", None),
    ]
    for row in rows:
        ledger.write(CALL, row)

    async def go() -> list[tuple[float, bool]]:
        return [
            await ledger.spent_usd(0),
            await ledger.spent_usd(150),
            await ledger.spent_usd(150, provider="openai"),
            await ledger.spent_usd(0, label="nightly"),
            await ledger.spent_usd(1000),
        ]

    assert asyncio.run(go()) == [
        (7.0, True),
        (6.0, True),
        (6.0, False),
        (2.0, True),
        (0.0, False),
    ]
    # The same function reads a ledger or a connection, from a thread of one's own.
    assert queries.spent_usd(ledger, 150, provider="openai") == (6.0, False)
    with connect(ledger.path, readonly=True) as conn:
        assert queries.spent_usd(conn, 0, label="nightly") == (2.0, True)


def test_calls_left_in_flight_are_interrupted_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger.open(path)
    ledger.write(CALL, ("running", 1.0, "p", None, 0, "in_flight", None))
    ledger.close()
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    row = conn.execute("SELECT status, error_code FROM calls WHERE id = 'running'").fetchone()
    conn.close()
    assert row == ("interrupted", "daemon_stopped")


def test_old_cache_entries_are_dropped_at_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    now = time.time()
    conn = sqlite3.connect(path, isolation_level=None)
    for key, age_days in (("fresh", 1), ("stale", 31)):
        conn.execute(
            "INSERT INTO response_cache (key, time, provider, model, text, input_tokens, "
            "output_tokens, cached_tokens) VALUES (?, ?, 'p', 'm', 't', 1, 1, 0)",
            (key, now - age_days * 86400),
        )
    conn.close()
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    assert [k for (k,) in conn.execute("SELECT key FROM response_cache")] == ["fresh"]
    conn.close()
