"""Cohere specifics: tokens over billed_units, the 498 status, finish_reason ERROR, embed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from superllmd.errors import AuthError, ServerError
from superllmd.providers.base import TokenUsage
from superllmd.providers.cohere import _usage
from tests.providers.conformance import KEY, Harness, run_check, standard_request
from tests.providers.test_conformance import dialect

COHERE = dialect("cohere")


def run(check: Any, tmp_path: Path) -> None:
    run_check(COHERE, check, tmp_path)


def test_tokens_are_preferred_to_billed_units() -> None:
    usage = {
        "billed_units": {"input_tokens": 9, "output_tokens": 4},
        "tokens": {"input_tokens": 11, "output_tokens": 5},
        "cached_tokens": 5,
    }
    assert _usage(usage) == TokenUsage(input_tokens=11, output_tokens=5, cached_tokens=5)
    del usage["tokens"]
    assert _usage(usage) == TokenUsage(input_tokens=9, output_tokens=4, cached_tokens=5)


def test_invalid_token_498_is_an_auth_error(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(lambda: h.provider().complete(standard_request("error-498")), AuthError)
        assert "(498)" in exc.message and "$SUPERLLM_TEST_KEY" in exc.message

    run(check, tmp_path)


def test_finish_reason_error_is_an_error_not_an_answer(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        await h.fails(lambda: h.provider().complete(standard_request("finish-error")), ServerError)
        exc = await h.fails(lambda: h.stream(standard_request("midstream-error")), ServerError)
        assert "internal error while generating" in exc.message

    run(check, tmp_path)


def test_the_co_key_comes_before_the_cohere_key(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        env = {"COHERE_API_KEY": "other-key-value", "CO_API_KEY": KEY}
        await h.provider(environ=env, api_key_env=None).complete(standard_request())
        assert h.last_request().headers["authorization"] == f"Bearer {KEY}"

    run(check, tmp_path)


def test_embeddings_and_model_list(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider()
        assert await provider.embed("embed-fake", ["ab", "abc"]) == [[2.0, 0.25], [3.0, 0.25]]
        body = h.last_request().json()
        assert h.last_request().path == "/v2/embed"
        assert body["embedding_types"] == ["float"] and body["input_type"] == "search_document"
        assert await provider.list_models() == ["command-fake", "echo"]
        assert h.last_request().query["endpoint"] == ["chat"]

    run(check, tmp_path)
