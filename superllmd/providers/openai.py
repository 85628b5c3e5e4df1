"""The OpenAI chat-completions dialect, over httpx.

Two kinds share it: ``openai`` (api.openai.com, ``OPENAI_API_KEY``) and
``openai-compatible`` (any server that speaks the dialect, declared in config with
``kind = "openai-compatible"`` and a ``base_url``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

from superllmd.config import ProviderSettings
from superllmd.errors import (
    Overloaded,
    ProtocolError,
    ProviderError,
    ServerError,
    UsageError,
)
from superllmd.providers._http import (
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
from superllmd.providers.tooling import ToolCallParts, finish_with_calls

__all__ = [
    "OpenAICompatibleKind",
    "OpenAIKind",
    "OpenAIProvider",
    "openai_tools",
    "openai_usage",
    "stream_error",
]


class OpenAIProvider(HttpProvider):
    takes_attachments = True
    takes_tools = True
    # OpenAI itself deprecated max_tokens; most compatible servers only know max_tokens.
    max_tokens_field: ClassVar[str] = "max_tokens"

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        key_env: tuple[str, ...] = (),
        key_required: bool = False,
    ) -> None:
        if not settings.base_url:
            raise UsageError(
                f"provider {provider_id} has no base_url; set providers.{provider_id}.base_url"
            )
        super().__init__(provider_id, settings, kind, environ, key_env, base_url=settings.base_url)
        self._key_required = key_required

    async def _headers(self) -> tuple[dict[str, str], ResolvedKey | None]:
        key = await (self._key() if self._key_required else self._maybe_key())
        headers = {"content-type": "application/json", **self.settings.headers}
        if key is not None:
            headers["authorization"] = f"Bearer {key.value}"
        return headers, key

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m, self._call_id) for m in request.messages],
            **openai_tools(request),
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if request.json_schema is not None:
            schema = {"name": "answer", "schema": dict(request.json_schema)}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif request.json_output:
            body["response_format"] = {"type": "json_object"}
        body.update(request.options)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _call_id(self, call_id: str) -> str:
        """A call id as this server takes it back (Mistral wants its own shape)."""
        return call_id

    def _url(self, model: str) -> str:
        """Where chat completions go; Azure puts the deployment in the path."""
        return f"{self.base_url}/chat/completions"

    def _params(self) -> dict[str, str] | None:
        """Query parameters for every request (Azure's ``api-version``)."""
        return None

    async def complete(self, request: ChatRequest) -> Completion:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                self._url(request.model),
                params=self._params(),
                json=self._body(request, stream=False),
                headers=headers,
            )
            await self._check(response, request.model, key)
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            calls = tuple(
                ToolCall(str(c["id"]), str(c["function"]["name"]), c["function"]["arguments"])
                for c in choice["message"].get("tool_calls") or ()
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProtocolError(
                f"{self.id} answered 200 with a body that is not a chat completion",
                provider=self.id,
            ) from None
        return Completion(
            text=text,
            usage=openai_usage(data.get("usage")),
            finish_reason=finish_with_calls(choice.get("finish_reason"), calls),
            model=data.get("model"),
            tool_calls=calls,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        headers, key = await self._headers()
        secrets = (key.value,) if key else ()
        parts: list[str] = []
        calls = ToolCallParts()
        finish: str | None = None
        usage = TokenUsage()
        model: str | None = None
        done = False
        async with translate_transport_errors(self.id, self.base_url):
            req = self._client().build_request(
                "POST",
                self._url(request.model),
                params=self._params(),
                json=self._body(request, stream=True),
                headers=headers,
            )
            response = await self._client().send(req, stream=True)
            try:
                await self._check(response, request.model, key)
                async for event in iter_sse(response.aiter_bytes()):
                    if event.data.startswith("[DONE]"):
                        done = True
                        break
                    chunk = json_object(self.id, event.data)
                    if chunk.get("error"):
                        raise stream_error(self.id, chunk["error"], secrets)
                    model = chunk.get("model") or model
                    if chunk.get("usage"):
                        usage = openai_usage(chunk["usage"])
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if text := delta.get("content"):
                            parts.append(text)
                            yield TextDelta(text)
                        for piece in delta.get("tool_calls") or ():
                            yield calls.add(_call_delta(self.id, piece))
                        finish = choice.get("finish_reason") or finish
            finally:
                await response.aclose()
        if not done and finish is None:
            raise ProtocolError(
                f"the stream from {self.id} ended before its end marker ([DONE]) after "
                f"{sum(map(len, parts))} characters; the answer is incomplete. Retry.",
                provider=self.id,
            )
        if finish == "error":
            raise ServerError(f"{self.id} ended the stream with an error", provider=self.id)
        found = calls.calls()
        yield Completion("".join(parts), usage, finish_with_calls(finish, found), model, found)

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/embeddings",
                params=self._params(),
                json={"model": model, "input": texts},
                headers=headers,
            )
            await self._check(response, model, key)
        data = json_object(self.id, response.text, "an embeddings reply")
        try:
            rows = sorted(data["data"], key=lambda row: int(row.get("index", 0)))
            return [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProtocolError(f"{self.id} sent malformed embeddings", provider=self.id) from None

    async def list_models(self) -> list[str]:
        """Configured models, else the server's own list (``GET /models``)."""
        if self.settings.models:
            return list(self.settings.models)
        return [m.id for m in await self.served_models()]

    async def served_models(self) -> list[ServedModel]:
        """``GET {base}/models``: ``{"object": "list", "data": [{"id"}]}``.

        Compatible servers add a window under their own name (vLLM ``max_model_len``, Groq
        ``context_window``, Together ``context_length``); Together answers a bare list.
        """
        headers, key = await self._headers()
        data = await self._get_json(f"{self.base_url}/models", self._params(), headers, key)
        rows = data.get("data") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ProtocolError(f"{self.id} sent a model list without data", provider=self.id)
        return [
            ServedModel(
                str(m["id"]),
                context_window=listed_int(
                    m.get("context_window")
                    or m.get("max_model_len")
                    or m.get("context_length")
                    or m.get("max_context_length")  # Mistral
                ),
                max_output=listed_int(m.get("max_completion_tokens")),
            )
            for m in rows
            if isinstance(m, dict) and m.get("id") and self._serves_chat(m)
        ]

    def _serves_chat(self, row: dict[str, Any]) -> bool:
        """Whether a listed model answers chat completions (all, unless the list says)."""
        return True


def openai_tools(request: ChatRequest) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` in OpenAI's shape (also Cohere's, Ollama's, Mistral's)."""
    if not request.tools:
        return {}
    out: dict[str, Any] = {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": dict(t.parameters),
                },
            }
            for t in request.tools
        ]
    }
    choice = request.tool_choice
    if choice is not None:
        out["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}}
            if choice.mode == "tool"
            else choice.mode
        )
    return out


def _call_delta(provider: str, piece: Any) -> ToolCallDelta:
    """One streamed fragment of a call: ``index``, then ``id``/``name`` first, arguments."""
    if not isinstance(piece, dict) or not isinstance(piece.get("index", 0), int):
        raise ProtocolError(f"{provider} streamed a malformed tool call", provider=provider)
    function = piece.get("function") or {}
    return ToolCallDelta(
        piece.get("index", 0),
        piece.get("id") or None,
        function.get("name") or None,
        function.get("arguments") or "",
    )


def _message(m: Message, call_id: Callable[[str], str] = str) -> dict[str, Any]:
    """A chat message; with images, content becomes parts."""
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": call_id(m.tool_call_id or ""), "content": m.content}
    if m.tool_calls:
        calls = [
            {
                "id": call_id(c.id),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in m.tool_calls
        ]
        return {"role": m.role, "content": m.content or None, "tool_calls": calls}
    if not m.attachments:
        return {"role": m.role, "content": m.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}]
    parts += [
        {"type": "image_url", "image_url": {"url": f"data:{a.media_type};base64,{a.data}"}}
        for a in m.attachments
    ]
    return {"role": m.role, "content": parts}


def stream_error(provider: str, error: Any, secrets: tuple[str, ...]) -> ProviderError:
    """An error that arrives in-band after a 200."""
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        kind = str(error.get("type") or error.get("code") or "")
    else:
        message, kind = str(error), ""
    message = redact(message, secrets)
    if "overload" in kind.lower() or "overload" in message.lower():
        return Overloaded(f"{provider} is overloaded (mid-stream): {message}", provider=provider)
    return ServerError(f"{provider} failed mid-stream: {message}", provider=provider)


def openai_usage(data: Any) -> TokenUsage:
    if not isinstance(data, dict):
        return TokenUsage()
    details = data.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:  # DeepSeek reports its cache split at the top level
        cached = data.get("prompt_cache_hit_tokens") or 0
    return TokenUsage(
        input_tokens=int(data.get("prompt_tokens") or 0),
        output_tokens=int(data.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
    )


class _OpenAINative(OpenAIProvider):
    max_tokens_field = "max_completion_tokens"


class OpenAIKind(ProviderKind):
    """api.openai.com."""

    name = "openai"
    key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"openai": {"base_url": "https://api.openai.com/v1"}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return _OpenAINative(
            provider_id, settings, self, environ, key_env=self.key_env, key_required=True
        )


class OpenAICompatibleKind(ProviderKind):
    """Any server that speaks chat completions: vLLM, llama.cpp, LM Studio, a gateway..."""

    name = "openai-compatible"

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return OpenAIProvider(provider_id, settings, self, environ)
