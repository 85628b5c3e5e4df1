"""The OpenAI-compatible routes: chat completions, responses, models, embeddings.

Point any OpenAI client at the gateway (``base_url="http://127.0.0.1:8765/v1"``) and use a
superllm model name: ``openai/gpt-4.1``, ``anthropic/claude-sonnet-4-5``, an alias, a
fallback chain, a selector, or a virtual model (``consensus:a/x,b/y?strategy=vote``, see
virtual.py). Every call is a native run: same ledger, budgets, limits and cache as the CLI.
Errors use OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``).
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from superllmd.api.models import known_models
from superllmd.errors import ModelNotFound, SuperllmError, UsageError
from superllmd.gateway import openai_chat, responses
from superllmd.gateway._shared import (
    Primed,
    gateway_token,
    read_json,
    retry_after,
    state_of,
)
from superllmd.gateway.anthropic_types import ModelInfo
from superllmd.gateway.chat import Chat, Done, collect, pieces, start
from superllmd.gateway.openai_chat import DONE, ChunkWriter
from superllmd.gateway.openai_types import (
    ChatRequest,
    EmbeddingsRequest,
    ModelObject,
    ResponsesRequest,
)
from superllmd.gateway.virtual import VIRTUAL_MODES

__all__ = ["openai_errors", "routes"]

_CHAT = TypeAdapter(ChatRequest)
_RESPONSES = TypeAdapter(ResponsesRequest)
_EMBEDDINGS = TypeAdapter(EmbeddingsRequest)
# Models have no creation time of their own here: the daemon's start stands in for it.
_CREATED = int(time.time())
_CREATED_AT = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_CREATED))
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

Handler = Callable[[Request], Awaitable[Response]]


def openai_errors(handler: Handler) -> Handler:
    """Answer superllm's errors in OpenAI's shape."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SuperllmError as exc:
            status, body = openai_chat.error_body(exc)
            return JSONResponse(body, status_code=status, headers=retry_after(exc))

    return endpoint


async def _started(request: Request, chat: Chat, n: int) -> list[Primed]:
    state, token = state_of(request), gateway_token(request)
    if n == 1:
        return [await start(state, chat, token)]
    results = await asyncio.gather(
        *(start(state, chat, token) for _ in range(n)), return_exceptions=True
    )
    primed = [r for r in results if isinstance(r, Primed)]
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        for p in primed:
            await p.aclose()
        raise failed[0]
    return primed


async def chat_completions(request: Request) -> Response:
    body = await read_json(request, _CHAT)
    chat = openai_chat.chat_of(body)
    n = openai_chat.choices_wanted(body)
    runs = await _started(request, chat, n)
    cid, created, model = openai_chat.new_id(), int(time.time()), body["model"]
    if not chat.stream:
        dones = [await collect(p, chat) for p in runs]
        return JSONResponse(openai_chat.completion(dones, model, cid, created))
    options = body.get("stream_options") or {}
    writer = ChunkWriter(cid, model, created)
    frames = _merged(runs, chat, writer, bool(options.get("include_usage")))
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def _merged(
    runs: list[Primed], chat: Chat, writer: ChunkWriter, include_usage: bool
) -> AsyncIterator[bytes]:
    """The ``n`` choices' chunks interleaved as they come, then usage and ``[DONE]``."""
    queue: asyncio.Queue[bytes | Done | None] = asyncio.Queue()

    async def pump(index: int, run: Primed) -> None:
        try:
            async for item in openai_chat.chunks(pieces(run.events(), chat), writer, index):
                await queue.put(item)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(i, run)) for i, run in enumerate(runs)]
    dones: list[Done] = []
    try:
        open_ = len(tasks)
        while open_:
            item = await queue.get()
            if item is None:
                open_ -= 1
            elif isinstance(item, Done):
                dones.append(item)
            else:
                yield item
        if len(dones) != len(runs):
            return  # a choice failed: its in-band error was the stream's last word
        if include_usage:
            usage = openai_chat.usage_of(openai_chat.summed(dones))
            yield writer.usage(usage, {"cost_usd": openai_chat.total_cost(dones)})
        yield DONE
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for run in runs:
            await run.aclose()


