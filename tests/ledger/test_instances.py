"""Instances' leases on a PostgreSQL ledger (ledger/instances.py) against a real server: every
row names the instance that wrote it, and what a lost instance left in flight is marked
interrupted by a live one once its lease ran out -- never what a live instance has in flight.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from superllmd.config import ProviderSettings
from superllmd.ledger import queries
from superllmd.ledger.pg import PgLedger
from superllmd.ledger.recorder import LedgerRecorder
from superllmd.ledger.shared import SharedBudgets, SharedKey, key_name
from superllmd.orchestrator.hooks import CallInfo, RunInfo
from superllmd.providers._http import HttpClients
from superllmd.providers.base import ChatRequest, KindContext, Message, TokenUsage
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAIKind
from superllmd.providers.registry import Target

pytestmark = pytest.mark.postgres

_CALL = (
    "INSERT INTO calls (id, time, run_id, mode, provider, model, status) "
    "VALUES (%s, %s, %s, 'ask', 'openai', 'gpt', 'in_flight')"
)


_KEY: SharedKey = ("global", None, "daily", 0.0)


def _call(run_id: str, target: Target) -> CallInfo:
    request = ChatRequest("gpt-4.1-mini", (Message("user", "hello"),))
    return CallInfo(RunInfo(run_id, "ask"), target, request, "p", "participant", 0, 1)


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_a_lost_instances_calls_and_runs_are_interrupted_by_a_live_one(pg_url: str) -> None:
    http = HttpClients()
    kind = OpenAIKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    settings = ProviderSettings(base_url="http://127.0.0.1:9/v1")
    target = Target(kind.create("openai", settings, {"OPENAI_API_KEY": "x"}), "gpt")

    async def main() -> tuple[str, str]:
        dead, live = PgLedger.open(pg_url), PgLedger.open(pg_url)
        dead.start()
        live.start()
        # The dead one's run: one call settled, one streaming (its usage so far recorded).
        dead_rec, live_rec = LedgerRecorder(dead), LedgerRecorder(live)
        settled, streaming = _call("r-dead", target), _call("r-dead", target)
        settled.run = streaming.run
        await dead_rec.before_call(settled)
        dead_rec.after_call(settled, "ok", None, None, 0.02, 100)
        await dead_rec.before_call(streaming)
        dead_rec.call_progress(streaming, TokenUsage(30, 7, 0), 0.01)
        # The live one's call, in flight too.
        mine = _call("r-live", target)
        await live_rec.before_call(mine)
        await dead.barrier()
        await live.barrier()
        # kill -9: the dead one stops renewing; its lease runs out (here, at once). The live
        # one's beats are run by hand below.
        await dead.lease.stop_renewing()
        await live.lease.stop_renewing()
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE instances SET expires = 0 WHERE name = %s", (dead.instance,))
            # Rows that name no instance (written before migration 11): an old one is lost,
            # a young one may be an older superllm's call still in flight.
            conn.execute(_CALL, ("c-old", time.time() - 3600, "r-old"))
            conn.execute(_CALL, ("c-young", time.time(), "r-young"))
            # The streaming call held a budget reservation; budget k2 already had spending.
            (held,) = conn.execute(
                "SELECT id FROM calls WHERE instance = %s AND status = 'in_flight'",
                (dead.instance,),
            ).fetchone()
            for key in ("k1", "k2"):
                conn.execute(
                    "INSERT INTO reservations (call_id, key, amount, instance, expires) "
                    "VALUES (%s, %s, 1.0, %s, %s)",
                    (held, key, dead.instance, time.time() + 3600),
                )
            conn.execute("INSERT INTO budget_spend (key, spent, unpriced) VALUES ('k2', 0.5, 0)")
        assert await live.lease.beat() == (2, 1)
        assert await live.lease.beat() == (0, 0)  # nothing twice
        report = await live.read(lambda c: queries.usage_report(c, by="model"))
        assert report["totals"]["calls"] == 3 and report["totals"]["errors"] == 2
        await live.aclose()
        await dead.aclose()
        return dead.instance, live.instance

    dead, live = asyncio.run(main())
    asyncio.run(http.aclose())
    calls = {
        r[0]: r[1:]
        for r in _rows(
            pg_url,
            "SELECT id, instance, status, error_code, input_tokens, output_tokens, cost_usd, "
            "ended IS NOT NULL FROM calls",
        )
    }
    by_status: dict[str, set[str]] = {}
    for call_id, row in calls.items():
        by_status.setdefault(row[1], set()).add(call_id)
    assert len(by_status["ok"]) == 1 and len(by_status["interrupted"]) == 2
    assert by_status["in_flight"] == {"c-young", *(k for k, v in calls.items() if v[0] == live)}
    (streamed,) = [v for k, v in calls.items() if v[1] == "interrupted" and k != "c-old"]
    assert streamed == (dead, "interrupted", "daemon_stopped", 30, 7, 0.01, True)
    runs = {r[0]: r[1:] for r in _rows(pg_url, "SELECT id, status, cost_usd FROM runs")}
    assert runs["r-dead"] == ("interrupted", pytest.approx(0.03))
    assert runs["r-live"] == ("running", None)
    # Its reservations are settled with what it had cost: the budgets count the spending.
    assert _rows(pg_url, "SELECT count(*) FROM reservations") == [(0,)]
    spent = dict(_rows(pg_url, "SELECT key, spent FROM budget_spend"))
    assert spent == {"k1": pytest.approx(0.01), "k2": pytest.approx(0.51)}
    # A clean stop gives the lease up: no instance is left.
    assert _rows(pg_url, "SELECT name FROM instances") == []


def test_rows_name_the_instance_that_wrote_them(pg_url: str) -> None:
    async def main() -> str:
        ledger = PgLedger.open(pg_url)
        ledger.write(
            "INSERT INTO runs (id, time, mode, status) VALUES ('r1', 1, 'ask', 'ok')",
        )
        await ledger.barrier()
        await ledger.aclose()
        return ledger.instance

    name = asyncio.run(main())
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO runs (id, time, mode, status) VALUES ('r2', 1, 'ask', 'ok')")
        conn.commit()
    rows = _rows(pg_url, "SELECT id, instance FROM runs ORDER BY id")
    assert rows == [("r1", name), ("r2", None)]  # another tool's rows name none


def test_a_call_swept_while_its_instance_lived_on_ends_as_it_really_did(pg_url: str) -> None:
    """An instance that could not renew for longer than its lease (here: its lease set to
    have run out) has its call marked interrupted; when that call settles, the settled row
    wins, and so does its run's, and its budgets end with its whole cost, counted once."""
    http = HttpClients()
    kind = OpenAIKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    settings = ProviderSettings(base_url="http://127.0.0.1:9/v1")
    target = Target(kind.create("openai", settings, {"OPENAI_API_KEY": "x"}), "gpt")

    async def main() -> list[tuple[Any, ...]]:
        slow, other = PgLedger.open(pg_url), PgLedger.open(pg_url)
        slow.start()
        other.start()
        await slow.lease.stop_renewing()
        await other.lease.stop_renewing()
        recorder = LedgerRecorder(slow)
        budgets = SharedBudgets(slow)
        call = _call("r-slow", target)
        await recorder.before_call(call)
        await slow.barrier()
        (call_id,) = await slow.read(lambda c: c.execute("SELECT id FROM calls").fetchone())
        async with budgets.hold([_KEY]) as held:  # the call's budget reservation
            held.reserve(call_id, 1.0)
        recorder.call_progress(call, TokenUsage(30, 7, 0), 0.01)  # what it cost when swept
        await slow.barrier()
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE instances SET expires = 0 WHERE name = %s", (slow.instance,))
        assert await other.lease.beat() == (1, 1)
        swept = _rows(pg_url, "SELECT spent FROM budget_spend")
        recorder.after_call(call, "ok", None, None, 0.05, 200)
        budgets.release(call_id, 0.05, False)  # the settle, as budget.py sends it
        budgets.release(call_id, 0.05, False)  # and a second time: nothing more is added
        await slow.barrier()
        rows = await other.read(
            lambda c: c.execute(
                "SELECT c.status, c.error_code, c.cost_usd, r.cost_usd FROM calls c "
                "JOIN runs r ON r.id = c.run_id"
            ).fetchall()
        )
        budgets.stop()
        await slow.aclose()
        await other.aclose()
        assert swept == [(pytest.approx(0.01),)]
        return [tuple(r) for r in rows]

    assert asyncio.run(main()) == [("ok", None, 0.05, 0.05)]
    asyncio.run(http.aclose())
    spent = _rows(pg_url, "SELECT key, spent FROM budget_spend")
    assert spent == [(key_name(_KEY), pytest.approx(0.05))]  # the whole cost, once
    assert _rows(pg_url, "SELECT count(*) FROM swept_charges") == [(0,)]
    assert _rows(pg_url, "SELECT count(*) FROM reservations") == [(0,)]
