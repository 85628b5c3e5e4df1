"""Anthropic's Messages wire shapes, as far as the gateway reads and writes them.

Requests allow fields not named here; /openapi.json is generated from these types.
"""

from __future__ import annotations

from typing import Any, Literal, Required

from typing_extensions import TypedDict

# Bounds on every number a client sends (the OpenAPI document carries them).
from superllmd.protocol import Count, Share, Temperature

__all__ = [
    "CountTokensRequest",
    "ErrorBody",
    "Message",
    "MessagesRequest",
    "ModelInfo",
    "ModelInfoList",
    "StreamEvent",
    "TokenCount",
]

_ALLOW: Any = {"extra": "allow"}


class InputMessage(TypedDict):
    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class CountTokensRequest(TypedDict, total=False):
    """``POST /v1/messages/count_tokens``: the request without ``max_tokens``."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    model: Required[str]
    messages: Required[list[InputMessage]]
    system: str | list[dict[str, Any]] | None
    tools: list[dict[str, Any]] | None


class MessagesRequest(CountTokensRequest, total=False):
    """``POST /v1/messages``."""

    max_tokens: Required[Count]
    stream: bool | None
    temperature: Temperature | None
    top_p: Share | None
    top_k: Count | None
    stop_sequences: list[str] | None
    tool_choice: dict[str, Any] | None
    metadata: dict[str, Any] | None


class MessageUsage(TypedDict):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class Message(TypedDict, total=False):
    """A non-streaming answer; ``superllm`` is the extension Anthropic clients ignore."""

    id: Required[str]
    type: Required[Literal["message"]]
    role: Required[Literal["assistant"]]
    model: Required[str]
    content: Required[list[dict[str, Any]]]
    stop_reason: Required[str | None]
    stop_sequence: Required[str | None]
    usage: Required[MessageUsage]
    superllm: dict[str, Any]


class ModelInfo(TypedDict):
    """One model as Anthropic's ``GET /v1/models`` writes it (to a caller that sends
    ``anthropic-version``, as Anthropic's SDK does)."""

    type: Literal["model"]
    id: str
    display_name: str
    created_at: str  # RFC 3339


class ModelInfoList(TypedDict):
    data: list[ModelInfo]
    has_more: bool
    first_id: str | None
    last_id: str | None


class TokenCount(TypedDict):
    input_tokens: int


class ErrorDetail(TypedDict):
    type: str
    message: str


class ErrorBody(TypedDict):
    """Every error of the Anthropic-shaped routes; also the data of a mid-stream ``error``."""

    type: Literal["error"]
    error: ErrorDetail
    request_id: str


class StreamEvent(TypedDict, total=False):
    """One ``data:`` event of a streamed message (its SSE ``event:`` is ``type``):
    ``message_start``, per block ``content_block_start``, ``content_block_delta``...,
    ``content_block_stop``, then ``message_delta`` and ``message_stop``; ``ping`` (which
    carries a mode's steps under ``superllm``) and ``error`` may come between."""

    type: Required[
        Literal[
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "ping",
            "error",
        ]
    ]
    message: Message
    index: int
    content_block: dict[str, Any]
    delta: dict[str, Any]
    usage: dict[str, Any]
    error: dict[str, Any]
    superllm: dict[str, Any]
