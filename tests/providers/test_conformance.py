"""Every built-in wire dialect against its fake vendor, through the same conformance checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from superllmd.providers.anthropic import AnthropicKind
from superllmd.providers.base import ChatRequest
from superllmd.providers.cohere import CohereKind
from superllmd.providers.gemini import GeminiKind
from superllmd.providers.mistral import MistralKind
from superllmd.providers.ollama import OllamaKind
from superllmd.providers.openai import OpenAICompatibleKind, OpenAIKind
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGemini
from tests.fakes.mistral import FakeMistral
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import FakeRequest
from tests.providers.conformance import (
    CHECKS,
    KEY,
    SYSTEM,
    USER,
    Check,
    Dialect,
    check_id,
    run_check,
)

RequestCheck = Callable[[FakeRequest, ChatRequest, bool], None]


def _openai_shaped(max_tokens_field: str, stream_options: bool) -> RequestCheck:
    def check(sent: FakeRequest, request: ChatRequest, stream: bool) -> None:
        body = sent.json()
        assert sent.method == "POST" and sent.path == "/v1/chat/completions"
        assert body["messages"] == [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER},
        ]
        assert body[max_tokens_field] == 77
        assert body["temperature"] == 0.25 and body["stop"] == ["END"]
        assert bool(body.get("stream")) == stream
        assert ("stream_options" in body) == (stream and stream_options)
        if request.json_output:
            assert body["response_format"] == {"type": "json_object"}
        else:
            assert "response_format" not in body

    return check


def check_anthropic(sent: FakeRequest, request: ChatRequest, stream: bool) -> None:
    body = sent.json()
    assert sent.method == "POST" and sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert body["system"] == SYSTEM, "the system prompt is a top-level field"
    turns = [{"role": "user", "content": USER}]
    if request.json_output:
        turns.append({"role": "assistant", "content": "{"})
    assert body["messages"] == turns
    assert body["max_tokens"] == 77 and body["temperature"] == 0.25
    assert body["stop_sequences"] == ["END"] and "stop" not in body
    assert body.get("stream", False) == stream


def check_gemini(sent: FakeRequest, request: ChatRequest, stream: bool) -> None:
    body = sent.json()
    method = "streamGenerateContent" if stream else "generateContent"
    assert sent.method == "POST" and sent.path == f"/v1beta/models/echo:{method}"
    assert sent.query == ({"alt": ["sse"]} if stream else {})
    assert "key" not in sent.target, "the key must travel in a header, never in the URL"
    assert body["systemInstruction"] == {"parts": [{"text": SYSTEM}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": USER}]}]
    config = {"temperature": 0.25, "maxOutputTokens": 77, "stopSequences": ["END"]}
    if request.json_output:
        config["responseMimeType"] = "application/json"
    assert body["generationConfig"] == config


def check_cohere(sent: FakeRequest, request: ChatRequest, stream: bool) -> None:
    body = sent.json()
    assert sent.method == "POST" and sent.path == "/v2/chat"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]
    assert body["max_tokens"] == 77 and body["temperature"] == 0.25
    assert body["stop_sequences"] == ["END"] and body["stream"] is stream
    if request.json_output:
        assert body["response_format"] == {"type": "json_object"}


def check_ollama(sent: FakeRequest, request: ChatRequest, stream: bool) -> None:
    body = sent.json()
    assert sent.method == "POST" and sent.path == "/api/chat"
    assert body["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": USER},
    ]
    assert body["options"] == {"temperature": 0.25, "num_predict": 77, "stop": ["END"]}
    assert body["stream"] is stream, "Ollama streams unless told not to"
    assert body.get("format") == ("json" if request.json_output else None)


BEARER = ("authorization", f"Bearer {KEY}")

DIALECTS = [
    Dialect(
        name="openai",
        lists_models=True,
        kind=OpenAIKind,
        fake=FakeOpenAI,
        check_request=_openai_shaped("max_completion_tokens", True),
        auth_header=BEARER,
        retry_after=0.01,  # retry-after-ms: 10
        slow_complete=False,
    ),
    Dialect(
        name="openai-compatible",
        lists_models=True,
        kind=OpenAICompatibleKind,
        fake=FakeOpenAI,
        check_request=_openai_shaped("max_tokens", True),
        auth_header=BEARER,
        retry_after=0.01,
        key_required=False,
        slow_complete=False,
    ),
    Dialect(
        name="anthropic",
        lists_models=True,
        kind=AnthropicKind,
        fake=FakeAnthropic,
        check_request=check_anthropic,
        auth_header=("x-api-key", KEY),
        retry_after=7.0,  # retry-after: 7
        server_errors=(500, 503, 529),
    ),
    Dialect(
        name="gemini",
        lists_models=True,
        kind=GeminiKind,
        fake=FakeGemini,
        check_request=check_gemini,
        auth_header=("x-goog-api-key", KEY),
        retry_after=12.0,  # google.rpc.RetryInfo retryDelay "12s", in the body
        server_errors=(500, 503, 504),
    ),
    Dialect(
        name="cohere",
        lists_models=True,
        kind=CohereKind,
        fake=FakeCohere,
        check_request=check_cohere,
        auth_header=BEARER,
        retry_after=None,  # Cohere sends no retry hint
    ),
    Dialect(
        name="mistral",
        lists_models=True,
        kind=MistralKind,
        fake=FakeMistral,
        check_request=_openai_shaped("max_tokens", False),
        auth_header=BEARER,
        retry_after=None,
        reports_cache=False,
    ),
    Dialect(
        name="ollama",
        lists_models=True,
        kind=OllamaKind,
        fake=FakeOllama,
        check_request=check_ollama,
        auth_header=BEARER,
        retry_after=None,
        server_errors=(500, 502, 503),
        reports_cache=False,
        key_required=False,
    ),
]


@pytest.mark.parametrize("check", CHECKS, ids=check_id)
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_conformance(dialect: Dialect, check: Check, tmp_path: Path) -> None:
    run_check(dialect, check, tmp_path)


# Kinds that are not a wire dialect of their own.
NOT_DIALECTS = {
    "local": "runs a model in-process; no wire",
    "openai-preset": "OpenAIProvider with per-service data; its own tests cover the presets",
}


def test_every_builtin_dialect_is_covered() -> None:
    import importlib.metadata

    names = {ep.name for ep in importlib.metadata.entry_points(group="superllm.providers")}
    covered = {getattr(d.kind, "name", None) for d in DIALECTS}
    missing = names - covered - set(NOT_DIALECTS)
    assert not missing, f"dialects without a conformance entry: {missing}"


def dialect(name: str) -> Dialect:
    """One built-in dialect by name, for the per-dialect test modules."""
    return next(d for d in DIALECTS if d.name == name)
