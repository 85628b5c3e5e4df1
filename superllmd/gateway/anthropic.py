"""The Anthropic-compatible routes: ``POST /v1/messages`` and ``/v1/messages/count_tokens``.

Point an Anthropic client at the gateway (``base_url="http://127.0.0.1:8765"``, no ``/v1``)
with any superllm model name, so an Anthropic client can use OpenAI, Gemini or local models
too. A stream follows Anthropic's order: ``message_start`` first, one text
block (``content_block_start``, ``content_block_delta``..., ``content_block_stop``),
``message_delta`` with the stop reason and cumulative usage, ``message_stop``; a run that
fails mid-way ends with an ``error`` event. A virtual model's progress travels in ``ping``
events (which Anthropic clients skip) under a ``superllm`` key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from superllmd.errors import SuperllmError, UsageError
from superllmd.gateway._shared import (
    data_url_image,
    gateway_token,
    read_json,
    retry_after,
    sse,
    state_of,
    status_of,
)
from superllmd.gateway.anthropic_types import (
    CountTokensRequest,
    ErrorBody,
    Message,
    MessagesRequest,
    TokenCount,
)
from superllmd.gateway.chat import (
    Chat,
    Done,
    Failed,
    Piece,
    Progress,
    Text,
    ToolDelta,
    collect,
    pieces,
    start,
)
from superllmd.gateway.formats import output_fields
from superllmd.gateway.tools import anthropic_choice, anthropic_tools, as_text, tool_fields
from superllmd.ids import random_hex

__all__ = ["anthropic_errors", "chat_of", "error_body", "estimate_tokens", "message_of", "routes"]

_MESSAGES = TypeAdapter(MessagesRequest)
_COUNT = TypeAdapter(CountTokensRequest)
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}

Handler = Callable[[Request], Awaitable[Response]]


def error_body(error: SuperllmError) -> tuple[int, ErrorBody]:
    status = status_of(error)
    kind = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body: ErrorBody = {
        "type": "error",
        "error": {"type": kind, "message": error.message},
        "request_id": "req_" + random_hex(12),
    }
    return status, body


def anthropic_errors(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SuperllmError as exc:
            status, body = error_body(exc)
            return JSONResponse(body, status_code=status, headers=retry_after(exc))

    return endpoint


def _image(block: dict[str, Any]) -> dict[str, str]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return {"media_type": source.get("media_type", ""), "data": source.get("data", "")}
    return data_url_image(str(source.get("url") or ""))


def _turns_of(role: str, content: Any, where: str) -> list[dict[str, Any]]:
    """One message's turns: ``tool_result`` blocks become tool turns (first, as Anthropic
    puts them), ``tool_use`` blocks the assistant turn's calls, the rest its text and images."""
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    texts: list[str] = []
    images: list[dict[str, str]] = []
    calls: list[dict[str, str]] = []
    results: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "image":
            images.append(_image(block))
        elif kind == "tool_use" and role == "assistant":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            calls.append(
                {"id": str(block.get("id")), "name": str(block.get("name")), "arguments": arguments}
            )
        elif kind == "tool_result" and role == "user":
            text = as_text(block.get("content") or "")
            if block.get("is_error"):
                text = f"error: {text}"
            results.append(
                {"role": "tool", "content": text, "tool_call_id": str(block.get("tool_use_id"))}
            )
        else:
            raise UsageError(f"{where}: content blocks of type {kind!r} are not supported")
    if results and not texts and not images:
        return results
    turn: dict[str, Any] = {"role": role, "content": "\n".join(texts)}
    if images:
        turn["attachments"] = images
    if calls:
        turn["tool_calls"] = calls
    return [*results, turn]


def _system(system: Any) -> str | None:
    if not system:
        return None
    if isinstance(system, str):
        return system
    return "\n\n".join(str(b.get("text", "")) for b in system if b.get("type") == "text")


def chat_of(body: CountTokensRequest) -> Chat:
    """The ``Chat`` a Messages request asks for; the last message must be the user's."""
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(body["messages"]):
        turns += _turns_of(message["role"], message["content"], f"messages.{i}")
    if not turns or turns[-1]["role"] not in {"user", "tool"}:
        raise UsageError("messages: the last message must be the user's")
    out: dict[str, Any] = {"prompt": "", "messages": turns}
    if turns[-1]["role"] == "user":
        last = turns.pop()
        out["prompt"] = last["content"]
        if last.get("attachments"):
            out["attachments"] = last["attachments"]
    full: dict[str, Any] = dict(body)
    tools = anthropic_tools(body.get("tools"))
    out.update(tool_fields(tools, anthropic_choice(full.get("tool_choice"))))
    if (system := _system(body.get("system"))) is not None:
        out["system"] = system
    if full.get("max_tokens") is not None:
        out["max_tokens"] = full["max_tokens"]
    if full.get("temperature") is not None:
        out["temperature"] = full["temperature"]
    if full.get("stop_sequences"):
        out["stop"] = list(full["stop_sequences"])
    options = {k: full[k] for k in ("top_p", "top_k") if full.get(k) is not None}
    if options:
        out["options"] = options
    chat = Chat(body["model"], out, bool(full.get("stream")))
    # Structured outputs: output_config.format, or the beta's top-level output_format.
    config = full.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else full.get("output_format")
    if isinstance(fmt, dict):
        where = "output_config.format" if isinstance(config, dict) else "output_format"
        out.update(output_fields(fmt.get("type"), fmt.get("schema"), chat.virtual, where))
    return chat


