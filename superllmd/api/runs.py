"""``POST /v1/consensus|debate|adversarial|chain|mapreduce``: several models at once."""

from __future__ import annotations

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import ndjson_response, read_body, state_of, wants_stream
from superllmd.errors import SuperllmError, UsageError
from superllmd.gateway import token_of
from superllmd.gateway.engine import DEFAULT_PANEL, run_events
from superllmd.orchestrator.modes import MODES
from superllmd.protocol import RunRequest

__all__ = ["DEFAULT_PANEL", "run"]

_RUN = TypeAdapter(RunRequest)


async def run(request: Request) -> Response:
    mode = request.url.path.rsplit("/", 1)[-1]
    if mode not in MODES:
        raise UsageError(f"no mode at {request.url.path}")
    body = await read_body(request, _RUN)
    stream = wants_stream(request)
    events = await run_events(state_of(request), mode, body, token_of(request), hold=stream)
    if stream:
        return ndjson_response(events)
    result = None
    async for event in events:  # the finished result carries what run hooks added to it
        if event["type"] == "run.finished":
            result = event["result"]
    if result is None:
        raise SuperllmError("the run ended without a result; see `superllm daemon logs`")
    return JSONResponse(result)
