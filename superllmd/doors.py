"""Limits on what comes in at either door: the Unix socket and the gateway's TCP door.

uvicorn times out only an idle keep-alive connection; a client that sends half a request
line or headers, or a body a byte at a time, would hold a connection (and its buffers) for
as long as it likes, and nothing bounds how many connections are open. Each door gets:

- ``daemon.header_timeout`` (seconds): from a connection's first byte, or a request's
  first byte on a kept-alive one, to the end of its headers; past it the connection is
  closed without an answer (a client that sends nothing at all is cut off the same way);
- ``daemon.body_timeout`` (seconds): from the end of the headers to the end of the body;
  past it the request is answered 408, naming the setting, and the connection closed;
- ``daemon.max_connections``: connections open at once on that door; one more is answered
  503 at once, naming the setting, and closed.

Both wrap uvicorn without patching it: a subclass of its HTTP protocol (it only reads
``cycle``, which h11's and httptools' protocols both keep) and an ASGI wrapper around the app.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from superllmd.errors import DaemonError, UsageError

__all__ = [
    "RequestTooSlow",
    "TooManyConnections",
    "body_deadline",
    "guard",
    "guarded_protocol",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestTooSlow(UsageError):
    """The request's body did not arrive within ``daemon.body_timeout``."""

    http_status = 408


class TooManyConnections(DaemonError):
    """The door already has ``daemon.max_connections`` connections open."""

    http_status = 503
    retryable = True


def _busy_response(door: str, limit: int) -> bytes:
    error = TooManyConnections(
        f"the daemon has {limit} connections open on its {door}, its daemon.max_connections; "
        "retry in a moment, or raise it with `superllm config set daemon.max_connections N`"
    )
    body = json.dumps({"error": error.to_dict()}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(
    base: type[asyncio.Protocol], *, door: str, header_timeout: float, max_connections: int
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` with a header timeout and a connection limit, counted
    per class: call once per door."""
    open_now: set[asyncio.Protocol] = set()

    class Guarded(base):  # type: ignore[valid-type,misc]
        _header_timer: asyncio.TimerHandle | None = None
        _refused = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if len(open_now) >= max_connections:
                self._refused = True
                self.transport = transport
                log.warning("refused a connection: %d open on the %s", max_connections, door)
                transport.write(_busy_response(door, max_connections))  # type: ignore[attr-defined]
                transport.close()
                return
            open_now.add(self)
            super().connection_made(transport)
            self._arm()  # a client must start and finish its request's headers in time

        def connection_lost(self, exc: Exception | None) -> None:
            open_now.discard(self)
            self._disarm()
            if self._refused:
                return
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self._between_requests():
                self._arm()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            if not self._between_requests():
                self._disarm()  # headers complete: the request is the app's (body_deadline)

        def _between_requests(self) -> bool:
            cycle = getattr(self, "cycle", None)
            return cycle is None or bool(getattr(cycle, "response_complete", False))

        def _arm(self) -> None:
            self._disarm()
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            transport = getattr(self, "transport", None)
            if self._between_requests() and transport is not None and not transport.is_closing():
                log.info(
                    "closed a connection on the %s: no request within %gs", door, header_timeout
                )
                transport.close()

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def body_deadline(app: ASGIApp, seconds: float) -> ASGIApp:
    """``app`` with each HTTP request's body due within ``seconds`` of its headers: a read
    past that raises RequestTooSlow (the routes answer it 408), and the answer closes the
    connection, so a client still trickling its body cannot keep it."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        body_done = False
        late = False

        async def timed_receive() -> Message:
            nonlocal body_done, late
            if body_done:  # after the body: waiting for a disconnect, never timed
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                late = True
                raise RequestTooSlow(
                    f"the request's body did not arrive within {seconds:g} s "
                    "(daemon.body_timeout); send it at once, or raise it with "
                    "`superllm config set daemon.body_timeout SECONDS`"
                ) from None
            if message.get("type") != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def closing_send(message: Message) -> None:
            if late and message.get("type") == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await app(scope, timed_receive, closing_send)

    return guarded


def guard(config: Any, doors: Any, door: str) -> None:
    """Put one door's limits on a loaded ``uvicorn.Config``: ``doors`` is a
    ``config.DaemonSettings`` (its defaults if None)."""
    if doors is None:
        from superllmd.config import DaemonSettings

        doors = DaemonSettings()
    config.http_protocol_class = guarded_protocol(
        config.http_protocol_class,
        door=door,
        header_timeout=doors.header_timeout,
        max_connections=doors.max_connections,
    )
    config.loaded_app = body_deadline(config.loaded_app, doors.body_timeout)
