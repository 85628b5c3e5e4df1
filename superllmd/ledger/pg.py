"""The PostgreSQL ledger: one database for several gateway instances (``[ledger] url``).

The same ``base.Backend`` as the SQLite ledger, over psycopg 3 and one
``psycopg_pool.AsyncConnectionPool`` (the optional extra ``postgres``):

- **writes** are queued without blocking, and one writer task on the event loop commits
  whatever is queued as one transaction, sent in pipeline mode (one round trip for a
  batch). A statement that fails on its data is dropped alone (the batch is redone unit by
  unit, each in a savepoint), as SQLite's writer does. A connection that fails -- the
  database restarting, a network blip -- is not a reason to drop anything: the batch stays
  queued and is retried with a backoff until the database answers again, so ``barrier()``
  (what a client waits on before it hears an answer) returns only once the rows are
  committed. The rows that matter are written to be retried: calls and runs are upserts
  keyed by their id, a settled budget reservation adds its cost only as it deletes the
  reservation, so a batch retried after a commit whose answer was lost counts no money
  twice (a rate window's counter may then count a request twice: the safe side).
- **reads** run the same synchronous query functions as SQLite's reader, on a worker
  thread; each statement they execute hops to the loop and runs on a pooled connection
  (pg_conn.py).
- the **schema** comes from the one list in migrations.py, applied at open (under an
  advisory lock, so instances starting together migrate once).
- the **instance** holds a lease on the ledger (instances.py), renewed while it runs; every
  call and run row it writes names it, so that what a killed instance left in flight is
  marked interrupted by another once that lease has run out.
- **notices** (notices.py): a change another instance may have cached is written with a
  ``NOTIFY`` in the same transaction (``notice``), heard by every instance's listener.

The URL's password never appears in a message: prefer ``PGPASSWORD`` or ``~/.pgpass``,
which libpq reads by itself.

Example::

    ledger = PgLedger.open("postgresql://superllm@db.internal/superllm")
    ledger.write("UPDATE gateway_tokens SET last_used = ? WHERE name = ?", (now, "ci"))
    await ledger.barrier()
    await ledger.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from superllmd.errors import sentence
from superllmd.ledger import migrations, queries
from superllmd.ledger.base import Conn, Dialect, Statement
from superllmd.ledger.db import LedgerError
from superllmd.ledger.instances import DEFAULT_LEASE_S, Lease, instance_name
from superllmd.ledger.notices import Notices
from superllmd.ledger.pg_conn import PgReader, conn_adapter, first_line
from superllmd.ledger.pg_sql import translate

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PgLedger", "conn_adapter", "redact"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_BATCH = 512
_CONNECT_TIMEOUT_S = 5.0
_RETRY_MAX_S = 2.0


def redact(url: str) -> str:
    """``url`` without its password, fit for a message or a log line."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
    except Exception:
        return "the PostgreSQL URL in [ledger] url (it does not parse)"
    host, port = params.get("host", "localhost"), params.get("port")
    user, db = params.get("user"), params.get("dbname", "")
    where = f"{user + '@' if user else ''}{host}{':' + port if port else ''}"
    return f"postgresql://{where}/{db}"


