"""Ollama specifics: OLLAMA_HOST, /api/tags, pull hints, options, embeddings."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from superllmd.config import ProviderSettings
from superllmd.errors import ModelNotFound, ProviderConnectionError
from superllmd.providers.ollama import DEFAULT_HOST, OllamaKind, ollama_host
from tests.providers.conformance import Harness, run_check, standard_request
from tests.providers.test_conformance import dialect

OLLAMA = dialect("ollama")


def run(check: Any, tmp_path: Path) -> None:
    run_check(OLLAMA, check, tmp_path)


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        (":9999", "http://127.0.0.1:9999"),
        ("example.org", "http://example.org:11434"),
        ("http://example.org", "http://example.org:80"),
        ("https://example.org/ollama/", "https://example.org:443/ollama"),
        ("[::]:1234", "http://[::1]:1234"),
        ("host:notaport", DEFAULT_HOST),
    ],
)
def test_ollama_host_is_read_like_the_ollama_cli(value: str, url: str) -> None:
    assert ollama_host(value) == url


def test_ollama_host_applies_when_no_base_url_is_configured(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        env = {"OLLAMA_HOST": f"127.0.0.1:{h.fake.server.port}"}  # type: ignore[attr-defined]
        provider = h.provider(base_url=None, environ=env)
        assert (await provider.complete(standard_request())).text.startswith("echo:")
        # A configured base_url wins over the variable.
        wrong = {"OLLAMA_HOST": "127.0.0.1:9"}
        assert (await h.provider(environ=wrong).complete(standard_request())).text

    run(check, tmp_path)


def test_the_builtin_provider_leaves_room_for_ollama_host(tmp_path: Path) -> None:
    from superllmd.providers._http import HttpClients
    from superllmd.providers.base import KindContext
    from superllmd.providers.keys import KeyResolver

    kind = OllamaKind(KindContext(HttpClients(), KeyResolver(use_keyring=False), tmp_path))
    settings = ProviderSettings(**kind.builtin_providers()["ollama"])
    assert settings.base_url is None
    assert kind.describe("ollama", settings).startswith(DEFAULT_HOST)
    provider = kind.create("ollama", settings, {"OLLAMA_HOST": "10.1.2.3:5000"})
    assert provider.base_url == "http://10.1.2.3:5000"  # type: ignore[attr-defined]
    assert kind.create("ollama", settings, {}).base_url == DEFAULT_HOST  # type: ignore[attr-defined]


def test_a_missing_model_says_how_to_pull_it(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        exc = await h.fails(
            lambda: h.provider().complete(standard_request("error-404")), ModelNotFound
        )
        assert "model 'error-404' not found" in exc.message
        assert "ollama pull error-404" in exc.message

    run(check, tmp_path)


def test_models_come_from_api_tags(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        assert await h.provider().list_models() == ["llama3.2:latest", "echo:latest"]
        assert h.last_request().path == "/api/tags"

    run(check, tmp_path)


def test_options_are_modelfile_options_except_top_level_fields(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        options = {"top_p": 0.9, "num_ctx": 8192, "keep_alive": "1m", "think": False}
        await h.provider().complete(standard_request(options=options))
        body = h.last_request().json()
        assert body["options"]["top_p"] == 0.9 and body["options"]["num_ctx"] == 8192
        assert body["keep_alive"] == "1m" and body["think"] is False
        assert "keep_alive" not in body["options"]

    run(check, tmp_path)


def test_embeddings(tmp_path: Path) -> None:
    async def check(h: Harness) -> None:
        assert await h.provider().embed("nomic", ["ab", "abc"]) == [[2.0, 1.0], [3.0, 1.0]]
        assert h.last_request().json() == {"model": "nomic", "input": ["ab", "abc"]}

    run(check, tmp_path)


def test_a_server_that_is_not_running_is_a_connection_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused

    async def check(h: Harness) -> None:
        provider = h.provider(base_url=f"http://127.0.0.1:{port}")
        exc = await h.fails(lambda: provider.complete(standard_request()), ProviderConnectionError)
        assert "Is it running?" in exc.message

    run(check, tmp_path)
