"""Gateway tokens' rpm and tpm held in PostgreSQL, so they hold across instances.

One instance counts a token's requests and tokens in sliding one-minute windows in memory
(gateway/limits.py). With the PostgreSQL ledger the windows are rows of ``rate_events``
(per second, ``rate_buckets``, migration 10): a request is counted, under a transaction-level
advisory lock on the token, only if the minute's requests and tokens of every instance
leave room for it; a settled call's tokens are added through the ledger's write queue.
Buckets older than two minutes are swept now and then. A bucket is one second wide, so a
window's edge is exact to a second.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from superllmd.errors import DaemonError

if TYPE_CHECKING:
    from superllmd.ledger.pg import PgLedger

__all__ = ["SharedLimits", "Window"]

WINDOW_S = 60.0
_SWEEP_EVERY = 200  # admissions between sweeps of old rows
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_ADD = (
    "INSERT INTO rate_buckets (token, second, requests, tokens) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (token, second) DO UPDATE SET requests = rate_buckets.requests + "
    "excluded.requests, tokens = rate_buckets.tokens + excluded.tokens"
)


@dataclass(frozen=True, slots=True)
class Window:
    """A token's last minute across every instance, as read before this request."""

    allowed: bool
    requests: int
    oldest_request: float | None
    tokens: int
    oldest_tokens: float | None


class SharedLimits:
    def __init__(self, ledger: PgLedger) -> None:
        self.ledger = ledger
        self._admitted = 0

    async def admit(self, name: str, now: float, rpm: int | None, tpm: int | None) -> Window:
        """Count one request of token ``name`` if its limits leave room; the window as it
        was. DaemonError when the database does not answer."""
        import psycopg

        try:
            async with self.ledger.transaction() as conn:
                async with conn.pipeline() as pipeline:
                    await conn.execute(_LOCK, (f"rate|{name}",))
                    cursor = await conn.execute(
                        "SELECT coalesce(sum(requests), 0), min(second) FILTER (WHERE requests "
                        "> 0), coalesce(sum(tokens), 0), min(second) FILTER (WHERE tokens > 0) "
                        "FROM rate_buckets WHERE token = %s AND second > %s",
                        (name, int(now - WINDOW_S)),
                    )
                    await pipeline.sync()
                    row = await cursor.fetchone()
                assert row is not None  # an aggregate always has its one row
                requests, oldest_request, tokens, oldest_tokens = row
                allowed = (rpm is None or requests < rpm) and (tpm is None or tokens < tpm)
                if allowed:
                    await conn.execute(_ADD.replace("?", "%s"), (name, int(now), 1, 0))
        except psycopg.OperationalError as exc:
            raise DaemonError(
                f"the rate limits cannot be checked: the ledger database {self.ledger.where} "
                f"does not answer ({str(exc).strip().splitlines()[0]}); retry once it is back"
            ) from None
        self._admitted += 1
        if self._admitted % _SWEEP_EVERY == 0:
            self.sweep(now)
        return Window(allowed, int(requests), oldest_request, int(tokens), oldest_tokens)

    def add_tokens(self, name: str, now: float, used: int) -> None:
        """A settled call's tokens count against the token's tpm on every instance."""
        if used > 0:
            self.ledger.write(_ADD, (name, int(now), 0, used))

    def sweep(self, now: float) -> None:
        with contextlib.suppress(RuntimeError):  # no loop: nothing to sweep with
            self.ledger.write(
                "DELETE FROM rate_buckets WHERE second < ?", (int(now - 2 * WINDOW_S),)
            )
