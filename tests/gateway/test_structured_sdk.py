"""Structured output through the gateway with the official SDKs: ``response_format`` /
``text.format`` / ``output_config.format`` with a JSON Schema become the native
``json_schema`` (sent in each provider's own structured-output field, the answer validated),
for a model and for a ``consensus:`` virtual model. The fakes answer a schema from the model's
name (tests/fakes/structured.py): ``struct-WORD`` fills it with WORD, ``struct-bad`` answers
JSON without its fields, ``struct-prose`` answers prose."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from superllmd.errors import UsageError
from superllmd.gateway.formats import inlined
from tests.fakes.openai import echo_reply
from tests.fakes.structured import native_schema
from tests.gateway.conftest import Gateway

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
}
ASK = [{"role": "user", "content": "Invent a person"}]


class Pet(BaseModel):
    kind: str
    legs: int


class Owner(BaseModel):  # a nested model: pydantic puts Pet under $defs and points at it
    name: str
    pet: Pet
    nickname: str | None  # an optional field: anyOf string or null


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base, api_key=gateway.token, max_retries=0)


def _sent_schema(gateway: Gateway, vendor: str, model: str) -> Any:
    fake = getattr(gateway.fakes, vendor)
    # Gemini names the model in the path, the others in the body.
    sent = [r.json() for r in fake.requests if model in r.path or r.json().get("model") == model]
    body = sent[-1]
    schema, problem = native_schema(body, vendor)
    assert problem is None
    return schema


@pytest.mark.parametrize(
    ("model", "vendor"),
    [
        ("fake/struct-ada", "openai"),
        ("anthropic/struct-ada", "anthropic"),
        ("mis/struct-ada", "mistral"),
        ("gem/struct-ada", "gemini"),
        ("co/struct-ada", "cohere"),
        ("oll/struct-ada", "ollama"),
    ],
)
def test_chat_json_schema_on_every_dialect(
    client: openai.OpenAI, gateway: Gateway, model: str, vendor: str
) -> None:
    reply = client.chat.completions.create(model=model, messages=ASK, response_format=FORMAT)  # type: ignore[arg-type]
    assert json.loads(reply.choices[0].message.content or "") == {"name": "ada", "age": 3}
    assert _sent_schema(gateway, vendor, model.split("/")[1]) == SCHEMA, "the native field"
    stream = client.chat.completions.create(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        response_format=FORMAT,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert json.loads(text) == {"name": "ada", "age": 3}


def test_chat_completions_parse_with_a_pydantic_model(
    client: openai.OpenAI, gateway: Gateway
) -> None:
    reply = client.chat.completions.parse(
        model="fake/struct-rex",
        messages=ASK,
        response_format=Owner,  # type: ignore[arg-type]
    )
    assert reply.choices[0].message.parsed == Owner(
        name="rex", pet=Pet(kind="rex", legs=3), nickname="rex"
    )
    sent = _sent_schema(gateway, "openai", "struct-rex")
    assert "$defs" not in json.dumps(sent), "nested models are inlined"
    assert sent["properties"]["pet"]["properties"]["legs"]["type"] == "integer"


def test_a_fenced_answer_reaches_the_client_as_bare_json(
    client: openai.OpenAI, gateway: Gateway
) -> None:
    """The fake writes ``Here it is:`` and a fenced block; every client gets the JSON alone,
    streamed or not."""
    person = {"name": "ada", "age": 3}
    model = "fake/struct-fenced-ada"
    reply = client.chat.completions.create(model=model, messages=ASK, response_format=FORMAT)  # type: ignore[arg-type]
    assert json.loads(reply.choices[0].message.content or "") == person
    chunks = client.chat.completions.create(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        response_format=FORMAT,
        stream=True,
    )
    assert json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices)) == (
        person
    )
    with client.chat.completions.stream(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        response_format=FORMAT,
    ) as stream:  # the SDK's own parsing of a stream
        assert stream.get_final_completion().choices[0].message.content == json.dumps(person)
    fmt: Any = {"type": "json_schema", "name": "person", "schema": SCHEMA, "strict": True}
    events = list(
        client.responses.create(model=model, input="who?", text={"format": fmt}, stream=True)
    )
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert json.loads(deltas) == person
    done = [e.text for e in events if e.type == "response.output_text.done"]
    assert [json.loads(t) for t in done] == [person]
    claude = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)
    with claude.messages.stream(
        model=model,
        max_tokens=100,
        messages=ASK,  # type: ignore[arg-type]
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    ) as messages:
        assert json.loads(messages.get_final_text()) == person


def test_json_mode_unwraps_a_fenced_answer_alike_streamed_or_not(
    client: openai.OpenAI, gateway: Gateway
) -> None:
    """``json_object`` (JSON mode, nothing validated): the whole reply and the streamed one
    both carry the JSON alone, the same text."""
    fake = gateway.fakes.openai
    fake.reply = lambda body: 'Here:\n```json\n{"name": "ada", "age": 3}\n```\nDone {ok}.'
    model, fmt = "fake/gpt-fake", {"type": "json_object"}
    try:
        whole = client.chat.completions.create(model=model, messages=ASK, response_format=fmt)  # type: ignore[arg-type]
        chunks = client.chat.completions.create(
            model=model,
            messages=ASK,  # type: ignore[arg-type]
            response_format=fmt,  # type: ignore[arg-type]
            stream=True,
        )
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finally:
        fake.reply = echo_reply
    assert json.loads(streamed) == {"name": "ada", "age": 3}
    assert whole.choices[0].message.content == streamed


def test_local_refs_are_inlined_and_recursion_refused() -> None:
    schema = {
        "type": "object",
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {
            "definitions": {"type": "string"},  # a field's name, not a keyword
            "pet": {"$ref": "#/$defs/Pet", "description": "theirs"},
        },
        "$defs": {"Pet": {"type": "object", "properties": {"legs": {"type": "integer"}}}},
    }
    assert inlined(schema, "response_format") == {
        "type": "object",
        "properties": {
            "definitions": {"type": "string"},
            "pet": {
                "type": "object",
                "properties": {"legs": {"type": "integer"}},
                "description": "theirs",
            },
        },
    }
    looped = {"$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}}}
    with pytest.raises(UsageError, match="recursive"):
        inlined({**looped, "$ref": "#/$defs/N"}, "response_format")
    with pytest.raises(UsageError, match="does not point"):
        inlined({"$ref": "#/$defs/Gone"}, "response_format")


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("fake/struct-bad", "does not match the schema"),
        ("fake/struct-prose", "did not answer with JSON"),
    ],
)
def test_an_answer_off_the_schema_is_a_502(client: openai.OpenAI, model: str, why: str) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=ASK, response_format=FORMAT)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    assert why in info.value.message
    stream = client.chat.completions.create(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        response_format=FORMAT,
        stream=True,
    )
    with pytest.raises(openai.APIError) as streamed:
        list(stream)
    assert why in streamed.value.message, "in-band error at the stream's end"


def test_consensus_virtual_model_votes_the_fields(client: openai.OpenAI) -> None:
    model = "consensus:fake/struct-ada,fake/struct-ada,fake/struct-bo"
    reply = client.chat.completions.create(model=model, messages=ASK, response_format=FORMAT)  # type: ignore[arg-type]
    assert json.loads(reply.choices[0].message.content or "") == {"name": "ada", "age": 3}
    extra = (reply.model_extra or {})["superllm"]
    assert extra["report"]["fields"]["name"]["share"] == pytest.approx(2 / 3)
    stream = client.chat.completions.create(
        model=model,
        messages=ASK,  # type: ignore[arg-type]
        response_format=FORMAT,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert json.loads(text) == {"name": "ada", "age": 3}


@pytest.mark.parametrize("mode", ["debate", "redteam"])
def test_other_virtual_models_refuse_a_schema(client: openai.OpenAI, mode: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=f"{mode}:fake/struct-ada,fake/struct-bo",
            messages=ASK,  # type: ignore[arg-type]
            response_format=FORMAT,
        )
    body: Any = info.value.body
    assert body["param"] == "response_format" and mode in body["message"]


def test_an_unsupported_schema_keyword_is_a_400(client: openai.OpenAI) -> None:
    odd = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"oneOf": []}}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="fake/struct-ada", messages=ASK, response_format=odd)  # type: ignore[arg-type]
    assert "oneOf" in info.value.message


def test_responses_text_format_stream_and_not(client: openai.OpenAI) -> None:
    fmt: Any = {"type": "json_schema", "name": "person", "schema": SCHEMA, "strict": True}
    reply = client.responses.create(model="fake/struct-ada", input="who?", text={"format": fmt})
    assert json.loads(reply.output_text) == {"name": "ada", "age": 3}
    events = list(
        client.responses.create(
            model="fake/struct-ada", input="who?", text={"format": fmt}, stream=True
        )
    )
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert json.loads(text) == {"name": "ada", "age": 3}
    with pytest.raises(openai.InternalServerError) as info:
        client.responses.create(model="fake/struct-bad", input="who?", text={"format": fmt})
    assert "does not match the schema" in info.value.message


def test_responses_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    reply = client.responses.parse(model="fake/struct-kit", input="who?", text_format=Owner)
    assert reply.output_parsed == Owner(name="kit", pet=Pet(kind="kit", legs=3), nickname="kit")


def test_anthropic_output_config_format(gateway: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)
    reply = client.messages.create(
        model="fake/struct-ada",
        max_tokens=100,
        messages=ASK,  # type: ignore[arg-type]
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    block: Any = reply.content[0]
    assert json.loads(block.text) == {"name": "ada", "age": 3}
    parsed = client.messages.parse(
        model="claude/struct-max",
        max_tokens=100,
        messages=ASK,  # type: ignore[arg-type]
        output_format=Owner,
    )
    assert parsed.parsed_output == Owner(name="max", pet=Pet(kind="max", legs=3), nickname="max")
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(
            model="debate:fake/struct-ada,fake/struct-bo",
            max_tokens=100,
            messages=ASK,  # type: ignore[arg-type]
            output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
        )
    assert info.value.status_code == 400
