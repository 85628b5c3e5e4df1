"""Tools on the gateway's doors: each dialect's ``tools``/``tool_choice`` and tool turns to
the native shapes (protocol_tools.py) and back, so a client of one vendor's API can use
tools on any provider whose dialect takes them (providers/tooling.py does the other side).

OpenAI Chat Completions: ``{"type": "function", "function": {name, description, parameters}}``,
calls in ``message.tool_calls`` (arguments as JSON text), results as ``role: tool`` turns.
Responses: flat ``{"type": "function", name, ...}``, ``function_call`` and
``function_call_output`` items. Anthropic: ``{name, description, input_schema}``, ``tool_use``
blocks (input as an object) and ``tool_result`` blocks in a user turn.
"""

from __future__ import annotations

import json
from typing import Any

from superllmd.errors import UsageError
from superllmd.protocol_tools import ToolCallInfo, ToolChoiceSpec, ToolSpec

__all__ = [
    "anthropic_choice",
    "anthropic_tools",
    "as_text",
    "openai_calls",
    "openai_choice",
    "openai_tools",
    "responses_choice",
    "responses_tools",
    "tool_fields",
]

_MODES = {"auto", "none", "required"}


def _spec(name: Any, description: Any, parameters: Any, where: str) -> ToolSpec:
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where}: a function tool needs a name", param=where)
    spec: ToolSpec = {"name": name}
    if description:
        spec["description"] = str(description)
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise UsageError(f"{where}: parameters must be a JSON Schema object", param=where)
        spec["parameters"] = parameters
    return spec


def openai_tools(tools: list[dict[str, Any]] | None) -> list[ToolSpec]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(tools or []):
        where = f"tools.{i}"
        if tool.get("type", "function") != "function":
            raise UsageError(
                f"{where}: tools of type {tool.get('type')!r} are not supported; "
                "only function tools are",
                param=where,
            )
        fn = tool.get("function") or {}
        out.append(_spec(fn.get("name"), fn.get("description"), fn.get("parameters"), where))
    return out


def responses_tools(tools: list[dict[str, Any]] | None) -> list[ToolSpec]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(tools or []):
        where = f"tools.{i}"
        if tool.get("type") != "function":
            raise UsageError(
                f"{where}: tools of type {tool.get('type')!r} (built-in tools) are not "
                "supported; only function tools are",
                param=where,
            )
        out.append(_spec(tool.get("name"), tool.get("description"), tool.get("parameters"), where))
    return out


def anthropic_tools(tools: list[dict[str, Any]] | None) -> list[ToolSpec]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(tools or []):
        where = f"tools.{i}"
        if tool.get("type") not in {None, "custom"}:
            raise UsageError(
                f"{where}: server tools ({tool.get('type')}) are not supported; only custom "
                "tools with an input_schema are",
                param=where,
            )
        schema = tool.get("input_schema")
        out.append(_spec(tool.get("name"), tool.get("description"), schema, where))
    return out


def _mode(choice: Any, allowed: dict[str, str]) -> ToolChoiceSpec:
    mode = allowed.get(str(choice))
    if mode is None:
        names = ", ".join(repr(k) for k in allowed)
        raise UsageError(f"tool_choice must be {names} or a named tool", param="tool_choice")
    return mode  # type: ignore[return-value]


def openai_choice(choice: Any) -> ToolChoiceSpec | None:
    """``"auto"|"none"|"required"`` or ``{"type": "function", "function": {"name"}}``."""
    if choice is None:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise UsageError("tool_choice: name the function to call", param="tool_choice")
        return {"name": str(name)}
    return _mode(choice, {m: m for m in _MODES})


def responses_choice(choice: Any) -> ToolChoiceSpec | None:
    """``"auto"|"none"|"required"`` or ``{"type": "function", "name"}``."""
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"name": str(choice["name"])}
    if isinstance(choice, dict):
        raise UsageError("tool_choice: only function tools can be chosen", param="tool_choice")
    return None if choice is None else _mode(choice, {m: m for m in _MODES})


def anthropic_choice(choice: Any) -> ToolChoiceSpec | None:
    """``{"type": "auto"|"any"|"none"}`` or ``{"type": "tool", "name"}``."""
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "tool":
        return {"name": str(choice.get("name") or "")}
    return _mode(choice.get("type"), {"auto": "auto", "any": "required", "none": "none"})


def tool_fields(tools: list[ToolSpec], choice: ToolChoiceSpec | None) -> dict[str, Any]:
    """What a native request gets: ``tools`` and ``tool_choice`` when there are tools."""
    if not tools:
        return {}
    return {"tools": tools, **({"tool_choice": choice} if choice is not None else {})}


def openai_calls(calls: list[ToolCallInfo]) -> list[dict[str, Any]]:
    """Calls in Chat Completions' ``message.tool_calls`` shape."""
    return [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for c in calls
    ]


def as_text(value: Any) -> str:
    """A tool's result as text: strings as they are, text parts joined, anything else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        texts = [str(p.get("text", "")) for p in value if p.get("type") in {"text", "input_text"}]
        if len(texts) == len(value):
            return "\n".join(texts)
    return json.dumps(value, ensure_ascii=False)
