"""The daemon's ASGI app: the native API v1, one module per route group."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from superllmd import __version__
from superllmd.api import (
    budgets,
    checks,
    config,
    daemon,
    embed,
    forget,
    gateway_people,
    gateway_tokens,
    health,
    keys,
    listings,
    models,
    plugins,
    providers,
    runs,
    runs_log,
    usage,
)
from superllmd.api._common import env_names, error_response, internal_error
from superllmd.errors import EnvNamesChanged, SuperllmError, UsageError, VersionMismatch
from superllmd.orchestrator.modes import MODES
from superllmd.paths import daemon_paths
from superllmd.protocol import ENV_NAMES_HEADER, VERSION_HEADER
from superllmd.state import DaemonState

__all__ = ["VERSION_HEADER", "Activity", "create_app", "guard", "native_routes", "no_route"]

# Routes an older or newer client may still use, to learn the version and to stop us.
_VERSION_EXEMPT = {"/v1/health", "/v1/shutdown"}
_VERSION_HEADER_BYTES = VERSION_HEADER.encode()
_ENV_NAMES_HEADER_BYTES = ENV_NAMES_HEADER.encode()


def guard(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SuperllmError as exc:
            return error_response(exc)
        except Exception as exc:
            # A bug must not look like a dead daemon to the client: an error body, and the
            # traceback in the log (only the class name goes out: a message may hold input).
            return error_response(internal_error(exc, request.url.path))

    return endpoint


class Activity:
    """Pure ASGI middleware: version check, the check that the client forwarded its
    environment by the current list of provider variables, and idle bookkeeping:
    microseconds per request."""

    def __init__(self, app: ASGIApp, state: DaemonState, *, identity: bool = False) -> None:
        self.app = app
        self.state = state
        # On the socket door every answer names the daemon's ledger and config, so a client
        # whose environment resolves other paths can say so: one daemon serves all of a
        # user's clients, whatever their environment.
        self._identity: list[tuple[bytes, bytes]] = []
        if identity:
            self._identity = [
                (b"x-superllm-" + name.encode(), quote(value).encode())
                for name, value in daemon_paths(state.paths).items()
                if name in ("config", "ledger")
            ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name not in (_VERSION_HEADER_BYTES, _ENV_NAMES_HEADER_BYTES):
                continue
            error: SuperllmError | None = None
            # Header bytes may be anything; backslashreplace never fails and shows them.
            client_version = value.decode("ascii", "backslashreplace")
            if (
                name == _VERSION_HEADER_BYTES
                and client_version != __version__
                and scope["path"] not in _VERSION_EXEMPT
            ):
                error = VersionMismatch(
                    f"daemon version {__version__} differs from client version "
                    f"{client_version[:40]}; restart it with `superllm daemon restart`",
                    daemon_version=__version__,
                )
            elif name == _ENV_NAMES_HEADER_BYTES:
                names, tag = env_names(self.state)
                if tag and client_version != tag:
                    error = EnvNamesChanged(
                        "the list of provider variables changed; send the request again",
                        names=names,
                        tag=tag,
                    )
            if error is not None:
                await error_response(error)(scope, receive, send)
                return
        state = self.state
        state.inflight += 1
        if self._identity:
            inner, identity = send, self._identity

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *identity]
                await inner(message)

        try:
            await self.app(scope, receive, send)
        finally:
            state.inflight -= 1
            state.last_activity = time.monotonic()


async def no_route(request: Request, exc: Exception) -> Response:
    """A path or method the API does not have: an error body like every other answer's (a
    usage error, exit 2), with the status that says which (404 or 405)."""
    status = getattr(exc, "status_code", 404)
    what = "path" if status == 404 else "method"
    error = UsageError(
        f"the daemon's API has no {request.method} {request.url.path} (no such {what}); "
        "is this client older or newer than the daemon? `superllm daemon restart` matches them"
    )
    return JSONResponse({"error": error.to_dict()}, status_code=status)


def native_routes() -> list[Route]:
    """The native API v1, every route guarded so its errors answer in the native shape."""
    return [
        Route("/v1/health", guard(health.health), methods=["GET"]),
        Route("/v1/providers", guard(providers.list_providers), methods=["GET"]),
        Route("/v1/models", guard(models.list_models), methods=["GET"]),
        Route("/v1/models/refresh", guard(listings.refresh_models), methods=["POST"]),
        Route("/v1/embed", guard(embed.embed), methods=["POST"]),
        Route("/v1/config", guard(config.get_config), methods=["GET"]),
        Route("/v1/config", guard(config.put_config), methods=["PUT"]),
        Route("/v1/shutdown", guard(daemon.shutdown), methods=["POST"]),
        Route("/v1/keys/forget", guard(keys.forget), methods=["POST"]),
        Route("/v1/providers/check", guard(checks.check_providers), methods=["POST"]),
        Route("/v1/providers/{provider_id}/check", guard(checks.check_provider), methods=["POST"]),
        Route("/v1/providers/plugins", guard(plugins.add_plugin), methods=["POST"]),
        Route("/v1/providers/plugins/{name}", guard(plugins.remove_plugin), methods=["DELETE"]),
        Route("/v1/budgets", guard(budgets.get_budgets), methods=["GET"]),
        Route("/v1/budgets", guard(budgets.put_budgets), methods=["PUT"]),
        Route("/v1/budgets", guard(budgets.clear_budgets), methods=["DELETE"]),
        Route("/v1/usage", guard(usage.usage), methods=["GET"]),
        Route("/v1/gateway/tokens", guard(gateway_tokens.list_tokens), methods=["GET"]),
        Route("/v1/gateway/tokens", guard(gateway_tokens.create_token), methods=["POST"]),
        Route("/v1/gateway/tokens/{name}", guard(gateway_tokens.revoke_token), methods=["DELETE"]),
        Route("/v1/gateway/users", guard(gateway_people.list_users), methods=["GET"]),
        Route("/v1/gateway/users", guard(gateway_people.create_user), methods=["POST"]),
        Route("/v1/gateway/users/{name}", guard(gateway_people.remove_user), methods=["DELETE"]),
        Route("/v1/gateway/teams", guard(gateway_people.list_teams), methods=["GET"]),
        Route("/v1/gateway/teams", guard(gateway_people.create_team), methods=["POST"]),
        Route("/v1/gateway/teams/{name}", guard(gateway_people.remove_team), methods=["DELETE"]),
        Route("/v1/runs", guard(runs_log.list_runs), methods=["GET"]),
        Route("/v1/runs/forget", guard(forget.forget_runs), methods=["POST"]),
        Route("/v1/runs/{run_id}", guard(runs_log.show_run), methods=["GET"]),
        Route("/v1/conversations", guard(runs_log.conversations), methods=["GET"]),
        Route(
            "/v1/conversations/{conversation_id}",
            guard(runs_log.conversation),
            methods=["GET"],
        ),
        Route(
            "/v1/conversations/{conversation_id}",
            guard(forget.delete_conversation),
            methods=["DELETE"],
        ),
        *(Route(f"/v1/{name}", guard(runs.run), methods=["POST"]) for name in MODES),
    ]


def create_app(state: DaemonState) -> ASGIApp:
    """The socket door's app: the native API, for the daemon's own user."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if state.ledger is not None:
            state.ledger.start()
        try:
            yield
        finally:
            if state.wait_other_doors is not None:  # TCP streams still draining
                await state.wait_other_doors()
            await state.aclose()

    app = Starlette(
        routes=native_routes(),
        lifespan=lifespan,
        exception_handlers={404: no_route, 405: no_route},
    )
    app.state.daemon = state
    return Activity(app, state, identity=True)
