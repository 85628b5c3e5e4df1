"""The Cohere v2 Chat dialect, over httpx.

Close to OpenAI's shape on the way in (Bearer key, ``messages`` with a system role), its own
on the way out: content is a list of parts, usage has both ``tokens`` (what the model saw; we
report these) and ``billed_units`` (what is charged, which can be lower), and the stream is
named SSE events ending in ``message-end`` — which also carries a failure in-band as
``finish_reason: "ERROR"``. An invalid token is answered with the non-standard status 498.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from superllmd.config import ProviderSettings
from superllmd.errors import (
    AuthError,
    ProtocolError,
    ProviderError,
    ProviderTimeout,
    ServerError,
    sentence,
)
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
from superllmd.providers.openai import openai_tools
from superllmd.providers.tooling import ToolCallParts

__all__ = ["CohereKind", "CohereProvider"]

_FINISH = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
}
_INVALID_TOKEN = 498


class CohereProvider(HttpProvider):
    takes_tools = True

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        key_env: tuple[str, ...],
    ) -> None:
        base = settings.base_url or "https://api.cohere.com"
        super().__init__(provider_id, settings, kind, environ, key_env, base_url=base)

    # -- request ---------------------------------------------------------------------------
    async def _headers(self) -> tuple[dict[str, str], ResolvedKey]:
        key = await self._key()
        headers = {"content-type": "application/json", **self.settings.headers}
        headers["authorization"] = f"Bearer {key.value}"
        return headers, key

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_turn(m) for m in request.messages],
            "stream": stream,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.json_schema is not None:
            schema = dict(request.json_schema)
            body["response_format"] = {"type": "json_object", "json_schema": schema}
        elif request.json_output:
            body["response_format"] = {"type": "json_object"}
        body.update(_tools(request))
        body.update(request.options)
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
        if status == _INVALID_TOKEN and key is not None:
            # map_status_error does not know 498: Cohere's "invalid token", a rejected key.
            message = redact(_message(body), (key.value,))
            return AuthError(
                f"{self.id} said ({status}): {sentence(message)} {self.id} rejected the key from "
                f"{key.source}; set a valid one with `superllm keys set {self.id}`.",
                provider=self.id,
                status=status,
            )
        return super()._error(status, headers, body, model, key)

    def _finish_error(self, reason: str, error: Any, key: ResolvedKey) -> ProviderError | None:
        """``finish_reason`` ERROR or TIMEOUT: the answer failed even though the status was 200."""
        message = redact(str(error or "no detail given"), (key.value,))
        if reason == "ERROR" or error:
            return ServerError(f"{self.id} failed mid-answer: {message}", provider=self.id)
        if reason == "TIMEOUT":
            return ProviderTimeout(f"{self.id} timed out generating the answer", provider=self.id)
        return None

    # -- calls -----------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> Completion:
        headers, key = await self._headers()
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/v2/chat", json=self._body(request, False), headers=headers
            )
            await self._check(response, request.model, key)
        data = json_object(self.id, response.text, "a reply")
        message = data.get("message")
        if not isinstance(message, dict):
            raise ProtocolError(
                f"{self.id} answered 200 with a body that is not a chat reply", provider=self.id
            )
        reason = str(data.get("finish_reason") or "")
        if failure := self._finish_error(reason, None, key):
            raise failure
        parts = message.get("content") or ()
        text = "".join(
            str(p.get("text") or "")
            for p in parts
            if isinstance(p, dict) and p.get("type") == "text"
        )
        try:
            calls = tuple(
                ToolCall(str(c["id"]), str(c["function"]["name"]), c["function"]["arguments"])
                for c in message.get("tool_calls") or ()
            )
        except (KeyError, TypeError):
            raise ProtocolError(f"{self.id} sent a malformed tool call", provider=self.id) from None
        usage = _usage(data.get("usage"))
        return Completion(text, usage, _finish(reason), request.model, calls)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        headers, key = await self._headers()
        parts: list[str] = []
        calls = ToolCallParts()
        usage = TokenUsage()
        reason: str | None = None
        async with translate_transport_errors(self.id, self.base_url):
            req = self._client().build_request(
                "POST", f"{self.base_url}/v2/chat", json=self._body(request, True), headers=headers
            )
            response = await self._client().send(req, stream=True)
            try:
                await self._check(response, request.model, key)
                async for event in iter_sse(response.aiter_bytes()):
                    if event.data.startswith("[DONE]"):
                        break
                    if not event.data:
                        continue
                    data = json_object(self.id, event.data)
                    kind = event.event if event.event != "message" else data.get("type")
                    delta = data.get("delta") or {}
                    if kind == "content-delta":
                        content = (delta.get("message") or {}).get("content") or {}
                        if text := content.get("text"):
                            parts.append(text)
                            yield TextDelta(text)
                    elif kind in {"tool-call-start", "tool-call-delta"}:
                        # One call per event: ``delta.message.tool_calls`` is an object here.
                        call = (delta.get("message") or {}).get("tool_calls") or {}
                        function = call.get("function") or {}
                        yield calls.add(
                            ToolCallDelta(
                                int(data.get("index") or 0),
                                call.get("id"),
                                function.get("name"),
                                function.get("arguments") or "",
                            )
                        )
                    elif kind == "message-end":
                        reason = str(delta.get("finish_reason") or "")
                        if failure := self._finish_error(reason, delta.get("error"), key):
                            raise failure
                        usage = _usage(delta.get("usage"))
                        break
            finally:
                await response.aclose()
        if reason is None:
            raise ProtocolError(
                f"the stream from {self.id} ended before message-end after "
                f"{sum(map(len, parts))} characters; the answer is incomplete. Retry.",
                provider=self.id,
            )
        found = calls.calls()
        yield Completion("".join(parts), usage, _finish(reason), request.model, found)

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        headers, key = await self._headers()
        body = {
            "model": model,
            "texts": texts,
            "input_type": "search_document",
            "embedding_types": ["float"],
        }
        async with translate_transport_errors(self.id, self.base_url):
            response = await self._client().post(
                f"{self.base_url}/v2/embed", json=body, headers=headers
            )
            await self._check(response, model, key)
        data = json_object(self.id, response.text, "an embeddings reply")
        try:
            return [[float(x) for x in row] for row in data["embeddings"]["float"]]
        except (KeyError, TypeError, ValueError):
            raise ProtocolError(f"{self.id} sent malformed embeddings", provider=self.id) from None

    async def list_models(self) -> list[str]:
        if self.settings.models:
            return list(self.settings.models)
        return [m.id for m in await self.served_models()]

    async def served_models(self) -> list[ServedModel]:
        """``GET /v1/models?endpoint=chat``, page after page (``next_page_token``)."""
        headers, key = await self._headers()
        found: list[ServedModel] = []
        params: dict[str, Any] = {"endpoint": "chat", "page_size": 1000}
        for _ in range(MAX_LIST_PAGES):
            data = await self._get_json(f"{self.base_url}/v1/models", params, headers, key)
            rows = data.get("models") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise ProtocolError(f"{self.id} sent a model list without models", provider=self.id)
            found += [
                ServedModel(str(m["name"]), context_window=listed_int(m.get("context_length")))
                for m in rows
                if isinstance(m, dict) and m.get("name")
            ]
            token = data.get("next_page_token")
            if not token:
                break
            params = {"endpoint": "chat", "page_size": 1000, "page_token": token}
        return found


def _turn(m: Message) -> dict[str, Any]:
    """A message; an assistant's calls go in ``tool_calls`` (its text as their ``tool_plan``),
    a tool's result names its call in ``tool_call_id``."""
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
    if m.tool_calls:
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
        plan = {"tool_plan": m.content} if m.content else {}
        return {"role": m.role, "tool_calls": calls, **plan}
    return {"role": m.role, "content": m.content}


