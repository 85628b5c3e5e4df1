"""Gateway instances' leases on a PostgreSQL ledger, and what a lost instance left in flight.

A lone SQLite daemon marks every call still ``in_flight`` interrupted when it starts: it was
the only writer, so those calls died with it. Instances sharing one PostgreSQL ledger cannot:
the other instances have real calls in flight. Instead:

- each instance has a row in ``instances`` whose lease (``expires``) it renews every
  ``lease_s / 3`` seconds, from its start to its clean stop (which deletes the row);
- each call and run row names the instance that wrote it (``calls.instance``, migration 11:
  the column's default is the session setting ``superllm.instance``, which every connection
  of the ledger's pool sets);
- on the same beat, one instance at a time (a try-lock: the others skip that beat) marks
  the calls and runs left ``in_flight`` and ``running`` by instances whose lease has run out
  ``interrupted``, as SQLite's recovery does (queries.recover_interrupted): a call keeps the
  tokens and cost it recorded while streaming, a run gets its calls' totals. So ``superllm
  usage`` and ``superllm log`` show them within ``lease_s`` and a beat of a ``kill -9``.
  Rows that name no instance (written before migration 11, or by another tool) are taken
  as lost once they are ``lease_s`` old. The same statement settles the budget
  reservations of the calls it marks: they are dropped and the cost the calls had recorded
  is added to each budget's running sum, so a killed instance's spending still counts.

Leases are times on the database's clock, so instances whose clocks disagree still agree on
them. An instance that was alive all along but could not renew (the database unreachable
for longer than the lease) may have calls marked that then settle: settling is an upsert of
the whole row, so the call ends as it really did, and so does its run. Its budgets were
charged what the call had cost when it was marked, and the sweep kept those charges
(``swept_charges``, migration 13): the settle adds the difference to what it cost in the
end, and deletes the charges as it reads them, so it is added once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any

from superllmd.ledger.pg_conn import first_line
from superllmd.ledger.queries import CALL_INTERRUPTED, RUN_INTERRUPTED

if TYPE_CHECKING:
    from superllmd.ledger.pg import PgLedger

__all__ = ["DEFAULT_LEASE_S", "Lease", "instance_name"]

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 60.0

_NOW = "extract(epoch FROM now())"
_RENEW = (
    "INSERT INTO instances (name, host, pid, started, expires) "
    f"VALUES (%s, %s, %s, {_NOW}, {_NOW} + %s) "
    "ON CONFLICT (name) DO UPDATE SET expires = excluded.expires"
)
# Held (per transaction) by the instance sweeping: one sweep at a time, the others skip.
_SWEEP_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('superllm|sweep', 0))"


def _lost(table: str) -> str:
    """Rows of ``table`` whose instance is gone: its lease ran out (or it has none), or the
    row names none and is a lease old (the lease is the one parameter)."""
    return (
        f"(({table}.instance IS NULL AND {table}.time < {_NOW} - %s) OR ({table}.instance IS "
        f"NOT NULL AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.name = {table}.instance "
        f"AND i.expires > {_NOW})))"
    )


# The calls marked interrupted are settled too: the budget reservations they held are
# dropped and what they had cost so far (recorded as their stream went) is added to each
# budget's running sum, so a killed instance's spending still counts against the budgets.
# What each budget was charged is kept in swept_charges, for the settle of a call whose
# instance lived on (shared.py's _SETTLE adds the rest). PostgreSQL runs every
# data-modifying part of a WITH, read or not.
_SWEEP_CALLS = (
    "WITH swept AS (UPDATE calls SET "
    f"{CALL_INTERRUPTED} WHERE status = 'in_flight' AND {_lost('calls')} "
    "RETURNING id, cost_usd, unpriced), "
    "gone AS (DELETE FROM reservations r USING swept s WHERE r.call_id = s.id "
    "RETURNING r.key, s.id, s.cost_usd, s.unpriced), "
    "kept AS (INSERT INTO swept_charges (call_id, key, charged, time) "
    f"SELECT id, key, coalesce(cost_usd, 0), {_NOW} FROM gone), "
    "added AS (INSERT INTO budget_spend (key, spent, unpriced) "
    "SELECT key, sum(coalesce(cost_usd, 0)), max(unpriced) FROM gone GROUP BY key "
    "ON CONFLICT (key) DO UPDATE SET spent = budget_spend.spent + excluded.spent, "
    "unpriced = greatest(budget_spend.unpriced, excluded.unpriced) RETURNING 1) "
    "SELECT count(*) FROM swept"
)
_SWEEP_RUNS = f"UPDATE runs SET {RUN_INTERRUPTED} WHERE status = 'running' AND {_lost('runs')}"
# Instances whose lease ran out a lease ago: their rows were swept above.
_FORGET = f"DELETE FROM instances WHERE expires < {_NOW} - %s"
# A swept call not settled within a day never will be: no call streams that long.
_FORGET_CHARGES = f"DELETE FROM swept_charges WHERE time < {_NOW} - 86400"


def instance_name() -> str:
    """A name for this process, unique among the instances: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """One instance's lease on the ledger, and its share of the sweeping."""

    def __init__(self, ledger: PgLedger, name: str, lease_s: float) -> None:
        self.ledger = ledger
        self.name = name
        self.lease_s = lease_s
        self._task: asyncio.Task[None] | None = None

    def take(self, conn: Any) -> None:
        """Announce the instance, on a synchronous psycopg connection (at open): its rows
        are never taken for a lost instance's, even before the first beat."""
        conn.execute(_RENEW, self._renew_params())

    def start(self) -> None:
        """Renew and sweep every ``lease_s / 3`` seconds on the running loop, from now on."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat_forever())

    async def stop_renewing(self) -> None:
        """Stop the beat; the lease runs out by itself."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stop(self) -> None:
        """Stop renewing and give the lease up: what this instance left in flight is then
        another's to sweep at once. Never raises."""
        import psycopg

        await self.stop_renewing()
        try:
            async with self.ledger.transaction() as conn:
                await conn.execute("DELETE FROM instances WHERE name = %s", (self.name,))
        except psycopg.Error as exc:
            log.warning("ledger: could not give up the lease of %s: %s", self.name, exc)

    async def beat(self) -> tuple[int, int]:
        """Renew the lease, then sweep if no other instance is: the calls and runs marked
        interrupted. Raises psycopg's errors."""
        async with self.ledger.transaction() as conn:
            await conn.execute(_RENEW, self._renew_params())
        async with self.ledger.transaction() as conn:
            cursor = await conn.execute(_SWEEP_LOCK)
            row = await cursor.fetchone()
            if row is None or not row[0]:
                return 0, 0
            calls = await (await conn.execute(_SWEEP_CALLS, (self.lease_s,))).fetchone()
            runs = await conn.execute(_SWEEP_RUNS, (self.lease_s,))
            await conn.execute(_FORGET, (self.lease_s,))
            await conn.execute(_FORGET_CHARGES)
            swept = int(calls[0]) if calls else 0, runs.rowcount
        if any(swept):
            log.warning(
                "ledger: marked %d calls and %d runs interrupted: their instance stopped "
                "renewing its lease (%g s) without finishing them",
                *swept,
                self.lease_s,
            )
        return swept

    async def _beat_forever(self) -> None:
        import psycopg

        while True:
            try:
                await self.beat()
            except psycopg.OperationalError as exc:  # the database away: the next beat
                log.warning("ledger: cannot renew the instance lease: %s", first_line(exc))
            except psycopg.Error as exc:
                log.error("ledger: the instance lease failed: %s", first_line(exc))
            await asyncio.sleep(self.lease_s / 3)

    def _renew_params(self) -> tuple[str, str, int, float]:
        return self.name, socket.gethostname(), os.getpid(), self.lease_s
