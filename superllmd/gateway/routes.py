"""The TCP door's route table: what an untrusted caller with a token can reach.

- the vendor dialects at their vendor paths (``/v1/chat/completions``, ``/v1/messages``, ...)
  and MCP at ``/mcp``, each from its own module (EXTENSIONS), served when present;
- the native API under ``/superllm/v1/...``, only the routes that run or list models: a token
  holder may not read other callers' runs and conversations, change config or budgets, add
  provider plugins (code), forget keys or stop the daemon; those stay on the socket.

An extension module exposes ``routes() -> list[BaseRoute]`` (a ``Mount`` for an ASGI app of
its own is fine), and optionally ``lifespan(app) -> AsyncContextManager`` for what must run
while the door is open (MCP's session manager). Handlers find the daemon's state with
``superllmd.api._common.state_of(request)`` and the caller with ``superllmd.gateway.token_of``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import ModuleType
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from superllmd.state import DaemonState

__all__ = ["EXTENSIONS", "NATIVE_PREFIX", "create_tcp_app", "extension_modules", "tcp_routes"]

log = logging.getLogger(__name__)

#: Where the native API sits on the TCP door.
NATIVE_PREFIX = "/superllm"

#: Modules whose ``routes()`` the TCP door serves, in this order (first match wins). A module
#: that does not exist yet is left out; one that exists but fails to import fails the door.
EXTENSIONS: tuple[str, ...] = (
    "superllmd.gateway.events",  # GET /v1/events (door)
    "superllmd.gateway.openai",  # /v1/chat/completions, /v1/models, ... (dialects)
    "superllmd.gateway.anthropic",  # /v1/messages, /v1/messages/count_tokens (dialects)
    "superllmd.gateway.openapi",  # /openapi.json (dialects)
    "superllmd.gateway.mcp",  # /mcp (mcp)
)

# The native routes a token may use (paths as on the socket); see the module docstring.
_NATIVE_ON_TCP = {"/v1/health", "/v1/ask", "/v1/models", "/v1/providers", "/v1/embed"}


def extension_modules() -> list[ModuleType]:
    """The EXTENSIONS that exist, imported."""
    found: list[ModuleType] = []
    for name in EXTENSIONS:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module is there but needs something missing
                raise
    return found


def tcp_routes(modules: list[ModuleType] | None = None) -> list[BaseRoute]:
    """Every route of the TCP door: the extensions' first, then the native API's."""
    from superllmd.api import native_routes
    from superllmd.orchestrator.modes import MODES

    allowed = _NATIVE_ON_TCP | {f"/v1/{mode}" for mode in MODES}
    native = [r for r in native_routes() if isinstance(r, Route) and r.path in allowed]
    routes: list[BaseRoute] = []
    for module in extension_modules() if modules is None else modules:
        routes += module.routes()
    routes.append(Mount(NATIVE_PREFIX, routes=native))
    return routes


def create_tcp_app(state: DaemonState) -> ASGIApp:
    """The TCP door's app, on the same state (pools, budgets, ledger) as the socket's, behind
    the token check (superllmd/gateway/auth.py), which answers 401/429 before any route."""
    from superllmd.api import Activity
    from superllmd.gateway.auth import TokenAuth

    modules = extension_modules()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for module in modules:
                opener = getattr(module, "lifespan", None)
                if opener is not None:
                    await stack.enter_async_context(opener(app))
            yield

    app = Starlette(routes=tcp_routes(modules), lifespan=lifespan)
    app.state.daemon = state
    return Activity(TokenAuth(app, state.tokens, state.token_limits), state)
