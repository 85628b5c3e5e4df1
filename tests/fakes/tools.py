"""Tool behaviour shared by the fakes, each of which checks its vendor's request shape and
answers in its vendor's shape (tests/fakes/<vendor>.py); what they agree on lives here.

A request that offers tools (and does not forbid them) and ends with the user's turn is
answered with one call to the first tool (or the one ``tool_choice`` names), whose arguments
give the schema's first property the user's text: ``{"city": "Paris"}``. A request that
ends with a tool's result is answered with text: ``the tool said: <result>``. A shape the
real API would refuse raises ``ShapeError`` (the fake answers 400 with its message).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ShapeError", "call_arguments", "openai_shaped_tools", "reply_to", "require", "split"]


class ShapeError(Exception):
    """A request the real API would refuse."""


def call_arguments(schema: Any, text: str) -> dict[str, Any]:
    """The arguments the fake calls a tool with: the first property gets ``text``."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        return {}
    return {next(iter(properties)): text}


def reply_to(result: Any) -> str:
    if not isinstance(result, str):
        result = json.dumps(result, separators=(",", ":"))
    return f"the tool said: {result}"


def split(text: str) -> list[str]:
    """Streamed arguments in two pieces, as vendors cut them mid-token."""
    half = max(len(text) // 2, 1)
    return [p for p in (text[:half], text[half:]) if p]


def require(ok: bool, message: str) -> None:
    if not ok:
        raise ShapeError(message)


def openai_shaped_tools(tools: Any) -> list[tuple[str, Any]]:
    """``[{"type": "function", "function": {name, description?, parameters}}]`` (OpenAI,
    Mistral, Cohere v2, Ollama): (name, schema) of each."""
    require(isinstance(tools, list), "tools: Input should be a valid list")
    out = []
    for i, tool in enumerate(tools):
        require(isinstance(tool, dict) and tool.get("type") == "function", f"tools.{i}.type")
        fn = tool.get("function")
        require(isinstance(fn, dict) and isinstance(fn.get("name"), str), f"tools.{i}.function")
        require(isinstance(fn.get("parameters", {}), dict), f"tools.{i}.function.parameters")
        out.append((fn["name"], fn.get("parameters")))
    return out
