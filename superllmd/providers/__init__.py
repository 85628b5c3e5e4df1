"""The public plugin API: everything a provider plugin needs, from one import.

A plugin is a :class:`ProviderKind` subclass (a wire dialect or driver) that makes
:class:`Provider` objects (one configured endpoint each). It is registered through the
entry-point group ``superllm.providers`` of an installed package, or from a single file with
``superllm providers add PATH.py``; ``superllm providers new NAME`` writes a ready-to-edit
package. Built-in dialects use the same door and the same names, so a plugin is a
first-class citizen: the built-in providers register through the same door.

Example, a kind for a server that speaks the OpenAI dialect with its own defaults::

    from superllmd.providers.openai import OpenAICompatibleKind

    class MyLabKind(OpenAICompatibleKind):
        name = "mylab"
        key_env = ("MYLAB_API_KEY",)

        def builtin_providers(self):
            return {"mylab": {"base_url": "https://llm.mylab.example/v1", "models": ["m1"]}}

A dialect of its own implements ``Provider.complete`` and ``Provider.stream`` with the
helpers below: ``self.context.http.get(base_url, timeout)`` for a pooled client,
``translate_transport_errors`` around every call, ``map_status_error`` for a non-2xx answer,
``iter_sse``/``iter_lines`` and ``json_object`` for streams, and ``redact`` for any text that
could quote a key. ``Provider.served_models`` (a list of :class:`ServedModel`) answers
``superllm models --refresh``: override it to ask the server's own models list. A dialect
that can call tools sets ``takes_tools = True``, sends ``ChatRequest.tools``/``tool_choice``
and the messages' ``tool_calls``/``tool_call_id``, and reads calls back into
``Completion.tool_calls`` (streamed as ``ToolCallDelta``). Errors raised to the daemon must
be the ones exported here; anything else is reported as an internal error.
``superllmd.testing.conformance`` checks a dialect against
a fake server.

Only the names in ``__all__`` are the stable surface; the modules behind them may move.
Importing this package costs httpx and pydantic, which the daemon loads anyway; the CLI never
imports it (tests/unit/test_cli_imports.py).
"""

from __future__ import annotations

from superllmd.config import ProviderSettings
from superllmd.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    ModelNotFound,
    Overloaded,
    PermissionDenied,
    ProtocolError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
    UsageError,
)
from superllmd.providers._http import (
    HttpClients,
    HttpProvider,
    SSEEvent,
    iter_lines,
    iter_sse,
    json_object,
    map_status_error,
    parse_retry_after,
    redact,
    translate_transport_errors,
)
from superllmd.providers.base import (
    Capabilities,
    ChatRequest,
    Completion,
    KindContext,
    Message,
    Provider,
    ProviderKind,
    ServedModel,
    StreamItem,
    TextDelta,
    TokenUsage,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)
from superllmd.providers.keys import ResolvedKey

__all__ = [
    "AuthError",
    "BadRequest",
    "Capabilities",
    "ChatRequest",
    "Completion",
    "ContextTooLong",
    "HttpClients",
    "HttpProvider",
    "KindContext",
    "Message",
    "ModelNotFound",
    "Overloaded",
    "PermissionDenied",
    "ProtocolError",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderKind",
    "ProviderSettings",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "ResolvedKey",
    "SSEEvent",
    "ServedModel",
    "ServerError",
    "StreamItem",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "UsageError",
    "iter_lines",
    "iter_sse",
    "json_object",
    "map_status_error",
    "parse_retry_after",
    "redact",
    "translate_transport_errors",
]
