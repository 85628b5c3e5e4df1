"""Budgets held in PostgreSQL, so several gateway instances share one daily budget.

One instance keeps its budgets in memory (budget.py): check and reserve happen with no
``await`` between them, which is atomic on one event loop. Several instances need the same
step atomic across processes, so with the PostgreSQL ledger it runs in the database, in one
transaction per call:

1. take a transaction-level advisory lock per budget key (scope, name, period, start), in
   sorted order so two instances never wait on each other in a circle;
2. read what settled calls of every instance cost in the period (a running sum per key,
   ``budget_spend``, started from the ``calls`` table the first time a key is seen) and
   what live reservations hold (the ``reservations`` table);
3. let the budget manager decide (fit, cap, or refuse) exactly as it does in memory;
4. insert the reservation, one row per budget key, and commit, which releases the locks.

Settling deletes the call's reservation and adds its cost to the running sums in one
statement, through the ledger's write queue: another instance counts a finished call either
as reserved or as spent, never as neither, and a retried write adds nothing twice. (A call
that reserved nothing -- its instance had no such budget configured -- is not added.) The
overshoot of N instances is so bounded by one call's estimate, as for one.

A reservation has a lease (``expires``, ``[ledger] lease_s``): each instance renews the
leases of its own every ``lease_s / 3`` seconds, so the reservations of an instance that was
killed stop counting within ``lease_s`` and are deleted by whichever instance next sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from superllmd.errors import DaemonError
from superllmd.ledger import queries
from superllmd.ledger.instances import DEFAULT_LEASE_S

if TYPE_CHECKING:
    from superllmd.ledger.pg import PgLedger

__all__ = ["DEFAULT_LEASE_S", "Held", "SharedBudgets", "SharedKey", "key_name"]

log = logging.getLogger(__name__)

#: (scope, name, period, period start), as budget.py keys its tallies.
SharedKey = tuple[str, str | None, str, float]


def key_name(key: SharedKey) -> str:
    scope, name, period, start = key
    return f"{scope}|{name or ''}|{period}|{start:.0f}"


_FILTERS = {"provider": "provider", "label": "label", "token": "token"}
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# A call's budgets are those it still holds a reservation on (nothing charged yet) or, if a
# sweep took it for a lost instance's (instances.py), those the sweep charged what it had
# cost then: either way the budget ends up with the call's whole cost, once.
_SETTLE = (
    "WITH gone AS (DELETE FROM reservations WHERE call_id = ? "
    "RETURNING key, 0.0::float8 AS charged), "
    "swept AS (DELETE FROM swept_charges WHERE call_id = ? RETURNING key, charged) "
    "INSERT INTO budget_spend (key, spent, unpriced) "
    "SELECT key, ? - charged, ? FROM (SELECT * FROM gone UNION ALL SELECT * FROM swept) held "
    "ON CONFLICT (key) DO UPDATE SET spent = budget_spend.spent + excluded.spent, "
    "unpriced = greatest(budget_spend.unpriced, excluded.unpriced)"
)


@dataclass
class Tally:
    """A budget's period as the database has it, under the lock."""

    spent: float = 0.0
    reserved: float = 0.0
    unpriced: bool = False


@dataclass
class Held:
    """Inside ``SharedBudgets.hold``: the tallies read, and what to reserve on commit."""

    tallies: dict[SharedKey, Tally]
    reservation: tuple[str, float] | None = field(default=None)

    def reserve(self, call_id: str, amount: float) -> None:
        self.reservation = (call_id, amount)


