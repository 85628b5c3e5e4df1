"""The Mistral dialect: OpenAI's chat completions with a few twists.

So it reuses :class:`OpenAIProvider` and changes only what differs: ``random_seed`` instead
of ``seed``, no ``stream_options`` (Mistral rejects unknown fields; it sends usage in the last
chunk anyway), the extra finish reasons ``model_length`` (the context filled up: a "length")
and ``error`` (a failure reported with a 200), and FastAPI-style 422 validation errors
``{"detail": [{"loc": [...], "msg": "..."}]}`` turned into one readable line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

from superllmd.config import ProviderSettings
from superllmd.errors import BadRequest, ProviderError, ServerError
from superllmd.providers._http import redact
from superllmd.providers.base import (
    ChatRequest,
    Completion,
    Provider,
    ProviderKind,
    StreamItem,
)
from superllmd.providers.keys import ResolvedKey
from superllmd.providers.openai import OpenAIProvider

__all__ = ["MistralKind", "MistralProvider"]

_CALL_ID = re.compile(r"[A-Za-z0-9]{9}")
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class MistralProvider(OpenAIProvider):
    max_tokens_field = "max_tokens"

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = super()._body(request, stream)
        body.pop("stream_options", None)
        if "seed" in body:
            body["random_seed"] = body.pop("seed")
        return body

    def _serves_chat(self, row: dict[str, Any]) -> bool:
        # Mistral lists its embedding and OCR models too, flagged in ``capabilities``.
        capabilities = row.get("capabilities")
        return not isinstance(capabilities, dict) or bool(capabilities.get("completion_chat", True))

    def _call_id(self, call_id: str) -> str:
        """Mistral takes back only 9-character alphanumeric call ids; another vendor's (or a
        made-up) id becomes one derived from it, the same for the call and its result."""
        if _CALL_ID.fullmatch(call_id):
            return call_id
        number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
        return "".join(_ALNUM[(number >> (6 * i)) % 62] for i in range(9))

    def _error(
        self,
        status: int,
        headers: Mapping[str, str],
        body: str,
        model: str,
        key: ResolvedKey | None,
    ) -> ProviderError:
        if status == 422 and (detail := _validation_detail(body)):
            return BadRequest(
                f"{self.id} rejected the request (422): "
                f"{redact(detail, (key.value,) if key else ())}",
                provider=self.id,
                status=422,
            )
        return super()._error(status, headers, body, model, key)

    def _settle(self, completion: Completion) -> Completion:
        if completion.finish_reason == "error":
            raise ServerError(
                f"{self.id} reported an error in place of an answer (finish_reason error); retry",
                provider=self.id,
            )
        if completion.finish_reason == "model_length":
            return dataclasses.replace(completion, finish_reason="length")
        return completion

    async def complete(self, request: ChatRequest) -> Completion:
        return self._settle(await super().complete(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        async for item in super().stream(request):
            yield self._settle(item) if isinstance(item, Completion) else item


def _validation_detail(body: str) -> str | None:
    """``loc: msg`` lines from a 422 ``{"detail": [...]}``, also when nested in ``message``."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("message"), dict):
        data = data["message"]
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return detail
    if not isinstance(detail, list):
        return None
    lines = []
    for item in detail:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc") or ())
            lines.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
    return "; ".join(lines) or None


class MistralKind(ProviderKind):
    """api.mistral.ai."""

    name = "mistral"
    key_env: ClassVar[tuple[str, ...]] = ("MISTRAL_API_KEY",)

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        return {"mistral": {"base_url": "https://api.mistral.ai/v1"}}

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        # Name the configured variable, if any, in the "no key" message (the resolver reads
        # settings.api_key_env first anyway).
        key_env = (settings.api_key_env,) if settings.api_key_env else self.key_env
        return MistralProvider(provider_id, settings, self, environ, key_env, key_required=True)
