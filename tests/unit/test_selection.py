"""Model selectors: fastest by measured latency, alias filtered by capability."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from superllmd.config import Settings
from superllmd.errors import ModelNotFound, UsageError
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext
from superllmd.providers.keys import KeyResolver
from superllmd.providers.registry import Registry
from superllmd.providers.selection import LatencyBook, expand_selector, is_selector


def _expand(
    name: str, settings: Settings, environ: dict[str, str], latency: LatencyBook | None = None
) -> list[str]:
    keys = KeyResolver(use_keyring=False)
    registry = Registry(KindContext(HttpClients(), keys, Path("/none")))
    return asyncio.run(
        expand_selector(name, registry, settings, keys, environ, latency or LatencyBook())
    )


def test_is_selector() -> None:
    settings = Settings(aliases={"smart": ["openai/gpt-4.1", "anthropic/claude-haiku-4-5"]})
    assert is_selector("cheapest", settings) and is_selector("fastest:tools", settings)
    assert is_selector("smart:vision", settings)
    assert not is_selector("smart", settings) and not is_selector("openai/gpt-4.1", settings)


def test_fastest_prefers_measured_latency() -> None:
    latency = LatencyBook()
    latency.record("openai/gpt-4.1", 900)
    latency.record("openai/gpt-4o-mini", 300)
    latency.record("openai/gpt-4o-mini", 500)  # EWMA: 300 + 0.3 * 200 = 360
    assert latency.ms["openai/gpt-4o-mini"] == pytest.approx(360)
    env = {"OPENAI_API_KEY": "sk-x"}
    assert _expand("fastest", Settings(), env, latency) == ["openai/gpt-4o-mini"]


def test_alias_filtered_by_capability_keeps_order() -> None:
    settings = Settings(
        aliases={"team": ["deepseek/deepseek-chat", "openai/gpt-4.1", "anthropic/claude-haiku-4-5"]}
    )
    assert _expand("team:vision", settings, {}) == ["openai/gpt-4.1", "anthropic/claude-haiku-4-5"]
    with pytest.raises(ModelNotFound):
        _expand("team:embeddings", settings, {})


def test_unknown_capability_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="telepathy"):
        _expand("cheapest:telepathy", Settings(), {})
