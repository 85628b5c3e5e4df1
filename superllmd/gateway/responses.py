"""The Responses API (``POST /v1/responses``), translated both ways: text in, text out.

A stream is named events (``event:`` and ``data:`` with the same ``type`` and a rising
``sequence_number``): ``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``, any number of
``response.output_text.delta``, then the ``.done`` events in reverse and
``response.completed`` with the whole response and its usage. A run that fails after the
stream started ends with ``response.failed``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from superllmd.errors import UsageError
from superllmd.gateway._shared import data_url_image, refuse_tools, sse
from superllmd.gateway.chat import Chat, Done, Failed, Piece, Progress, Text
from superllmd.gateway.openai_chat import new_id
from superllmd.gateway.openai_types import ResponseObject, ResponsesRequest, ResponseUsage

__all__ = ["ResponseStream", "chat_of", "response_of"]


def _content(content: Any, where: str) -> tuple[str, list[dict[str, str]]]:
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[dict[str, str]] = []
    for part in content or []:
        kind = part.get("type")
        if kind in {"input_text", "output_text", "text"}:
            texts.append(str(part.get("text", "")))
        elif kind == "input_image":
            images.append(data_url_image(str(part.get("image_url") or "")))
        else:
            raise UsageError(f"{where}: input parts of type {kind!r} are not supported")
    return "\n".join(texts), images


def chat_of(body: ResponsesRequest) -> Chat:
    """The ``Chat`` a Responses request asks for."""
    refuse_tools(body.get("tools"))
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    systems = [str(body.get("instructions"))] if body.get("instructions") else []
    turns: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if item.get("type", "message") != "message":
            raise UsageError(f"input.{i}: items of type {item.get('type')!r} are not supported")
        text, images = _content(item.get("content"), f"input.{i}")
        role = item.get("role")
        if role in {"system", "developer"}:
            systems.append(text)
        elif role in {"user", "assistant"}:
            turns.append(
                {"role": role, "content": text, **({"attachments": images} if images else {})}
            )
        else:
            raise UsageError(f"input.{i}: role {role!r} is not supported", param=f"input.{i}")
    if not turns or turns[-1]["role"] != "user":
        raise UsageError("the last input item must be the user's", param="input")
    last = turns.pop()
    out: dict[str, Any] = {"prompt": last["content"], "messages": turns}
    if last.get("attachments"):
        out["attachments"] = last["attachments"]
    if systems:
        out["system"] = "\n\n".join(systems)
    if body.get("temperature") is not None:
        out["temperature"] = body.get("temperature")
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body.get("max_output_tokens")
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") in {"json_object", "json_schema"}:
        out["json_output"] = True
    return Chat(body["model"], out, bool(body.get("stream")))


def _usage(done: Done | None) -> ResponseUsage | None:
    if done is None:
        return None
    u = done.result["usage"]
    return {
        "input_tokens": u["input_tokens"],
        "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
        "output_tokens": u["output_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u["input_tokens"] + u["output_tokens"],
    }


def _message(item_id: str, text: str, status: str) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": parts if status == "completed" else [],
    }


def response_of(
    rid: str,
    model: str,
    created: int,
    *,
    status: str = "completed",
    done: Done | None = None,
    item_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> ResponseObject:
    """The response object: empty while in progress, whole once ``done``."""
    output = [] if done is None else [_message(item_id or new_id("msg_"), done.answer, status)]
    out: ResponseObject = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,  # type: ignore[typeddict-item]
        "model": model,
        "output": output,
        "usage": _usage(done),
        "error": error,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": False,
        "temperature": None,
        "top_p": None,
        "tool_choice": "auto",
        "tools": [],
    }
    if done is not None:
        out["superllm"] = done.extension
        if done.finish_reason == "length":
            out["status"] = "incomplete"
            out["incomplete_details"] = {"reason": "max_output_tokens"}
    return out


class ResponseStream:
    """Frames one Responses stream, numbering its events."""

    def __init__(self, model: str) -> None:
        self.rid, self.item_id = new_id("resp_"), new_id("msg_")
        self.model, self.created, self.seq = model, int(time.time()), 0

    def event(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse(body, event=kind)

    async def frames(self, source: AsyncIterator[Piece]) -> AsyncIterator[bytes]:
        empty = response_of(self.rid, self.model, self.created, status="in_progress")
        yield self.event("response.created", response=empty)
        yield self.event("response.in_progress", response=empty)
        at = {"item_id": self.item_id, "output_index": 0}
        yield self.event(
            "response.output_item.added",
            output_index=0,
            item=_message(self.item_id, "", "in_progress"),
        )
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield self.event("response.content_part.added", **at, content_index=0, part=part)
        texts: list[str] = []
        async for piece in source:
            if isinstance(piece, Text) and piece.text:
                texts.append(piece.text)
                yield self.event(
                    "response.output_text.delta",
                    **at,
                    content_index=0,
                    delta=piece.text,
                    logprobs=[],
                )
            elif isinstance(piece, Progress):
                yield self.event("superllm.progress", event=piece.event)
            elif isinstance(piece, Failed):
                error = {"code": piece.error.code, "message": piece.error.message}
                failed = response_of(
                    self.rid, self.model, self.created, status="failed", error=error
                )
                yield self.event("response.failed", response=failed)
                return
            elif isinstance(piece, Done):
                text = "".join(texts)
                yield self.event(
                    "response.output_text.done", **at, content_index=0, text=text, logprobs=[]
                )
                whole = {**part, "text": text}
                yield self.event("response.content_part.done", **at, content_index=0, part=whole)
                yield self.event(
                    "response.output_item.done",
                    output_index=0,
                    item=_message(self.item_id, text, "completed"),
                )
                final = response_of(
                    self.rid, self.model, self.created, done=piece, item_id=self.item_id
                )
                yield self.event("response.completed", response=final)
                return
