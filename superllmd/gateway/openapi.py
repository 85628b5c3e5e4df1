"""``GET /openapi.json``: every route of both doors, with schemas generated from the types.

The gateway routes (OpenAI- and Anthropic-shaped) are at their vendor paths; the native API
is described at ``/superllm/v1/...``, where the TCP door serves it (the socket door serves
the same routes at ``/v1/...``). Request and response schemas come from the TypedDicts in
protocol.py, openai_types.py and anthropic_types.py through pydantic's ``TypeAdapter``, so
they cannot drift from what the daemon validates and writes.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from superllmd import __version__, protocol
from superllmd.gateway import anthropic_types as at
from superllmd.gateway import openai_types as ot

__all__ = ["NATIVE_PREFIX", "document", "native_on_tcp", "routes"]

from superllmd.gateway.routes import NATIVE_PREFIX

_JSON, _SSE, _NDJSON = "application/json", "text/event-stream", protocol.NDJSON
# What each event of a streamed answer holds (the ``data:`` of an SSE event, one NDJSON line).
_EVENTS: dict[str, Any] = {
    "/v1/chat/completions": ot.ChatChunk,
    "/v1/responses": ot.ResponseStreamEvent,
    "/v1/messages": at.StreamEvent,
}
_STREAMED = {
    _SSE: "With `stream: true` the answer is `text/event-stream`: each event's `data:` is "
    "a JSON object of the schema given for that media type.",
    _NDJSON: f"With `Accept: {_NDJSON}` the answer streams as NDJSON: each line is a JSON "
    "object of the schema given for that media type.",
}

# (method, path, summary, request type, response type, streamed media type, error type)
Spec = tuple[str, str, str, Any, Any, str | None, Any]
_OPENAI: list[Spec] = [
    (
        "post",
        "/v1/chat/completions",
        "OpenAI chat completions",
        ot.ChatRequest,
        ot.ChatCompletion,
        _SSE,
        ot.ErrorBody,
    ),
    (
        "post",
        "/v1/responses",
        "OpenAI Responses API",
        ot.ResponsesRequest,
        ot.ResponseObject,
        _SSE,
        ot.ErrorBody,
    ),
    (
        "get",
        "/v1/models",
        "Models, aliases and virtual models (OpenAI's shape; Anthropic's to a caller "
        "sending anthropic-version)",
        None,
        ot.ModelList | at.ModelInfoList,
        None,
        ot.ErrorBody,
    ),
    (
        "get",
        "/v1/models/{model}",
        "One model (OpenAI's shape; Anthropic's to a caller sending anthropic-version)",
        None,
        ot.ModelObject | at.ModelInfo,
        None,
        ot.ErrorBody,
    ),
    (
        "post",
        "/v1/embeddings",
        "OpenAI embeddings",
        ot.EmbeddingsRequest,
        ot.EmbeddingList,
        None,
        ot.ErrorBody,
    ),
]
_ANTHROPIC: list[Spec] = [
    (
        "post",
        "/v1/messages",
        "Anthropic messages",
        at.MessagesRequest,
        at.Message,
        _SSE,
        at.ErrorBody,
    ),
    (
        "post",
        "/v1/messages/count_tokens",
        "Anthropic token count",
        at.CountTokensRequest,
        at.TokenCount,
        None,
        at.ErrorBody,
    ),
    ("get", "/openapi.json", "This document", None, dict[str, Any], None, None),
]
_ANY = dict[str, Any]
_ROWS = list[dict[str, Any]]
_MODES = [
    ("consensus", "consensus"),
    ("debate", "debate"),
    ("adversarial", "redteam"),
    ("chain", "chain"),
    ("mapreduce", "map-reduce"),
]
_NATIVE: list[Spec] = [
    (
        "get",
        "/v1/health",
        "Version, pid, uptime, providers ready",
        None,
        protocol.Health,
        None,
        None,
    ),
    (
        "post",
        "/v1/ask",
        "Ask one model, alias, fallback chain or selector",
        protocol.AskRequest,
        protocol.RunResult,
        _NDJSON,
        None,
    ),
    *(
        (
            "post",
            f"/v1/{route}",
            f"Run {name}",
            protocol.RunRequest,
            protocol.RunResult,
            _NDJSON,
            None,
        )
        for route, name in _MODES
    ),
    ("get", "/v1/models", "Models with capabilities and prices", None, _ROWS, None, None),
    ("post", "/v1/embed", "Embeddings", protocol.EmbedRequest, _ANY, None, None),
    ("get", "/v1/providers", "Configured providers", None, _ANY, None, None),
    ("post", "/v1/providers/check", "Check every provider", None, _ANY, None, None),
    ("post", "/v1/providers/{provider_id}/check", "Check one provider", None, _ANY, None, None),
    ("post", "/v1/providers/plugins", "Add a provider plugin file", _ANY, _ANY, None, None),
    ("delete", "/v1/providers/plugins/{name}", "Remove a provider plugin", None, _ANY, None, None),
    ("get", "/v1/config", "The effective configuration", None, _ANY, None, None),
    ("put", "/v1/config", "Set one configuration key", protocol.ConfigSetRequest, _ANY, None, None),
    ("post", "/v1/keys/forget", "Forget cached keys", None, _ANY, None, None),
    ("get", "/v1/budgets", "Budgets and spending", None, _ANY, None, None),
    ("put", "/v1/budgets", "Set budgets", protocol.BudgetSetRequest, _ANY, None, None),
    ("delete", "/v1/budgets", "Clear budgets", None, _ANY, None, None),
    ("get", "/v1/usage", "Ledger usage report", None, _ANY, None, None),
    ("get", "/v1/runs", "Recent runs", None, _ANY, None, None),
    ("get", "/v1/runs/{run_id}", "One run with its transcript", None, _ANY, None, None),
    ("get", "/v1/conversations", "Conversations", None, _ANY, None, None),
    ("get", "/v1/conversations/{conversation_id}", "One conversation", None, _ANY, None, None),
    ("post", "/v1/shutdown", "Stop the daemon", None, _ANY, None, None),
    ("get", "/v1/gateway/tokens", "The TCP door's tokens (no secrets)", None, _ANY, None, None),
    (
        "post",
        "/v1/gateway/tokens",
        "Create a token",
        _ANY,
        _ANY,
        None,
        None,
    ),
    ("delete", "/v1/gateway/tokens/{name}", "Revoke a token", None, _ANY, None, None),
    ("get", "/v1/gateway/users", "A team gateway's users", None, _ANY, None, None),
    ("post", "/v1/gateway/users", "Create or change a user", _ANY, _ANY, None, None),
    ("delete", "/v1/gateway/users/{name}", "Remove a user", None, _ANY, None, None),
    ("get", "/v1/gateway/teams", "A team gateway's teams", None, _ANY, None, None),
    ("post", "/v1/gateway/teams", "Create or change a team", _ANY, _ANY, None, None),
    ("delete", "/v1/gateway/teams/{name}", "Remove an empty team", None, _ANY, None, None),
]
_NATIVE_ERROR = {"type": "object", "properties": {"error": {"type": "object"}}}


def native_on_tcp() -> set[str]:
    """The native paths (as on the socket) the TCP door also serves, under NATIVE_PREFIX."""
    from starlette.routing import Mount

    from superllmd.gateway.routes import tcp_routes

    mounts = [r for r in tcp_routes([]) if isinstance(r, Mount) and r.path == NATIVE_PREFIX]
    return {getattr(r, "path", "") for m in mounts for r in m.routes}


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once: the types do not change while running)."""
    specs = [(s, "gateway") for s in _OPENAI + _ANTHROPIC] + [(s, "native") for s in _NATIVE]
    inputs: list[tuple[Any, Any, TypeAdapter[Any]]] = []
    for (method, path, _, req, resp, stream, err), door in specs:
        key = (door, method, path)
        if req is not None:
            inputs.append(((*key, "request"), "validation", TypeAdapter(req)))
        inputs.append(((*key, "response"), "serialization", TypeAdapter(resp)))
        if stream is not None:
            event: Any = protocol.Event if stream == _NDJSON else _EVENTS[path]
            inputs.append(((*key, "event"), "serialization", TypeAdapter(event)))
        if err is not None:
            inputs.append(((*key, "error"), "serialization", TypeAdapter(err)))
    schemas, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    found = {key[0]: schema for key, schema in schemas.items()}
    paths: dict[str, dict[str, Any]] = {}
    tcp = native_on_tcp()
    for (method, path, summary, req, _, stream, err), door in specs:
        key = (door, method, path)
        content = {_JSON: {"schema": found[(*key, "response")]}}
        if stream is not None:
            content[stream] = {"schema": found[(*key, "event")]}
        error = found[(*key, "error")] if err is not None else _NATIVE_ERROR
        op: dict[str, Any] = {
            "summary": summary,
            **({"description": _STREAMED[stream]} if stream is not None else {}),
            "tags": [door],
            "responses": {
                "200": {"description": "OK", "content": content},
                "default": {"description": "Error", "content": {_JSON: {"schema": error}}},
            },
        }
        if req is not None:
            body = {"schema": found[(*key, "request")]}
            op["requestBody"] = {"required": True, "content": {_JSON: body}}
        params = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in params
            ]
        where = path
        if door == "native":
            on_tcp = path in tcp
            where = NATIVE_PREFIX + path if on_tcp else path
            op["tags"] = ["native"] if on_tcp else ["native", "socket only"]
        paths.setdefault(where, {})[method] = op
    _untyped_native(paths, tcp)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "superllm",
            "version": __version__,
            "description": "The gateway (OpenAI- and Anthropic-shaped) and the native API. "
            "The TCP door serves the native routes that run or list models under "
            "/superllm/v1/...; the Unix socket serves every native route at /v1/... (those "
            "tagged 'socket only' are described at that path).",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", defs),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


def _untyped_native(paths: dict[str, dict[str, Any]], tcp: set[str]) -> None:
    """Native routes the table above does not type yet, described from the route itself (a
    JSON object in and out), so the document never leaves a route out."""
    from superllmd.api import native_routes

    for route in native_routes():
        where = NATIVE_PREFIX + route.path if route.path in tcp else route.path
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method.lower() in paths.get(where, {}):
                continue
            doc = (getattr(route.endpoint, "__doc__", None) or "").strip().split("\n")[0]
            paths.setdefault(where, {})[method.lower()] = {
                "summary": doc or f"{method} {route.path}",
                "tags": ["native"] if route.path in tcp else ["native", "socket only"],
                "responses": {
                    "200": {"description": "OK", "content": {_JSON: {"schema": {}}}},
                    "default": {
                        "description": "Error",
                        "content": {_JSON: {"schema": _NATIVE_ERROR}},
                    },
                },
            }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document())


def routes() -> list[BaseRoute]:
    return [Route("/openapi.json", openapi_json, methods=["GET"])]
