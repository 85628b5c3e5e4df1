"""Every built-in provider takes capabilities and prices from the one catalog (models.toml).

A dialect that answered with its own ``Capabilities`` left its calls unpriced (so budgets and
--max-cost could not stop them) and its vision models refusing images.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from superllmd.config import Settings
from superllmd.providers import catalog
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext, TokenUsage
from superllmd.providers.registry import Registry

ENVIRON = {"AZURE_OPENAI_API_VERSION": "2024-10-21"}


@pytest.fixture(scope="module")
def registry() -> Registry:
    from superllmd.providers.keys import KeyResolver

    return Registry(KindContext(HttpClients(), KeyResolver(use_keyring=False), Path("/x")))


def _catalog_models() -> list[str]:
    return sorted(catalog.load().models)


def test_every_catalog_provider_is_built_in(registry: Registry) -> None:
    builtin = set(registry.provider_settings(Settings()))
    listed = {name.partition("/")[0] for name in _catalog_models()}
    assert listed <= builtin, f"catalog providers with no built-in provider: {listed - builtin}"


@pytest.mark.parametrize("name", _catalog_models())
def test_provider_capabilities_are_the_catalogs(registry: Registry, name: str) -> None:
    pid, _, model = name.partition("/")
    provider = registry.provider(pid, Settings(), ENVIRON)
    got, want = provider.capabilities(model), catalog.capabilities(name)
    assert got.price_input == want.price_input
    assert got.price_output == want.price_output
    assert got.price_cached_input == want.price_cached_input
    assert got.vision == want.vision
    assert got.context_window == want.context_window
    assert got.max_output == want.max_output
    assert got.embeddings == want.embeddings
    cost = provider.estimate_cost(model, TokenUsage(1_000_000, 1_000_000))
    if want.price_input is None:
        assert cost is None  # unpriced, never free
    else:
        assert cost is not None and cost > 0


@pytest.mark.parametrize(
    ("name", "vision"),
    [
        ("anthropic/claude-sonnet-4-5", True),
        ("gemini/gemini-2.5-pro", True),
        ("cohere/command-a-03-2025", False),
    ],
)
def test_native_dialects_price_their_listed_models(
    registry: Registry, name: str, vision: bool
) -> None:
    pid, _, model = name.partition("/")
    caps = registry.provider(pid, Settings(), ENVIRON).capabilities(model)
    assert caps.vision is vision
    assert caps.context_window is not None
    if pid != "cohere":  # the catalog has no Cohere price yet
        assert caps.price_input is not None and caps.price_output is not None


def test_local_models_are_free_with_the_loaded_window(registry: Registry) -> None:
    caps = registry.provider("local", Settings(), ENVIRON).capabilities("smollm2")
    assert caps.price_input == 0.0 and caps.price_output == 0.0
    assert caps.context_window is not None
