"""One daily budget shared by several instances through PostgreSQL (ledger/shared.py).

Each "instance" here is what a daemon builds (its own PostgreSQL ledger and pool, recorder,
budget manager with shared reservations, and caller), three of them in one process against
one database, racing 64 calls against a vendor-like fake: the money spent passes the limit
by at most one call's estimate in total, and the ledger holds exactly what the fake served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from superllmd.budget import BudgetManager
from superllmd.budget_rules import period_start
from superllmd.config import BudgetSettings, ProviderSettings
from superllmd.errors import BudgetExceeded, DaemonError
from superllmd.ledger.pg import PgLedger
from superllmd.ledger.recorder import LedgerRecorder
from superllmd.ledger.shared import SharedBudgets, key_name
from superllmd.orchestrator.hooks import CallInfo, RunInfo
from superllmd.orchestrator.run import Caller, CallOutcome
from superllmd.providers._http import HttpClients
from superllmd.providers.base import ChatRequest, KindContext, Message
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAIKind
from superllmd.providers.registry import Target
from tests.daemon.test_budget_race import MAX_TOKENS, MODEL, VendorLikeFake, _answer

pytestmark = pytest.mark.postgres


@pytest.fixture
def fake() -> Iterator[VendorLikeFake]:
    server = VendorLikeFake(delay=0.01).start()
    server.reply = _answer
    try:
        yield server
    finally:
        server.stop()


class Instance:
    def __init__(self, url: str, limit: float, *, lease_s: float = 60.0) -> None:
        self.ledger = PgLedger.open(url)
        self.shared = SharedBudgets(self.ledger, lease_s=lease_s)
        recorder = LedgerRecorder(self.ledger)
        self.budget = BudgetManager(
            self.ledger, lambda env: BudgetSettings(daily_usd=limit), shared=self.shared
        )
        self.caller = Caller(hooks=[recorder, self.budget], run_hooks=[recorder, self.budget])

    async def aclose(self) -> None:
        self.shared.stop()
        await self.ledger.aclose()


def _target(fake: VendorLikeFake, http: HttpClients) -> Target:
    kind = OpenAIKind(KindContext(http, KeyResolver(use_keyring=False), Path("/x")))
    settings = ProviderSettings(base_url=fake.base_url)
    return Target(kind.create("openai", settings, {"OPENAI_API_KEY": "sk-test"}), MODEL)


REQUEST = ChatRequest(MODEL, (Message("user", "lorem ipsum " * 50),), max_tokens=MAX_TOKENS)


def _each(target: Target) -> float:
    probe = CallInfo(RunInfo("probe", "ask"), target, REQUEST, "p", "participant", 0, 1)
    each = BudgetManager.estimate(probe)
    assert each is not None and each > 0
    return each


async def _call(instance: Instance, target: Target, i: int, outcome: CallOutcome) -> None:
    run = RunInfo(f"r{i}", "ask")
    async for _ in instance.caller.call(
        run.run_id, target, REQUEST, stream=i % 2 == 0, outcome=outcome, run=run
    ):
        pass


def test_three_instances_racing_64_calls_share_one_daily_budget(
    fake: VendorLikeFake, pg_url: str
) -> None:
    async def main() -> tuple[float, float, float, int, float, int, int]:
        http = HttpClients()
        target = _target(fake, http)
        each = _each(target)
        limit = 9.5 * each  # nine and a half calls, each at its full estimate
        instances = [Instance(pg_url, limit) for _ in range(3)]
        outcomes = [CallOutcome(target) for _ in range(64)]
        try:
            await asyncio.gather(
                *(_call(instances[i % 3], target, i, outcomes[i]) for i in range(64)),
                return_exceptions=True,
            )
            for instance in instances:
                await instance.ledger.barrier()
            with psycopg.connect(pg_url) as conn:
                cost, calls = conn.execute(
                    "SELECT coalesce(sum(cost_usd), 0), count(*) FROM calls WHERE status = 'ok'"
                ).fetchone()
                left = conn.execute("SELECT count(*) FROM reservations").fetchone()[0]
        finally:
            for instance in instances:
                await instance.aclose()
            await http.aclose()
        spent = sum(o.cost_usd or 0.0 for o in outcomes if o.ok)
        return spent, limit, each, sum(o.ok for o in outcomes), cost, calls, left

    spent, limit, each, served, ledger_cost, ledger_calls, left = asyncio.run(main())
    assert served >= 9  # the budget is used, not refused wholesale
    assert spent <= limit + each, f"spent {spent:.6f} of {limit:.6f} (+{each:.6f})"
    # The ledger has every call the fake served, at its cost, and no reservation is left.
    assert len(fake.chat_requests()) == served == ledger_calls
    assert ledger_cost == pytest.approx(spent)
    assert left == 0


def test_a_killed_instances_reservations_expire(fake: VendorLikeFake, pg_url: str) -> None:
    """Reservations of an instance that is gone count until their lease runs out, then not."""

    async def main() -> None:
        http = HttpClients()
        target = _target(fake, http)
        each = _each(target)
        instance = Instance(pg_url, 1.5 * each, lease_s=1.0)
        start = period_start("day", time.time())
        key = key_name(("global", None, "day", start))
        # What a killed instance left: a reservation of the whole budget, its lease short.
        with psycopg.connect(pg_url) as conn:
            conn.execute(
                "INSERT INTO reservations (call_id, key, amount, instance, expires) "
                "VALUES ('dead-call', %s, %s, 'dead:1', %s)",
                (key, 1.5 * each, time.time() + 1.0),
            )
        try:
            refused = CallOutcome(target)
            await _call(instance, target, 1, refused)
            assert isinstance(refused.error, BudgetExceeded), refused.error
            await asyncio.sleep(1.2)
            passed = CallOutcome(target)
            await _call(instance, target, 2, passed)
            assert passed.ok
            status = await instance.budget.status(BudgetSettings(daily_usd=1.5 * each))
            assert status[0]["reserved_usd"] == 0 and status[0]["spent_usd"] > 0
            await asyncio.sleep(1.0)  # the next sweep deletes what expired a lease ago
            await instance.ledger.barrier()
            with psycopg.connect(pg_url) as conn:
                assert conn.execute("SELECT count(*) FROM reservations").fetchone() == (0,)
        finally:
            await instance.aclose()
            await http.aclose()

    asyncio.run(main())


def test_a_database_that_is_down_refuses_the_call_before_sending(
    fake: VendorLikeFake, pg_url: str, pg_server: Any
) -> None:
    async def main() -> None:
        http = HttpClients()
        target = _target(fake, http)
        instance = Instance(pg_url, 1.0)
        sent = len(fake.chat_requests())
        try:
            await asyncio.to_thread(pg_server.stop, "immediate")
            try:
                failed = CallOutcome(target)
                await _call(instance, target, 1, failed)
                assert isinstance(failed.error, DaemonError), failed.error
                assert "the budgets cannot be checked" in failed.error.message
                assert len(fake.chat_requests()) == sent
            finally:
                await asyncio.to_thread(pg_server.start)
            ok = CallOutcome(target)
            await _call(instance, target, 2, ok)  # reconnects by itself
            assert ok.ok
        finally:
            await instance.aclose()
            await http.aclose()

    asyncio.run(main())
