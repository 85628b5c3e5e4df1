"""The Anthropic Messages dialect, over httpx.

Differences from the OpenAI shape that matter here: the system prompt is a top-level field,
``max_tokens`` is required, the key goes in ``x-api-key`` next to a pinned
``anthropic-version``, streams are named SSE events ending in ``message_stop``, usage counts
cache writes and reads *apart* from ``input_tokens``, and 529 means overloaded. Long prompts
are marked for prompt caching, because a cache read costs a tenth of a fresh input token.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from superllmd.config import ProviderSettings
from superllmd.errors import ProtocolError, ProviderError, QuotaExhausted, sentence
from superllmd.providers._http import (
    MAX_LIST_PAGES,
    HttpProvider,
    iter_sse,
    json_object,
    listed_int,
    redact,
    translate_transport_errors,
)
from superllmd.providers.base import (
    ChatRequest,
    Completion,
    Message,
    Provider,
    ProviderKind,
    ServedModel,
    StreamItem,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolCallDelta,
)
from superllmd.providers.keys import ResolvedKey
from superllmd.providers.tooling import ToolCallParts, arguments_object, arguments_text

__all__ = ["ANTHROPIC_VERSION", "AnthropicKind", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
# Anthropic caches prefixes of at least ~1024 tokens; we estimate 4 characters a token.
CACHE_MIN_CHARS = 1024 * 4
_EPHEMERAL = {"type": "ephemeral"}
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
_CHOICE = {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}
# In-band error types -> the HTTP status the same error would have had.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicProvider(HttpProvider):
    takes_attachments = True
    takes_tools = True

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        key_env: tuple[str, ...],
    ) -> None:
        base = (settings.base_url or "https://api.anthropic.com").rstrip("/")
        # The SDK convention is a base URL without /v1; forgive one that has it.
        super().__init__(
            provider_id, settings, kind, environ, key_env, base_url=base.removesuffix("/v1")
        )

    # -- request ---------------------------------------------------------------------------
    async def _headers(self) -> tuple[dict[str, str], ResolvedKey]:
        key = await self._key()
        headers = {
            "content-type": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            **self.settings.headers,
            "x-api-key": key.value,
        }
        return headers, key

    def _body(self, request: ChatRequest, stream: bool) -> tuple[dict[str, Any], str]:
        """The request body, and the prefill the answer continues (to prepend to its text)."""
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        turns = [m for m in request.messages if m.role != "system"]
        messages = _turns(turns)
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": messages,
        }
        if system:
            body["system"] = system
            if len(system) > CACHE_MIN_CHARS:
                body["system"] = [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]
        # Mark the conversation so far (all but the newest turn) as a cache breakpoint, so
        # the next turn of a long conversation reads it from cache instead of paying again.
        if len(messages) >= 2:
            prefix = len(system) + sum(len(m.content) for m in turns[:-1])
            last_but_one = messages[-2]
            if prefix > CACHE_MIN_CHARS and isinstance(last_but_one["content"], str):
                last_but_one["content"] = [
                    {"type": "text", "text": last_but_one["content"], "cache_control": _EPHEMERAL}
                ]
        prefill = ""
        if request.json_schema is not None and "output_config" not in request.options:
            schema = dict(request.json_schema)
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        # No schema to give output_config, so prefill "{": the reply continues a JSON object.
        # A caller's own prefill (a trailing assistant turn) or output_config wins.
        wants_prefill = (
            request.json_output
            and request.json_schema is None
            and "output_config" not in request.options
        )
        if wants_prefill and (not messages or messages[-1]["role"] != "assistant"):
            prefill = "{"
            messages.append({"role": "assistant", "content": prefill})
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        body.update(_tools(request))
        body.update(request.options)
        if stream:
            body["stream"] = True
        return body, prefill

    # -- errors ----------------------------------------------------------------------------
    def _error(
        self,
        status: int,
        headers: Mapping[str, str],
        body: str,
        model: str,
        key: ResolvedKey | None,
    ) -> ProviderError:
        secrets = (key.value,) if key else ()
        error = _error_object(body)
        details = error.get("details")
        if (
            isinstance(details, dict)
            and details.get("error_code") == "enforced_spend_limit_reached"
        ):
            message = redact(str(error.get("message") or "spend limit reached"), secrets)
            return QuotaExhausted(
                f"{self.id} said ({status}): {sentence(message)} The workspace spend limit is "
                "reached; raise it in the Anthropic console (waiting will not help).",
                provider=self.id,
                status=status,
            )
        return super()._error(status, headers, body, model, key)

    def _stream_error(self, data: dict[str, Any], model: str, key: ResolvedKey) -> ProviderError:
        """``event: error`` after a 200: map it as the status that error type stands for."""
        error = data.get("error")
        status = _ERROR_STATUS.get(str(error.get("type")), 500) if isinstance(error, dict) else 500
        return self._error(status, {}, json.dumps(data), model, key)

    # -- calls -----------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        headers, key = await self._headers()
        body, prefill = self._body(request, stream=False)
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/v1/messages", json=body, headers=headers
            )
            await self._check(response, request.model, key)
        data = json_object(self.id, response.text, "a reply")
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise ProtocolError(
                f"{self.id} answered 200 with a body that is not a message", provider=self.id
            )
        text = "".join(
            str(b.get("text") or "")
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        calls = tuple(
            ToolCall(str(b.get("id")), str(b.get("name")), arguments_text(b.get("input")))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_use"
        )
        return Completion(
            text=prefill + text,
            usage=_usage(data.get("usage")),
            finish_reason=_finish(data.get("stop_reason")),
            model=data.get("model"),
            tool_calls=calls,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        headers, key = await self._headers()
        body, prefill = self._body(request, stream=True)
        parts: list[str] = []
        calls = _ToolBlocks()
        usage: dict[str, Any] = {}
        stop_reason: str | None = None
        model: str | None = None
        done = False
        async with translate_transport_errors(self.id, self.base_url):
            req = self._client().build_request(
                "POST", f"{self.base_url}/v1/messages", json=body, headers=headers
            )
            response = await self._client().send(req, stream=True)
            try:
                await self._check(response, request.model, key)
                async for event in iter_sse(response.aiter_bytes()):
                    if event.event == "ping":
                        continue
                    data = json_object(self.id, event.data)
                    kind = event.event if event.event != "message" else data.get("type")
                    if kind == "error":
                        raise self._stream_error(data, request.model, key)
                    if kind == "message_start":
                        message = data.get("message") or {}
                        model = message.get("model")
                        usage.update(message.get("usage") or {})
                        if prefill:
                            parts.append(prefill)
                            yield TextDelta(prefill)
                    elif kind == "content_block_start":
                        if call := calls.start(data):
                            yield call
                    elif kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta" and (text := delta.get("text")):
                            parts.append(text)
                            yield TextDelta(text)
                        elif call := calls.delta(data):
                            yield call
                    elif kind == "message_delta":
                        # Counts here are cumulative: they replace, not add to, earlier ones.
                        usage.update(data.get("usage") or {})
                        stop_reason = (data.get("delta") or {}).get("stop_reason") or stop_reason
                    elif kind == "message_stop":
                        done = True
                        break
            finally:
                await response.aclose()
        if not done and stop_reason is None:
            raise ProtocolError(
                f"the stream from {self.id} ended before message_stop after "
                f"{sum(map(len, parts))} characters; the answer is incomplete. Retry.",
                provider=self.id,
            )
        yield Completion("".join(parts), _usage(usage), _finish(stop_reason), model, calls.calls())

    async def list_models(self) -> list[str]:
        if self.settings.models:
            return list(self.settings.models)
        return [m.id for m in await self.served_models()]

    async def served_models(self) -> list[ServedModel]:
        """``GET /v1/models``, page after page (``has_more``, ``after_id``)."""
        headers, key = await self._headers()
        found: list[ServedModel] = []
        params: dict[str, Any] = {"limit": 1000}
        for _ in range(MAX_LIST_PAGES):
            data = await self._get_json(f"{self.base_url}/v1/models", params, headers, key)
            rows = data.get("data") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ProtocolError(f"{self.id} sent a model list without data", provider=self.id)
            found += [
                ServedModel(
                    str(m["id"]),
                    context_window=listed_int(m.get("max_input_tokens")),
                    max_output=listed_int(m.get("max_tokens")),
                )
                for m in rows
                if isinstance(m, dict) and m.get("id")
            ]
            if not data.get("has_more") or not data.get("last_id"):
                break
            params = {"limit": 1000, "after_id": data["last_id"]}
        return found


class _ToolBlocks(ToolCallParts):
    """Streamed ``tool_use`` blocks as tool calls: a block's index -> its call's ordinal."""

    def __init__(self) -> None:
        super().__init__()
        self.of_block: dict[int, int] = {}

    def start(self, data: dict[str, Any]) -> ToolCallDelta | None:
        block = data.get("content_block") or {}
        if block.get("type") != "tool_use":
            return None
        n = self.of_block[data.get("index", 0)] = len(self.of_block)
        return self.add(ToolCallDelta(n, block.get("id"), block.get("name")))

    def delta(self, data: dict[str, Any]) -> ToolCallDelta | None:
        delta = data.get("delta") or {}
        n = self.of_block.get(data.get("index", 0))
        if delta.get("type") != "input_json_delta" or n is None or not delta.get("partial_json"):
            return None
        return self.add(ToolCallDelta(n, arguments=delta["partial_json"]))


def _tools(request: ChatRequest) -> dict[str, Any]:
    if not request.tools:
        return {}
    out: dict[str, Any] = {
        "tools": [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": dict(t.parameters),
            }
            for t in request.tools
        ]
    }
    if (choice := request.tool_choice) is not None:
        out["tool_choice"] = {"type": _CHOICE[choice.mode]}
        if choice.mode == "tool":
            out["tool_choice"]["name"] = choice.name
    return out


def _turns(turns: list[Message]) -> list[dict[str, Any]]:
    """The turns as Anthropic takes them. A tool's result is a ``tool_result`` block in a user
    turn; results of one round, and a user's text after them, share that one turn, since
    the roles must alternate."""
    out: list[dict[str, Any]] = []
    after_tool = False
    for m in turns:
        message = _message(m)
        if after_tool and out[-1]["role"] == message["role"]:
            more = message["content"]
            text = [{"type": "text", "text": more}]
            out[-1]["content"] += more if isinstance(more, list) else text
        else:
            out.append(message)
        after_tool = m.role == "tool"
    return out


def _message(m: Message) -> dict[str, Any]:
    """A turn; with images, content becomes blocks, images first."""
    if m.role == "tool":
        result = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
        return {"role": "user", "content": [result]}
    if m.tool_calls:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(c)}
            for c in m.tool_calls
        ]
        return {"role": m.role, "content": blocks}
    if not m.attachments:
        return {"role": m.role, "content": m.content}
    images: list[dict[str, Any]] = [
        {"type": "image", "source": {"type": "base64", "media_type": a.media_type, "data": a.data}}
        for a in m.attachments
    ]
    return {"role": m.role, "content": [*images, {"type": "text", "text": m.content}]}


def _error_object(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _finish(reason: Any) -> str | None:
    return None if reason is None else _FINISH.get(str(reason), str(reason))


def _usage(data: Any) -> TokenUsage:
    """Anthropic counts cache writes and reads apart from ``input_tokens``; we count all."""
    if not isinstance(data, dict):
        return TokenUsage()
    fresh = int(data.get("input_tokens") or 0)
    written = int(data.get("cache_creation_input_tokens") or 0)
    read = int(data.get("cache_read_input_tokens") or 0)
    return TokenUsage(
        input_tokens=fresh + written + read,
        output_tokens=int(data.get("output_tokens") or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


class AnthropicKind(ProviderKind):
    """api.anthropic.com, or any server that speaks the Messages API."""

    name = "anthropic"
    key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"anthropic": {"base_url": "https://api.anthropic.com"}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return AnthropicProvider(provider_id, settings, self, environ, self.key_env)
