"""The official openai SDK against the gateway: chat (stream and not), models, embeddings,
responses and errors, with every provider dialect reached through its fake."""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest

from tests.gateway.conftest import Gateway

PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452")).decode()


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_base, api_key=gateway.token, max_retries=0)


def test_chat_completion(client: openai.OpenAI, gateway: Gateway) -> None:
    reply = client.chat.completions.create(
        model="fake/gpt-fake",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
        temperature=0.2,
        max_completion_tokens=50,
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    extra = reply.model_extra or {}
    assert extra["superllm"]["model"] == "fake/gpt-fake"
    sent = gateway.fakes.openai.chat_requests()[-1]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50  # max_completion_tokens
    client.chat.completions.create(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "x"}], max_tokens=7
    )
    assert gateway.fakes.openai.chat_requests()[-1]["max_tokens"] == 7


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake/gpt-fake",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_history_reaches_the_provider(client: openai.OpenAI, gateway: Gateway) -> None:
    client.chat.completions.create(
        model="fake/gpt-fake",
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer one"},
            {"role": "user", "content": "second"},
        ],
        stop=["END"],
    )
    sent = gateway.fakes.openai.chat_requests()[-1]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"] == "answer one"
    assert sent["stop"] == ["END"]


def test_n_choices(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="fake/gpt-fake", messages=[{"role": "user", "content": "hi"}], n=2
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.message.content == "echo: hi" for c in reply.choices)
    chunks = list(
        client.chat.completions.create(
            model="fake/gpt-fake",
            messages=[{"role": "user", "content": "hi there"}],
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    for index in (0, 1):
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == index]
        assert "".join(c.delta.content or "" for c in mine) == "echo: hi there"
        assert mine[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_json_object_format_reaches_the_provider(client: openai.OpenAI, gateway: Gateway) -> None:
    client.chat.completions.create(
        model="fake/gpt-fake",
        messages=[{"role": "user", "content": "json please"}],
        response_format={"type": "json_object"},
    )
    sent = gateway.fakes.openai.chat_requests()[-1]
    assert sent["response_format"] == {"type": "json_object"}


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
def test_every_dialect_streams_through_the_gateway(client: openai.OpenAI, model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "ping pong"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "ping pong" in text
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "ping pong"}]
    )
    assert "ping pong" in (reply.choices[0].message.content or "")


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="nosuch/model", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body is not None


def test_upstream_rate_limit_is_429_with_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="fake/error-429", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.response.headers.get("retry-after")


def test_upstream_overload_is_503(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="fake/error-503",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
    assert info.value.status_code == 503


def test_bad_request_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake/gpt-fake", messages=[])


def test_midstream_error_raises_in_the_sdk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake/midstream-error", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_models_lists_models_aliases_and_virtual(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    for name in ("fake/gpt-fake", "claude/claude-fake", "fast", "chain", "consensus"):
        assert name in ids
    assert client.models.retrieve("fake/gpt-fake").id == "fake/gpt-fake"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nosuch/model")


def test_embeddings(client: openai.OpenAI) -> None:
    out = client.embeddings.create(model="fake/text-embedding-fake", input=["a b", "c"])
    assert [d.index for d in out.data] == [0, 1]
    assert len(out.data[0].embedding) > 0
    assert out.data[0].embedding != out.data[1].embedding


def test_fallback_chain_as_model(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="chain", messages=[{"role": "user", "content": "fall back"}]
    )
    assert "fall back" in (reply.choices[0].message.content or "")
    assert (reply.model_extra or {})["superllm"]["model"] == "claude/claude-fake"


def test_images_are_refused_for_a_model_without_vision(client: openai.OpenAI) -> None:
    url = f"data:image/png;base64,{PNG}"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="fake/gpt-fake",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is it"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
        )
    assert "cannot take images" in str(info.value)


def test_image_parts_reach_a_vision_model(client: openai.OpenAI, gateway: Gateway) -> None:
    url = f"data:image/png;base64,{PNG}"
    reply = client.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is it"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )
    assert "what is it" in (reply.choices[0].message.content or "")
    sent = gateway.fakes.openai.chat_requests()[-1]
    parts = sent["messages"][-1]["content"]
    image = next(p for p in parts if p["type"] == "image_url")
    assert image["image_url"]["url"] == url
    assert (reply.model_extra or {})["superllm"]["cost_usd"] > 0


def test_remote_image_url_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="fake/gpt-fake",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                }
            ],
        )


def test_responses_api(client: openai.OpenAI) -> None:
    reply = client.responses.create(model="fake/gpt-fake", input="say this", instructions="x")
    assert reply.output_text == "echo: say this"
    assert reply.usage is not None and reply.usage.output_tokens > 0
    events = list(client.responses.create(model="fake/gpt-fake", input="say that", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: say that"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1].response  # type: ignore[union-attr]
    assert completed.usage is not None and completed.usage.output_tokens > 0
    assert completed.output_text == "echo: say that"


@pytest.mark.parametrize(
    ("model", "status"),
    [
        ("fake/error-500", 502),  # the upstream's failure is a bad gateway
        ("fake/error-403", 502),  # so is a provider refusing superllm's own key
        ("fake/error-408", 504),  # and its timeout a gateway timeout
    ],
)
def test_upstream_failures_are_5xx(client: openai.OpenAI, model: str, status: int) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == status
    body: Any = info.value.body
    assert body["type"] == "server_error" and body["message"]
