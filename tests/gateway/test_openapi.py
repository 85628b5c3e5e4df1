"""/openapi.json: every route of both doors, and real responses valid against it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.routing import Route

from superllmd.gateway import anthropic as anthropic_gw
from superllmd.gateway import openai as openai_gw
from superllmd.gateway import openapi
from tests.gateway.conftest import Gateway


@pytest.fixture(scope="module")
def doc(gateway: Gateway) -> dict[str, Any]:
    out: dict[str, Any] = _web(gateway).get(f"{gateway.url}/openapi.json").json()
    return out


def _web(gateway: Gateway) -> httpx.Client:
    return httpx.Client(headers={"authorization": f"Bearer {gateway.token}"}, timeout=60)


def _check(doc: dict[str, Any], path: str, method: str, body: Any, status: str = "200") -> None:
    op = doc["paths"][path][method]
    schema = op["responses"][status]["content"]["application/json"]["schema"]
    wrapped = {**schema, "components": doc["components"]}
    jsonschema.validate(body, wrapped)


def test_every_route_is_described(doc: dict[str, Any]) -> None:
    from superllmd.api import native_routes

    native = native_routes()
    for route in native:
        for method in route.methods or ():
            if method == "HEAD":
                continue
            path = route.path
            if path in openapi.native_on_tcp():
                path = openapi.NATIVE_PREFIX + path
            assert method.lower() in doc["paths"].get(path, {}), f"{method} {path}"
    for route in [*openai_gw.routes(), *anthropic_gw.routes()]:
        assert isinstance(route, Route)
        path = route.path.replace("{model:path}", "{model}")
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in doc["paths"][path], f"{method} {path}"
    jsonschema.Draft202012Validator.check_schema(doc["components"]["schemas"]["ChatRequest"])


def test_real_responses_match_the_document(doc: dict[str, Any], gateway: Gateway) -> None:
    base = gateway.url
    chat = _web(gateway).post(
        f"{base}/v1/chat/completions",
        json={"model": "fake/gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 200
    _check(doc, "/v1/chat/completions", "post", chat.json())
    virtual = _web(gateway).post(
        f"{base}/v1/chat/completions",
        json={
            "model": "consensus:fake/one,fake/two",
            "messages": [{"role": "user", "content": "hi"}],
        },
        timeout=60,
    )
    _check(doc, "/v1/chat/completions", "post", virtual.json())
    message = _web(gateway).post(
        f"{base}/v1/messages",
        json={
            "model": "fake/gpt-fake",
            "max_tokens": 9,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    _check(doc, "/v1/messages", "post", message.json())
    count = _web(gateway).post(
        f"{base}/v1/messages/count_tokens",
        json={"model": "fake/gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
    )
    _check(doc, "/v1/messages/count_tokens", "post", count.json())
    _check(doc, "/v1/models", "get", _web(gateway).get(f"{base}/v1/models").json())
    as_anthropic = {"anthropic-version": "2023-06-01"}
    listed = _web(gateway).get(f"{base}/v1/models", headers=as_anthropic).json()
    assert "has_more" in listed
    _check(doc, "/v1/models", "get", listed)
    one = _web(gateway).get(f"{base}/v1/models/fake/gpt-fake", headers=as_anthropic).json()
    _check(doc, "/v1/models/{model}", "get", one)
    emb = _web(gateway).post(
        f"{base}/v1/embeddings", json={"model": "fake/text-embedding-fake", "input": "a"}
    )
    _check(doc, "/v1/embeddings", "post", emb.json())
    resp = _web(gateway).post(
        f"{base}/v1/responses", json={"model": "fake/gpt-fake", "input": "hi"}
    )
    _check(doc, "/v1/responses", "post", resp.json())
    missing = _web(gateway).post(
        f"{base}/v1/chat/completions",
        json={"model": "nosuch/x", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert missing.status_code == 404
    _check(doc, "/v1/chat/completions", "post", missing.json(), "default")
    bad = _web(gateway).post(
        f"{base}/v1/messages",
        json={"model": "nosuch/x", "max_tokens": 1, "messages": [{"role": "user", "content": "x"}]},
    )
    _check(doc, "/v1/messages", "post", bad.json(), "default")
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        _check(doc, "/v1/messages", "post", {"type": "message"})


def _events(doc: dict[str, Any], path: str, media: str) -> jsonschema.Draft202012Validator:
    op = doc["paths"][path]["post"]
    assert ("stream: true" if media == "text/event-stream" else f"Accept: {media}") in op[
        "description"
    ]
    schema = op["responses"]["200"]["content"][media]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def _sse_data(web: httpx.Client, url: str, body: dict[str, Any]) -> list[Any]:
    with web.stream("POST", url, json=body) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
    data = [line.removeprefix("data: ") for line in lines]
    return [json.loads(d) for d in data if d != "[DONE]"]


def test_streamed_events_match_the_document(doc: dict[str, Any], gateway: Gateway) -> None:
    web, base = _web(gateway), gateway.url
    hi = [{"role": "user", "content": "hi"}]
    streams = {
        "/v1/chat/completions": [
            {"model": "fake/gpt-fake", "messages": hi, "stream": True},
            {"model": "consensus:fake/one,fake/two", "messages": hi, "stream": True},
        ],
        "/v1/responses": [{"model": "fake/gpt-fake", "input": "hi", "stream": True}],
        "/v1/messages": [
            {"model": "fake/gpt-fake", "max_tokens": 9, "messages": hi, "stream": True},
            {
                "model": "consensus:fake/one,fake/two",
                "max_tokens": 9,
                "messages": hi,
                "stream": True,
            },
        ],
    }
    kinds: set[str] = set()
    for path, bodies in streams.items():
        validator = _events(doc, path, "text/event-stream")
        for body in bodies:
            events = _sse_data(web, base + path, body)
            assert len(events) >= 3, (path, events)
            for event in events:
                validator.validate(event)
                kinds.add(str(event.get("type") or event.get("object")))
    assert {"chat.completion.chunk", "response.completed", "message_stop", "ping"} <= kinds
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        _events(doc, "/v1/messages", "text/event-stream").validate({"type": "message_end"})
    ask = {"prompt": "hi", "model": "fake/gpt-fake"}
    streamed = {"accept": "application/x-ndjson"}
    with web.stream("POST", f"{base}/superllm/v1/ask", json=ask, headers=streamed) as answer:
        lines = [json.loads(line) for line in answer.iter_lines() if line]
    validator = _events(doc, "/superllm/v1/ask", "application/x-ndjson")
    assert [validator.validate(line) for line in lines] and lines[-1]["type"] == "run.finished"


def test_native_schemas_come_from_the_protocol(doc: dict[str, Any]) -> None:
    ask = doc["paths"]["/superllm/v1/ask"]["post"]
    ref = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/AskRequest")
    props = doc["components"]["schemas"]["AskRequest"]["properties"]
    assert {"prompt", "model", "messages", "stop"} <= set(props)


def _numbers_without_bounds(doc: dict[str, Any], node: Any, seen: set[str], at: str) -> list[str]:
    """Numeric fields under ``node`` (following $refs into components) with no bound."""
    if isinstance(node, list):
        return [p for i, n in enumerate(node) for p in _numbers_without_bounds(doc, n, seen, at)]
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _numbers_without_bounds(doc, doc["components"]["schemas"][name], seen, name)
    found = []
    if node.get("type") in ("integer", "number"):
        bounds = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if not any(k in node for k in bounds):
            found.append(at)
    for key, value in node.items():
        found += _numbers_without_bounds(doc, value, seen, f"{at}.{key}")
    return found


def test_every_number_a_client_sends_has_bounds(doc: dict[str, Any]) -> None:
    seen: set[str] = set()
    missing: list[str] = []
    for path, ops in doc["paths"].items():
        for op in ops.values():
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                missing += _numbers_without_bounds(doc, media.get("schema"), seen, path)
    assert seen, "no request schema found"
    assert {"ChatRequest", "MessagesRequest", "ResponsesRequest", "RunRequest"} <= seen
    assert missing == []