def _usage(done: Done | None, estimate: int = 0) -> dict[str, int]:
    if done is None:
        return {
            "input_tokens": estimate,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
    u = done.result["usage"]
    # Anthropic counts cache reads apart from input_tokens; ours are part of them.
    return {
        "input_tokens": u["input_tokens"] - u["cached_tokens"],
        "output_tokens": u["output_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u["cached_tokens"],
    }


def _content(done: Done) -> list[dict[str, Any]]:
    """The text block (unless the model only called tools), then a tool_use block a call."""
    blocks: list[dict[str, Any]] = []
    if done.answer or not done.tool_calls:
        blocks.append({"type": "text", "text": done.answer})
    for call in done.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": call["name"],
                "input": _input(call["arguments"]),
            }
        )
    return blocks


def _input(arguments: str) -> Any:
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {}


def message_of(done: Done, model: str, mid: str | None = None) -> Message:
    return {
        "id": mid or "msg_" + random_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(done),
        "stop_reason": _STOP.get(done.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": _usage(done),  # type: ignore[typeddict-item]
        "superllm": done.extension,
    }


def estimate_tokens(chat: Chat) -> int:
    """About four characters a token, as the daemon estimates before a call."""
    body = chat.body
    chars = len(body.get("system") or "") + len(body["prompt"])
    chars += sum(len(t["content"]) for t in body.get("messages") or [])
    return max(chars // 4, 1)


def _event(kind: str, **fields: Any) -> bytes:
    return sse({"type": kind, **fields}, event=kind)


async def frames(source: AsyncIterator[Piece], chat: Chat, model: str) -> AsyncIterator[bytes]:
    """A run's pieces as Anthropic's stream events."""
    mid = "msg_" + random_hex(12)
    start_message: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(None, estimate_tokens(chat)),
    }
    yield _event("message_start", message=start_message)
    blocks = _Blocks()
    async for piece in source:
        if isinstance(piece, Text) and piece.text:
            for frame in blocks.open("text"):
                yield frame
            delta = {"type": "text_delta", "text": piece.text}
            yield _event("content_block_delta", index=blocks.index, delta=delta)
        elif isinstance(piece, ToolDelta):
            if piece.id is not None:  # a new call: a new tool_use block
                for frame in blocks.open("tool_use", id=piece.id, name=piece.name or ""):
                    yield frame
            if piece.arguments:
                delta = {"type": "input_json_delta", "partial_json": piece.arguments}
                yield _event("content_block_delta", index=blocks.index, delta=delta)
        elif isinstance(piece, Progress):
            yield _event("ping", superllm={"event": piece.event})
        elif isinstance(piece, Failed):
            _, body = error_body(piece.error)
            yield sse(body, event="error")
            return
        elif isinstance(piece, Done):
            if blocks.index < 0:  # nothing said: one empty text block, as Anthropic sends
                for frame in blocks.open("text"):
                    yield frame
            for frame in blocks.close():
                yield frame
            stop = {
                "stop_reason": _STOP.get(piece.finish_reason, "end_turn"),
                "stop_sequence": None,
            }
            yield _event("message_delta", delta=stop, usage=_usage(piece), superllm=piece.extension)
            yield _event("message_stop")
            return


class _Blocks:
    """The stream's content blocks: one open at a time, numbered from 0."""

    def __init__(self) -> None:
        self.index, self.kind = -1, ""
        self.open_ = False

    def open(self, kind: str, **fields: str) -> list[bytes]:
        if self.open_ and self.kind == kind == "text":
            return []  # more text: the same block
        frames = self.close()
        self.index, self.kind, self.open_ = self.index + 1, kind, True
        block: dict[str, Any] = (
            {"type": "text", "text": ""}
            if kind == "text"
            else {"type": "tool_use", **fields, "input": {}}
        )
        return [*frames, _event("content_block_start", index=self.index, content_block=block)]

    def close(self) -> list[bytes]:
        if not self.open_:
            return []
        self.open_ = False
        return [_event("content_block_stop", index=self.index)]


async def create_message(request: Request) -> Response:
    body = await read_json(request, _MESSAGES)
    chat = chat_of(body)
    run = await start(state_of(request), chat, gateway_token(request))
    if not chat.stream:
        done = await collect(run, chat)
        return JSONResponse(message_of(done, body["model"]))

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for frame in frames(pieces(run.events(), chat), chat, body["model"]):
                yield frame
        finally:
            await run.aclose()

    headers = {"cache-control": "no-cache"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def count_tokens(request: Request) -> Response:
    body = await read_json(request, _COUNT)
    count: TokenCount = {"input_tokens": estimate_tokens(chat_of(body))}
    return JSONResponse(count)


def routes() -> list[BaseRoute]:
    """The Anthropic-shaped routes, for the gateway's route table."""
    return [
        Route("/v1/messages", anthropic_errors(create_message), methods=["POST"]),
        Route("/v1/messages/count_tokens", anthropic_errors(count_tokens), methods=["POST"]),
    ]
