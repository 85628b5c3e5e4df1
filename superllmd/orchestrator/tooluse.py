"""Tool calling between the native API's shapes (protocol_tools.py) and the provider layer's
(providers/base.py): offering tools, reading calls back, and refusing, before any call, a
model whose dialect cannot take them (the local model, a plugin without ``takes_tools``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from superllmd.errors import UsageError
from superllmd.protocol_tools import ToolCallInfo
from superllmd.providers.base import Attachment, Message, Tool, ToolCall, ToolChoice
from superllmd.providers.registry import Target

__all__ = ["calls_info", "check_tools", "choice_of", "message_of", "tools_of", "wants_tools"]


def tools_of(request: Mapping[str, Any]) -> tuple[Tool, ...]:
    return tuple(
        Tool(
            spec["name"],
            spec.get("description") or "",
            spec.get("parameters") or {"type": "object", "properties": {}},
        )
        for spec in request.get("tools") or ()
    )


def choice_of(request: Mapping[str, Any]) -> ToolChoice | None:
    choice = request.get("tool_choice")
    if choice is None or not request.get("tools"):
        return None
    if isinstance(choice, dict):
        return ToolChoice("tool", str(choice["name"]))
    return ToolChoice(choice)


def message_of(raw: Mapping[str, Any], images: tuple[Attachment, ...] = ()) -> Message:
    """A ``Turn`` of a chat the caller keeps, with its tool calls or the call it answers."""
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in raw.get("tool_calls") or ())
    return Message(raw["role"], raw["content"], images, calls, raw.get("tool_call_id"))


def calls_info(calls: Sequence[ToolCall]) -> list[ToolCallInfo]:
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]


def wants_tools(request: Mapping[str, Any], history: Sequence[Message]) -> bool:
    """Whether a run offers tools or continues a chat that used them."""
    return bool(request.get("tools")) or any(m.tool_calls or m.role == "tool" for m in history)


def check_tools(
    request: Mapping[str, Any], history: Sequence[Message], targets: Sequence[Target]
) -> None:
    """Refuse, naming them, the models whose dialect cannot call tools."""
    if not wants_tools(request, history):
        return
    refusing = [t.name for t in targets if not t.provider.takes_tools]
    if refusing:
        raise UsageError(
            f"{', '.join(refusing)} cannot call tools; send the request without tools, or "
            "pick a model of a provider that supports them (openai, anthropic, gemini, "
            "cohere, mistral, ollama or an OpenAI-compatible one)",
            param="tools",
        )
