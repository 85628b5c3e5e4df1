"""Tool calling in the native API (API v1): the shapes ``protocol.py`` uses for tools.

Stdlib only, like protocol.py. A request offers ``tools`` (name, description, JSON Schema
of the arguments) and may set ``tool_choice``; the model's answer may then be calls instead
of (or besides) text: ``message`` events and the run's result carry ``tool_calls``, and a
stream sends ``tool_call.delta`` events as a call's arguments arrive. The caller runs the
tools and sends the chat back with the assistant's calls and one ``tool`` turn per result
in ``messages``; the prompt may then be empty (the model continues from the results)::

    {"model": "anthropic/claude-sonnet-4-5", "prompt": "Weather in Paris?",
     "tools": [{"name": "get_weather", "parameters": {"type": "object",
                "properties": {"city": {"type": "string"}}}}]}
    -> result.tool_calls == [{"id": "toolu_1", "name": "get_weather",
                              "arguments": "{\\"city\\": \\"Paris\\"}"}]
    {"model": "...", "prompt": "", "tools": [...], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [<the call>]},
        {"role": "tool", "content": "18C, sunny", "tool_call_id": "toolu_1"}]}
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Required

from typing_extensions import TypedDict

__all__ = ["NamedTool", "ToolCallDeltaEvent", "ToolCallInfo", "ToolChoiceSpec", "ToolSpec"]

_FORBID: Any = {"extra": "forbid"}


class ToolSpec(TypedDict, total=False):
    """A function the model may call; ``parameters`` is a JSON Schema of an object."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    name: Required[str]
    description: str
    parameters: dict[str, Any]


class NamedTool(TypedDict, total=False):
    """``tool_choice`` naming the one tool the model must call."""

    __pydantic_config__ = _FORBID  # type: ignore[misc]

    name: Required[str]


#: ``auto`` (the model decides; the default), ``none``, ``required`` (some tool), or one tool.
ToolChoiceSpec = Literal["auto", "none", "required"] | NamedTool


class ToolCallInfo(TypedDict):
    """A call the model asked for; ``arguments`` is JSON text of an object."""

    id: str
    name: str
    arguments: str


class ToolCallDeltaEvent(TypedDict):
    """A piece of a streamed call: the first of each ``index`` has ``id`` and ``name``, the
    rest more ``arguments`` text to append."""

    type: Literal["tool_call.delta"]
    run_id: str
    participant: str
    round: int
    index: int
    id: NotRequired[str]
    name: NotRequired[str]
    arguments: str
