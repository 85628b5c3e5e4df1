"""``POST /v1/ask``: one model (or an alias, or a fallback chain)."""

from __future__ import annotations

import dataclasses

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import environ_of, ndjson_response, read_body, state_of, wants_stream
from superllmd.ledger.conversations import check_attachments
from superllmd.ledger.recorder import SCRATCH_KEY, durable
from superllmd.orchestrator.ask import AskRun
from superllmd.protocol import AskRequest

__all__ = ["ask"]

_ASK = TypeAdapter(AskRequest)


async def ask(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _ASK)
    environ = environ_of(body)
    settings = state.settings(environ)
    # The conversation's history, fragments folded into the prompt, images checked.
    prepared = await state.conversations.prepare(body)
    # A continued conversation keeps its model unless the request names one.
    model = body.get("model") or prepared.model
    targets = await state.resolve(model, settings, environ or {})
    prepared = dataclasses.replace(prepared, model=model or targets[0].name)
    body["prompt"] = prepared.prompt
    check_attachments(prepared, targets)
    run = AskRun(
        body,
        targets,
        state.caller,
        history=prepared.history,
        conversation_id=prepared.conversation_id,
        attachments=prepared.attachments,
    )
    run.info.scratch[SCRATCH_KEY] = prepared
    if wants_stream(request):
        return ndjson_response(durable(run.events(), state.ledger))
    async for _ in run.events():
        pass
    assert run.result is not None
    status = 200 if run.result.get("error") is None else 502
    return JSONResponse(run.result, status_code=status)
