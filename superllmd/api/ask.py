"""``POST /v1/ask``: one model (or an alias, or a fallback chain)."""

from __future__ import annotations

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import ndjson_response, read_body, state_of, wants_stream
from superllmd.errors import SuperllmError
from superllmd.gateway import token_of
from superllmd.gateway.engine import ask_events
from superllmd.protocol import AskRequest

__all__ = ["ask"]

_ASK = TypeAdapter(AskRequest)


async def ask(request: Request) -> Response:
    body = await read_body(request, _ASK)
    stream = wants_stream(request)
    events = await ask_events(state_of(request), body, token_of(request), hold=stream)
    if stream:
        return ndjson_response(events)
    result = None
    async for event in events:
        if event["type"] == "run.finished":
            result = event["result"]
    if result is None:
        raise SuperllmError("the run ended without a result; see `superllm daemon logs`")
    status = 200 if result.get("error") is None else 502
    return JSONResponse(result, status_code=status)
