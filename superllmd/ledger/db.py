"""The ledger database: one writer thread, one reader thread, never the event loop.

Why this shape: SQLite allows one writer at a time, and ``llm`` run under ``xargs -P`` fails
with "database is locked" because every process writes. Here only the daemon writes, and only
from one thread that owns the only write connection. The event loop hands it work through a
queue and never waits on disk; the writer commits whatever is queued as one transaction (a
batch of small units, each in its own SAVEPOINT so one bad row cannot sink the others) as
soon as it has it, so a row is durable within a commit's time of being queued.

Writes made on an event loop are handed over once per loop iteration, not one by one: every
hand-over wakes the writer thread, which then takes the GIL from the loop, and at 32
concurrent gateway requests (four writes each) those wake-ups cost the loop more than the
writes. While the writer is committing, there is no one to wake: what the loop writes stays
pending and the writer takes it when its commit is done. ``barrier()`` hands over what is
pending before it waits, so nothing a client is told waits on the next iteration, and a write
from a thread without a loop is queued at once.

``await ledger.barrier()`` waits until everything queued so far is committed. The routes use
it so that the client never sees an answer the ledger could lose to ``kill -9`` (WAL with
``synchronous=NORMAL`` survives a process crash once the commit returned; power loss may drop
the last transactions, never corrupt the file).

Reads go to a separate read-only connection on its own thread (``await ledger.read(fn)``);
WAL lets them run while the writer commits.

Example::

    ledger = Ledger.open(paths.ledger)
    ledger.write("INSERT INTO conversations (id, created, updated) VALUES (?, ?, ?)", ("c1", t, t))
    await ledger.barrier()
    rows = await ledger.read(lambda conn: conn.execute("SELECT id FROM runs").fetchall())
    ledger.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from superllmd.errors import LedgerError, sentence
from superllmd.ledger import migrations, queries
from superllmd.ledger.base import Dialect, Statement

__all__ = ["Ledger", "LedgerError", "Statement", "connect"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_BATCH = 1024  # most units in one commit: bounds a commit's time under a flood
_STOP = object()


def connect(path: Path | str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the ledger's pragmas: WAL, NORMAL sync, a busy timeout.

    ``isolation_level=None``: transactions are explicit (BEGIN/COMMIT), never implied.
    """
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = OFF")  # rows arrive in any order from the hooks
    return conn


class _Unit:
    __slots__ = ("seq", "statements")

    def __init__(self, seq: int, statements: Sequence[Statement]) -> None:
        self.seq = seq
        self.statements = statements


