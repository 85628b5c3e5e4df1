"""OpenAI-compatible services as data: one built-in provider per entry of ``presets.toml``.

A preset is what a user would otherwise write by hand under ``[providers.ID]``: the base URL,
the vendor's conventional key variable and a few model names. Keeping them in a data file
(with the documentation page each URL came from) means adding a service is a reviewed
edit of data, not code. The requests themselves are :class:`OpenAIProvider`'s; this module
handles only the deviations that change a request:

* ``max_completion_tokens`` where a service deprecated ``max_tokens``;
* attribution headers (OpenRouter's ``X-Title``), sent as the provider's default headers;
* Azure OpenAI: the deployment in the path, ``?api-version=``, and the key in ``api-key``;
* bases without ``/v1`` (Perplexity, DeepSeek) need nothing: the URL is used as given.

Example: ``superllm ask -m groq/llama-3.1-8b-instant hi`` with ``$GROQ_API_KEY`` set.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import quote

from superllmd.config import ProviderSettings
from superllmd.errors import ConfigError, UsageError
from superllmd.providers import catalog
from superllmd.providers.base import (
    Capabilities,
    ChatRequest,
    Provider,
    ProviderKind,
)
from superllmd.providers.keys import ResolvedKey
from superllmd.providers.openai import OpenAIProvider

__all__ = ["KIND_NAME", "AzureProvider", "Preset", "PresetKind", "PresetProvider", "load_presets"]

KIND_NAME = "openai-preset"
AZURE_ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
AZURE_VERSION_ENV = "OPENAI_API_VERSION"  # the variable the official SDK's AzureOpenAI reads

_FIELDS = {
    "name", "base_url", "api_key_env", "docs", "models", "local", "key_optional",
    "max_tokens_field", "auth", "api_version", "headers", "note",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Preset:
    """One service that speaks chat completions; see the header of presets.toml."""

    id: str
    name: str
    base_url: str
    docs: str
    api_key_env: str | None = None
    models: tuple[str, ...] = ()
    local: bool = False
    key_optional: bool = False
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    auth: Literal["bearer", "api-key"] = "bearer"
    api_version: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def key_required(self) -> bool:
        """A cloud service refuses requests without its key; a local server does not."""
        return self.api_key_env is not None and not (self.local or self.key_optional)

    @property
    def base_url_is_template(self) -> bool:
        """Azure's URL names the user's own resource, so there is no usable default."""
        return "{" in self.base_url


@functools.cache
def load_presets() -> Mapping[str, Preset]:
    """Every preset by id, read once from the presets.toml shipped in the package."""
    text = resources.files("superllmd.providers").joinpath("presets.toml").read_text("utf-8")
    return MappingProxyType(
        {str(pid): _preset(str(pid), table) for pid, table in tomllib.loads(text).items()}
    )


def _preset(pid: str, table: Any) -> Preset:
    if not isinstance(table, dict):
        raise ValueError(f"presets.toml: [{pid}] must be a table")
    unknown = set(table) - _FIELDS
    if unknown:
        raise ValueError(f"presets.toml: [{pid}] has unknown keys {sorted(unknown)}")
    if table.get("max_tokens_field", "max_tokens") not in ("max_tokens", "max_completion_tokens"):
        raise ValueError(f"presets.toml: [{pid}].max_tokens_field is not a known field name")
    if table.get("auth", "bearer") not in ("bearer", "api-key"):
        raise ValueError(f"presets.toml: [{pid}].auth must be bearer or api-key")
    try:
        return Preset(
            id=pid,
            name=str(table["name"]),
            base_url=str(table["base_url"]).rstrip("/"),
            docs=str(table["docs"]),
            api_key_env=table.get("api_key_env"),
            models=tuple(str(m) for m in table.get("models", ())),
            local=bool(table.get("local", False)),
            key_optional=bool(table.get("key_optional", False)),
            max_tokens_field=table.get("max_tokens_field", "max_tokens"),
            auth=table.get("auth", "bearer"),
            api_version=table.get("api_version"),
            headers=MappingProxyType(dict(table.get("headers", {}))),
            note=str(table.get("note", "")),
        )
    except KeyError as exc:
        raise ValueError(f"presets.toml: [{pid}] lacks {exc.args[0]!r}") from None


class PresetProvider(OpenAIProvider):
    """A preset's endpoint: OpenAI's dialect plus the preset's request deviations."""

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        preset: Preset,
    ) -> None:
        super().__init__(
            provider_id,
            settings,
            kind,
            environ,
            # Name the variable the user chose, if any, in "no API key" errors.
            key_env=tuple(filter(None, [settings.api_key_env or preset.api_key_env])),
            key_required=preset.key_required,
        )
        self.preset = preset

    def _body(self, request: ChatRequest, stream: bool) -> dict[str, Any]:
        body = super()._body(request, stream)
        wanted = self.preset.max_tokens_field
        if wanted != self.max_tokens_field and self.max_tokens_field in body:
            body.setdefault(wanted, body.pop(self.max_tokens_field))
        return body

    def capabilities(self, model: str) -> Capabilities:
        # Prices are per vendor, so the catalog is keyed by the preset, not a user alias.
        return catalog.capabilities(f"{self.preset.id}/{model}")


