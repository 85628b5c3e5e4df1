"""Notices between the instances sharing a PostgreSQL ledger (``LISTEN``/``NOTIFY``).

What an instance caches from the ledger (the gateway's token lookups) is dropped at once
on every instance when it changes, without a read per request: the change is written with
a ``pg_notify`` in its own transaction (``PgLedger.notice``), so the notice goes out when,
and only if, the change commits; each instance keeps one connection of its own, outside the
pool, listening, and hands each notice's payload to its subscribers.

A listener that loses its connection (the database restarting, a network blip) reconnects
by itself with a backoff. Notices sent while it was away are lost, so once it listens again
it tells every subscriber to drop everything (``on_reset``). An idle connection is checked
every ``_IDLE_CHECK_S`` seconds, so a connection that died silently is noticed too.

Example::

    notices = Notices(url)
    notices.subscribe("superllm_tokens", on_notice=print, on_reset=cache.clear)
    notices.start()           # on the running loop
    ...
    await notices.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from superllmd.ledger.pg_conn import first_line

__all__ = ["Notices"]

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 5
_IDLE_CHECK_S = 15.0
_RETRY_MIN_S = 0.1
_RETRY_MAX_S = 2.0


@dataclass(frozen=True)
class _Subscriber:
    channel: str
    on_notice: Callable[[str], None]
    on_reset: Callable[[], None]


class Notices:
    """One instance's listening connection, and who hears what arrives on it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._subscribers: list[_Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        #: Times the listener has started listening (1 once connected): for tests and logs.
        self.connects = 0

    def subscribe(
        self, channel: str, on_notice: Callable[[str], None], on_reset: Callable[[], None]
    ) -> None:
        """Call ``on_notice(payload)`` for each notice on ``channel``, and ``on_reset()``
        whenever notices may have been missed. Both run on the loop and must not block.
        Subscribe before ``start``: channels are listened to as the connection opens."""
        self._subscribers.append(_Subscriber(channel, on_notice, on_reset))

    def start(self) -> None:
        """Listen on the running loop from now on (idempotent). Nothing to do without
        subscribers."""
        if self._subscribers and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen_forever(self) -> None:
        import psycopg

        delay = _RETRY_MIN_S
        while True:
            connects = self.connects
            try:
                await self._listen()
            except psycopg.OperationalError as exc:
                log.warning(
                    "ledger: the notices connection failed (%s); reconnecting", first_line(exc)
                )
            except psycopg.Error as exc:
                log.error("ledger: the notices connection failed: %s", first_line(exc))
            if self.connects != connects:  # it was listening: a fresh outage
                delay = _RETRY_MIN_S
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        conn = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        )
        async with conn:
            for channel in sorted({s.channel for s in self._subscribers}):
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.connects += 1
            if self.connects > 1:
                log.warning("ledger: listening for notices again")
            # Whatever changed while no one listened: drop it all.
            for subscriber in self._subscribers:
                subscriber.on_reset()
            while True:
                async for notice in conn.notifies(timeout=_IDLE_CHECK_S):
                    self._deliver(notice.channel, notice.payload)
                await conn.execute("SELECT 1")  # a connection that died silently fails here

    def _deliver(self, channel: str, payload: str) -> None:
        for subscriber in self._subscribers:
            if subscriber.channel == channel:
                try:
                    subscriber.on_notice(payload)
                except Exception:  # one subscriber's bug must not stop the others' notices
                    log.exception("ledger: a notice on %s failed", channel)
