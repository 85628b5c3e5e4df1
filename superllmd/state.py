"""The daemon's long-lived state, built once at startup and shared by every route."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from superllmd.budget import BudgetManager, NoHistory
from superllmd.config import BudgetSettings, ConfigStore, Settings
from superllmd.errors import ConfigError
from superllmd.gateway.bus import EventBus
from superllmd.gateway.limits import TokenLimits
from superllmd.gateway.people import People
from superllmd.gateway.tokens import CACHE_S, TokenStore
from superllmd.ledger import wiring
from superllmd.ledger.base import Backend

if TYPE_CHECKING:
    from superllmd.ledger.shared import SharedBudgets
    from superllmd.ledger.shared_limits import SharedLimits
from superllmd.ledger.conversations import Conversations
from superllmd.orchestrator.run import Caller
from superllmd.paths import Paths
from superllmd.providers._http import HttpClients
from superllmd.providers.base import KindContext
from superllmd.providers.breaker import CircuitBreaker
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
    budget: BudgetManager | None = None
    ledger: Backend | None = None
    conversations: Conversations = field(default_factory=lambda: Conversations(None))
    latency: LatencyBook = field(default_factory=LatencyBook)
    started: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    inflight: int = 0
    request_shutdown: Callable[[], None] = lambda: None
    # Set while the TCP door is open: the socket's lifespan waits for it before closing.
    wait_other_doors: Callable[[], Awaitable[None]] | None = None
    # The TCP door's tokens and their per-minute windows (superllmd/gateway).
    tokens: TokenStore = field(default_factory=lambda: TokenStore(None))
    people: People = field(default_factory=lambda: People(None))
    token_limits: TokenLimits = field(default_factory=TokenLimits)
    bus: EventBus = field(default_factory=EventBus)

    @classmethod
    def create(
        cls,
        paths: Paths,
        *,
        http: HttpClients | None = None,
        load_entry_points: bool = True,
        use_keyring: bool = True,
        open_ledger: bool = True,
    ) -> DaemonState:
        http = http or HttpClients()
        keys = KeyResolver(use_keyring=use_keyring)
        latency = LatencyBook()
        context = KindContext(http=http, keys=keys, models_dir=paths.models_dir)
        config = ConfigStore(paths.config_file)

        def budgets(environ: Mapping[str, str]) -> BudgetSettings:
            return config.get(environ or os.environ).budgets

        caller = Caller(limits=ProviderLimits(), latency=latency, breaker=_breaker(config))
        # The ledger's hooks go first on the call path (ledger/wiring.py says why).
        parts = wiring.attach(paths.ledger, config, caller) if open_ledger else None
        # Without a ledger, spending counts from the daemon's start.
        budget = BudgetManager(
            parts.ledger if parts else NoHistory(), budgets, shared=_shared_budgets(parts)
        )
        caller.hooks.append(budget)
        caller.run_hooks.append(budget)
        token_limits = TokenLimits(shared=_shared_limits(parts))
        tokens = TokenStore(parts.ledger if parts else None, cache_s=_token_cache_s(config))
        caller.hooks.append(token_limits)
        if caller.breaker is not None:
            caller.hooks.append(caller.breaker)
        return cls(
            paths=paths,
            config=config,
            registry=Registry(
                context,
                load_entry_points=load_entry_points,
                plugin_dir=paths.config_dir / "plugins",  # `superllm providers add` files
            ),
            http=http,
            keys=keys,
            caller=caller,
            budget=budget,
            ledger=parts.ledger if parts else None,
            conversations=parts.conversations if parts else Conversations(None),
            latency=latency,
            tokens=tokens,
            people=People(parts.ledger if parts else None, on_change=tokens.invalidate),
            token_limits=token_limits,
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
            return [t for n in names for t in self.targets(n, settings, environ)]
        return self.targets(name, settings, environ)

    def targets(
        self, name: str | None, settings: Settings, environ: Mapping[str, str]
    ) -> list[Target]:
        """``registry.resolve``, with the config's ``[prices]`` overrides on the providers."""
        targets = self.registry.resolve(name, settings, environ)
        if settings.prices:
            for target in targets:
                target.provider.price_overrides = settings.prices
        return targets

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.http.aclose()
        if self.ledger is not None:
            await self.ledger.aclose()


def _shared_budgets(parts: wiring.LedgerParts | None) -> SharedBudgets | None:
    """Budgets reserved in the database when the ledger is PostgreSQL (several instances)."""
    if parts is None or parts.ledger.dialect != "postgres":
        return None
    from superllmd.ledger.pg import PgLedger
    from superllmd.ledger.shared import SharedBudgets

    assert isinstance(parts.ledger, PgLedger)
    return SharedBudgets(parts.ledger)


def _shared_limits(parts: wiring.LedgerParts | None) -> SharedLimits | None:
    """Tokens' rpm and tpm counted in the database when the ledger is PostgreSQL."""
    if parts is None or parts.ledger.dialect != "postgres":
        return None
    from superllmd.ledger.pg import PgLedger
    from superllmd.ledger.shared_limits import SharedLimits

    assert isinstance(parts.ledger, PgLedger)
    return SharedLimits(parts.ledger)


def _token_cache_s(config: ConfigStore) -> float:
    """``[daemon] token_cache_s`` as the daemon started (the default when the file is bad)."""
    try:
        return config.get(os.environ).daemon.token_cache_s
    except ConfigError:
        return CACHE_S


def _breaker(config: ConfigStore) -> CircuitBreaker:
    """The circuit breaker with ``[daemon] breaker_*`` as the daemon started (defaults when
    the file is bad: the daemon reports that on its own)."""
    try:
        daemon = config.get(os.environ).daemon
    except ConfigError:
        return CircuitBreaker()
    return CircuitBreaker(daemon.breaker_threshold, daemon.breaker_cooldown)
