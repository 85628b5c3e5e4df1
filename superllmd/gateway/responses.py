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
from superllmd.gateway._shared import data_url_image, sse
from superllmd.gateway.chat import Chat, Done, Failed, Piece, Progress, Text, ToolDelta
from superllmd.gateway.formats import output_fields
from superllmd.gateway.openai_chat import new_id
from superllmd.gateway.openai_types import ResponseObject, ResponsesRequest, ResponseUsage
from superllmd.gateway.tools import as_text, responses_choice, responses_tools, tool_fields

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


def _item_turn(item: dict[str, Any], turns: list[dict[str, Any]], where: str) -> None:
    """A ``function_call`` item joins the assistant turn before it (or starts one); a
    ``function_call_output`` item is a tool turn."""
    if item.get("type") == "function_call":
        call = {
            "id": str(item.get("call_id") or ""),
            "name": str(item.get("name") or ""),
            "arguments": str(item.get("arguments") or "{}"),
        }
        if turns and turns[-1]["role"] == "assistant":
            turns[-1].setdefault("tool_calls", []).append(call)
        else:
            turns.append({"role": "assistant", "content": "", "tool_calls": [call]})
    elif item.get("type") == "function_call_output":
        output = as_text(item.get("output") or "")
        turns.append({"role": "tool", "content": output, "tool_call_id": str(item.get("call_id"))})
    else:
        raise UsageError(f"{where}: items of type {item.get('type')!r} are not supported")


def chat_of(body: ResponsesRequest) -> Chat:
    """The ``Chat`` a Responses request asks for."""
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    systems = [str(body.get("instructions"))] if body.get("instructions") else []
    turns: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if item.get("type", "message") != "message":
            _item_turn(item, turns, f"input.{i}")
            continue
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
    if not turns or turns[-1]["role"] not in {"user", "tool"}:
        raise UsageError(
            "the last input item must be the user's (or a function_call_output)", param="input"
        )
    out: dict[str, Any] = {"prompt": "", "messages": turns}
    if turns[-1]["role"] == "user":
        last = turns.pop()
        out["prompt"] = last["content"]
        if last.get("attachments"):
            out["attachments"] = last["attachments"]
    tools = responses_tools(body.get("tools"))
    out.update(tool_fields(tools, responses_choice(body.get("tool_choice"))))
    if systems:
        out["system"] = "\n\n".join(systems)
    if body.get("temperature") is not None:
        out["temperature"] = body.get("temperature")
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body.get("max_output_tokens")
    chat = Chat(body["model"], out, bool(body.get("stream")))
    fmt = (body.get("text") or {}).get("format")
    if fmt:
        out.update(output_fields(fmt["type"], fmt.get("schema"), chat.virtual, "text.format"))
    return chat


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


def _function_call(item_id: str, call: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call.get("id") or "",
        "name": call.get("name") or "",
        "arguments": call.get("arguments") or "",
        "status": status,
    }


def _output(done: Done, item_id: str | None, call_ids: list[str] | None) -> list[dict[str, Any]]:
    """A message item (unless the model only called tools), then one item per call."""
    output = []
    if done.answer or not done.tool_calls:
        output.append(_message(item_id or new_id("msg_"), done.answer, "completed"))
    ids = call_ids or [new_id("fc_") for _ in done.tool_calls]
    output += [
        _function_call(i, dict(c), "completed") for i, c in zip(ids, done.tool_calls, strict=True)
    ]
    return output


def response_of(
    rid: str,
    model: str,
    created: int,
    *,
    status: str = "completed",
    done: Done | None = None,
    item_id: str | None = None,
    call_ids: list[str] | None = None,
    error: dict[str, Any] | None = None,
) -> ResponseObject:
    """The response object: empty while in progress, whole once ``done``."""
    output = [] if done is None else _output(done, item_id, call_ids)
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
        self.at: dict[str, Any] = {"item_id": self.item_id, "output_index": 0}

    def event(self, kind: str, **fields: Any) -> bytes:
        body = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse(body, event=kind)

    def _open_message(self, output_index: int) -> list[bytes]:
        self.at = {"item_id": self.item_id, "output_index": output_index}
        item = _message(self.item_id, "", "in_progress")
        return [
            self.event("response.output_item.added", output_index=output_index, item=item),
            self.event("response.content_part.added", **self.at, content_index=0, part=_PART),
        ]

    def _close_message(self, text: str) -> list[bytes]:
        whole = {**_PART, "text": text}
        item = _message(self.item_id, text, "completed")
        return [
            self.event(
                "response.output_text.done", **self.at, content_index=0, text=text, logprobs=[]
            ),
            self.event("response.content_part.done", **self.at, content_index=0, part=whole),
            self.event(
                "response.output_item.done", output_index=self.at["output_index"], item=item
            ),
        ]

    async def frames(self, source: AsyncIterator[Piece]) -> AsyncIterator[bytes]:
        """The events; the message item opens at the first text (or at the end, if there
        was neither text nor a call), each call's item at its first piece."""
        empty = response_of(self.rid, self.model, self.created, status="in_progress")
        yield self.event("response.created", response=empty)
        yield self.event("response.in_progress", response=empty)
        texts: list[str] | None = None  # None: no message item yet
        calls: dict[int, _CallItem] = {}
        outputs = 0
        async for piece in source:
            if isinstance(piece, Text) and piece.text:
                if texts is None:
                    texts, outputs = [], outputs + 1
                    for frame in self._open_message(outputs - 1):
                        yield frame
                texts.append(piece.text)
                yield self.event(
                    "response.output_text.delta",
                    **self.at,
                    content_index=0,
                    delta=piece.text,
                    logprobs=[],
                )
            elif isinstance(piece, ToolDelta):
                if piece.index not in calls:
                    call = calls[piece.index] = _CallItem(new_id("fc_"), outputs, piece)
                    outputs += 1
                    item = _function_call(call.item_id, call.info(), "in_progress")
                    yield self.event(
                        "response.output_item.added", output_index=call.output_index, item=item
                    )
                call = calls[piece.index]
                if piece.arguments:
                    call.arguments.append(piece.arguments)
                    yield self.event(
                        "response.function_call_arguments.delta",
                        item_id=call.item_id,
                        output_index=call.output_index,
                        delta=piece.arguments,
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
                if texts is None and not calls:
                    texts = []
                    for frame in self._open_message(0):
                        yield frame
                for frame in self._close_message("".join(texts)) if texts is not None else ():
                    yield frame
                for call in calls.values():
                    yield self.event(
                        "response.function_call_arguments.done",
                        item_id=call.item_id,
                        output_index=call.output_index,
                        arguments=call.info()["arguments"],
                    )
                    item = _function_call(call.item_id, call.info(), "completed")
                    yield self.event(
                        "response.output_item.done", output_index=call.output_index, item=item
                    )
                final = response_of(
                    self.rid,
                    self.model,
                    self.created,
                    done=piece,
                    item_id=self.item_id,
                    call_ids=[c.item_id for c in calls.values()] if calls else None,
                )
                yield self.event("response.completed", response=final)
                return


_PART = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}


class _CallItem:
    """A streamed ``function_call`` item: its ids, place and arguments so far."""

    def __init__(self, item_id: str, output_index: int, first: ToolDelta) -> None:
        self.item_id, self.output_index = item_id, output_index
        self.call_id, self.name = first.id or "", first.name or ""
        self.arguments: list[str] = []

    def info(self) -> dict[str, Any]:
        arguments = "".join(self.arguments) or "{}"
        return {"id": self.call_id, "name": self.name, "arguments": arguments}