class AzureProvider(PresetProvider):
    """Azure OpenAI's dated API: ``{endpoint}/openai/deployments/{model}/chat/completions``.

    The model name is the user's deployment name; the key goes in ``api-key``. Azure's
    request and response bodies are OpenAI's, so only the URL and the header change.
    """

    def __init__(
        self,
        provider_id: str,
        settings: ProviderSettings,
        kind: ProviderKind,
        environ: Mapping[str, str],
        preset: Preset,
    ) -> None:
        super().__init__(provider_id, settings, kind, environ, preset)
        version = environ.get(AZURE_VERSION_ENV, "").strip() or preset.api_version
        if not version:
            raise ConfigError(f"{provider_id} needs an API version: set ${AZURE_VERSION_ENV}")
        self.api_version = version

    def _url(self, model: str) -> str:
        return f"{self.base_url}/deployments/{quote(model, safe='')}/chat/completions"

    def _params(self) -> dict[str, str] | None:
        return {"api-version": self.api_version}

    async def _headers(self) -> tuple[dict[str, str], ResolvedKey | None]:
        headers, key = await super()._headers()
        if key is not None:
            del headers["authorization"]
            headers["api-key"] = key.value
        return headers, key


def azure_base_url(settings: ProviderSettings, environ: Mapping[str, str]) -> str | None:
    """``providers.azure.base_url``, else ``$AZURE_OPENAI_ENDPOINT`` + ``/openai``."""
    if settings.base_url and "{" not in settings.base_url:
        return settings.base_url.rstrip("/")
    endpoint = environ.get(AZURE_ENDPOINT_ENV, "").strip().rstrip("/")
    if not endpoint:
        return None
    return endpoint if endpoint.endswith("/openai") else f"{endpoint}/openai"


class PresetKind(ProviderKind):
    """Every service in presets.toml, each a built-in provider id (groq, openrouter, ...)."""

    name = KIND_NAME

    def builtin_providers(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for pid, preset in load_presets().items():
            values: dict[str, Any] = {"models": list(preset.models)}
            if not preset.base_url_is_template:
                values["base_url"] = preset.base_url
            if preset.api_key_env:
                values["api_key_env"] = preset.api_key_env
            if preset.headers:
                values["headers"] = dict(preset.headers)
            out[pid] = values
        return out

    def preset(self, provider_id: str) -> Preset:
        found = load_presets().get(provider_id)
        if found is None:
            known = ", ".join(sorted(load_presets()))
            raise ConfigError(
                f'providers.{provider_id}: kind "{KIND_NAME}" serves only its built-in '
                f'services ({known}); for another endpoint use kind = "openai-compatible"'
            )
        return found

    def create(
        self, provider_id: str, settings: ProviderSettings, environ: Mapping[str, str]
    ) -> Provider:
        preset = self.preset(provider_id)
        if preset.auth != "api-key":
            return PresetProvider(provider_id, settings, self, environ, preset)
        base = azure_base_url(settings, environ)
        if base is None:
            raise UsageError(
                f"{provider_id} needs your resource's endpoint: set ${AZURE_ENDPOINT_ENV} "
                f'or providers.{provider_id}.base_url = "{preset.base_url}"'
            )
        patched = settings.model_copy(update={"base_url": base})
        return AzureProvider(provider_id, patched, self, environ, preset)

    def env_names(self, provider_id: str, settings: ProviderSettings) -> tuple[str, ...]:
        names, _ = self.key_plan(provider_id, settings)
        found = load_presets().get(provider_id)
        if found is not None and found.auth == "api-key":  # Azure: endpoint and API version
            return (*names, AZURE_ENDPOINT_ENV, AZURE_VERSION_ENV)
        return names

    def describe(self, provider_id: str, settings: ProviderSettings) -> str:
        if settings.base_url:
            return settings.base_url
        found = load_presets().get(provider_id)
        return found.base_url if found else ""

    def key_plan(
        self, provider_id: str, settings: ProviderSettings
    ) -> tuple[tuple[str, ...], bool]:
        """Where a key would come from, and whether the service needs one at all."""
        found = load_presets().get(provider_id)
        names = (settings.api_key_env,) if settings.api_key_env else ()
        if found is None:
            return names, False
        if not names and found.api_key_env:
            names = (found.api_key_env,)
        return names, found.key_required
