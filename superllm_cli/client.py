"""The Python SDK, and the client core the CLI and the TUI are built on.

:class:`Client` blocks; :class:`AsyncClient` is its asyncio twin. Both talk to the user's
daemon over its Unix socket, starting it when nothing answers (and restarting one of another
version), or with ``base_url=`` and ``token=`` to a superllm gateway over TCP. Their methods
mirror the commands and return the protocol's typed results (``superllmd.protocol``); a
failed run raises the one error tree of ``superllmd.errors``, whose ``exit_code`` is the
CLI's. Example::

    from superllm_cli import Client

    client = Client()
    result = client.ask("Name a prime number.", model="local/smollm2")
    print(result["answer"], result["cost_usd"])
    panel = ["openai/gpt-4.1-mini", "local/smollm2"]
    for event in client.stream("consensus", "2+2?", models=panel):
        if event["type"] == "delta":
            print(event["participant"], event["text"])

A request carries the ``SUPERLLM_*`` variables and the provider variables the daemon names
(``_env``), never the rest of the environment; over TCP it carries none. The CLI starts
through this module on every call, so it imports the stdlib and ``superllmd``'s stdlib
modules only; httpx is imported when an ``AsyncClient`` or a TCP ``Client`` first sends.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from superllm_cli import _calls, _calls_admin
from superllm_cli._calls import Call
from superllm_cli._core import Core, Response, result_of
from superllm_cli._daemon import ATTEMPTS, error_of, lock_holder, resendable
from superllm_cli._wire import request as wire_request
from superllmd.errors import DaemonError, SuperllmError
from superllmd.protocol_names import NDJSON

if TYPE_CHECKING:
    from superllm_cli._http import AsyncTransport, SyncTransport
    from superllmd.protocol import Event, Health, RunResult

__all__ = ["AsyncClient", "Client", "SuperllmError", "lock_holder"]

P = ParamSpec("P")
R = TypeVar("R")


def _sync(build: Callable[P, Call[R]]) -> Callable[Concatenate[Client, P], R]:
    @functools.wraps(build)
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.execute(build(*args, **kwargs))

    return method


def _async(
    build: Callable[P, Call[R]],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]]:
    @functools.wraps(build)
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.execute(build(*args, **kwargs))

    return method


class Client(Core):
    """The daemon (or a gateway, with ``base_url``), blocking. See the module docstring."""

    _transport: SyncTransport | None = None

    def _send(
        self, method: str, path: str, body: Any, accept: str, timeout: float | None
    ) -> Response:
        for attempt in range(ATTEMPTS):
            where, data, headers = self._encode(method, path, body, accept, attempt)
            try:
                response = self._send_once(method, where, data, headers, timeout)
                if self._daemon is not None:
                    self._daemon.compare_headers(response.headers)
                if response.status >= 400:
                    raise error_of(response.status, response.read())
                return response
            except Exception as exc:
                self.policy.recover(exc, attempt, resend=resendable(method))
        raise DaemonError("the daemon did not come up; see `superllm daemon logs`")

    def _send_once(
        self,
        method: str,
        path: str,
        data: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> Response:
        if self.base_url is None:
            return wire_request(
                str(self.paths.socket), method, path, body=data, headers=headers, timeout=timeout
            )
        if self._transport is None:
            from superllm_cli._http import SyncTransport

            self._transport = SyncTransport(base_url=self.base_url)
        return self._transport.request(method, path, body=data, headers=headers, timeout=timeout)

    # -- raw requests (what the CLI's commands use) -----------------------------------------

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        """One request, the JSON answer back."""
        response = self._send(method, path, body, "application/json", timeout)
        try:
            return json.loads(response.read() or b"null")
        except (OSError, ValueError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None

    def events(self, method: str, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """One request, its NDJSON events yielded as they arrive."""
        response = self._send(method, path, body, NDJSON, None)
        try:
            for line in response.iter_lines():
                yield json.loads(line)
        except (OSError, ValueError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None
        finally:
            response.close()

    def run_events(self, call: Call[Any]) -> Iterator[dict[str, Any]]:
        """Send one run call (see ``_calls``) and yield its raw events: what the CLI shows."""
        method, path, body = self._prepare(call)
        return self.events(method, path, body)

    def execute(self, call: Call[R]) -> R:
        """Send one prepared call (see ``_calls``) and read its answer."""
        method, path, body = self._prepare(call)
        if not call.run:
            return self._answer(call, self.call(method, path, body, call.timeout))
        result: RunResult | None = None
        for event in self.events(method, path, body):
            if event.get("type") == "run.finished":
                result = event["result"]
        return cast(R, result_of(result))

    # -- the SDK ---------------------------------------------------------------------------

    ask = _sync(_calls.ask)
    consensus = _sync(_calls.consensus)
    debate = _sync(_calls.debate)
    redteam = _sync(_calls.redteam)
    chain = _sync(_calls.chain)
    mapreduce = _sync(_calls.mapreduce)
    embed = _sync(_calls.embed)
    models = _sync(_calls.models)
    usage = _sync(_calls.usage)
    runs = _sync(_calls.runs)
    run_record = _sync(_calls.run_record)
    budgets = _sync(_calls.budgets)
    set_budget = _sync(_calls_admin.set_budget)
    clear_budgets = _sync(_calls_admin.clear_budgets)
    refresh_models = _sync(_calls_admin.refresh_models)
    providers = _sync(_calls_admin.providers)
    check_providers = _sync(_calls_admin.check_providers)
    conversations = _sync(_calls_admin.conversations)
    conversation = _sync(_calls_admin.conversation)
    forget_conversation = _sync(_calls_admin.forget_conversation)
    forget_runs = _sync(_calls_admin.forget_runs)
    config = _sync(_calls_admin.config)
    set_config = _sync(_calls_admin.set_config)

    @functools.wraps(_calls.run)
    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Event]:
        """``stream(mode, prompt, **options)``: a run's events as they happen (``run.started``,
        ``delta``, ``message``, ..., ``run.finished``), typed as ``superllmd.protocol.Event``."""
        method, path, body = self._prepare(_calls.run(*args, **kwargs))
        return cast("Iterator[Event]", self.events(method, path, body))

    # -- the daemon's lifecycle (local only) -----------------------------------------------

    def health(self, timeout: float = 5.0) -> Health:
        """The daemon's ``/v1/health`` (version, pid, providers ready); DaemonError if down
        (it starts nothing: see :meth:`start`)."""
        if self.base_url is not None:
            return cast("Health", self.call("GET", "/v1/health", timeout=timeout))
        return cast("Health", self.daemon.health(timeout))

    def start(self) -> Health:
        """Start the daemon unless one of this version answers; its health."""
        return cast("Health", self.daemon.start())

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the daemon and wait for it to exit; its pid, None if none was running."""
        return self.daemon.stop(timeout)

    def restart(self) -> Health:
        """Stop the daemon (if one runs) and start this version; its health."""
        return cast("Health", self.daemon.restart())

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(Core):
    """:class:`Client` for asyncio: the same methods, awaited; ``stream`` is an async
    iterator. Use it as ``async with AsyncClient() as client:`` (or ``await aclose()``)."""

    _transport: AsyncTransport | None = None

    def _http(self) -> AsyncTransport:
        if self._transport is None:
            from superllm_cli._http import AsyncTransport

            if self.base_url is None:
                self._transport = AsyncTransport(socket_path=str(self.paths.socket))
            else:
                self._transport = AsyncTransport(base_url=self.base_url)
        return self._transport

    async def _send(
        self, method: str, path: str, body: Any, accept: str, timeout: float | None = None
    ) -> Any:
        import asyncio

        for attempt in range(ATTEMPTS):
            where, data, headers = self._encode(method, path, body, accept, attempt)
            try:
                response = await self._http().request(
                    method, where, body=data, headers=headers, timeout=timeout
                )
                if response.status >= 400:
                    raise error_of(response.status, await response.read())
                return response
            except Exception as exc:
                # Starting a daemon blocks (rarely): off the event loop.
                await asyncio.to_thread(
                    self.policy.recover, exc, attempt, resend=resendable(method)
                )
        raise DaemonError("the daemon did not come up; see `superllm daemon logs`")

    # -- raw requests (what the TUI uses) --------------------------------------------------

    async def call(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> Any:
        """One request, the JSON answer back."""
        response = await self._send(method, path, body, "application/json", timeout)
        try:
            return json.loads(await response.read() or b"null")
        except (OSError, ValueError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None

    async def events(
        self, method: str, path: str, body: Any
    ) -> AsyncGenerator[dict[str, Any], None]:
        """One request, its NDJSON events as they arrive. Closing the iterator (or cancelling
        the task reading it) drops the connection, which cancels the run."""
        response = await self._send(method, path, body, NDJSON)
        try:
            async for line in response.iter_lines():
                yield json.loads(line)
        except (OSError, ValueError) as exc:
            raise DaemonError(f"the daemon stopped mid-answer: {exc}") from None
        finally:
            await response.aclose()

    async def execute(self, call: Call[R]) -> R:
        """Send one prepared call (see ``_calls``) and read its answer."""
        method, path, body = self._prepare(call)
        if not call.run:
            return self._answer(call, await self.call(method, path, body, call.timeout))
        result: RunResult | None = None
        async for event in self.events(method, path, body):
            if event.get("type") == "run.finished":
                result = event["result"]
        return cast(R, result_of(result))

    ask = _async(_calls.ask)
    consensus = _async(_calls.consensus)
    debate = _async(_calls.debate)
    redteam = _async(_calls.redteam)
    chain = _async(_calls.chain)
    mapreduce = _async(_calls.mapreduce)
    embed = _async(_calls.embed)
    models = _async(_calls.models)
    usage = _async(_calls.usage)
    runs = _async(_calls.runs)
    run_record = _async(_calls.run_record)
    budgets = _async(_calls.budgets)
    set_budget = _async(_calls_admin.set_budget)
    clear_budgets = _async(_calls_admin.clear_budgets)
    refresh_models = _async(_calls_admin.refresh_models)
    providers = _async(_calls_admin.providers)
    check_providers = _async(_calls_admin.check_providers)
    conversations = _async(_calls_admin.conversations)
    conversation = _async(_calls_admin.conversation)
    forget_conversation = _async(_calls_admin.forget_conversation)
    forget_runs = _async(_calls_admin.forget_runs)
    config = _async(_calls_admin.config)
    set_config = _async(_calls_admin.set_config)

    @functools.wraps(_calls.run)
    def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Event]:
        """``stream(mode, prompt, **options)``: ``async for event in client.stream(...)``."""
        method, path, body = self._prepare(_calls.run(*args, **kwargs))
        return cast("AsyncIterator[Event]", self.events(method, path, body))

    # -- the daemon's lifecycle (local only), as Client's: rare and blocking, so in a thread

    async def health(self, timeout: float = 5.0) -> Health:
        """The daemon's ``/v1/health``; DaemonError if down (it starts nothing)."""
        import asyncio

        if self.base_url is not None:
            return cast("Health", await self.call("GET", "/v1/health", timeout=timeout))
        return cast("Health", await asyncio.to_thread(self.daemon.health, timeout))

    async def start(self) -> Health:
        """Start the daemon unless one of this version answers; its health."""
        import asyncio

        return cast("Health", await asyncio.to_thread(self.daemon.start))

    async def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the daemon and wait for it to exit; its pid, None if none was running."""
        import asyncio

        return await asyncio.to_thread(self.daemon.stop, timeout)

    async def restart(self) -> Health:
        """Stop the daemon (if one runs) and start this version; its health."""
        import asyncio

        return cast("Health", await asyncio.to_thread(self.daemon.restart))

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
