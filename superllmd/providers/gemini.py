"""The Google Gemini dialect (generateContent), over httpx.

What makes it different: the model is in the URL path, the base URL is the host root (the
client appends ``/v1beta``; a base ending in ``/v1`` or ``/v1beta`` is used as is), roles are
``user`` and ``model``, and the SSE stream has **no end marker** — it is complete only if its
last chunk carried a ``finishReason``. Errors are ``google.rpc.Status`` bodies; a bad key is
a 400 (not a 401) and the retry hint is ``RetryInfo.retryDelay`` in the body, not a header.
An error mid-stream arrives as pretty-printed JSON lines without ``data:``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from superllmd.config import ProviderSettings
from superllmd.errors import (
    AuthError,
    BadRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    sentence,
)
from superllmd.providers._http import (
    MAX_LIST_PAGES,
    HttpProvider,
    iter_lines,
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
from superllmd.providers.tooling import (
    arguments_object,
    arguments_text,
    finish_with_calls,
    new_call_id,
    tool_names,
)

__all__ = ["DEFAULT_API_VERSION", "GeminiKind", "GeminiProvider"]

DEFAULT_API_VERSION = "v1beta"
_VERSIONED = re.compile(r"/v1(beta)?$")
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}
# Finish reasons that mean "the answer was withheld", not "the answer is done".
_BLOCKED = {
    "SAFETY",
    "RECITATION",
    "LANGUAGE",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
}
# Request options that live at the top level of the body, not in generationConfig.
_TOP_LEVEL = {"safetySettings", "tools", "toolConfig", "cachedContent", "labels"}


class GeminiProvider(HttpProvider):
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
        base = (settings.base_url or "https://generativelanguage.googleapis.com").rstrip("/")
        versioned = base if _VERSIONED.search(base) else f"{base}/{DEFAULT_API_VERSION}"
        super().__init__(provider_id, settings, kind, environ, key_env, base_url=versioned)

    # -- request ---------------------------------------------------------------------------
    async def _headers(self) -> tuple[dict[str, str], ResolvedKey]:
        key = await self._key()
        # A header, never ?key=: URLs end up in logs and error messages.
        headers = {"content-type": "application/json", **self.settings.headers}
        headers["x-goog-api-key"] = key.value
        return headers, key

    def _url(self, model: str, method: str) -> str:
        return f"{self.base_url}/models/{model.removeprefix('models/')}:{method}"

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {"contents": _contents(request.messages), **_tools(request)}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.stop:
            config["stopSequences"] = list(request.stop)
        if request.json_output or request.json_schema is not None:
            config["responseMimeType"] = "application/json"
        if request.json_schema is not None:  # plain JSON Schema (responseSchema is OpenAPI's)
            config["responseJsonSchema"] = dict(request.json_schema)
        for name, value in request.options.items():
            camel = _camel(name)
            if camel in _TOP_LEVEL:
                body[camel] = value
            else:
                config[camel] = value
        if config:
            body["generationConfig"] = config
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
        secrets = (key.value,) if key else ()
        error = _error_object(body)
        details = [d for d in error.get("details") or () if isinstance(d, dict)]
        if any(d.get("reason") == "API_KEY_INVALID" for d in details):
            message = redact(str(error.get("message") or "API key not valid"), secrets)
            source = key.source if key else "no key"
            return AuthError(
                f"{self.id} said ({status}): {sentence(message)} {self.id} rejected the key from "
                f"{source}; set a valid one with `superllm keys set {self.id}`.",
                provider=self.id,
                status=status,
            )
        mapped = super()._error(status, headers, body, model, key)
        if isinstance(mapped, RateLimited) and mapped.retry_after is None:
            for detail in details:
                if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                    mapped.details["retry_after"] = _seconds(detail.get("retryDelay"))
        return mapped

    def _blocked(self, data: dict[str, Any]) -> BadRequest | None:
        feedback = data.get("promptFeedback") or {}
        if reason := feedback.get("blockReason"):
            return BadRequest(
                f"{self.id} blocked the prompt ({reason}); rephrase it, or relax the "
                "safetySettings option if the content is legitimate",
                provider=self.id,
            )
        finish = _candidate(data).get("finishReason")
        if finish in _BLOCKED:
            return BadRequest(
                f"{self.id} withheld the answer (finishReason {finish}); rephrase the prompt, "
                "or relax the safetySettings option if the content is legitimate",
                provider=self.id,
            )
        return None

    # -- calls -----------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                self._url(request.model, "generateContent"),
                json=self._body(request),
                headers=headers,
            )
            await self._check(response, request.model, key)
        data = json_object(self.id, response.text, "a reply")
        if blocked := self._blocked(data):
            raise blocked
        candidate = _candidate(data)
        if not candidate:
            raise ProtocolError(f"{self.id} answered 200 with no candidates", provider=self.id)
        calls = _calls(candidate)
        return Completion(
            text=_text(candidate),
            usage=_usage(data.get("usageMetadata")),
            finish_reason=finish_with_calls(_finish(candidate.get("finishReason")), calls),
            model=data.get("modelVersion"),
            tool_calls=calls,
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        headers, key = await self._headers()
        parts: list[str] = []
        calls: list[ToolCall] = []
        usage = TokenUsage()
        finish: str | None = None
        model: str | None = None
        async with translate_transport_errors(self.id, self.base_url):
            req = self._client().build_request(
                "POST",
                self._url(request.model, "streamGenerateContent"),
                params={"alt": "sse"},
                json=self._body(request),
                headers=headers,
            )
            response = await self._client().send(req, stream=True)
            try:
                await self._check(response, request.model, key)
                async for data in _chunks(self.id, iter_lines(response.aiter_bytes())):
                    if isinstance(error := data.get("error"), dict):
                        code = error.get("code")
                        status = code if isinstance(code, int) and code >= 400 else 500
                        raise self._error(status, {}, json.dumps(data), request.model, key)
                    if blocked := self._blocked(data):
                        raise blocked
                    model = data.get("modelVersion") or model
                    if data.get("usageMetadata"):
                        usage = _usage(data["usageMetadata"])
                    candidate = _candidate(data)
                    if candidate:
                        # Only the *last* chunk's finishReason proves the stream complete.
                        finish = candidate.get("finishReason")
                        if text := _text(candidate):
                            parts.append(text)
                            yield TextDelta(text)
                        for call in _calls(candidate):  # each arrives whole, in one chunk
                            yield ToolCallDelta(len(calls), call.id, call.name, call.arguments)
                            calls.append(call)
            finally:
                await response.aclose()
        if finish is None:
            raise ProtocolError(
                f"the stream from {self.id} ended without a finishReason after "
                f"{sum(map(len, parts))} characters; the answer is incomplete. Retry.",
                provider=self.id,
            )
        found = tuple(calls)
        yield Completion(
            "".join(parts), usage, finish_with_calls(_finish(finish), found), model, found
        )

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        headers, key = await self._headers()
        name = f"models/{model.removeprefix('models/')}"
        body = {"requests": [{"model": name, "content": {"parts": [{"text": t}]}} for t in texts]}
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                self._url(model, "batchEmbedContents"), json=body, headers=headers
            )
            await self._check(response, model, key)
        data = json_object(self.id, response.text, "an embeddings reply")
        try:
            return [[float(x) for x in e["values"]] for e in data["embeddings"]]
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"{self.id} sent malformed embeddings", provider=self.id) from None

    async def list_models(self) -> list[str]:
        if self.settings.models:
            return list(self.settings.models)
        return [m.id for m in await self.served_models()]

    async def served_models(self) -> list[ServedModel]:
        """``GET models``, page after page (``nextPageToken``); only models that
        generate content (the list has embedding and other models too), without ``models/``."""
        headers, key = await self._headers()
        found: list[ServedModel] = []
        params: dict[str, Any] = {"pageSize": 1000}
        for _ in range(MAX_LIST_PAGES):
            data = await self._get_json(f"{self.base_url}/models", params, headers, key)
            rows = data.get("models", []) if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ProtocolError(f"{self.id} sent a model list without models", provider=self.id)
            found += [
                ServedModel(
                    str(m["name"]).removeprefix("models/"),
                    context_window=listed_int(m.get("inputTokenLimit")),
                    max_output=listed_int(m.get("outputTokenLimit")),
                )
                for m in rows
                if isinstance(m, dict)
                and m.get("name")
                and "generateContent" in m.get("supportedGenerationMethods", ["generateContent"])
            ]
            token = data.get("nextPageToken")
            if not token:
                break
            params = {"pageSize": 1000, "pageToken": token}
        return found


async def _chunks(provider: str, lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """JSON objects from Gemini's stream: ``data:`` events, and bare multi-line JSON (how an
    error shows up after the 200), assembled by counting braces as google-genai does."""
    data: list[str] = []
    raw, depth = "", 0
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line:
            if data:
                yield json_object(provider, "\n".join(data))
                data = []
        elif not line.startswith(":"):
            raw += line
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                yield json_object(provider, raw)
                raw, depth = "", 0
    if data:
        yield json_object(provider, "\n".join(data))
    if raw:
        yield json_object(provider, raw)


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Turns as ``contents``: roles ``user`` and ``model``; a call is a ``functionCall`` part,
    its result a ``functionResponse`` part (by the tool's name) in a user turn, the results
    of one round together in one turn."""
    names = tool_names(messages)
    contents: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            name = names.get(m.tool_call_id or "", m.tool_call_id or "")
            part = {"functionResponse": {"name": name, "response": _result(m.content)}}
            if contents and contents[-1].get("results"):
                contents[-1]["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part], "results": True})
            continue
        parts: list[dict[str, Any]] = [
            {"inlineData": {"mimeType": a.media_type, "data": a.data}} for a in m.attachments
        ]
        if m.content or not m.tool_calls:
            parts.append({"text": m.content})
        parts += [
            {"functionCall": {"name": c.name, "args": arguments_object(c)}} for c in m.tool_calls
        ]
        contents.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    for content in contents:
        content.pop("results", None)
    return contents


def _result(text: str) -> dict[str, Any]:
    """A tool's result as the object ``functionResponse.response`` must be."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def _tools(request: ChatRequest) -> dict[str, Any]:
    if not request.tools:
        return {}
    declarations = [
        {
            "name": t.name,
            **({"description": t.description} if t.description else {}),
            # Plain JSON Schema; ``parameters`` takes only Google's OpenAPI subset.
            "parametersJsonSchema": dict(t.parameters),
        }
        for t in request.tools
    ]
    out: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    if (choice := request.tool_choice) is not None:
        config: dict[str, Any] = {"mode": _MODES[choice.mode]}
        if choice.mode == "tool":
            config["allowedFunctionNames"] = [choice.name]
        out["toolConfig"] = {"functionCallingConfig": config}
    return out


def _calls(candidate: dict[str, Any]) -> tuple[ToolCall, ...]:
    parts = (candidate.get("content") or {}).get("parts") or ()
    return tuple(
        ToolCall(
            str(call.get("id") or new_call_id()),
            str(call.get("name")),
            arguments_text(call.get("args")),
        )
        for p in parts
        if isinstance(p, dict) and isinstance(call := p.get("functionCall"), dict)
    )


def _candidate(data: dict[str, Any]) -> dict[str, Any]:
    candidates = data.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return {}


def _text(candidate: dict[str, Any]) -> str:
    parts = (candidate.get("content") or {}).get("parts") or ()
    # Thought summaries are not the answer.
    return "".join(
        str(p.get("text") or "") for p in parts if isinstance(p, dict) and not p.get("thought")
    )


def _error_object(body: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _seconds(duration: Any) -> float | None:
    """A protobuf Duration in JSON form: ``"12s"``, ``"0.5s"``."""
    try:
        return max(float(str(duration).strip().removesuffix("s")), 0.0)
    except ValueError:
        return None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _finish(reason: Any) -> str | None:
    return None if reason is None else _FINISH.get(str(reason), str(reason).lower())


def _usage(data: Any) -> TokenUsage:
    """Prompt counts include cached tokens already; thoughts are billed as output."""
    if not isinstance(data, dict):
        return TokenUsage()
    return TokenUsage(
        input_tokens=int(data.get("promptTokenCount") or 0),
        output_tokens=int(data.get("candidatesTokenCount") or 0)
        + int(data.get("thoughtsTokenCount") or 0),
        cached_tokens=int(data.get("cachedContentTokenCount") or 0),
    )


class GeminiKind(ProviderKind):
    """The Gemini Developer API (generativelanguage.googleapis.com)."""

    name = "gemini"
    key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"gemini": {"base_url": "https://generativelanguage.googleapis.com"}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return GeminiProvider(provider_id, settings, self, environ, self.key_env)
