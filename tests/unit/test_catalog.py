"""The capability and price catalog: known prices, unpriced unknowns, cached-token costs."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import pytest

from superllmd.config import ProviderSettings
from superllmd.providers import catalog
from superllmd.providers.base import (
    Capabilities,
    ChatRequest,
    Completion,
    Provider,
    StreamItem,
    TokenUsage,
)


class CatalogProvider(Provider):
    """The smallest provider whose prices come from the catalog, for estimate_cost."""

    async def complete(self, request: ChatRequest) -> Completion:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        nothing: tuple[StreamItem, ...] = ()  # an empty async generator: never called here
        for item in nothing:
            yield item

    def capabilities(self, model: str) -> Capabilities:
        return catalog.capabilities(f"{self.id}/{model}")


def provider(pid: str) -> CatalogProvider:
    return CatalogProvider(pid, ProviderSettings())


def test_known_prices() -> None:
    caps = catalog.capabilities("openai/gpt-4.1")
    assert (caps.price_input, caps.price_output, caps.price_cached_input) == (2.0, 8.0, 0.5)
    assert caps.context_window == 1047576
    haiku = catalog.capabilities("anthropic/claude-haiku-4-5")
    assert (haiku.price_input, haiku.price_output, haiku.price_cached_input) == (1.0, 5.0, 0.1)
    assert catalog.capabilities("groq/openai/gpt-oss-120b").price_output == 0.6


def test_every_price_is_dated_and_sourced() -> None:
    for entry in catalog.load().models.values():
        assert entry.name.count("/") >= 1
        if entry.price is None:
            continue
        assert isinstance(entry.price.as_of, datetime.date), entry.name
        assert entry.price.source.startswith("https://"), entry.name
        assert entry.price.input > 0 and entry.price.output > 0, entry.name


def test_main_providers_are_covered() -> None:
    wanted = {"openai", "anthropic", "gemini", "mistral", "cohere", "deepseek", "groq", "xai"}
    assert wanted <= catalog.provider_ids()


def test_unknown_model_of_known_provider_is_unpriced_not_free() -> None:
    caps = catalog.capabilities("openai/gpt-99-imaginary")
    assert caps.price_input is None and caps.price_output is None
    assert caps.tools  # the provider's defaults still apply
    assert provider("openai").estimate_cost("gpt-99-imaginary", TokenUsage(100, 100)) is None


def test_unknown_provider_is_unpriced() -> None:
    caps = catalog.capabilities("nobody/anything")
    assert caps == Capabilities()
    assert caps.price_input is None


def test_listed_but_unpriced_model_stays_unpriced() -> None:
    caps = catalog.capabilities("mistral/mistral-large-latest")
    assert caps.price_input is None
    assert caps.tools
    assert provider("mistral").estimate_cost("mistral-large-latest", TokenUsage(10, 10)) is None


def test_cost_charges_cached_tokens_at_the_cached_price() -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000, cached_tokens=400_000)
    # 600k uncached at $2 + 400k cached at $0.50 + 100k out at $8 = 1.20 + 0.20 + 0.80
    assert provider("openai").estimate_cost("gpt-4.1", usage) == pytest.approx(2.2)
    uncached = TokenUsage(input_tokens=1_000_000, output_tokens=100_000)
    assert provider("openai").estimate_cost("gpt-4.1", uncached) == pytest.approx(2.8)


def test_cost_without_a_cached_price_charges_cache_hits_as_input() -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=0, cached_tokens=500_000)
    assert provider("groq").estimate_cost("llama-3.3-70b-versatile", usage) == pytest.approx(0.59)


def test_parse_rejects_unsourced_or_malformed_prices() -> None:
    good = {"input": 1, "output": 2, "as_of": datetime.date(2026, 1, 1), "source": "https://x"}
    assert catalog.parse({"models": {"a/b": {"price": good}}}).models["a/b"].price is not None
    with pytest.raises(catalog.CatalogError, match="https"):
        catalog.parse({"models": {"a/b": {"price": {**good, "source": "http://x"}}}})
    with pytest.raises(catalog.CatalogError, match="as_of"):
        catalog.parse({"models": {"a/b": {"price": {**good, "as_of": "yesterday"}}}})
    with pytest.raises(catalog.CatalogError, match="unknown keys"):
        catalog.parse({"models": {"a/b": {"colour": "red"}}})
    with pytest.raises(catalog.CatalogError, match="provider/model"):
        catalog.parse({"models": {"lonely": {}}})


def test_anthropic_cache_writes_and_reads_are_priced_apart() -> None:
    caps = catalog.capabilities("anthropic/claude-sonnet-4-5")
    assert caps.price_cache_write == pytest.approx(caps.price_input * 1.25)  # 5-minute writes
    provider = CatalogProvider("anthropic", ProviderSettings())
    usage = TokenUsage(
        input_tokens=10_000, output_tokens=1_000, cached_tokens=4_000, cache_write_tokens=5_000
    )
    expected = (1_000 * 3.00 + 4_000 * 0.30 + 5_000 * 3.75 + 1_000 * 15.00) / 1e6
    assert provider.estimate_cost("claude-sonnet-4-5", usage) == pytest.approx(expected)


def test_long_context_tier_prices_the_whole_prompt() -> None:
    provider = CatalogProvider("gemini", ProviderSettings())
    short = provider.estimate_cost("gemini-2.5-pro", TokenUsage(200_000, 1_000, 0))
    long = provider.estimate_cost("gemini-2.5-pro", TokenUsage(200_001, 1_000, 0))
    assert short == pytest.approx((200_000 * 1.25 + 1_000 * 10.00) / 1e6)
    assert long == pytest.approx((200_001 * 2.50 + 1_000 * 15.00) / 1e6)
