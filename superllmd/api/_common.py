"""Request parsing and error responses shared by the route modules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from superllmd.errors import SuperllmError, UsageError
from superllmd.protocol import NDJSON, Event
from superllmd.state import DaemonState

__all__ = [
    "environ_of",
    "error_response",
    "ndjson_response",
    "read_body",
    "state_of",
    "wants_stream",
]

T = TypeVar("T")


def state_of(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


async def read_body(request: Request, adapter: TypeAdapter[T]) -> T:
    raw = await request.body()
    try:
        return adapter.validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"invalid request: {problems}") from None


def wants_stream(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


def error_response(error: SuperllmError) -> JSONResponse:
    return JSONResponse({"error": error.to_dict()}, status_code=error.http_status)


def ndjson_response(events: AsyncIterator[Event]) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        async for event in events:
            yield json.dumps(event, separators=(",", ":")).encode() + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)


def environ_of(body: Mapping[str, Any]) -> Mapping[str, str] | None:
    env = body.get("env")
    return env if isinstance(env, dict) else None
