"""--schema on the wire: every dialect sends the JSON Schema in its vendor's native
structured-output field, and its fake (which checks that field's shape) answers JSON for
it (tests/fakes/structured.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.structured import native_schema
from tests.providers.conformance import Dialect, Harness, standard_request
from tests.providers.test_conformance import DIALECTS

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
VENDOR = {"openai-compatible": "openai"}


def _native(dialect: Dialect, body: dict[str, Any]) -> Any:
    if dialect.name in ("openai", "openai-compatible", "mistral"):
        fmt = body["response_format"]
        assert fmt == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    elif dialect.name == "anthropic":
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
        assert body["messages"][-1]["role"] == "user", "no prefill beside a schema"
    elif dialect.name == "gemini":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == SCHEMA
    elif dialect.name == "cohere":
        assert body["response_format"] == {"type": "json_object", "json_schema": SCHEMA}
    elif dialect.name == "ollama":
        assert body["format"] == SCHEMA
    schema, problem = native_schema(body, VENDOR.get(dialect.name, dialect.name))
    assert problem is None
    return schema


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_the_schema_goes_in_the_native_field(
    dialect: Dialect, stream: bool, tmp_path: Path
) -> None:
    async def go() -> tuple[str, dict[str, Any]]:
        async with Harness(dialect, tmp_path) as h:
            request = standard_request("struct-ada", json_schema=SCHEMA)
            if stream:
                deltas, finals = await h.stream(request)
                text = finals[0].text
                assert "".join(deltas) == text
            else:
                text = (await h.provider().complete(request)).text
            return text, h.fake.requests[-1].json()

    text, body = asyncio.run(go())
    assert _native(dialect, body) == SCHEMA
    assert json.loads(text) == {"name": "ada", "age": 3}


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_without_a_schema_no_native_field_is_sent(dialect: Dialect, tmp_path: Path) -> None:
    async def go() -> dict[str, Any]:
        async with Harness(dialect, tmp_path) as h:
            await h.provider().complete(standard_request())
            return h.fake.requests[-1].json()

    body = asyncio.run(go())
    assert native_schema(body, VENDOR.get(dialect.name, dialect.name)) == (None, None)


def test_the_fakes_refuse_a_malformed_native_field() -> None:
    bad = {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}}
    assert native_schema(bad, "openai")[1] is not None  # no name
    prefill = {
        "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
        "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "{"}],
    }
    assert native_schema(prefill, "anthropic")[1] is not None
    no_mime = {"generationConfig": {"responseJsonSchema": SCHEMA}}
    assert native_schema(no_mime, "gemini")[1] is not None
    wrong = {"response_format": {"type": "text", "json_schema": SCHEMA}}
    assert native_schema(wrong, "cohere")[1] is not None
    assert native_schema({"format": {"properties": {}}}, "ollama")[1] is not None
