"""A scripted HTTP/1.1 server for provider fakes, on 127.0.0.1, on its own thread.

Test tooling for provider authors (see ``superllmd.testing``); the daemon never imports it.
Raw asyncio rather than a framework, so a fake can do what real vendors do on bad days:
stream byte by byte, stop without an end marker, reset the connection mid-answer, or answer
with a body that is not JSON. Every request is recorded for assertions.

A handler is ``async def handler(request: FakeRequest, w: Writer) -> None``::

    async def handler(request: FakeRequest, w: Writer) -> None:
        if request.path == "/v1/chat":
            w.respond(200, {"text": "hello"})
        else:
            w.respond(404, {"error": {"message": "no such route"}})

    with FakeServer(handler) as server:
        ... call server.url ...
        assert server.requests[-1].json() == {...}

A streamed answer is ``w.start_stream()``, any number of ``w.chunk(...)``, then
``w.end_stream()`` (a clean end), ``w.reset()`` (a TCP reset) or nothing at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeRequest", "FakeServer", "Handler", "Writer"]


@dataclass
class FakeRequest:
    """One request as the server received it, recorded in ``FakeServer.requests``."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


@dataclass
class Writer:
    """How a handler answers: whole (``respond``), streamed, or badly (``reset``, ``close``)."""

    transport: asyncio.Transport
    closed: bool = False
    _streaming: bool = field(default=False)

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def respond(
        self,
        status: int,
        body: bytes | str | Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        head = {"content-type": content_type, "content-length": str(len(data)), **(headers or {})}
        self.transport.write(self._head(status, head) + data)

    def start_stream(
        self,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "text/event-stream",
    ) -> None:
        head = {"content-type": content_type, "transfer-encoding": "chunked", **(headers or {})}
        self.transport.write(self._head(status, head))
        self._streaming = True

    def chunk(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if raw:
            self.transport.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")

    def end_stream(self) -> None:
        """A clean end of the HTTP body (whatever the dialect's end marker said or not)."""
        self.transport.write(b"0\r\n\r\n")
        self._streaming = False

    def reset(self) -> None:
        """Drop the connection with a TCP reset, mid-whatever."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        self.closed = True

    def close(self) -> None:
        self.transport.close()
        self.closed = True

    async def drain(self) -> None:
        await asyncio.sleep(0)


Handler = Callable[[FakeRequest, Writer], Awaitable[None]]


class _Protocol(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        method, target, _ = head[0].split(" ", 2)
        request = FakeRequest(method, target, headers, body)
        self.server.requests.append(request)
        self.busy = True
        assert self.transport is not None
        task = asyncio.get_running_loop().create_task(self._handle(request))
        self.server._tasks.add(task)
        task.add_done_callback(self.server._tasks.discard)

    async def _handle(self, request: FakeRequest) -> None:
        assert self.transport is not None
        writer = Writer(self.transport)
        try:
            await self.server.handler(request, writer)
        except Exception as exc:  # a bug in a fake should be loud, not a hang
            writer.respond(500, {"error": {"message": f"fake server bug: {exc!r}"}})
            raise
        finally:
            self.busy = False
        if not writer.closed and not self.transport.is_closing():
            self._next()


class FakeServer:
    """A server on 127.0.0.1 (a free port), serving ``handler`` from its own thread and loop,
    so synchronous test code and the code under test (any event loop) can both use it."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[FakeRequest] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)
        return self

    async def _start(self) -> None:
        self._server = await self._loop.create_server(lambda: _Protocol(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
