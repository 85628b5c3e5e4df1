"""Chat Completions, translated both ways (pure functions; the routes are in openai.py).

``chat_of`` turns an OpenAI request into a ``Chat``; ``completion`` and ``chunks`` turn a
run's pieces into OpenAI's response and stream: first a role chunk, then
content chunks, a closing chunk with ``finish_reason``, a usage chunk with empty ``choices``
when ``stream_options.include_usage`` asks for it, then ``data: [DONE]``. A run that fails
after the stream started ends with OpenAI's in-band ``data: {"error": ...}``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from superllmd.errors import SuperllmError, UsageError
from superllmd.gateway._shared import data_url_image, sse, status_of
from superllmd.gateway.chat import Chat, Done, Failed, Piece, Progress, Text, ToolDelta
from superllmd.gateway.formats import output_fields
from superllmd.gateway.openai_types import (
    AssistantMessage,
    ChatCompletion,
    ChatRequest,
    ErrorBody,
    Usage,
)
from superllmd.gateway.tools import as_text, openai_calls, openai_choice, openai_tools, tool_fields
from superllmd.ids import random_hex
from superllmd.protocol import Usage as NativeUsage

__all__ = ["DONE", "chat_of", "chunks", "completion", "error_body", "new_id", "usage_of"]

DONE = b"data: [DONE]\n\n"
_MAX_N = 8
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
_CODES = {"not_found": "model_not_found", "budget": "budget_exceeded", "usage": None}


def new_id(prefix: str = "chatcmpl-") -> str:
    return prefix + random_hex(12)


def _text_of(content: Any, where: str) -> tuple[str, list[dict[str, str]]]:
    """A message's text and images from a string or a list of parts."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[dict[str, str]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            url = part.get("image_url")
            url = url.get("url", "") if isinstance(url, dict) else str(url or "")
            images.append(data_url_image(url))
        else:
            raise UsageError(f"{where}: content parts of type {kind!r} are not supported")
    return "\n".join(texts), images


def _call_of(call: Any, where: str) -> dict[str, str]:
    """An assistant turn's call (``{"id", "type": "function", "function": {...}}``)."""
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not fn.get("name"):
        raise UsageError(f"{where}: a tool call needs an id and a function name", param=where)
    return {
        "id": str(call.get("id") or ""),
        "name": str(fn["name"]),
        "arguments": str(fn.get("arguments") or "{}"),
    }


