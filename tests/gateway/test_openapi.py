"""/openapi.json: every route of both doors, and real responses valid against it."""

from __future__ import annotations

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


def test_native_schemas_come_from_the_protocol(doc: dict[str, Any]) -> None:
    ask = doc["paths"]["/superllm/v1/ask"]["post"]
    ref = ask["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/AskRequest")
    props = doc["components"]["schemas"]["AskRequest"]["properties"]
    assert {"prompt", "model", "messages", "stop"} <= set(props)
