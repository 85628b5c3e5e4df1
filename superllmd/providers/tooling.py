"""What the dialects share for tool calling.

Vendors disagree on three things: arguments are JSON *text* (OpenAI, Cohere, Mistral) or an
*object* (Anthropic ``input``, Gemini ``args``, Ollama ``arguments``); ids are absent (Ollama)
or optional (Gemini), so they are made up here; and a tool's result names its call by id
(OpenAI, Anthropic, Cohere) or by the tool's name (Gemini, Ollama), found from the assistant
turn that made the call. Streamed calls arrive as pieces and are put back together by index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from superllmd.errors import BadRequest
from superllmd.ids import random_hex
from superllmd.providers.base import Message, ToolCall, ToolCallDelta

__all__ = [
    "ToolCallParts",
    "arguments_object",
    "arguments_text",
    "finish_with_calls",
    "new_call_id",
    "tool_names",
]


def new_call_id() -> str:
    """An id for a call whose vendor gave none (``call_`` and 24 hex digits)."""
    return "call_" + random_hex(12)


def arguments_object(call: ToolCall) -> dict[str, Any]:
    """The call's arguments as an object, for the vendors that take one."""
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        raise BadRequest(
            f"the arguments of tool call {call.id} ({call.name}) are not valid JSON; send "
            "them as a JSON object",
            param="messages",
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def arguments_text(value: Any) -> str:
    """Arguments a vendor gave as an object, as JSON text (``{}`` for none)."""
    if isinstance(value, str):
        return value or "{}"
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))


def tool_names(messages: Iterable[Message]) -> dict[str, str]:
    """Call id -> tool name, from the assistant turns' calls (for results sent by name)."""
    return {call.id: call.name for m in messages for call in m.tool_calls}


def finish_with_calls(finish: str | None, calls: tuple[ToolCall, ...]) -> str | None:
    """``tool_calls`` when the model asked for tools and its vendor said only "stopped"."""
    if calls and finish in {None, "stop"}:
        return "tool_calls"
    return finish


class ToolCallParts:
    """Streamed tool calls, gathered by index."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}
        self._heads: dict[int, tuple[str, str]] = {}

    def add(self, delta: ToolCallDelta) -> ToolCallDelta:
        """Take one piece; returns it with an id made up if its call's first piece had none."""
        if delta.index not in self._heads:
            call_id = delta.id or new_call_id()
            self._heads[delta.index] = (call_id, delta.name or "")
            self._calls[delta.index] = []
            if delta.id is None:
                delta = ToolCallDelta(delta.index, call_id, delta.name, delta.arguments)
        elif delta.name and not self._heads[delta.index][1]:
            self._heads[delta.index] = (self._heads[delta.index][0], delta.name)
        self._calls[delta.index].append(delta.arguments)
        return delta

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(self._heads[i][0], self._heads[i][1], "".join(self._calls[i]) or "{}")
            for i in sorted(self._heads)
        )
