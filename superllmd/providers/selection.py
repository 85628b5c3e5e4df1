"""Model selectors: pick a model by what it can do, what it costs, or how fast it answered.

    cheapest            the cheapest usable model in the catalog
    cheapest:vision     ... that takes images (capabilities: vision, tools, json, embeddings,
                        streaming; several with commas: cheapest:vision,tools)
    fastest[:CAPS]      the usable model with the lowest latency measured by this daemon;
                        models not measured yet rank after measured ones, cheapest first
    ALIAS:CAPS          the members of an alias that have those capabilities, in order

"Usable" means its provider needs no key or has one (keyring, environment or command); a
selector never picks a model you could not call. Catalog prices are per million tokens; a
model is as cheap as its input plus output price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from superllmd.config import Settings
from superllmd.errors import ModelNotFound, UsageError
from superllmd.providers import catalog
from superllmd.providers.base import Capabilities
from superllmd.providers.keys import KeyResolver
from superllmd.providers.registry import Registry

__all__ = ["CAPABILITIES", "LatencyBook", "expand_selector", "has_capabilities", "is_selector"]

CAPABILITIES = ("vision", "tools", "json", "embeddings", "streaming")
_FIELDS = {"json": "json_output"}
_RANKERS = ("cheapest", "fastest")


@dataclass
class LatencyBook:
    """Exponentially weighted latency per model, fed by every successful call."""

    alpha: float = 0.3
    ms: dict[str, float] = field(default_factory=dict)

    def record(self, model: str, latency_ms: float) -> None:
        old = self.ms.get(model)
        self.ms[model] = latency_ms if old is None else old + self.alpha * (latency_ms - old)


def is_selector(name: str, settings: Settings) -> bool:
    head, sep, _ = name.partition(":")
    return head in _RANKERS or (bool(sep) and head in settings.aliases)


def _capabilities(spec: str) -> list[str]:
    caps = [c.strip() for c in spec.split(",") if c.strip()]
    unknown = [c for c in caps if c not in CAPABILITIES]
    if unknown:
        raise UsageError(
            f"unknown capability {', '.join(unknown)}; choose from {', '.join(CAPABILITIES)}"
        )
    return caps


def has_capabilities(caps: Capabilities, wanted: list[str]) -> bool:
    return all(bool(getattr(caps, _FIELDS.get(c, c))) for c in wanted)


def _price(caps: Capabilities) -> float:
    if caps.price_input is None or caps.price_output is None:
        return math.inf  # unpriced never wins "cheapest"
    return caps.price_input + caps.price_output


async def _usable(
    registry: Registry, settings: Settings, keys: KeyResolver, environ: Mapping[str, str]
) -> set[str]:
    usable = set()
    for pid, (kind_name, provider_settings) in registry.provider_settings(settings).items():
        kind = registry.kinds[kind_name]
        names, needed = kind.key_plan(pid, provider_settings)
        if not needed or await keys.resolve(pid, provider_settings, names, environ):
            usable.add(pid)
    return usable


async def expand_selector(
    name: str,
    registry: Registry,
    settings: Settings,
    keys: KeyResolver,
    environ: Mapping[str, str],
    latency: LatencyBook,
) -> list[str]:
    """Concrete ``provider/model`` names for a selector, best first."""
    head, _, spec = name.partition(":")
    wanted = _capabilities(spec)
    if head in settings.aliases:
        members = settings.aliases[head]
        members = [members] if isinstance(members, str) else members
        chosen = [m for m in members if has_capabilities(catalog.capabilities(m), wanted)]
        if not chosen:
            raise ModelNotFound(f"no model in alias {head!r} has {spec}")
        return chosen
    usable = await _usable(registry, settings, keys, environ)
    candidates = [
        (model, catalog.capabilities(model))
        for model in catalog.load().models
        if model.partition("/")[0] in usable
    ]
    candidates = [(n, c) for n, c in candidates if has_capabilities(c, wanted)]
    if head == "cheapest":
        candidates = [(n, c) for n, c in candidates if _price(c) < math.inf]
        candidates.sort(key=lambda nc: (_price(nc[1]), nc[0]))
    else:
        candidates.sort(key=lambda nc: (latency.ms.get(nc[0], math.inf), _price(nc[1]), nc[0]))
    if not candidates:
        what = f" with {spec}" if spec else ""
        raise ModelNotFound(
            f"no usable model{what} for {head!r}: add a key for a provider that has one "
            "(`superllm keys set ID`), see `superllm models`"
        )
    return [candidates[0][0]]
