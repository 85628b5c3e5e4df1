"""The official anthropic SDK against the gateway: messages (stream and not), system,
images, count_tokens and errors, routed to providers of every dialect."""

from __future__ import annotations

import base64

import anthropic
import pytest

from tests.gateway.conftest import Gateway

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452")).decode()


@pytest.fixture
def client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.token, max_retries=0)


def test_message(client: anthropic.Anthropic, gateway: Gateway) -> None:
    reply = client.messages.create(
        model="fake/gpt-fake",
        max_tokens=64,
        system="be brief",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "echo: hello there"
    assert reply.stop_reason == "end_turn"
    assert reply.usage.output_tokens > 0
    sent = gateway.fakes.openai.chat_requests()[-1]
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["max_tokens"] == 64


def test_stream_order_and_cumulative_usage(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model="claude/claude-fake",
        max_tokens=64,
        messages=[{"role": "user", "content": "one two three"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert kinds[-1] == "message_stop"
    assert kinds[-2] == "message_delta"
    assert "content_block_stop" in kinds
    assert final.content[0].type == "text"
    assert "one two three" in final.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize(
    "model",
    [
        "fake/gpt-fake",
        "claude/claude-fake",
        "gem/gemini-fake",
        "co/command-fake",
        "mis/mistral-fake",
        "oll/llama-fake",
    ],
)
def test_every_dialect_through_messages(client: anthropic.Anthropic, model: str) -> None:
    reply = client.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "ping pong"}]
    )
    assert reply.content[0].type == "text" and "ping pong" in reply.content[0].text
    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "ping pong"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.content[0].type == "text" and "ping pong" in final.content[0].text


def test_history_turns(client: anthropic.Anthropic, gateway: Gateway) -> None:
    client.messages.create(
        model="claude/claude-fake",
        max_tokens=64,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer one"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ],
        stop_sequences=["END"],
    )
    sent = gateway.fakes.anthropic.requests[-1].json()
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["stop_sequences"] == ["END"]


def test_image_block_reaches_a_vision_model(client: anthropic.Anthropic, gateway: Gateway) -> None:
    client.messages.create(
        model="openai/gpt-4o-mini",
        max_tokens=64,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "text", "text": "what is it"},
                ],
            }
        ],
    )
    parts = gateway.fakes.openai.chat_requests()[-1]["messages"][-1]["content"]
    assert any(p["type"] == "image_url" and PNG in p["image_url"]["url"] for p in parts)


def test_count_tokens(client: anthropic.Anthropic) -> None:
    short = client.messages.count_tokens(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "hi"}]
    )
    long = client.messages.count_tokens(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "hi " * 400}]
    )
    assert 0 < short.input_tokens < long.input_tokens


def test_models_in_anthropic_shape(client: anthropic.Anthropic) -> None:
    page = client.models.list()
    ids = [m.id for m in page.data]
    for name in ("fake/gpt-fake", "claude/claude-fake", "fast", "chain", "consensus"):
        assert name in ids
    assert all(m.type == "model" and m.display_name and m.created_at for m in page.data)
    assert page.has_more is False and page.first_id == ids[0] and page.last_id == ids[-1]
    one = client.models.retrieve("claude/claude-fake")
    assert (one.id, one.type) == ("claude/claude-fake", "model")
    with pytest.raises(anthropic.NotFoundError) as info:
        client.models.retrieve("nosuch/model")
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "not_found_error"


def test_errors_in_anthropic_shape(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(
            model="nosuch/model", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(
            model="fake/error-429", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert limited.value.response.headers.get("retry-after")
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(
            model="fake/gpt-fake", max_tokens=8, messages=[{"role": "assistant", "content": "x"}]
        )


def test_midstream_error_event(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError):  # noqa: SIM117
        with client.messages.stream(
            model="fake/midstream-error",
            max_tokens=64,
            messages=[{"role": "user", "content": "x"}],
        ) as stream:
            list(stream)
