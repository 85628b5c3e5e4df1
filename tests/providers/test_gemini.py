"""Gemini specifics: API versions, RetryInfo, CRLF SSE, safety blocks, bad keys, embeddings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from superllmd.errors import AuthError, BadRequest, Overloaded, ProtocolError
from superllmd.providers._http import iter_lines
from superllmd.providers.base import ChatRequest, TokenUsage
from superllmd.providers.gemini import _chunks
from tests.providers.conformance import KEY, Harness, run_check, standard_request
from tests.providers.test_conformance import dialect

GEMINI = dialect("gemini")


def run(check: Any, tmp_path: Path) -> None:
    run_check(GEMINI, check, tmp_path)


@pytest.mark.parametrize(
    ("suffix", "prefix"), [("", "/v1beta"), ("/v1", "/v1"), ("/v1beta/", "/v1beta")]
)
def test_api_version_from_the_base_url(suffix: str, prefix: str, tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider(base_url=h.fake.base_url + suffix)
        assert (await provider.complete(standard_request())).text.startswith("echo:")
        assert h.last_request().path == f"{prefix}/models/echo:generateContent"
        await h.stream(standard_request(), provider)
        assert h.last_request().path == f"{prefix}/models/echo:streamGenerateContent"

    run(check, tmp_path)


def test_a_rejected_key_is_an_auth_error_though_gemini_says_400(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(lambda: h.provider().complete(standard_request("badkey")), AuthError)
        assert "API key not valid" in exc.message and "$SUPERLLM_TEST_KEY" in exc.message

    run(check, tmp_path)


@pytest.mark.parametrize(("model", "words"), [("safety", "SAFETY"), ("blocked", "blocked")])
def test_safety_blocks_are_bad_requests_that_say_so(model: str, words: str, tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        calls: list[Callable[[ChatRequest], Awaitable[object]]] = [h.provider().complete, h.stream]
        for call in calls:
            exc = await h.fails(partial(call, standard_request(model)), BadRequest)
            assert words in exc.message and "safetySettings" in exc.message

    run(check, tmp_path)


def test_thoughts_are_billed_as_output(tmp_path: Path) -> None:
    expected = TokenUsage(input_tokens=11, output_tokens=5 + 3, cached_tokens=5)

    async def check(h: Harness) -> None:
        assert (await h.provider().complete(standard_request("thinking"))).usage == expected
        _, (final,) = await h.stream(standard_request("thinking"))
        assert final.usage == expected

    run(check, tmp_path)


def test_an_error_after_the_200_keeps_its_message(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(lambda: h.stream(standard_request("midstream-error")), Overloaded)
        assert "overloaded" in exc.message

    run(check, tmp_path)


def test_the_gemini_key_comes_before_the_google_key(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        env = {"GOOGLE_API_KEY": "google-key-value", "GEMINI_API_KEY": KEY}
        await h.provider(environ=env, api_key_env=None).complete(standard_request())
        assert h.last_request().headers["x-goog-api-key"] == KEY
        env = {"GOOGLE_API_KEY": KEY}
        await h.provider(environ=env, api_key_env=None).complete(standard_request())
        assert h.last_request().headers["x-goog-api-key"] == KEY

    run(check, tmp_path)


def test_options_land_in_generation_config_or_top_level(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
        options = {"top_p": 0.5, "thinkingConfig": {"thinkingBudget": 0}, "safetySettings": safety}
        await h.provider().complete(standard_request(options=options))
        body = h.last_request().json()
        assert body["generationConfig"]["topP"] == 0.5
        assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
        assert body["safetySettings"] == safety

    run(check, tmp_path)


def test_embeddings_and_model_list(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider()
        vectors = await provider.embed("text-embedding-fake", ["ab", "abcd"])
        assert vectors == [[2.0, 0.5], [4.0, 0.5]]
        body = h.last_request().json()
        assert h.last_request().path == "/v1beta/models/text-embedding-fake:batchEmbedContents"
        assert body["requests"][0]["model"] == "models/text-embedding-fake"
        assert await provider.list_models() == ["gemini-fake", "echo"]

    run(check, tmp_path)


async def _feed(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _parse(*chunks: bytes) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        return [c async for c in _chunks("gemini", iter_lines(_feed(*chunks)))]

    return asyncio.run(main())


def test_sse_with_crlf_split_anywhere() -> None:
    raw = b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\r\n\r\n'
    for cut in range(1, len(raw)):
        assert _parse(raw[:cut], raw[cut:]) == [{"a": 1}, {"b": 2}], cut
    assert _parse(b'data: {"a": 1}\r\rdata: {"b": 2}\n\n') == [{"a": 1}, {"b": 2}]


def test_a_bare_multiline_error_is_assembled() -> None:
    pretty = json.dumps({"error": {"code": 503, "status": "UNAVAILABLE"}}, indent=2)
    raw = b'data: {"a": 1}\r\n\r\n' + pretty.replace("\n", "\r\n").encode() + b"\r\n"
    assert _parse(raw[:30], raw[30:]) == [{"a": 1}, json.loads(pretty)]


def test_a_cut_event_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        _parse(b'data: {"candidates": [{"content"')