class Ledger:
    """The daemon's handle on ``ledger.sqlite3`` (a ``base.Backend``). Thread-safe to write;
    reads are async."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, log_prompts: bool = True) -> None:
        self.path = path
        self.where = str(path)
        self.log_prompts = log_prompts
        self._queue: queue.SimpleQueue[_Unit | list[_Unit] | object] = queue.SimpleQueue()
        self._seq_lock = threading.Lock()
        self._seq = 0
        # Units written on an event loop, not handed to the writer yet (see the docstring).
        self._pending: list[_Unit] = []
        self._flush_due = False
        self._writer_idle = True  # waiting on the queue: a hand-over must wake it
        self._committed = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-read")
        self._read_conn: sqlite3.Connection | None = None
        self._closed = False
        #: Units committed, and commits made: for the benchmark and tests.
        self.units_committed = 0
        self.commits = 0

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, log_prompts: bool = True) -> Ledger:
        """Create or upgrade the database, mark calls a dead daemon left running as
        interrupted, and start the writer. Raises LedgerError saying what to do."""
        ledger = cls(path, log_prompts=log_prompts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(path)
            try:
                migrations.migrate(conn)
                queries.recover_interrupted(conn)
                queries.prune_cache(conn)
            finally:
                conn.close()
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            raise LedgerError(
                f"cannot open the ledger {path}: {sentence(str(exc))} Move the file aside to start "
                "a new one."
            ) from None
        ledger._start()
        return ledger

    def _start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._writer = threading.Thread(
            target=self._write_loop, args=(ready, failure), name="ledger-write", daemon=True
        )
        self._writer.start()
        ready.wait()
        if failure:
            raise LedgerError(f"cannot open the ledger {self.path}: {failure[0]}")

    def start(self) -> None:
        """Nothing to begin on the loop: the writer thread runs from ``open``."""

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop both threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            with self._seq_lock:
                self._hand_over(force=True)
            self._queue.put(_STOP)
            self._writer.join(timeout)
        self._reader.submit(self._close_reader).result(timeout)
        self._reader.shutdown(wait=True)
        self._wake_all()

    async def aclose(self) -> None:
        """``close`` off the event loop (it joins the writer thread)."""
        await asyncio.to_thread(self.close)

    # -- writing --------------------------------------------------------------------------

    def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Queue one statement; returns its sequence number. Never blocks on disk."""
        return self.write_many(((sql, params),))

    def write_many(self, statements: Iterable[Statement]) -> int:
        """Queue statements that commit together or not at all."""
        unit = _Unit(0, tuple(statements))
        loop = asyncio._get_running_loop()
        with self._seq_lock:
            self._seq += 1
            unit.seq = seq = self._seq
            if loop is None or self._closed:
                self._hand_over(force=True)  # keep the order: what is pending goes first
                self._queue.put(unit)
                return seq
            self._pending.append(unit)
            if self._flush_due:
                return seq
            self._flush_due = True
        loop.call_soon(self._flush)
        return seq

    def _flush(self) -> None:
        with self._seq_lock:
            self._hand_over()

    def _hand_over(self, *, force: bool = False) -> None:
        """Queue the pending units as one item, unless the writer is busy and will take them
        itself when its commit is done (the caller holds ``_seq_lock``)."""
        self._flush_due = False
        if self._pending and (force or self._writer_idle):
            self._writer_idle = False
            self._queue.put(self._pending)
            self._pending = []

    @staticmethod
    def notice(channel: str, payload: str) -> list[Statement]:
        """None: this daemon is the ledger's only user, and drops its own caches."""
        return []

    def subscribe(
        self, channel: str, on_notice: Callable[[str], None], on_reset: Callable[[], None]
    ) -> None:
        """Nothing to hear: no other process writes this ledger."""

    async def barrier(self) -> None:
        """Return once everything queued before this call is committed (or the ledger
        closed): what a client is told after this survives ``kill -9`` of the daemon."""
        with self._seq_lock:
            self._hand_over()
            target = self._seq
        with self._waiters_lock:
            writer = self._writer
            if self._committed >= target or writer is None or not writer.is_alive():
                return
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((target, loop, future))
        await future

    def _write_loop(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            conn = connect(self.path)
        except sqlite3.Error as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        try:
            stopping = False
            while not stopping:
                batch: list[_Unit] = []
                item = self._queue.get()
                while True:
                    if item is _STOP:
                        stopping = True
                    elif isinstance(item, _Unit):
                        batch.append(item)
                    elif isinstance(item, list):
                        batch += item
                    if len(batch) >= _BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    try:
                        self._commit(conn, batch)
                    except Exception:  # the writer must outlive any one bad batch
                        log.exception("ledger: a batch of %d writes failed", len(batch))
                    self._notify(batch[-1].seq)
                with self._seq_lock:
                    # What the loop wrote during the commit: behind what is queued, in order.
                    if self._pending:
                        self._queue.put(self._pending)
                        self._pending = []
                    else:
                        self._writer_idle = True
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list[_Unit]) -> None:
        """Commit ``batch`` as one transaction. Writes rarely fail, so they are tried all at
        once; if one does, the batch is redone unit by unit, each in a SAVEPOINT, so only the
        failing unit is dropped."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for unit in batch:
                    for sql, params in unit.statements:
                        conn.execute(sql, params)
            except sqlite3.Error:
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                self._one_by_one(conn, batch)
            conn.execute("COMMIT")
            self.units_committed += len(batch)
            self.commits += 1
        except sqlite3.Error as exc:
            log.error("ledger: a commit of %d writes failed: %s", len(batch), exc)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    @staticmethod
    def _one_by_one(conn: sqlite3.Connection, batch: list[_Unit]) -> None:
        for unit in batch:
            conn.execute("SAVEPOINT unit")
            try:
                for sql, params in unit.statements:
                    conn.execute(sql, params)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK TO unit")
                log.error("ledger: dropped a write (%s): %s", exc, unit.statements[0][0][:80])
            conn.execute("RELEASE unit")

    def _notify(self, seq: int) -> None:
        with self._waiters_lock:
            self._committed = seq
            due = [w for w in self._waiters if w[0] <= seq]
            if not due:
                return
            self._waiters = [w for w in self._waiters if w[0] > seq]
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, loop, future in due:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(_resolve, futures)

    def _wake_all(self) -> None:
        with self._waiters_lock:
            waiters, self._waiters = self._waiters, []
        for _, loop, future in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, [future])

    # -- reading --------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the read-only connection, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._with_reader, fn)

    def _with_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._read_conn is None:
            self._read_conn = connect(self.path, readonly=True)
        return fn(self._read_conn)

    def _close_reader(self) -> None:
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

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
        """What settled calls cost since ``since`` (unix time), and whether any of them was
        unpriced; sees every call settled before this was awaited."""
        await self.barrier()
        return await self.read(
            lambda conn: queries.spent_usd(
                conn, since, provider=provider, label=label, token=token, user=user, team=team
            )
        )


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