class SharedBudgets:
    """Estimate-reserve-settle in PostgreSQL for the budget manager."""

    def __init__(
        self,
        ledger: PgLedger,
        *,
        lease_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.lease_s = ledger.lease.lease_s if lease_s is None else lease_s
        self.instance = ledger.instance
        self._clock = clock
        self._renewer: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def hold(self, keys: Sequence[SharedKey]) -> AsyncIterator[Held]:
        """Lock ``keys``, read their tallies, and insert what the body reserves, atomically
        across every instance. DaemonError when the database does not answer (the call is
        then refused before anything is sent).

        The locks are held for three round trips (locks and reads pipelined, the body, the
        reservation pipelined, the commit): every call under one budget passes through
        here one at a time, so this is what bounds a team's calls per second."""
        import psycopg

        self._start_renewing()
        now = self._clock()
        unique = sorted(set(keys), key=key_name)
        try:
            async with self.ledger.transaction() as conn:
                async with conn.pipeline() as pipeline:
                    reads = []
                    for key in unique:
                        await conn.execute(_LOCK, (key_name(key),))
                        reads.append(await self._read(conn, key, now))
                    await pipeline.sync()
                    rows = [(await c.fetchone(), await r.fetchone()) for c, r in reads]
                tallies = {}
                for key, (found, reserved) in zip(unique, rows, strict=True):
                    # A key not seen before: sum its period once.
                    counter = found if found is not None else await self._start_counter(conn, key)
                    tallies[key] = Tally(float(counter[0]), float(reserved[0]), bool(counter[1]))
                held = Held(tallies)
                yield held
                if held.reservation is not None:
                    call_id, amount = held.reservation
                    async with conn.pipeline(), conn.cursor() as cursor:
                        await cursor.executemany(
                            "INSERT INTO reservations (call_id, key, amount, instance, expires) "
                            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            [
                                (call_id, key_name(k), amount, self.instance, now + self.lease_s)
                                for k in unique
                            ],
                        )
        except psycopg.OperationalError as exc:
            raise DaemonError(
                f"the budgets cannot be checked: the ledger database {self.ledger.where} does "
                f"not answer ({str(exc).strip().splitlines()[0]}); nothing was sent, retry "
                "once it is back"
            ) from None

    async def _read(self, conn: Any, key: SharedKey, now: float) -> tuple[Any, Any]:
        """Queue (pipelined) the reads of one key: its running sum, and what live
        reservations hold. Plain reads: they never wait on a settle being committed."""
        counter = await conn.execute(
            "SELECT spent, unpriced FROM budget_spend WHERE key = %s", (key_name(key),)
        )
        reserved = await conn.execute(
            "SELECT coalesce(SUM(amount), 0) FROM reservations WHERE key = %s AND expires > %s",
            (key_name(key), now),
        )
        return counter, reserved

    @staticmethod
    async def _start_counter(conn: Any, key: SharedKey) -> Any:
        """The running sum of a key seen for the first time, from the calls already settled
        in its period (under the key's lock: no other instance starts it at once)."""
        scope, name, _, since = key
        where = "time >= %s AND status != 'in_flight'"
        params: list[Any] = [since]
        if scope in _FILTERS:
            where += f" AND {_FILTERS[scope]} = %s"
            params.append(name)
        elif scope in ("user", "team"):
            clause = queries.USER_CALLS if scope == "user" else queries.TEAM_CALLS
            where += " AND " + clause.replace("?", "%s")
            params.append(name)
        cursor = await conn.execute(
            "INSERT INTO budget_spend (key, spent, unpriced) SELECT %s, coalesce(SUM(cost_usd), "
            f"0), coalesce(MAX(unpriced), 0) FROM calls WHERE {where} ON CONFLICT (key) DO "
            "UPDATE SET spent = budget_spend.spent RETURNING spent, unpriced",
            [key_name(key), *params],
        )
        return await cursor.fetchone()

    async def tallies(self, keys: Sequence[SharedKey]) -> dict[SharedKey, Tally]:
        """The tallies of ``keys`` now, reserving nothing (``superllm budget show``); sees
        every call this instance has settled."""
        await self.ledger.barrier()
        async with self.hold(keys) as held:
            return held.tallies

    def release(self, call_id: str, cost_usd: float | None, unpriced: bool) -> None:
        """Settle: drop the call's reservation and add its cost to each key it held, in one
        statement (so a retried write adds nothing twice), queued after its settled row."""
        self.ledger.write(_SETTLE, (call_id, call_id, cost_usd or 0.0, int(unpriced)))

    # -- leases ---------------------------------------------------------------------------

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            now = self._clock()
            # Renew ours, and sweep what dead instances left (expired well before now).
            self.ledger.write(
                "UPDATE reservations SET expires = ? WHERE instance = ?",
                (now + self.lease_s, self.instance),
            )
            self.ledger.write("DELETE FROM reservations WHERE expires < ?", (now - self.lease_s,))

    def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