async def create_response(request: Request) -> Response:
    body = await read_json(request, _RESPONSES)
    chat = responses.chat_of(body)
    run = (await _started(request, chat, 1))[0]
    if not chat.stream:
        done = await collect(run, chat)
        rid = openai_chat.new_id("resp_")
        return JSONResponse(responses.response_of(rid, body["model"], int(time.time()), done=done))
    stream = responses.ResponseStream(body["model"])

    async def frames() -> AsyncIterator[bytes]:
        try:
            async for frame in stream.frames(pieces(run.events(), chat)):
                yield frame
        finally:
            await run.aclose()

    return StreamingResponse(frames(), media_type="text/event-stream", headers=SSE_HEADERS)


def _model(name: str, created: int) -> ModelObject:
    owner = name.partition("/")[0] if "/" in name else "superllm"
    return {"id": name, "object": "model", "created": created, "owned_by": owner}


def _anthropic_model(name: str) -> ModelInfo:
    return {"type": "model", "id": name, "display_name": name, "created_at": _CREATED_AT}


def _anthropic(request: Request) -> bool:
    """An Anthropic client (its SDK sends ``anthropic-version``) gets Anthropic's shapes."""
    return "anthropic-version" in request.headers


def model_ids(request: Request) -> list[str]:
    """Every model a caller can name: providers' models, aliases, the virtual models."""
    state = state_of(request)
    settings = state.settings(None)
    names = sorted(known_models(state, settings, {}))
    return [*names, *sorted(settings.aliases), *sorted(VIRTUAL_MODES)]


async def list_models(request: Request) -> Response:
    names = model_ids(request)
    if _anthropic(request):
        first, last = (names[0], names[-1]) if names else (None, None)
        infos = [_anthropic_model(name) for name in names]
        return JSONResponse({"data": infos, "has_more": False, "first_id": first, "last_id": last})
    data = [_model(name, _CREATED) for name in names]
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    name = request.path_params["model"]
    if name not in model_ids(request):
        missing = ModelNotFound(f"no model {name!r}; GET /v1/models lists them")
        if _anthropic(request):  # Anthropic's error shape for Anthropic's client
            from superllmd.gateway.anthropic import error_body

            status, body = error_body(missing)
            return JSONResponse(body, status_code=status)
        raise missing
    if _anthropic(request):
        return JSONResponse(_anthropic_model(name))
    return JSONResponse(_model(name, _CREATED))


def _packed(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def embeddings(request: Request) -> Response:
    body = await read_json(request, _EMBEDDINGS)
    texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
    if not texts:
        raise UsageError("input must not be empty", param="input")
    state = state_of(request)
    settings = state.settings(None)
    target = (await state.resolve(body["model"], settings, {}))[0]
    vectors = await target.provider.embed(target.model, texts)
    dims = body.get("dimensions")
    if dims:
        vectors = [v[:dims] for v in vectors]
    as_b64 = body.get("encoding_format") == "base64"
    tokens = sum(max(len(t) // 4, 1) for t in texts)
    data: list[dict[str, Any]] = [
        {"object": "embedding", "index": i, "embedding": _packed(v) if as_b64 else v}
        for i, v in enumerate(vectors)
    ]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def routes() -> list[BaseRoute]:
    """The OpenAI-shaped routes, for the gateway's route table."""
    return [
        Route("/v1/chat/completions", openai_errors(chat_completions), methods=["POST"]),
        Route("/v1/responses", openai_errors(create_response), methods=["POST"]),
        Route("/v1/models", openai_errors(list_models), methods=["GET"]),
        Route("/v1/models/{model:path}", openai_errors(get_model), methods=["GET"]),
        Route("/v1/embeddings", openai_errors(embeddings), methods=["POST"]),
    ]
