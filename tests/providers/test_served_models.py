"""Each dialect's ``served_models``: its vendor's models list, paged, with the limits listed.

Against the fakes in tests/fakes/, which answer each vendor's list endpoint in its own shape
(WIRE.md 2.4, 3.4, 4.5, 5.2, 6, 7); ``page_size`` on a fake forces the list into pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from superllmd.errors import ModelNotFound, ProtocolError, ServerError
from superllmd.listings import ServedModel
from superllmd.providers.base import Provider
from superllmd.testing.server import FakeRequest, FakeServer, Writer
from tests.providers.conformance import Harness, run_check
from tests.providers.test_conformance import dialect


def run(name: str, check: Any, tmp_path: Path) -> None:
    run_check(dialect(name), check, tmp_path)


def test_anthropic_follows_has_more_and_after_id(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        h.fake.models = ["claude-a", "claude-b", "claude-c"]  # type: ignore[attr-defined]
        h.fake.page_size = 2  # type: ignore[attr-defined]
        served = await h.provider().served_models()
        assert [m.id for m in served] == ["claude-a", "claude-b", "claude-c"]
        assert served[0] == ServedModel("claude-a", context_window=200000, max_output=64000)
        pages = [r.query for r in h.fake.requests]
        assert pages == [{"limit": ["1000"]}, {"limit": ["1000"], "after_id": ["claude-b"]}]

    run("anthropic", check, tmp_path)


def test_gemini_follows_next_page_token_and_leaves_out_models_that_cannot_chat(
    tmp_path: Path,
) -> None:
    async def check(h: Harness) -> None:
        h.fake.page_size = 2  # type: ignore[attr-defined]
        served = await h.provider().served_models()
        assert served == [
            ServedModel("gemini-fake", context_window=1048576, max_output=65536),
            ServedModel("echo", context_window=1048576, max_output=65536),
        ], "no models/ prefix, and text-embedding-fake (embedContent only) left out"
        tokens = [r.query.get("pageToken") for r in h.fake.requests]
        assert tokens == [None, ["p2"]]
        assert all(r.path == "/v1beta/models" for r in h.fake.requests)

    run("gemini", check, tmp_path)


def test_cohere_asks_for_chat_models_and_follows_next_page_token(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        h.fake.models = ["command-a", "command-r", "command-r7b"]  # type: ignore[attr-defined]
        h.fake.page_size = 2  # type: ignore[attr-defined]
        served = await h.provider().served_models()
        assert [m.id for m in served] == ["command-a", "command-r", "command-r7b"]
        assert {m.context_window for m in served} == {256000}
        first, second = (r.query for r in h.fake.requests)
        assert first == {"endpoint": ["chat"], "page_size": ["1000"]}
        assert second["page_token"] == ["2"]

    run("cohere", check, tmp_path)


def test_mistral_leaves_out_its_embedding_model_and_reads_the_window(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        served = await h.provider().served_models()
        assert served == [
            ServedModel("mistral-fake", context_window=131072),
            ServedModel("echo", context_window=131072),
        ]
        assert h.last_request().path == "/v1/models"

    run("mistral", check, tmp_path)


def test_ollama_lists_what_is_pulled_whatever_config_says(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        served = await h.provider(models=["not-pulled"]).served_models()
        assert served == [ServedModel("llama3.2:latest"), ServedModel("echo:latest")]
        assert h.last_request().path == "/api/tags"

    run("ollama", check, tmp_path)


def test_openai_lists_the_server_models_even_when_config_names_some(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider(models=["configured"])
        assert await provider.list_models() == ["configured"], "list_models keeps config first"
        assert [m.id for m in await provider.served_models()] == ["gpt-fake", "echo"]
        assert h.last_request().path == "/v1/models"

    run("openai", check, tmp_path)


class _Compatible:
    """An OpenAI-compatible server whose ``/models`` answer is scripted."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body
        self.server = FakeServer(self.handle)

    async def handle(self, request: FakeRequest, w: Writer) -> None:
        w.respond(self.status, self.body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # vLLM: items add max_model_len
        (
            {
                "object": "list",
                "data": [{"id": "qwen3-8b", "object": "model", "max_model_len": 32768}],
            },
            [ServedModel("qwen3-8b", context_window=32768)],
        ),
        # Together: a bare array, with context_length
        (
            [{"id": "meta-llama/Llama-3-8b", "context_length": 8192, "type": "chat"}],
            [ServedModel("meta-llama/Llama-3-8b", context_window=8192)],
        ),
        # Groq: context_window and max_completion_tokens
        (
            {
                "object": "list",
                "data": [
                    {
                        "id": "llama-3.1-8b-instant",
                        "context_window": 131072,
                        "max_completion_tokens": 131072,
                    },
                    {"id": "", "object": "model"},
                    "not an object",
                ],
            },
            [ServedModel("llama-3.1-8b-instant", context_window=131072, max_output=131072)],
        ),
    ],
    ids=["vllm", "together", "groq"],
)
def test_openai_compatible_servers_lists_in_their_variants(
    tmp_path: Path, body: Any, expected: list[ServedModel]
) -> None:
    async def check(h: Harness) -> None:
        server = _Compatible(200, body)
        server.server.start()
        try:
            provider = h.provider(base_url=server.server.url + "/v1")
            assert await provider.served_models() == expected
        finally:
            server.server.stop()

    run("openai-compatible", check, tmp_path)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"error": {"message": "Not Found"}}, ModelNotFound),
        (500, {"error": {"message": "boom"}}, ServerError),
        (200, {"object": "list"}, ProtocolError),
    ],
    ids=["no-route", "server-error", "no-data"],
)
def test_a_server_that_cannot_list_raises_the_provider_error(
    tmp_path: Path, status: int, body: Any, error: type[Exception]
) -> None:
    async def check(h: Harness) -> None:
        server = _Compatible(status, body)
        server.server.start()
        try:
            provider = h.provider(base_url=server.server.url + "/v1")
            with pytest.raises(error):
                await provider.served_models()
        finally:
            server.server.stop()

    run("openai-compatible", check, tmp_path)


def test_the_default_offers_what_list_models_does(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        provider = h.provider(models=["configured"])
        # A plugin that overrides neither gets the configured models, and asks no server.
        assert await Provider.served_models(provider) == [ServedModel("configured")]
        assert not h.fake.requests

    run("openai-compatible", check, tmp_path)
