"""The registry's provider table is built once per settings object and kind set."""

from __future__ import annotations

from pathlib import Path

from superllmd.config import ProviderSettings, Settings
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext
from superllmd.providers.keys import KeyResolver
from superllmd.providers.openai import OpenAICompatibleKind
from superllmd.providers.registry import Registry


class _Extra(OpenAICompatibleKind):
    name = "extra-kind"

    def builtin_providers(self) -> dict[str, dict[str, object]]:
        return {"extra": {"base_url": "http://127.0.0.1:9/v1"}}


def test_table_is_reused_until_settings_or_kinds_change() -> None:
    registry = Registry(KindContext(HttpClients(), KeyResolver(use_keyring=False), Path("/x")))
    settings = Settings(
        providers={"lab": ProviderSettings(kind="openai-compatible", base_url="http://h/v1")}
    )
    first = registry.provider_settings(settings)
    assert registry.provider_settings(settings) is first
    assert "lab" in first and "openai" in first
    other = Settings()
    assert "lab" not in registry.provider_settings(other)
    registry.add_kinds([_Extra])
    assert "extra" in registry.provider_settings(settings)  # the kind set changed