def _local_zone() -> str:
    """The daemon's time zone as PostgreSQL names it, so usage ``--by day`` splits days
    where the daemon's budgets do."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if (tz and "/" in tz) or tz.upper() == "UTC":
        return tz
    real = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in real:
        return real.split("zoneinfo/", 1)[1]
    return "UTC"


class _Unit:
    __slots__ = ("seq", "statements")

    def __init__(self, seq: int, statements: Sequence[Statement]) -> None:
        self.seq = seq
        self.statements = statements


class PgLedger:
    """The daemon's handle on a PostgreSQL ledger (a ``base.Backend``)."""

    dialect: Dialect = "postgres"

    def __init__(self, url: str, *, pool_size: int = 8, lease_s: float = DEFAULT_LEASE_S) -> None:
        self.url = url
        self.where = redact(url)
        #: This process among the instances sharing the database, and its lease.
        self.instance = instance_name()
        self.lease = Lease(self, self.instance, lease_s)
        self.notices = Notices(url)
        self.units_committed = 0
        self.commits = 0
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._pending: list[_Unit] = []
        self._seq = 0
        self._committed = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._reader = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ledger-pg-read")
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str, *, pool_size: int = 8, lease_s: float = DEFAULT_LEASE_S) -> PgLedger:
        """Connect, create or upgrade the schema, take the instance's lease; the pool opens
        with ``start()`` or the first use on the event loop. Raises LedgerError saying what
        to do."""
        ledger = cls(url, pool_size=pool_size, lease_s=lease_s)
        try:
            import psycopg
            import psycopg_pool  # noqa: F401  (the extra brings both)
        except ImportError:
            raise LedgerError(
                "[ledger] url names a PostgreSQL database, and psycopg is not installed: "
                "pip install 'superllm-cli[postgres]'"
            ) from None
        try:
            with psycopg.connect(url, connect_timeout=int(_CONNECT_TIMEOUT_S)) as conn:
                migrations.migrate_postgres(conn)
                queries.prune_cache(conn_adapter(conn))
                ledger.lease.take(conn)
                conn.commit()
        except (psycopg.Error, RuntimeError) as exc:
            raise LedgerError(
                f"cannot open the ledger {ledger.where}: {sentence(first_line(exc))} Check "
                "that the database is up and [ledger] url is right."
            ) from None
        return ledger

    def start(self) -> None:
        """Bind to the running loop (the daemon's, as it starts serving): the pool, the
        writer task and the lease's beat live on it. Idempotent."""
        self._start()

    def _start(self) -> None:
        if self._loop is not None:
            return
        from psycopg_pool import AsyncConnectionPool

        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._pool = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            timeout=_CONNECT_TIMEOUT_S,
            # The session's instance is what its call and run rows name (migration 11).
            kwargs={"options": f"-c TimeZone={_local_zone()} -c superllm.instance={self.instance}"},
            name="superllm-ledger",
        )
        self._writer = self._loop.create_task(self._write_loop())
        self.lease.start()
        self.notices.start()

    async def _ready(self) -> AsyncConnectionPool[Any]:
        self._start()
        assert self._pool is not None
        if self._pool.closed:
            await self._pool.open(wait=False)
        return self._pool

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued and close the pool. From another thread than the loop's it
        waits for that; once the loop has ended there is nothing left to do."""
        if self._closed:
            return
        loop = self._loop
        if loop is not None and loop.is_running() and threading.get_ident() != self._loop_thread:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.aclose(timeout), loop).result(timeout + 1)
            return
        self._closed = True
        self._reader.shutdown(wait=False)

    async def aclose(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        if self._writer is not None and self._wake is not None:
            self._wake.set()
            try:
                await asyncio.wait_for(self._flushed(), timeout)
            except TimeoutError:
                log.error("ledger: %d writes not committed at close", len(self._pending))
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self.notices.stop()
        if self._pool is not None:
            await self.lease.stop()
            await self._pool.close()
        self._reader.shutdown(wait=False)
        self._resolve(self._seq, everything=True)

    async def _flushed(self) -> None:
        while self._pending:
            await asyncio.sleep(0.01)

    # -- writing --------------------------------------------------------------------------

    def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Queue one statement; its sequence number. Never blocks."""
        return self.write_many(((sql, params),))

    def write_many(self, statements: Iterable[Statement]) -> int:
        """Queue statements that commit together or not at all."""
        if self._loop is None:
            self._start()
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._pending.append(_Unit(seq, tuple(statements)))
        assert self._wake is not None and self._loop is not None
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)
        return seq

    @staticmethod
    def notice(channel: str, payload: str) -> list[Statement]:
        """The statement that tells every instance's subscribers to ``channel`` (itself
        included) ``payload``, as the unit it is written with commits."""
        return [("SELECT pg_notify(?, ?)", (channel, payload))]

    def subscribe(
        self, channel: str, on_notice: Callable[[str], None], on_reset: Callable[[], None]
    ) -> None:
        """Hear the notices on ``channel`` (``Notices.subscribe``); before ``start``."""
        self.notices.subscribe(channel, on_notice, on_reset)

    async def barrier(self) -> None:
        """Return once everything queued before this call is committed (or the ledger
        closed). While the database is unreachable this waits for it to come back."""
        target = self._seq
        if self._committed >= target or self._closed:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    async def _write_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                with self._lock:
                    batch = self._pending[:_BATCH]
                await self._commit_until_done(batch)
                with self._lock:
                    del self._pending[: len(batch)]
                self._resolve(batch[-1].seq)

    async def _commit_until_done(self, batch: list[_Unit]) -> None:
        import psycopg

        delay = 0.05
        while True:
            try:
                await self._commit(batch)
                return
            except psycopg.OperationalError as exc:  # the database, not the data
                if self._closed and delay >= _RETRY_MAX_S:
                    log.error("ledger: dropping %d writes at close: %s", len(batch), exc)
                    return
                log.warning("ledger: database unreachable (%s); retrying", first_line(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    async def _commit(self, batch: list[_Unit]) -> None:
        import psycopg

        pool = await self._ready()
        async with pool.connection() as conn:
            try:
                async with conn.transaction(), conn.pipeline(), conn.cursor() as cursor:
                    for unit in batch:
                        for sql, params in unit.statements:
                            await cursor.execute(translate(sql), _params(params))
            except psycopg.OperationalError:
                raise
            except psycopg.Error:
                await self._one_by_one(conn, batch)
        self.units_committed += len(batch)
        self.commits += 1

    @staticmethod
    async def _one_by_one(conn: AsyncConnection[Any], batch: list[_Unit]) -> None:
        import psycopg

        async with conn.transaction():
            for unit in batch:
                try:
                    async with conn.transaction():  # a savepoint
                        for sql, params in unit.statements:
                            await conn.execute(translate(sql), _params(params))
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as exc:
                    log.error(
                        "ledger: dropped a write (%s): %s",
                        first_line(exc),
                        unit.statements[0][0][:80],
                    )

    def _resolve(self, seq: int, *, everything: bool = False) -> None:
        self._committed = max(self._committed, seq)
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for target, future in self._waiters:
            if everything or target <= seq:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((target, future))
        self._waiters = keep

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection in a transaction, committed when the block ends (the shared
        budgets' check-and-reserve, ledger/shared.py). Raises psycopg's OperationalError
        when the database does not answer."""
        import psycopg

        pool = await self._ready()
        try:
            async with pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.OperationalError:
            await pool.check()  # a restarted database broke every idle connection: renew them
            raise

    # -- reading --------------------------------------------------------------------------

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` on a worker thread; its statements run on one pooled connection
        (one transaction). When a connection fails, the pool's idle ones are checked (a
        restarted database broke them all) and the read is tried once more; a database that
        does not answer is a LedgerError."""
        import psycopg

        pool = await self._ready()
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    return await loop.run_in_executor(self._reader, fn, PgReader(conn, loop))
            except psycopg.OperationalError as exc:
                if attempt == 1:
                    await pool.check()
                else:
                    raise LedgerError(
                        f"the ledger database {self.where} does not answer: "
                        f"{sentence(first_line(exc))} Retry once it is back."
                    ) from None
        raise AssertionError("unreachable")

    async def spent_usd(
        self,
        since: float,
        *,
        provider: str | None = None,
        label: str | None = None,
        token: str | None = None,
        user: str | None = None,
        team: str | None = None,
    ) -> tuple[float, bool]:
        """What settled calls cost since ``since`` (unix time), every instance's calls."""
        await self.barrier()
        return await self.read(
            lambda conn: queries.spent_usd(
                conn, since, provider=provider, label=label, token=token, user=user, team=team
            )
        )


def _params(params: Sequence[Any] | dict[str, Any]) -> Sequence[Any]:
    if isinstance(params, dict):
        raise TypeError("the PostgreSQL ledger takes ? placeholders, not named parameters")
    return list(params)
