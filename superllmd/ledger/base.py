"""What every ledger backend offers the daemon: queued writes, a barrier, reads off the loop.

Two backends implement :class:`Backend`: SQLite (``db.Ledger``, the default: one file, one
writer thread) and PostgreSQL (``pg.PgLedger``, ``[ledger] url``: one database shared by
several gateway instances). The rest of the daemon sees only this interface, and writes its
SQL once, in the subset both engines speak:

- ``?`` placeholders; ``INSERT ... ON CONFLICT`` upserts (``INSERT OR IGNORE`` and ``INSERT
  OR REPLACE`` are accepted too, and rewritten for PostgreSQL by ``pg_sql.translate``);
- ``CASE WHEN ... THEN 1 ELSE 0 END`` rather than summing a comparison;
- where the engines really differ (dates from unix time, full-text search), the query asks
  :func:`dialect` and branches.

Query functions take a :class:`Conn`: a ``sqlite3.Connection`` is one, and so is the
PostgreSQL backend's reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

__all__ = ["Backend", "Conn", "Cursor", "Dialect", "Statement", "dialect"]

T = TypeVar("T")

#: One SQL statement and its parameters.
Statement = tuple[str, Sequence[Any] | dict[str, Any]]

Dialect = Literal["sqlite", "postgres"]


class Cursor(Protocol):
    """What the queries use of a cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the queries use of a connection: ``execute`` with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...


def dialect(conn: Conn) -> Dialect:
    """Which engine ``conn`` talks to (a plain ``sqlite3.Connection`` is SQLite)."""
    found: Dialect = getattr(conn, "dialect", "sqlite")
    return found


class Backend(Protocol):
    """A ledger the daemon writes through. Writes never block the event loop."""

    #: Where the ledger lives, as the user may be told (a file, or the URL without password).
    where: str
    dialect: Dialect
    #: Units committed, and commits made: for the benchmark and tests.
    units_committed: int
    commits: int

    def start(self) -> None:
        """Begin the backend's work on the running loop as the daemon starts serving (the
        PostgreSQL instance's lease); idempotent."""
        ...

    def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Queue one statement; its sequence number."""
        ...

    def write_many(self, statements: Iterable[Statement]) -> int:
        """Queue statements that commit together or not at all."""
        ...

    async def barrier(self) -> None:
        """Return once everything queued before this call is committed."""
        ...

    def notice(self, channel: str, payload: str) -> list[Statement]:
        """Statements to write with a change that other processes sharing the ledger may
        have cached: their ``subscribe``rs to ``channel`` hear ``payload`` once it commits.
        Empty on SQLite (one daemon, which drops its own caches)."""
        ...

    def subscribe(
        self, channel: str, on_notice: Callable[[str], None], on_reset: Callable[[], None]
    ) -> None:
        """Call ``on_notice(payload)`` on the loop for each notice on ``channel``, and
        ``on_reset()`` when some may have been missed; call before ``start``."""
        ...

    async def read(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` off the event loop on a connection that reads the ledger."""
        ...

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
        """What settled calls cost since ``since``, and whether one of them was unpriced."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued and let go of the database. Idempotent."""
        ...

    async def aclose(self) -> None:
        """``close`` from the event loop."""
        ...


def sqlite_path(backend: Backend) -> Path | None:
    """The file of a SQLite ledger, None for another backend."""
    path = getattr(backend, "path", None)
    return path if isinstance(path, Path) else None
