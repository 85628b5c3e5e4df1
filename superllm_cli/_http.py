"""httpx transports: the async one shared by the TUI and ``AsyncClient``, and the blocking one
``Client`` uses for a gateway over TCP (the CLI's Unix socket keeps the stdlib ``_wire``).

Both speak to the daemon's Unix socket or to a base URL, and translate httpx's exceptions
into the ``OSError`` kinds the one policy (``_daemon.Policy``) reasons about: nothing
listening (``ConnectionRefusedError``), a connection dropped before an answer (``WireError``).
Closing a stream (or cancelling the task reading it) drops its connection, which is how a
run is cancelled: the daemon stops a run's calls when its client goes away.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from superllm_cli._wire import WireError

__all__ = ["AsyncTransport", "SyncTransport", "translate"]


def translate(exc: httpx.HTTPError) -> OSError:
    """httpx's exception as the OSError kind the policy understands."""
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, FileNotFoundError | ConnectionRefusedError):
            return cause
        return ConnectionRefusedError(str(exc) or "connection refused")
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError(str(exc) or "timed out")
    return WireError(str(exc) or exc.__class__.__name__)


def _limits(socket_path: str | None, base_url: str | None) -> dict[str, Any]:
    if socket_path is not None:
        return {"transport": None, "uds": socket_path, "base_url": "http://superllmd"}
    return {"transport": None, "uds": None, "base_url": base_url}


def _build(
    client: httpx.Client | httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float | None,
) -> httpx.Request:
    """One request for either client (building one sends nothing, so it is the same code)."""
    try:
        return client.build_request(method, path, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:  # an invalid URL, say
        raise translate(exc) from None


class SyncTransport:
    """Blocking requests over httpx; responses expose ``status``, ``read``, ``iter_lines``."""

    def __init__(self, *, socket_path: str | None = None, base_url: str | None = None) -> None:
        where = _limits(socket_path, base_url)
        transport = httpx.HTTPTransport(uds=where["uds"]) if where["uds"] else None
        self._client = httpx.Client(base_url=where["base_url"], transport=transport, timeout=None)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> _SyncResponse:
        request = _build(self._client, method, path, body, headers, timeout)
        try:
            return _SyncResponse(self._client.send(request, stream=True))
        except httpx.HTTPError as exc:
            raise translate(exc) from None

    def close(self) -> None:
        self._client.close()


class _SyncResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: dict[str, str] = dict(response.headers)

    def iter_lines(self) -> Iterator[bytes]:
        try:
            for line in self._response.iter_lines():
                if line.strip():
                    yield line.encode()
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            self.close()

    def read(self) -> bytes:
        try:
            return self._response.read()
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()


class AsyncTransport:
    """Async requests over httpx, to the daemon's socket or a gateway's base URL."""

    def __init__(self, *, socket_path: str | None = None, base_url: str | None = None) -> None:
        where = _limits(socket_path, base_url)
        transport = httpx.AsyncHTTPTransport(uds=where["uds"]) if where["uds"] else None
        self._client = httpx.AsyncClient(
            base_url=where["base_url"], transport=transport, timeout=None
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> AsyncResponse:
        request = _build(self._client, method, path, body, headers, timeout)
        try:
            return AsyncResponse(await self._client.send(request, stream=True))
        except httpx.HTTPError as exc:
            raise translate(exc) from None

    async def aclose(self) -> None:
        await self._client.aclose()


class AsyncResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code

    async def iter_lines(self) -> AsyncIterator[bytes]:
        try:
            async for line in self._response.aiter_lines():
                if line.strip():
                    yield line.encode()
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            await self.aclose()

    async def read(self) -> bytes:
        try:
            return await self._response.aread()
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await self._response.aclose()
