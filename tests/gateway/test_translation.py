"""The pure translations on their own: vendor requests in, native events out as vendor
bytes, in the vendors' order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from superllmd.errors import RateLimited, UsageError
from superllmd.gateway import anthropic as anthropic_api
from superllmd.gateway import openai_chat
from superllmd.gateway._shared import status_of
from superllmd.gateway.chat import Chat, Piece, pieces
from superllmd.protocol import Event


def _result(answer: str | None, error: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "run_id": "r1",
        "mode": "ask",
        "answer": answer,
        "model": "p/m",
        "participants": [],
        "judge": None,
        "usage": {"input_tokens": 5, "output_tokens": 3, "cached_tokens": 1},
        "cost_usd": 0.25,
        "latency_ms": 1,
        "conversation_id": None,
        "error": error,
    }


def _events(*texts: str, finish: str = "length") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "run.started", "run_id": "r1", "mode": "ask", "participants": ["p/m"]}
    ]
    out += [
        {"type": "delta", "run_id": "r1", "participant": "p/m", "round": 0, "text": t}
        for t in texts
    ]
    out.append(
        {
            "type": "message",
            "run_id": "r1",
            "participant": "p/m",
            "round": 0,
            "text": "".join(texts),
            "usage": {},
            "cost_usd": 0.25,
            "latency_ms": 1,
            "finish_reason": finish,
        }
    )
    out.append({"type": "run.finished", "run_id": "r1", "result": _result("".join(texts))})
    return out


async def _aiter(items: list[dict[str, Any]]) -> AsyncIterator[Event]:
    for item in items:
        yield item  # type: ignore[misc]


async def _collect(gen: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in gen]


def _pieces(items: list[dict[str, Any]]) -> AsyncIterator[Piece]:
    return pieces(_aiter(items), Chat("p/m"))


def test_openai_request_translation() -> None:
    chat = openai_chat.chat_of(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "rules"},
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": [{"type": "text", "text": "c"}]},
            ],
            "max_tokens": 5,
            "max_completion_tokens": 7,
            "stop": "X",
            "temperature": 0.5,
            "response_format": {"type": "json_object"},
            "stream": True,
        }
    )
    assert chat.stream and chat.body["system"] == "rules" and chat.body["prompt"] == "c"
    assert chat.body["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]
    assert chat.body["max_tokens"] == 7 and chat.body["stop"] == ["X"]
    assert chat.body["json_output"] is True and chat.body["temperature"] == 0.5
    with pytest.raises(UsageError):
        openai_chat.chat_of({"model": "m", "messages": [{"role": "assistant", "content": "x"}]})


def test_openai_stream_order() -> None:
    writer = openai_chat.ChunkWriter("id1", "m", 1)
    out = asyncio.run(_collect(openai_chat.chunks(_pieces(_events("He", "llo")), writer)))
    frames = [json.loads(f[6:]) for f in out if isinstance(f, bytes)]
    assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [f["choices"][0]["delta"].get("content") for f in frames[1:3]] == ["He", "llo"]
    assert frames[-1]["choices"][0]["finish_reason"] == "length"
    assert frames[-1]["superllm"]["cost_usd"] == 0.25
    assert all(f["usage"] is None and f["id"] == "id1" for f in frames)


def test_openai_midstream_error_is_in_band() -> None:
    events = [
        *_events("He")[:2],
        {
            "type": "error",
            "run_id": "r1",
            "participant": None,
            "code": "overloaded",
            "message": "busy",
            "retryable": True,
        },
    ]
    writer = openai_chat.ChunkWriter("id1", "m", 1)
    out = asyncio.run(_collect(openai_chat.chunks(_pieces(events), writer)))
    last = json.loads(out[-1][6:])
    assert last == {
        "error": {"message": "busy", "type": "server_error", "param": None, "code": "overloaded"}
    }


def test_anthropic_stream_order_and_usage() -> None:
    chat = Chat("m", {"prompt": "hello"})
    out = asyncio.run(_collect(anthropic_api.frames(_pieces(_events("a", "b")), chat, "m")))
    names = [f.split(b"\n", 1)[0].decode() for f in out]
    assert names == [
        "event: message_start",
        "event: content_block_start",
        "event: content_block_delta",
        "event: content_block_delta",
        "event: content_block_stop",
        "event: message_delta",
        "event: message_stop",
    ]
    delta = json.loads(out[-2].split(b"data: ", 1)[1])
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"]["output_tokens"] == 3 and delta["usage"]["cache_read_input_tokens"] == 1


def test_statuses() -> None:
    assert status_of(RateLimited("slow down", retry_after=3)) == 429
    assert status_of(UsageError("bad")) == 400
    from superllmd.errors import AuthError, BudgetExceeded, ProviderTimeout

    assert status_of(AuthError("upstream key refused", provider="openai")) == 502
    assert status_of(BudgetExceeded("spent")) == 402
    assert status_of(ProviderTimeout("slow")) == 504


def test_tools_and_tool_turns_become_native_shapes() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    body = openai_chat.chat_of(
        {"model": "m", "messages": messages, "tools": [tool], "tool_choice": "required"}  # type: ignore[typeddict-item]
    ).body
    assert body["prompt"] == ""  # the model answers the tool's result
    assert body["tools"] == [{"name": "f", "parameters": {"type": "object"}}]
    assert body["tool_choice"] == "required"
    assert body["messages"][1]["tool_calls"] == [{"id": "call_1", "name": "f", "arguments": "{}"}]
    assert body["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "call_1"}
    use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}
    body = anthropic_api.chat_of(
        {  # type: ignore[typeddict-item]
            "model": "m",
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": [use]},
                {"role": "user", "content": [result, {"type": "text", "text": "and?"}]},
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
        }
    ).body
    assert body["prompt"] == "and?" and body["tool_choice"] == "required"
    assert body["messages"][1]["tool_calls"] == [
        {"id": "toolu_1", "name": "f", "arguments": '{"a": 1}'}
    ]
    assert body["messages"][2] == {"role": "tool", "content": "42", "tool_call_id": "toolu_1"}
    with pytest.raises(UsageError, match="only function tools"):
        openai_chat.chat_of({"model": "m", "messages": messages[:1], "tools": [{"type": "x"}]})  # type: ignore[typeddict-item]
    assert (
        openai_chat.chat_of({"model": "m", "messages": messages[:1], "tools": []}).body["prompt"]
        == "x"
    )  # type: ignore[typeddict-item]
