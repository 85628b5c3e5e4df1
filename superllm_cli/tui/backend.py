"""Where the TUI gets its data: the daemon over its Unix socket, read asynchronously.

The CLI's :class:`~superllm_cli.client.Client` blocks on its socket; a TUI must not, and it
must be able to stop a run at once. So the TUI speaks HTTP/1.1 to the daemon itself with
``asyncio.open_unix_connection``: one connection per request (``Connection: close``), the
chunked NDJSON body parsed as it arrives. Cancelling the task that reads a stream closes its
connection, and the daemon stops a run's calls when its client goes away: that is how the
TUI cancels a run. Starting the daemon (rare, and blocking) is left to ``Client.start`` in a
thread.

:class:`Backend` is what the app needs; :class:`DaemonBackend` is the real one. Tests and
snapshots may hand the app any other object with the same methods (explicit dependency,
not a test switch).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from superllmd import __version__
from superllmd.errors import DaemonError, SuperllmError, VersionMismatch, from_dict
from superllmd.paths import Paths, get_paths
from superllmd.protocol import NDJSON

__all__ = ["Backend", "DaemonBackend", "query", "route_of", "run_request", "usable"]

VERSION_HEADER = "x-superllm-version"
_ROUTES = {"ask": "ask", "consensus": "consensus", "debate": "debate", "redteam": "adversarial"}


def route_of(mode: str) -> str:
    """The daemon route for a TUI mode: ``redteam`` is served at ``/v1/adversarial``."""
    return _ROUTES[mode]


class Backend(Protocol):
    """What the TUI asks of the daemon."""

    def request_env(self) -> dict[str, str]:
        """The environment forwarded with each run (it applies to that request only)."""
        ...

    async def get(self, path: str) -> Any:
        """``GET path``: the JSON answer."""
        ...

    async def post(self, path: str, body: Any) -> Any:
        """``POST path`` with a JSON body: the JSON answer."""
        ...

    def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        """``POST path``: its NDJSON events as they arrive. Closing the iterator (or
        cancelling the task reading it) drops the connection, which cancels the run."""
        ...


class _Response:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, str],
    ) -> None:
        self.reader, self.writer, self.status, self.headers = reader, writer, status, headers

    async def chunks(self) -> AsyncIterator[bytes]:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return
                data = await self.reader.readexactly(size + 2)
                yield data[:-2]
        elif (length := self.headers.get("content-length")) is not None:
            yield await self.reader.readexactly(int(length))
        else:
            while data := await self.reader.read(65536):
                yield data

    async def body(self) -> bytes:
        return b"".join([piece async for piece in self.chunks()])

    def close(self) -> None:
        self.writer.close()


class DaemonBackend:
    """The daemon over its Unix socket; starts it (in a thread) when nothing answers.

    ``environ`` is the environment the TUI acts for (``os.environ`` by default): it picks
    the daemon (``SUPERLLM_HOME``) and is forwarded with each run, as the CLI does.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        paths: Paths | None = None,
        autostart: bool = True,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.paths = paths or get_paths(self.environ)
        self.autostart = autostart

    def request_env(self) -> dict[str, str]:
        return dict(self.environ)

    def _client(self) -> Any:
        from superllm_cli.client import Client

        return Client(self.paths, autostart=self.autostart, environ=self.environ)

    async def _send(self, method: str, path: str, body: Any, accept: str) -> _Response:
        data = b"" if body is None else json.dumps(body).encode()
        reader, writer = await asyncio.open_unix_connection(str(self.paths.socket))
        try:
            head = [
                f"{method} {path} HTTP/1.1",
                "Host: superllmd",
                "Connection: close",
                f"Accept: {accept}",
                f"{VERSION_HEADER}: {__version__}",
                f"Content-Length: {len(data)}",
            ]
            if body is not None:
                head.append("Content-Type: application/json")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
            await writer.drain()
            raw = await reader.readuntil(b"\r\n\r\n")
        except BaseException:
            writer.close()
            raise
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            writer.close()
            raise DaemonError(f"the daemon answered something that is not HTTP: {status_line!r}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return _Response(reader, writer, int(parts[1]), headers)

    async def _open(self, method: str, path: str, body: Any, accept: str) -> _Response:
        for attempt in range(2):
            try:
                response = await self._send(method, path, body, accept)
            except (FileNotFoundError, ConnectionRefusedError):
                if not self.autostart or attempt:
                    raise DaemonError(
                        f"the daemon is not running (no answer on {self.paths.socket}); "
                        "start it with `superllm daemon start`"
                    ) from None
                await asyncio.to_thread(self._client().start)
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                raise DaemonError(f"lost the connection to the daemon: {exc}") from None
            if response.status < 400:
                return response
            error = await _error_of(response)
            if isinstance(error, VersionMismatch) and self.autostart and attempt == 0:
                await asyncio.to_thread(self._client().restart)
                continue
            raise error
        raise DaemonError("the daemon did not come up; see `superllm daemon logs`")

    async def _json(self, method: str, path: str, body: Any) -> Any:
        response = await self._open(method, path, body, "application/json")
        try:
            return json.loads(await response.body() or b"null")
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None
        finally:
            response.close()

    async def get(self, path: str) -> Any:
        return await self._json("GET", path, None)

    async def post(self, path: str, body: Any) -> Any:
        return await self._json("POST", path, body)

    async def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        response = await self._open("POST", path, body, NDJSON)
        pending = b""
        try:
            async for piece in response.chunks():
                pending += piece
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if pending.strip():
                yield json.loads(pending)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None
        finally:
            response.close()


def query(path: str, environ: Mapping[str, str]) -> str:
    """``path`` with the client's ``SUPERLLM_*`` settings, and the names (never the values) of
    its other set variables, as the providers route expects them."""
    params = {k: v for k, v in environ.items() if k.startswith("SUPERLLM_")}
    present = sorted(k for k, v in environ.items() if v and not k.startswith("SUPERLLM_"))
    params["present"] = ",".join(present)
    return f"{path}?{urlencode(params)}"


async def _error_of(response: _Response) -> SuperllmError:
    try:
        body = json.loads(await response.body())
        return from_dict(body["error"])
    except (ValueError, KeyError, TypeError, OSError, asyncio.IncompleteReadError):
        return DaemonError(f"the daemon answered {response.status} without an error body")
    finally:
        response.close()


def run_request(
    mode: str, prompt: str, models: list[str], env: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """The route and body for a prompt in a TUI mode, as the CLI's commands build them."""
    if mode == "ask":
        body: dict[str, Any] = {"prompt": prompt, "stream": True, "options": {}, "env": env}
        if models:
            body["model"] = models[0]
        return "/v1/ask", body
    body = {"prompt": prompt, "models": list(models), "options": {}, "env": env}
    if mode == "redteam":
        body["mode_options"] = {"submode": "critique"}
    return f"/v1/{route_of(mode)}", body


def usable(provider: dict[str, Any]) -> bool:
    """Whether a ``/v1/providers`` row can be called now: configured, and with a key, or
    declared with models in config.toml, or the embedded local model. A keyless preset for a
    local server (LM Studio, vLLM...) counts as configured but says nothing of whether that
    server runs, so it is left out until the user asks for every provider."""
    return bool(
        provider.get("configured")
        and (
            provider.get("key_source")
            or provider.get("kind") == "local"
            or (provider.get("kind") != "openai-preset" and provider.get("models"))
        )
    )
