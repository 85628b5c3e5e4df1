"""MCP over streamable HTTP at ``/mcp`` on the TCP door, with the official SDK.

The same server as ``superllm mcp`` (superllmd/mcptools/server.py), with a backend that runs
inside the daemon for each request's gateway token: runs go through
``superllmd.gateway.engine`` (the token's model patterns, budget and name on every ledger
row), and a token holder sees only its own runs and usage. The door's auth middleware has
refused a request without a valid token before it gets here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from superllmd.api import models as models_api
from superllmd.api._common import state_of
from superllmd.errors import DaemonError, UsageError
from superllmd.gateway import GatewayToken, engine, token_of
from superllmd.ledger import history, queries
from superllmd.mcptools.server import RECENT_RUNS, Ctx, build_server
from superllmd.state import DaemonState

__all__ = ["PATH", "InDaemonBackend", "lifespan", "routes"]

PATH = "/mcp"


class InDaemonBackend:
    """:class:`superllmd.mcptools.backend.Backend` inside the daemon, for one caller."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.state: DaemonState = state_of(request)
        self.token: GatewayToken | None = token_of(request)

    async def run(self, route: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        if route == "ask":
            events = await engine.ask_events(self.state, body, self.token)  # type: ignore[arg-type]
        else:
            events = await engine.run_events(self.state, route, body, self.token)  # type: ignore[arg-type]
        try:
            async for event in events:
                yield dict(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()  # cancels the run if it has not finished

    async def get(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        if path == "/v1/models":
            return await self._native(models_api.list_models, path, params)
        if path == "/v1/config":  # a token holder learns only what MCP needs of it
            settings = self.state.settings(None)
            return {"settings": {"mcp": {"allowed_paths": settings.mcp.allowed_paths}}}
        ledger = self.state.ledger
        if ledger is None:
            raise DaemonError("this daemon runs without a ledger; restart it")
        await ledger.barrier()
        name = None if self.token is None else self.token.name
        if path == "/v1/usage":
            return await ledger.read(lambda conn: _usage(conn, dict(params), name))
        if path == "/v1/runs":
            limit = int(dict(params).get("limit") or RECENT_RUNS)
            return {"runs": await ledger.read(lambda conn: _runs(conn, name, limit))}
        if path.startswith("/v1/runs/"):
            run_id = path.removeprefix("/v1/runs/")
            return await ledger.read(lambda conn: _run(conn, run_id, name))
        raise UsageError(f"no {path} for MCP over HTTP")

    async def _native(self, endpoint: Any, path: str, params: Sequence[tuple[str, str]]) -> Any:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": urlencode(list(params)).encode(),
            "headers": [],
            "app": self.request.scope["app"],
        }
        response = await endpoint(Request(scope))
        return json.loads(bytes(response.body))


def _usage(conn: Any, params: dict[str, str], token: str | None) -> dict[str, Any]:
    return queries.usage_report(
        conn,
        by=params.get("by") or "day",
        since=queries.parse_when(params.get("since")),
        until=queries.parse_when(params.get("until"), end=True),
        provider=params.get("provider") or None,
        model=params.get("model") or None,
        mode=params.get("mode") or None,
        label=params.get("label") or None,
        token=token,
    )


def _runs(conn: Any, token: str | None, limit: int) -> list[dict[str, Any]]:
    if token is None:
        return history.list_runs(conn, limit=limit)
    ids = conn.execute(
        "SELECT id FROM runs WHERE token = ? ORDER BY time DESC LIMIT ?", (token, limit)
    ).fetchall()
    keys = ("run_id", "mode", "prompt", "status", "cost_usd", "time")
    return [{k: history.get_run(conn, i)[k] for k in keys} for (i,) in ids]


def _run(conn: Any, run_id: str, token: str | None) -> dict[str, Any]:
    run = history.get_run(conn, run_id)
    if token is not None:
        row = conn.execute("SELECT token FROM runs WHERE id = ?", (run["run_id"],)).fetchone()
        if row is None or row[0] != token:  # another caller's run does not exist for this one
            raise UsageError(f"no run {run_id!r} made with this token")
    return run


def _backend_for(ctx: Ctx) -> InDaemonBackend:
    request = ctx.request
    if not isinstance(request, Request):
        raise DaemonError("MCP over HTTP got a request without its HTTP request")
    return InDaemonBackend(request)


class _Endpoint:
    """The ASGI endpoint at /mcp: the SDK's session manager, started by :func:`lifespan`."""

    def __init__(self) -> None:
        server = build_server(backend_for=_backend_for)
        # Every request carries a token the door has checked, so the SDK's own DNS-rebinding
        # guard (a browser cannot add the token) is not needed and would refuse a LAN bind.
        self.manager = StreamableHTTPSessionManager(app=server)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.asgi_app(scope, receive, send)


def routes() -> list[BaseRoute]:
    """/mcp, for the TCP door's route table."""
    return [Route(PATH, endpoint=_Endpoint())]


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Run the session manager of this app's /mcp while the door is open."""
    endpoints = [
        r.endpoint for r in app.routes if isinstance(r, Route) and isinstance(r.endpoint, _Endpoint)
    ]
    if not endpoints:
        yield
        return
    async with endpoints[0].manager.run():
        yield
