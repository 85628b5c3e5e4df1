"""The daemon's long-lived state, built once at startup and shared by every route."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from superllmd.config import ConfigStore, Settings
from superllmd.orchestrator.run import Caller
from superllmd.paths import Paths
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext
from superllmd.providers.keys import KeyResolver
from superllmd.providers.limits import ProviderLimits
from superllmd.providers.registry import Registry, Target
from superllmd.providers.selection import LatencyBook, expand_selector, is_selector

__all__ = ["DaemonState"]


@dataclass
class DaemonState:
    paths: Paths
    config: ConfigStore
    registry: Registry
    http: HttpClients
    keys: KeyResolver
    caller: Caller = field(default_factory=Caller)
    latency: LatencyBook = field(default_factory=LatencyBook)
    started: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    inflight: int = 0
    request_shutdown: Callable[[], None] = lambda: None

    @classmethod
    def create(
        cls,
        paths: Paths,
        *,
        http: HttpClients | None = None,
        load_entry_points: bool = True,
        use_keyring: bool = True,
    ) -> DaemonState:
        http = http or HttpClients()
        keys = KeyResolver(use_keyring=use_keyring)
        latency = LatencyBook()
        context = KindContext(http=http, keys=keys, models_dir=paths.models_dir)
        return cls(
            paths=paths,
            config=ConfigStore(paths.config_file),
            registry=Registry(context, load_entry_points=load_entry_points),
            http=http,
            keys=keys,
            caller=Caller(limits=ProviderLimits(), latency=latency),
            latency=latency,
        )

    def settings(self, environ: Mapping[str, str] | None) -> Settings:
        return self.config.get(os.environ if environ is None else environ)

    async def resolve(
        self, name: str | None, settings: Settings, environ: Mapping[str, str]
    ) -> list[Target]:
        """A model name, alias, selector (``cheapest:vision``) or None -> targets in order."""
        if name and is_selector(name, settings):
            names = await expand_selector(
                name, self.registry, settings, self.keys, environ, self.latency
            )
            return [t for n in names for t in self.registry.resolve(n, settings, environ)]
        return self.registry.resolve(name, settings, environ)

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.http.aclose()