def _tools(request: ChatRequest) -> dict[str, Any]:
    """OpenAI-shaped tools; Cohere's ``tool_choice`` is only REQUIRED or NONE (auto: unset),
    so one named tool is the only tool sent, required."""
    out = openai_tools(dataclasses.replace(request, tool_choice=None))
    if not out or (choice := request.tool_choice) is None or choice.mode == "auto":
        return out
    if choice.mode == "tool":
        out["tools"] = [t for t in out["tools"] if t["function"]["name"] == choice.name]
    out["tool_choice"] = "NONE" if choice.mode == "none" else "REQUIRED"
    return out


def _message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300]
    return str(data.get("message") or data)[:300] if isinstance(data, dict) else str(data)[:300]


def _finish(reason: str | None) -> str | None:
    return _FINISH.get(reason, reason.lower()) if reason else None


def _usage(data: Any) -> TokenUsage:
    """``tokens`` is what the model processed; ``billed_units`` (the fallback) what is charged."""
    if not isinstance(data, dict):
        return TokenUsage()
    counts = data.get("tokens") or data.get("billed_units") or {}
    return TokenUsage(
        input_tokens=int(counts.get("input_tokens") or 0),
        output_tokens=int(counts.get("output_tokens") or 0),
        cached_tokens=int(data.get("cached_tokens") or 0),
    )


class CohereKind(ProviderKind):
    """api.cohere.com (v2 chat and embed)."""

    name = "cohere"
    key_env: ClassVar[tuple[str, ...]] = ("CO_API_KEY", "COHERE_API_KEY")

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"cohere": {"base_url": "https://api.cohere.com"}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        return CohereProvider(provider_id, settings, self, environ, self.key_env)
