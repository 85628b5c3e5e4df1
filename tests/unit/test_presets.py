"""The OpenAI-compatible presets: the data file, and the request deviations it drives."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from superllmd.config import ProviderSettings, Settings
from superllmd.errors import AuthError, ConfigError, UsageError
from superllmd.providers._http import HttpClients
from superllmd.providers.base import (
    ChatRequest,
    Completion,
    KindContext,
    Message,
    Provider,
    StreamItem,
)
from superllmd.providers.keys import KeyResolver
from superllmd.providers.presets import (
    KIND_NAME,
    AzureProvider,
    PresetKind,
    PresetProvider,
    load_presets,
)
from superllmd.providers.registry import Registry
from tests.fakes.openai import FakeOpenAI

NATIVE_IDS = {"openai", "anthropic", "gemini", "cohere", "mistral", "ollama", "local"}
REQUIRED = {
    "groq", "together", "deepseek", "openrouter", "xai", "fireworks", "perplexity", "cerebras",
    "deepinfra", "azure", "llama", "nvidia", "github", "huggingface", "sambanova", "hyperbolic",
    "novita", "moonshot", "dashscope", "nebius", "lmstudio", "vllm", "llamacpp", "localai", "jan",
}  # fmt: skip

Handler = Callable[[httpx.Request], httpx.Response]


def completion_body(text: str = "hi", model: str = "m") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def make_kind(tmp_path: Path, transport: httpx.AsyncBaseTransport | None = None) -> PresetKind:
    context = KindContext(
        http=HttpClients(transport), keys=KeyResolver(use_keyring=False), models_dir=tmp_path
    )
    return PresetKind(context)


def make_provider(
    kind: PresetKind, pid: str, environ: dict[str, str], **overrides: Any
) -> Provider:
    values = {**kind.builtin_providers()[pid], **overrides}
    return kind.create(pid, ProviderSettings(**values), environ)


def recording(captured: list[httpx.Request], body: dict[str, Any] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200, json=body or completion_body())

    return handler


def ask(provider: Provider, model: str = "m", **kwargs: Any) -> Completion:
    request = ChatRequest(model, (Message("user", "hello"),), **kwargs)
    return asyncio.run(provider.complete(request))


def ask_stream(provider: Provider, model: str) -> list[StreamItem]:
    async def collect() -> list[StreamItem]:
        request = ChatRequest(model, (Message("user", "hello there"),))
        return [item async for item in provider.stream(request)]

    return asyncio.run(collect())


# -- the data file ---------------------------------------------------------------------------


def test_at_least_45_presets_load() -> None:
    assert len(load_presets()) >= 45


def test_required_services_are_present() -> None:
    assert set(load_presets()) >= REQUIRED


def test_ids_are_lower_case_and_do_not_shadow_native_providers() -> None:
    ids = list(load_presets())
    assert len(ids) == len(set(ids))
    for pid in ids:
        assert re.fullmatch(r"[a-z][a-z0-9]*", pid), pid
    assert not NATIVE_IDS & set(ids)


def test_every_preset_has_https_docs_and_a_base_url() -> None:
    for preset in load_presets().values():
        assert preset.name, preset.id
        assert urlsplit(preset.docs).scheme == "https", preset.id
        assert urlsplit(preset.base_url).scheme in {"http", "https"}, preset.id
        assert not preset.base_url.endswith("/chat/completions"), preset.id


def test_local_servers_are_on_this_machine_and_remote_ones_use_https() -> None:
    for preset in load_presets().values():
        host = urlsplit(preset.base_url).hostname
        if preset.local:
            assert host in {"localhost", "127.0.0.1"}, preset.id
            assert not preset.key_required, preset.id
        else:
            assert urlsplit(preset.base_url).scheme == "https", preset.id
            assert preset.api_key_env and preset.key_required, preset.id
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", preset.api_key_env), preset.id


def test_no_package_registry_hosts_are_named() -> None:
    # The data must point at vendors, not at the places their SDKs are published.
    text = (Path(__file__).parents[2] / "superllmd/providers/presets.toml").read_text()
    for host in ("pypi.org", "npmjs.com", "crates.io", "rubygems.org", "pkg.go.dev"):
        assert host not in text


def test_builtin_providers_are_valid_settings_and_reach_the_registry(tmp_path: Path) -> None:
    kind = make_kind(tmp_path)
    builtin = kind.builtin_providers()
    assert set(builtin) == set(load_presets())
    for values in builtin.values():
        ProviderSettings(**values)
    context = kind.context
    table = Registry(context, load_entry_points=False, kinds=[PresetKind]).provider_settings(
        Settings()
    )
    assert {pid for pid, (name, _) in table.items() if name == KIND_NAME} == set(load_presets())
    assert table["groq"][1].api_key_env == "GROQ_API_KEY"
    assert table["azure"][1].base_url is None  # the resource is the user's; no usable default


def test_config_overrides_a_preset_field_by_field(tmp_path: Path) -> None:
    context = make_kind(tmp_path).context
    registry = Registry(context, load_entry_points=False, kinds=[PresetKind])
    settings = Settings(providers={"groq": ProviderSettings(base_url="http://127.0.0.1:9/v1")})
    kind_name, merged = registry.provider_settings(settings)["groq"]
    assert kind_name == KIND_NAME
    assert merged.base_url == "http://127.0.0.1:9/v1"
    assert merged.api_key_env == "GROQ_API_KEY"


def test_preset_kind_refuses_ids_it_does_not_know(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="openai-compatible"):
        make_kind(tmp_path).create("mylab", ProviderSettings(base_url="http://x/v1"), {})


# -- requests --------------------------------------------------------------------------------


def test_cloud_preset_sends_bearer_key_to_its_base_url(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    provider = make_provider(kind, "groq", {"GROQ_API_KEY": "gsk-test"})
    assert isinstance(provider, PresetProvider)
    answer = ask(provider, "llama-3.1-8b-instant", max_tokens=9)
    assert answer.text == "hi"
    (request,) = captured
    assert str(request.url) == "https://api.groq.com/openai/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer gsk-test"
    body = json.loads(request.content)
    assert body["model"] == "llama-3.1-8b-instant"
    assert body["max_tokens"] == 9


def test_cloud_preset_without_its_key_names_the_variable(tmp_path: Path) -> None:
    kind = make_kind(tmp_path, httpx.MockTransport(recording([])))
    provider = make_provider(kind, "cerebras", {})
    with pytest.raises(AuthError, match=r"\$CEREBRAS_API_KEY"):
        ask(provider)


def test_max_completion_tokens_where_the_service_deprecated_max_tokens(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    ask(make_provider(kind, "kluster", {"KLUSTER_API_KEY": "k"}), max_tokens=12)
    body = json.loads(captured[0].content)
    assert body["max_completion_tokens"] == 12
    assert "max_tokens" not in body


def test_openrouter_sends_attribution_and_a_user_can_replace_it(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    ask(make_provider(kind, "openrouter", {"OPENROUTER_API_KEY": "sk-or"}), "openai/gpt-4o")
    assert captured[0].headers["x-title"] == "superllm"
    assert str(captured[0].url) == "https://openrouter.ai/api/v1/chat/completions"
    mine = {"HTTP-Referer": "https://example.org", "X-Title": "my app"}
    ask(make_provider(kind, "openrouter", {"OPENROUTER_API_KEY": "sk-or"}, headers=mine))
    assert captured[1].headers["x-title"] == "my app"
    assert captured[1].headers["http-referer"] == "https://example.org"


def test_perplexity_base_has_no_v1(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    ask(make_provider(kind, "perplexity", {"PERPLEXITY_API_KEY": "pplx"}), "sonar")
    assert str(captured[0].url) == "https://api.perplexity.ai/chat/completions"


def test_local_server_needs_no_key_and_sends_none(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    ask(make_provider(kind, "lmstudio", {}))
    assert str(captured[0].url) == "http://localhost:1234/v1/chat/completions"
    assert "authorization" not in captured[0].headers


def test_optional_key_is_sent_when_set(tmp_path: Path) -> None:
    captured: list[httpx.Request] = []
    kind = make_kind(tmp_path, httpx.MockTransport(recording(captured)))
    ask(make_provider(kind, "vllm", {}))
    ask(make_provider(kind, "vllm", {"VLLM_API_KEY": "token-abc123"}))
    assert "authorization" not in captured[0].headers
    assert captured[1].headers["authorization"] == "Bearer token-abc123"


def test_preset_capabilities_come_from_the_catalog(tmp_path: Path) -> None:
    provider = make_provider(make_kind(tmp_path), "groq", {})
    assert provider.capabilities("llama-3.3-70b-versatile").price_input == 0.59
    assert provider.capabilities("brand-new-model").price_input is None
    assert make_provider(make_kind(tmp_path), "together", {}).capabilities("x").price_output is None


def test_key_plan_reports_variables_and_need(tmp_path: Path) -> None:
    kind = make_kind(tmp_path)
    groq = ProviderSettings(**kind.builtin_providers()["groq"])
    assert kind.key_plan("groq", groq) == (("GROQ_API_KEY",), True)
    vllm = ProviderSettings(**kind.builtin_providers()["vllm"])
    assert kind.key_plan("vllm", vllm) == (("VLLM_API_KEY",), False)
    jan = ProviderSettings(api_key_env="MY_JAN_KEY")
    assert kind.key_plan("jan", jan) == (("MY_JAN_KEY",), False)


# -- Azure -----------------------------------------------------------------------------------


@pytest.fixture
def azure_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(delay=0, path_prefix="/openai/deployments/prod-4o").start()
    try:
        yield fake
    finally:
        fake.stop()


def test_azure_request_shape(tmp_path: Path, azure_fake: FakeOpenAI) -> None:
    environ = {"AZURE_OPENAI_ENDPOINT": azure_fake.server.url, "AZURE_OPENAI_API_KEY": "az-key"}
    provider = make_provider(make_kind(tmp_path), "azure", environ)
    assert isinstance(provider, AzureProvider)
    answer = ask(provider, "prod-4o", max_tokens=5)
    assert answer.text == "echo: hello"
    assert answer.usage.input_tokens > 0
    (request,) = azure_fake.requests
    assert request.method == "POST"
    assert request.path == "/openai/deployments/prod-4o/chat/completions"
    assert request.query == {"api-version": ["2024-10-21"]}
    assert request.headers["api-key"] == "az-key"
    assert "authorization" not in request.headers
    assert request.json()["max_tokens"] == 5


def test_azure_stream_and_api_version_override(tmp_path: Path, azure_fake: FakeOpenAI) -> None:
    environ = {
        "AZURE_OPENAI_ENDPOINT": azure_fake.server.url + "/",
        "AZURE_OPENAI_API_KEY": "az-key",
        "OPENAI_API_VERSION": "2025-04-01-preview",
    }
    items = ask_stream(make_provider(make_kind(tmp_path), "azure", environ), "prod-4o")
    final = items[-1]
    assert isinstance(final, Completion)
    assert final.text == "echo: hello there"
    request = azure_fake.requests[-1]
    assert request.path == "/openai/deployments/prod-4o/chat/completions"
    assert request.query == {"api-version": ["2025-04-01-preview"]}
    assert request.headers["api-key"] == "az-key"


def test_azure_base_url_from_config_wins(tmp_path: Path, azure_fake: FakeOpenAI) -> None:
    environ = {"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9", "AZURE_OPENAI_API_KEY": "k"}
    base = azure_fake.server.url + "/openai"
    ask(make_provider(make_kind(tmp_path), "azure", environ, base_url=base), "prod-4o")
    assert azure_fake.requests[-1].path == "/openai/deployments/prod-4o/chat/completions"


def test_azure_without_an_endpoint_says_how_to_set_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="AZURE_OPENAI_ENDPOINT"):
        make_provider(make_kind(tmp_path), "azure", {"AZURE_OPENAI_API_KEY": "k"})


def test_missing_key_error_names_the_variable_the_user_chose(tmp_path: Path) -> None:
    kind = make_kind(tmp_path, httpx.MockTransport(recording([])))
    provider = make_provider(kind, "groq", {}, api_key_env="WORK_GROQ_KEY")
    with pytest.raises(AuthError, match=r"\$WORK_GROQ_KEY"):
        ask(provider)