def _turns(messages: Sequence[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts and the chat turns (tool calls and results included)."""
    systems: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role, where = message["role"], f"messages.{i}"
        if role == "tool":
            content = as_text(message.get("content") or "")
            turns.append(
                {
                    "role": "tool",
                    "content": content,
                    "tool_call_id": str(message.get("tool_call_id") or ""),
                }
            )
            continue
        text, images = _text_of(message.get("content"), where)
        if role in {"system", "developer"}:
            systems.append(text)
        elif role in {"user", "assistant"}:
            turn: dict[str, Any] = {"role": role, "content": text}
            if images:
                turn["attachments"] = images
            if role == "assistant" and message.get("tool_calls"):
                turn["tool_calls"] = [
                    _call_of(c, f"{where}.tool_calls") for c in message["tool_calls"]
                ]
            turns.append(turn)
        else:
            raise UsageError(f"{where}: role {role!r} is not supported", param=where)
    return systems, turns


def chat_of(body: ChatRequest) -> Chat:
    """The ``Chat`` an OpenAI request asks for. System and developer messages become the
    system prompt; the last message must be the user's, or tools' results to answer."""
    messages = body["messages"]
    if not messages:
        raise UsageError("messages must not be empty", param="messages")
    systems, turns = _turns(messages)
    if not turns or turns[-1]["role"] not in {"user", "tool"}:
        raise UsageError(
            "the last message must be the user's (or a tool's result)", param="messages"
        )
    out: dict[str, Any] = {"prompt": "", "messages": turns}
    if turns[-1]["role"] == "user":
        last = turns.pop()
        out["prompt"] = last["content"]
        if last.get("attachments"):
            out["attachments"] = last["attachments"]
    out.update(tool_fields(openai_tools(body.get("tools")), openai_choice(body.get("tool_choice"))))
    if systems:
        out["system"] = "\n\n".join(systems)
    if body.get("temperature") is not None:
        out["temperature"] = body.get("temperature")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None:
        out["max_tokens"] = limit
    stop = body.get("stop")
    if stop:
        out["stop"] = [stop] if isinstance(stop, str) else list(stop)
    options: dict[str, Any] = {}
    if body.get("top_p") is not None:
        options["top_p"] = body.get("top_p")
    if options:
        out["options"] = options
    chat = Chat(body["model"], out, bool(body.get("stream")))
    fmt = body.get("response_format")
    if fmt:
        spec = fmt.get("json_schema")
        schema = spec["schema"] if spec is not None else None
        out.update(output_fields(fmt["type"], schema, chat.virtual, "response_format"))
    if body.get("seed") is not None and chat.virtual is not None:
        out["seed"] = body.get("seed")  # a mode's shuffles; an ask takes no seed
    return chat


def choices_wanted(body: ChatRequest) -> int:
    n = body.get("n") or 1
    if not 1 <= n <= _MAX_N:
        raise UsageError(f"n must be between 1 and {_MAX_N}, not {n}", param="n")
    return n


def usage_of(usage: NativeUsage) -> Usage:
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["input_tokens"] + usage["output_tokens"],
        "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"], "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def summed(dones: Sequence[Done]) -> NativeUsage:
    keys = ("input_tokens", "output_tokens", "cached_tokens")
    return {k: sum(d.result["usage"][k] for d in dones) for k in keys}  # type: ignore[return-value,literal-required]


def total_cost(dones: Sequence[Done]) -> float | None:
    costs = [d.result["cost_usd"] for d in dones]
    return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)


def completion(dones: Sequence[Done], model: str, cid: str, created: int) -> ChatCompletion:
    """A non-streaming response with one choice per run (``n``)."""
    extension = dict(dones[0].extension)
    if len(dones) > 1:
        extension["cost_usd"] = total_cost(dones)
        extension["choices"] = [d.extension for d in dones]
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": i,
                "message": _message(done),
                "logprobs": None,
                "finish_reason": done.finish_reason,
            }
            for i, done in enumerate(dones)
        ],
        "usage": usage_of(summed(dones)),
        "superllm": extension,
    }


def _message(done: Done) -> AssistantMessage:
    message: AssistantMessage = {
        "role": "assistant",
        # With calls and no text, OpenAI's content is null.
        "content": done.answer or (None if done.tool_calls else ""),
        "refusal": None,
        "annotations": [],
    }
    if done.tool_calls:
        message["tool_calls"] = openai_calls(done.tool_calls)
    return message


def error_body(error: SuperllmError) -> tuple[int, ErrorBody]:
    """OpenAI's error shape with the status the gateway answers."""
    status = status_of(error)
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = _CODES.get(error.code, error.code)
    param = error.details.get("param")
    return status, {
        "error": {
            "message": error.message,
            "type": kind,
            "param": param if isinstance(param, str) else None,
            "code": code,
        }
    }


def _call_delta(piece: ToolDelta) -> dict[str, Any]:
    """A streamed call's fragment: the first names it (id, type, name), the rest add text."""
    if piece.id is None:
        return {"index": piece.index, "function": {"arguments": piece.arguments}}
    function = {"name": piece.name or "", "arguments": piece.arguments}
    return {"index": piece.index, "id": piece.id, "type": "function", "function": function}


class ChunkWriter:
    """Frames one stream's chunks; every chunk has the same id, created and model."""

    def __init__(self, cid: str, model: str, created: int | None = None) -> None:
        self.head = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created if created is not None else int(time.time()),
            "model": model,
            "system_fingerprint": None,
        }

    def chunk(
        self,
        index: int,
        delta: dict[str, Any],
        finish: str | None = None,
        superllm: dict[str, Any] | None = None,
    ) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        body: dict[str, Any] = {**self.head, "choices": [choice], "usage": None}
        if superllm is not None:
            body["superllm"] = superllm
        return sse(body)

    def usage(self, usage: Usage, superllm: dict[str, Any]) -> bytes:
        return sse({**self.head, "choices": [], "usage": usage, "superllm": superllm})


async def chunks(
    source: AsyncIterator[Piece], writer: ChunkWriter, index: int = 0
) -> AsyncIterator[bytes | Done]:
    """One choice's stream as chunks (``Done`` passed on last for the caller to total), or
    its in-band error."""
    yield writer.chunk(index, {"role": "assistant", "content": ""})
    async for piece in source:
        if isinstance(piece, Text):
            if piece.text:
                yield writer.chunk(index, {"content": piece.text})
        elif isinstance(piece, ToolDelta):
            yield writer.chunk(index, {"tool_calls": [_call_delta(piece)]})
        elif isinstance(piece, Progress):
            yield writer.chunk(index, {}, superllm={"event": piece.event})
        elif isinstance(piece, Failed):
            _, body = error_body(piece.error)
            yield sse(body)
            return
        else:
            yield writer.chunk(index, {}, piece.finish_reason, superllm=piece.extension)
            yield piece
            return
