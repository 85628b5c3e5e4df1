"""OpenAI's wire shapes, as far as the gateway reads and writes them.

Requests allow fields not named here (the SDKs send many; unknown ones are ignored);
responses are what the gateway writes, and /openapi.json is generated from these types.
"""

from __future__ import annotations

from typing import Any, Literal, Required

from typing_extensions import TypedDict

# Bounds on every number a client sends (the OpenAPI document carries them).
from superllmd.protocol import Count, Seed, Share, Temperature

__all__ = [
    "ChatChunk",
    "ChatCompletion",
    "ChatRequest",
    "EmbeddingList",
    "EmbeddingsRequest",
    "ErrorBody",
    "ModelList",
    "ModelObject",
    "ResponseObject",
    "ResponseStreamEvent",
    "ResponsesRequest",
]

_ALLOW: Any = {"extra": "allow"}


class ChatMessage(TypedDict, total=False):
    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    role: Required[Literal["developer", "system", "user", "assistant", "tool", "function"]]
    content: str | list[dict[str, Any]] | None
    name: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str


class StreamOptions(TypedDict, total=False):
    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    include_usage: bool


class JsonSchemaSpec(TypedDict, total=False):
    """``response_format.json_schema``: the schema the answer must match (validated)."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    name: str
    description: str
    schema: Required[dict[str, Any]]
    strict: bool | None


class ResponseFormat(TypedDict, total=False):
    """``response_format``: text, any JSON object, or JSON matching a schema."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    type: Required[Literal["text", "json_object", "json_schema"]]
    json_schema: JsonSchemaSpec


class ChatRequest(TypedDict, total=False):
    """``POST /v1/chat/completions``."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    model: Required[str]
    messages: Required[list[ChatMessage]]
    stream: bool | None
    stream_options: StreamOptions | None
    n: Count | None
    stop: str | list[str] | None
    temperature: Temperature | None
    top_p: Share | None
    max_tokens: Count | None
    max_completion_tokens: Count | None
    response_format: ResponseFormat | None
    seed: Seed | None
    tools: list[dict[str, Any]] | None
    tool_choice: str | dict[str, Any] | None
    user: str | None


class Usage(TypedDict, total=False):
    prompt_tokens: Required[int]
    completion_tokens: Required[int]
    total_tokens: Required[int]
    prompt_tokens_details: dict[str, int]
    completion_tokens_details: dict[str, int]


class AssistantMessage(TypedDict, total=False):
    role: Required[Literal["assistant"]]
    content: Required[str | None]
    refusal: None
    annotations: list[Any]
    tool_calls: list[dict[str, Any]]


class Choice(TypedDict):
    index: int
    message: AssistantMessage
    logprobs: None
    finish_reason: str


class ChatCompletion(TypedDict, total=False):
    """A non-streaming answer; ``superllm`` is the extension vendor clients ignore."""

    id: Required[str]
    object: Required[Literal["chat.completion"]]
    created: Required[int]
    model: Required[str]
    system_fingerprint: str | None
    choices: Required[list[Choice]]
    usage: Required[Usage]
    superllm: dict[str, Any]


class ChunkChoice(TypedDict):
    index: int
    delta: dict[str, Any]
    logprobs: None
    finish_reason: str | None


class ChatChunk(TypedDict, total=False):
    """One ``data:`` event of a stream (``data: [DONE]`` ends it)."""

    id: Required[str]
    object: Required[Literal["chat.completion.chunk"]]
    created: Required[int]
    model: Required[str]
    system_fingerprint: str | None
    choices: Required[list[ChunkChoice]]
    usage: Required[Usage | None]
    superllm: dict[str, Any]


class ModelObject(TypedDict):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(TypedDict):
    object: Literal["list"]
    data: list[ModelObject]


class EmbeddingsRequest(TypedDict, total=False):
    """``POST /v1/embeddings``."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    model: Required[str]
    input: Required[str | list[str]]
    encoding_format: Literal["float", "base64"]
    dimensions: Count | None
    user: str | None


class Embedding(TypedDict):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingUsage(TypedDict):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(TypedDict):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class ErrorDetail(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(TypedDict):
    """Every error of the OpenAI-shaped routes; also sent in-band in a broken stream."""

    error: ErrorDetail


class TextFormat(TypedDict, total=False):
    """The Responses API's ``text.format``: a schema travels beside the type, named."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    type: Required[Literal["text", "json_object", "json_schema"]]
    name: str
    description: str
    schema: dict[str, Any]
    strict: bool | None


class TextConfig(TypedDict, total=False):
    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    format: TextFormat


class ResponsesRequest(TypedDict, total=False):
    """``POST /v1/responses`` (the Responses API): text in, text out."""

    __pydantic_config__ = _ALLOW  # type: ignore[misc]

    model: Required[str]
    input: Required[str | list[dict[str, Any]]]
    instructions: str | None
    stream: bool | None
    temperature: Temperature | None
    top_p: Share | None
    max_output_tokens: Count | None
    text: TextConfig | None
    tools: list[dict[str, Any]] | None


class ResponseUsage(TypedDict):
    input_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens: int
    output_tokens_details: dict[str, int]
    total_tokens: int


class ResponseObject(TypedDict, total=False):
    """A Responses API answer (also the payload of ``response.completed``)."""

    id: Required[str]
    object: Required[Literal["response"]]
    created_at: Required[int]
    status: Required[Literal["completed", "failed", "in_progress", "incomplete"]]
    model: Required[str]
    output: Required[list[dict[str, Any]]]
    usage: Required[ResponseUsage | None]
    error: dict[str, Any] | None
    incomplete_details: dict[str, Any] | None
    instructions: str | None
    metadata: dict[str, str]
    parallel_tool_calls: bool
    temperature: float | None
    top_p: float | None
    tool_choice: str
    tools: list[Any]
    superllm: dict[str, Any]


class ResponseStreamEvent(TypedDict, total=False):
    """One ``data:`` event of a streamed Responses answer (its SSE ``event:`` is ``type``):
    ``response.created``, ``response.in_progress``, items and parts added, text and
    function-call argument deltas, their ``.done`` events, then ``response.completed`` or
    ``response.failed``; ``superllm.progress`` tells of a mode's steps."""

    type: Required[str]
    sequence_number: Required[int]
    response: ResponseObject
    output_index: int
    content_index: int
    item_id: str
    item: dict[str, Any]
    part: dict[str, Any]
    delta: str
    text: str
    arguments: str
    logprobs: list[Any]
    event: dict[str, Any]
