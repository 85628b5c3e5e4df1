"""What the PostgreSQL ledger's query functions execute on: psycopg connections taking the
ledger's SQL (``?`` placeholders, see pg_sql.py) as a ``sqlite3`` connection does, with
results fetched whole.

- :class:`PgReader`, a pooled async connection driven from a reader thread (``PgLedger.read``);
- :func:`conn_adapter`, a synchronous connection (the work done at open, tests and scripts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from superllmd.ledger.base import Conn, Cursor, Dialect
from superllmd.ledger.pg_sql import translate

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PgReader", "conn_adapter", "first_line"]


class _Rows:
    """A cursor's result fetched whole, as the synchronous query functions read it."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class PgReader:
    """The ``Conn`` a query function gets on PostgreSQL: each ``execute`` runs on the loop,
    on the pooled connection this read holds, while the function waits on its thread."""

    dialect: Dialect = "postgres"

    def __init__(self, conn: AsyncConnection[Any], loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        future = asyncio.run_coroutine_threadsafe(self._run(sql, parameters), self._loop)
        return future.result()

    async def _run(self, sql: str, parameters: Any) -> _Rows:
        cursor = await self._conn.execute(translate(sql), list(parameters))
        rows = await cursor.fetchall() if cursor.description is not None else []
        return _Rows(rows, cursor.rowcount)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


class _SyncConn:
    """A synchronous psycopg connection as a ``Conn`` (for the work done at open)."""

    dialect: Dialect = "postgres"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        cursor = self._conn.execute(translate(sql), list(parameters))
        rows = cursor.fetchall() if cursor.description is not None else []
        return _Rows(rows, cursor.rowcount)


def conn_adapter(conn: Any) -> Conn:
    """A synchronous psycopg connection, taking the ledger's SQL like a ``sqlite3`` one."""
    return _SyncConn(conn)
