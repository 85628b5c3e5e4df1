"""The daemon's ASGI app: the native API v1, one module per route group."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from superllmd import __version__
from superllmd.api import (
    ask,
    budgets,
    checks,
    config,
    daemon,
    embed,
    health,
    keys,
    models,
    plugins,
    providers,
    runs,
    runs_log,
    usage,
)
from superllmd.api._common import error_response
from superllmd.errors import SuperllmError, VersionMismatch
from superllmd.orchestrator.modes import MODES
from superllmd.state import DaemonState

__all__ = ["VERSION_HEADER", "create_app"]

VERSION_HEADER = "x-superllm-version"
# Routes an older or newer client may still use, to learn the version and to stop us.
_VERSION_EXEMPT = {"/v1/health", "/v1/shutdown"}
_VERSION_HEADER_BYTES = VERSION_HEADER.encode()


def _guard(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SuperllmError as exc:
            return error_response(exc)

    return endpoint


class _Activity:
    """Pure ASGI middleware: version check and idle bookkeeping, microseconds per request."""

    def __init__(self, app: ASGIApp, state: DaemonState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if (
                name == _VERSION_HEADER_BYTES
                and value.decode() != __version__
                and scope["path"] not in _VERSION_EXEMPT
            ):
                error = VersionMismatch(
                    f"daemon version {__version__} differs from client version "
                    f"{value.decode()}; restart it with `superllm daemon restart`",
                    daemon_version=__version__,
                )
                await error_response(error)(scope, receive, send)
                return
        state = self.state
        state.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            state.inflight -= 1
            state.last_activity = time.monotonic()


def create_app(state: DaemonState) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()

    routes = [
        Route("/v1/health", _guard(health.health), methods=["GET"]),
        Route("/v1/providers", _guard(providers.list_providers), methods=["GET"]),
        Route("/v1/ask", _guard(ask.ask), methods=["POST"]),
        Route("/v1/models", _guard(models.list_models), methods=["GET"]),
        Route("/v1/embed", _guard(embed.embed), methods=["POST"]),
        Route("/v1/config", _guard(config.get_config), methods=["GET"]),
        Route("/v1/config", _guard(config.put_config), methods=["PUT"]),
        Route("/v1/shutdown", _guard(daemon.shutdown), methods=["POST"]),
        Route("/v1/keys/forget", _guard(keys.forget), methods=["POST"]),
        Route("/v1/providers/check", _guard(checks.check_providers), methods=["POST"]),
        Route("/v1/providers/{provider_id}/check", _guard(checks.check_provider), methods=["POST"]),
        Route("/v1/providers/plugins", _guard(plugins.add_plugin), methods=["POST"]),
        Route("/v1/providers/plugins/{name}", _guard(plugins.remove_plugin), methods=["DELETE"]),
        Route("/v1/budgets", _guard(budgets.get_budgets), methods=["GET"]),
        Route("/v1/budgets", _guard(budgets.put_budgets), methods=["PUT"]),
        Route("/v1/budgets", _guard(budgets.clear_budgets), methods=["DELETE"]),
        Route("/v1/usage", _guard(usage.usage), methods=["GET"]),
        Route("/v1/runs", _guard(runs_log.list_runs), methods=["GET"]),
        Route("/v1/runs/{run_id}", _guard(runs_log.show_run), methods=["GET"]),
        Route("/v1/conversations", _guard(runs_log.conversations), methods=["GET"]),
        Route(
            "/v1/conversations/{conversation_id}",
            _guard(runs_log.conversation),
            methods=["GET"],
        ),
        *(Route(f"/v1/{name}", _guard(runs.run), methods=["POST"]) for name in MODES),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.daemon = state
    return _Activity(app, state)
