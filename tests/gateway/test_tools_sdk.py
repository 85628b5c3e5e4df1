"""Tool calling through the gateway with the official SDKs: an OpenAI client and an Anthropic
client each make a tool round trip (the model calls, the client answers with the result, the
model answers that) to every provider dialect's fake, streamed and not. The fakes check the
request shape their vendor would (tests/fakes/tools.py), so a wrongly translated call, id or
result fails here."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.gateway.conftest import Gateway

DIALECTS = [
    "fake/gpt-fake",
    "claude/claude-fake",
    "gem/gemini-fake",
    "co/command-fake",
    "mis/mistral-fake",
    "oll/llama-fake",
]
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
OPENAI_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": SCHEMA,
    },
}
ANTHROPIC_TOOL: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": SCHEMA,
}
RESULT = "18C and sunny"


@pytest.fixture
def oai(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base, api_key=gateway.token, max_retries=0)


@pytest.fixture
def claude(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)


def _openai_turn(
    client: openai.OpenAI, model: str, messages: list[Any], stream: bool
) -> tuple[str, list[dict[str, Any]], str | None]:
    """(text, tool calls as OpenAI's message shape, finish_reason) of one completion."""
    if not stream:
        reply = client.chat.completions.create(model=model, messages=messages, tools=[OPENAI_TOOL])
        message = reply.choices[0].message
        calls = [c.model_dump(include={"id", "type", "function"}) for c in message.tool_calls or []]
        return message.content or "", calls, reply.choices[0].finish_reason
    text, finish = "", None
    calls_by_index: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(
        model=model, messages=messages, tools=[OPENAI_TOOL], stream=True
    ):
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
        for piece in choice.delta.tool_calls or []:
            call = calls_by_index.setdefault(
                piece.index,
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if piece.id:
                assert call["id"] is None, "a call's id came twice"
                call["id"] = piece.id
            if piece.function and piece.function.name:
                call["function"]["name"] = piece.function.name
            if piece.function and piece.function.arguments:
                call["function"]["arguments"] += piece.function.arguments
    return text, [calls_by_index[i] for i in sorted(calls_by_index)], finish


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", DIALECTS)
def test_an_openai_client_makes_a_tool_round_trip(
    oai: openai.OpenAI, model: str, stream: bool
) -> None:
    messages: list[Any] = [{"role": "user", "content": "Paris"}]
    _, calls, finish = _openai_turn(oai, model, messages, stream)
    assert finish == "tool_calls"
    assert len(calls) == 1 and calls[0]["id"]
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": RESULT},
    ]
    text, more, finish = _openai_turn(oai, model, messages, stream)
    assert text.startswith("the tool said: ") and RESULT in text
    assert more == [] and finish == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", DIALECTS)
def test_an_anthropic_client_makes_a_tool_round_trip(
    claude: anthropic.Anthropic, model: str, stream: bool
) -> None:
    messages: list[Any] = [{"role": "user", "content": "Paris"}]

    def turn() -> anthropic.types.Message:
        args: Any = {
            "model": model,
            "max_tokens": 64,
            "messages": messages,
            "tools": [ANTHROPIC_TOOL],
        }
        if not stream:
            return claude.messages.create(**args)
        with claude.messages.stream(**args) as events:
            return events.get_final_message()

    reply = turn()
    assert reply.stop_reason == "tool_use"
    uses = [b for b in reply.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather" and uses[0].id
    assert uses[0].input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in reply.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": RESULT}],
        },
    ]
    reply = turn()
    assert reply.stop_reason == "end_turn"
    assert reply.content[0].type == "text"
    assert reply.content[0].text.startswith("the tool said: ") and RESULT in reply.content[0].text


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", ["claude/claude-fake", "gem/gemini-fake"])
def test_the_responses_api_makes_a_tool_round_trip(
    oai: openai.OpenAI, model: str, stream: bool
) -> None:
    tool: Any = {"type": "function", "name": "get_weather", "parameters": SCHEMA}
    items: list[Any] = [{"role": "user", "content": "Paris"}]

    def turn() -> Any:
        if not stream:
            return oai.responses.create(model=model, input=items, tools=[tool])
        events = list(oai.responses.create(model=model, input=items, tools=[tool], stream=True))
        kinds = [e.type for e in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        return events[-1].response

    response = turn()
    calls = [o for o in response.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    items += [
        {
            "type": "function_call",
            "call_id": calls[0].call_id,
            "name": "get_weather",
            "arguments": calls[0].arguments,
        },
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": RESULT},
    ]
    response = turn()
    assert RESULT in response.output_text and not any(
        o.type == "function_call" for o in response.output
    )


def test_tool_choice_reaches_each_vendor_in_its_own_shape(
    oai: openai.OpenAI, gateway: Gateway
) -> None:
    named: Any = {"type": "function", "function": {"name": "get_weather"}}
    user: Any = [{"role": "user", "content": "Oslo"}]
    oai.chat.completions.create(
        model="claude/claude-fake", messages=user, tools=[OPENAI_TOOL], tool_choice=named
    )
    sent = gateway.fakes.anthropic.requests[-1].json()
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent["tools"] == [ANTHROPIC_TOOL]
    oai.chat.completions.create(
        model="gem/gemini-fake", messages=user, tools=[OPENAI_TOOL], tool_choice="required"
    )
    sent = gateway.fakes.gemini.requests[-1].json()
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == SCHEMA
    # "none" offers nothing to call: an answer in text.
    reply = oai.chat.completions.create(
        model="co/command-fake", messages=user, tools=[OPENAI_TOOL], tool_choice="none"
    )
    assert gateway.fakes.cohere.requests[-1].json()["tool_choice"] == "NONE"
    assert reply.choices[0].message.content == "echo: Oslo"


def test_a_model_that_cannot_call_tools_is_a_clear_400(oai: openai.OpenAI) -> None:
    user: Any = [{"role": "user", "content": "Paris"}]
    with pytest.raises(openai.BadRequestError, match="cannot call tools"):
        oai.chat.completions.create(model="local/smollm2", messages=user, tools=[OPENAI_TOOL])
    with pytest.raises(openai.BadRequestError, match="does not take tools"):
        oai.chat.completions.create(
            model="consensus:fake/gpt-fake,claude/claude-fake", messages=user, tools=[OPENAI_TOOL]
        )
    with pytest.raises(openai.BadRequestError, match="only function tools"):
        oai.chat.completions.create(
            model="fake/gpt-fake", messages=user, tools=[{"type": "web_search"}]
        )
