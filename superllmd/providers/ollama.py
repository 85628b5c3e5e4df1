"""The Ollama native dialect (``/api/chat``), over httpx.

Native rather than Ollama's OpenAI layer because the native API reports real token counts
(``prompt_eval_count``/``eval_count``), takes every Modelfile option, and lists the pulled
models. Streams are NDJSON, one object a line, complete only at the line with
``"done": true``; an ``{"error": "..."}`` line is a failure after the 200. No key is needed
locally; one is sent as a Bearer token when configured (ollama.com's cloud wants it).

Where the server is: ``providers.ollama.base_url``, else ``$OLLAMA_HOST`` (from the request's
environment, read the way the ``ollama`` CLI reads it), else http://127.0.0.1:11434.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from superllmd.config import ProviderSettings
from superllmd.errors import ModelNotFound, ProtocolError, ProviderError, ServerError
from superllmd.providers._http import (
    HttpProvider,
    iter_lines,
    json_object,
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
from superllmd.providers.openai import openai_tools
from superllmd.providers.tooling import (
    arguments_object,
    arguments_text,
    finish_with_calls,
    new_call_id,
    tool_names,
)

__all__ = ["DEFAULT_HOST", "OllamaKind", "OllamaProvider", "ollama_host"]

DEFAULT_HOST = "http://127.0.0.1:11434"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Request options that are top-level fields of /api/chat; everything else is a Modelfile
# option (top_p, seed, num_ctx, ...) and goes under "options".
_TOP_LEVEL = {"keep_alive", "think", "format", "tools"}
# Addresses a server binds to but a client cannot meaningfully connect to.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def ollama_host(value: str) -> str:
    """A base URL from ``$OLLAMA_HOST``: ``host``, ``host:port``, ``:port`` or a full URL.

    >>> ollama_host("0.0.0.0:8080")
    'http://127.0.0.1:8080'
    """
    value = value.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "http", value
    default_port = _DEFAULT_PORTS.get(scheme, 11434) if sep else 11434
    hostport, _, path = rest.partition("/")
    try:
        parts = urlsplit(f"//{hostport}")
        host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    except ValueError:
        return DEFAULT_HOST
    host = _ANY_ADDRESS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" + (f"/{path}".rstrip("/") if path else "")


class OllamaProvider(HttpProvider):
    takes_tools = True

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        key_env: tuple[str, ...],
    ) -> None:
        env_host = environ.get("OLLAMA_HOST", "").strip()
        base = settings.base_url or (ollama_host(env_host) if env_host else DEFAULT_HOST)
        super().__init__(provider_id, settings, kind, environ, key_env, base_url=base)

    # -- request ---------------------------------------------------------------------------
    async def _headers(self) -> tuple[dict[str, str], ResolvedKey | None]:
        key = await self._maybe_key()
        headers = {"content-type": "application/json", **self.settings.headers}
        if key is not None:
            headers["authorization"] = f"Bearer {key.value}"
        return headers, key

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": _messages(request.messages),
            "stream": stream,
        }
        # Ollama cannot be told to use a tool (no tool_choice): "none" sends none.
        if request.tool_choice is None or request.tool_choice.mode != "none":
            body.update({"tools": openai_tools(request)["tools"]} if request.tools else {})
        if request.json_schema is not None:
            body["format"] = dict(request.json_schema)
        elif request.json_output:
            body["format"] = "json"
        for name, value in request.options.items():
            if name in _TOP_LEVEL:
                body[name] = value
            else:
                options[name] = value
        if options:
            body["options"] = options
        return body

    # -- errors ----------------------------------------------------------------------------
    def _error(
        self,
        status: int,
        headers: Mapping[str, str],
        body: str,
        model: str,
        key: ResolvedKey | None,
    ) -> ProviderError:
        error = super()._error(status, headers, body, model, key)
        if isinstance(error, ModelNotFound) and model:
            error = ModelNotFound(
                f"{error.message} Pull it with `ollama pull {model}`.", **error.details
            )
        return error

    def _inband_error(self, message: Any, model: str, key: ResolvedKey | None) -> ProviderError:
        text = redact(str(message), (key.value,) if key else ())
        if "not found" in text:
            return ModelNotFound(
                f"{self.id} said: {text}. Pull it with `ollama pull {model}`.", provider=self.id
            )
        return ServerError(f"{self.id} failed mid-answer: {text}", provider=self.id)

    # -- calls -----------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/api/chat", json=self._body(request, False), headers=headers
            )
            await self._check(response, request.model, key)
        data = json_object(self.id, response.text, "a reply")
        if "error" in data:
            raise self._inband_error(data["error"], request.model, key)
        message = data.get("message")
        if not isinstance(message, dict) or not data.get("done"):
            raise ProtocolError(
                f"{self.id} answered 200 with a body that is not a finished chat reply",
                provider=self.id,
            )
        calls = _calls(message)
        return Completion(
            text=str(message.get("content") or ""),
            usage=_usage(data),
            finish_reason=finish_with_calls(data.get("done_reason"), calls),
            model=data.get("model"),
            tool_calls=calls,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        headers, key = await self._headers()
        parts: list[str] = []
        calls: list[ToolCall] = []
        final: dict[str, Any] | None = None
        async with translate_transport_errors(self.id, self.base_url):
            req = self._client().build_request(
                "POST", f"{self.base_url}/api/chat", json=self._body(request, True), headers=headers
            )
            response = await self._client().send(req, stream=True)
            try:
                await self._check(response, request.model, key)
                async for line in iter_lines(response.aiter_bytes()):
                    if not line.strip():
                        continue
                    data = json_object(self.id, line, "a stream line")
                    if "error" in data:
                        raise self._inband_error(data["error"], request.model, key)
                    if text := (data.get("message") or {}).get("content"):
                        parts.append(text)
                        yield TextDelta(text)
                    for call in _calls(data.get("message") or {}):  # whole, no id
                        yield ToolCallDelta(len(calls), call.id, call.name, call.arguments)
                        calls.append(call)
                    if data.get("done"):
                        final = data
                        break
            finally:
                await response.aclose()
        if final is None:
            raise ProtocolError(
                f"the stream from {self.id} ended before its done line after "
                f"{sum(map(len, parts))} characters; the answer is incomplete. Retry.",
                provider=self.id,
            )
        found = tuple(calls)
        finish = finish_with_calls(final.get("done_reason"), found)
        yield Completion("".join(parts), _usage(final), finish, final.get("model"), found)

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/api/embed", json={"model": model, "input": texts}, headers=headers
            )
            await self._check(response, model, key)
        data = json_object(self.id, response.text, "an embeddings reply")
        try:
            return [[float(x) for x in row] for row in data["embeddings"]]
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"{self.id} sent malformed embeddings", provider=self.id) from None

    async def list_models(self) -> list[str]:
        """What is pulled on the server: the truth for Ollama, whatever config lists."""
        return [m.id for m in await self.served_models()]

    async def served_models(self) -> list[ServedModel]:
        """``GET /api/tags``: the models pulled on the server."""
        headers, key = await self._headers()
        data = await self._get_json(f"{self.base_url}/api/tags", None, headers, key)
        rows = data.get("models") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise ProtocolError(f"{self.id} sent a model list without models", provider=self.id)
        return [ServedModel(str(m["name"])) for m in rows if isinstance(m, dict) and m.get("name")]


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Messages; a call's arguments are an object, a result names its tool (``tool_name``)."""
    names = tool_names(messages)
    out: list[dict[str, Any]] = []
    for m in messages:
        message: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": arguments_object(c)}}
                for c in m.tool_calls
            ]
        if m.role == "tool":
            message["tool_name"] = names.get(m.tool_call_id or "", "")
        out.append(message)
    return out


def _calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(
            str(call.get("id") or new_call_id()),
            str((call.get("function") or {}).get("name")),
            arguments_text((call.get("function") or {}).get("arguments")),
        )
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict)
    )


def _usage(data: dict[str, Any]) -> TokenUsage:
    # Ollama reuses its KV cache silently and does not report it: cached stays 0.
    return TokenUsage(
        input_tokens=int(data.get("prompt_eval_count") or 0),
        output_tokens=int(data.get("eval_count") or 0),
    )


class OllamaKind(ProviderKind):
    """A local (or ollama.com) Ollama server, through its native API."""

    name = "ollama"
    key_env: ClassVar[tuple[str, ...]] = ("OLLAMA_API_KEY",)
    extra_env: ClassVar[tuple[str, ...]] = ("OLLAMA_HOST",)

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        # No base_url here on purpose: an unset one lets $OLLAMA_HOST apply, per request.
        return {"ollama": {}}

    def describe(self, provider_id: str, settings: ProviderSettings) -> str:
        return settings.base_url or f"{DEFAULT_HOST} (or $OLLAMA_HOST)"

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return OllamaProvider(provider_id, settings, self, environ, self.key_env)
