"""``POST /v1/ask|consensus|debate|adversarial|chain|mapreduce``: every mode, one route."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import ndjson_response, read_body, state_of, wants_stream
from superllmd.errors import SuperllmError, UsageError, from_dict
from superllmd.gateway import token_of
from superllmd.gateway.engine import DEFAULT_PANEL, run_events
from superllmd.orchestrator.modes import MODES
from superllmd.protocol import AskRequest, RunRequest

__all__ = ["DEFAULT_PANEL", "run"]


@functools.cache
def _adapter(single: bool) -> TypeAdapter[Any]:
    # Built on first use: each costs milliseconds, and a daemon may never see some modes.
    return TypeAdapter(AskRequest if single else RunRequest)


async def run(request: Request) -> Response:
    mode = request.url.path.rsplit("/", 1)[-1]
    spec = MODES.get(mode)
    if spec is None:
        raise UsageError(f"no mode at {request.url.path}")
    body = await read_body(request, _adapter(spec.single))
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
    # A failed run answers with its error's own status (402 for the budget, 400 for a usage
    # error raised as it ran...), so a client reading the status alone reads it right.
    error = result.get("error")
    status = 200 if error is None else from_dict(dict(error)).http_status
    return JSONResponse(result, status_code=status)
