"""``POST /v1/consensus|debate|adversarial|chain|mapreduce``: several models at once."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import environ_of, ndjson_response, read_body, state_of, wants_stream
from superllmd.config import Settings
from superllmd.errors import UsageError
from superllmd.ledger.conversations import check_attachments
from superllmd.ledger.recorder import SCRATCH_KEY, durable
from superllmd.orchestrator.context import RunContext, run_mode
from superllmd.orchestrator.modes import MODES, mode_function
from superllmd.protocol import RunRequest
from superllmd.providers.registry import Target
from superllmd.state import DaemonState

__all__ = ["DEFAULT_PANEL", "run"]

_RUN = TypeAdapter(RunRequest)
# With no models named: the alias "panel" if configured, else the default model three times
# (self-consistency, the baseline every mode must beat at equal cost).
DEFAULT_PANEL = "panel"


async def participants(
    body: RunRequest, state: DaemonState, settings: Settings, environ: Mapping[str, str]
) -> list[Target]:
    names = list(body.get("models") or [])
    if not names:
        if DEFAULT_PANEL in settings.aliases:
            names = [DEFAULT_PANEL]
        else:
            names = [state.registry.default_model(settings)] * 3
    targets: list[Target] = []
    for name in names:
        resolved = await state.resolve(name, settings, environ)
        # An alias naming several models puts each on the panel.
        targets += resolved if name in settings.aliases else resolved[:1]
    return targets


async def run(request: Request) -> Response:
    route = request.url.path.rsplit("/", 1)[-1]
    spec = MODES.get(route)
    if spec is None:
        raise UsageError(f"no mode at {request.url.path}")
    state = state_of(request)
    body = await read_body(request, _RUN)
    environ = environ_of(body) or {}
    settings = state.settings(environ or None)
    panel = await participants(body, state, settings, environ)
    judge_name = body.get("judge")
    judge = (await state.resolve(judge_name, settings, environ))[0] if judge_name else None
    fn = mode_function(spec)
    # The conversation's history, fragments folded into the prompt, images checked.
    prepared = await state.conversations.prepare(body)
    body["prompt"] = prepared.prompt
    check_attachments(prepared, [*panel, *([judge] if judge else [])])
    embedding = settings.default_embedding_model
    embedder = (await state.resolve(embedding, settings, environ))[0] if embedding else None
    ctx = RunContext(
        spec.mode,
        body,
        panel,
        state.caller,
        judge=judge,
        resolve=lambda name: state.targets(name, settings, environ)[0],
        history=prepared.history,
        conversation_id=prepared.conversation_id,
        attachments=prepared.attachments,
        embedder=embedder,
    )
    ctx.info.scratch[SCRATCH_KEY] = prepared
    events = run_mode(ctx, fn)
    if wants_stream(request):
        return ndjson_response(durable(events, state.ledger))
    result = None
    async for event in events:  # the finished result carries what run hooks added to it
        if event["type"] == "run.finished":
            result = event["result"]
    return JSONResponse(result if result is not None else ctx.result())
