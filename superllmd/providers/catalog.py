"""What a model can do and what it costs, from the dated data file ``models.toml``.

Prices move often, so they live in data with the day they were checked and the page they came
from, never in code. The rule that matters most: a model nobody has priced is *unpriced*
(prices ``None``), never free, so a cost total that includes it is reported as unknown
rather than understated.

A user's config may price a model itself, ``[prices."provider/model"]`` with ``input``,
``output`` and ``cached_input`` (``config.PriceOverride``): the daemon puts those on the
providers it resolves for a request (``DaemonState.targets``) and ``Provider.estimate_cost``
applies them over the catalog with ``with_override``.

Example::

    from superllmd.providers import catalog
    caps = catalog.capabilities("openai/gpt-4.1-mini")
    caps.price_input  # 0.4 (USD per million input tokens)
    catalog.capabilities("openai/some-new-model").price_input  # None: unpriced
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any, Protocol

from superllmd.providers.base import Capabilities, PriceTier

__all__ = [
    "CatalogError",
    "ModelEntry",
    "Price",
    "capabilities",
    "entry",
    "load",
    "parse",
    "provider_ids",
    "with_override",
]

_FLAGS = ("streaming", "tools", "vision", "embeddings", "json_output")
_LIMITS = ("context_window", "max_output")
_PRICE_KEYS = {"input", "output", "cached_input", "cache_write", "tiers", "as_of", "source", "via"}
_TIER_KEYS = {"above", "input", "output", "cached_input"}


class CatalogError(ValueError):
    """models.toml is malformed: a packaging bug, reported with the offending entry."""


@dataclasses.dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, with where and when the figure was read."""

    input: float
    output: float
    cached_input: float | None
    as_of: datetime.date
    source: str
    via: str | None = None
    cache_write: float | None = None
    tiers: tuple[PriceTier, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str  # "provider/model"
    capabilities: Capabilities
    price: Price | None


@dataclasses.dataclass(frozen=True, slots=True)
class _Catalog:
    providers: Mapping[str, Mapping[str, Any]]
    models: Mapping[str, ModelEntry]


@functools.cache
def load() -> _Catalog:
    """Read and check models.toml once per process (it ships inside the package)."""
    text = resources.files("superllmd.providers").joinpath("models.toml").read_text("utf-8")
    return parse(tomllib.loads(text))


def parse(data: Mapping[str, Any]) -> _Catalog:
    providers = {str(pid): dict(values) for pid, values in data.get("providers", {}).items()}
    for pid, values in providers.items():
        _check_keys(f"providers.{pid}", values, set(_FLAGS) | set(_LIMITS))
    models: dict[str, ModelEntry] = {}
    for name, values in data.get("models", {}).items():
        pid, sep, model = str(name).partition("/")
        if not sep or not model:
            raise CatalogError(f"models.{name!r}: name it provider/model")
        _check_keys(f"models.{name}", values, set(_FLAGS) | set(_LIMITS) | {"price"})
        merged = {**providers.get(pid, {}), **values}
        models[name] = ModelEntry(name, _capabilities(merged), _price(name, values.get("price")))
    return _Catalog(MappingProxyType(providers), MappingProxyType(models))


def _check_keys(where: str, values: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")


def _capabilities(values: Mapping[str, Any]) -> Capabilities:
    plain = Capabilities()
    context = values.get("context_window")
    max_output = values.get("max_output")
    return Capabilities(
        streaming=bool(values.get("streaming", plain.streaming)),
        tools=bool(values.get("tools", plain.tools)),
        vision=bool(values.get("vision", plain.vision)),
        embeddings=bool(values.get("embeddings", plain.embeddings)),
        json_output=bool(values.get("json_output", plain.json_output)),
        context_window=None if context is None else int(context),
        max_output=None if max_output is None else int(max_output),
    )


def _price(name: str, raw: Any) -> Price | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - _PRICE_KEYS:
        raise CatalogError(f"models.{name}.price: expected {{{', '.join(sorted(_PRICE_KEYS))}}}")
    try:
        as_of = raw["as_of"]
        if not isinstance(as_of, datetime.date):
            raise TypeError("as_of must be a date")
        cached = raw.get("cached_input")
        price = Price(
            input=float(raw["input"]),
            output=float(raw["output"]),
            cached_input=None if cached is None else float(cached),
            as_of=as_of,
            source=str(raw["source"]),
            via=str(raw["via"]) if raw.get("via") else None,
            cache_write=None if raw.get("cache_write") is None else float(raw["cache_write"]),
            tiers=tuple(_tier(name, t) for t in raw.get("tiers", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"models.{name}.price: {exc}") from None
    if not price.source.startswith("https://"):
        raise CatalogError(f"models.{name}.price.source must be an https URL")
    return price


def _tier(name: str, raw: Any) -> PriceTier:
    if (
        not isinstance(raw, dict)
        or set(raw) - _TIER_KEYS
        or not {"above", "input", "output"} <= set(raw)
    ):
        raise CatalogError(
            f"models.{name}.price.tiers: expected {{{', '.join(sorted(_TIER_KEYS))}}}"
        )
    cached = raw.get("cached_input")
    return PriceTier(
        int(raw["above"]),
        float(raw["input"]),
        float(raw["output"]),
        None if cached is None else float(cached),
    )


def entry(name: str) -> ModelEntry | None:
    """The catalog entry for ``provider/model``, or None when the model is not listed."""
    return load().models.get(name)


def provider_ids() -> frozenset[str]:
    """Providers the catalog knows, with or without listed models."""
    cat = load()
    return frozenset(cat.providers) | frozenset(n.partition("/")[0] for n in cat.models)


def capabilities(name: str) -> Capabilities:
    """Capabilities and prices of ``provider/model``; unknown models are unpriced.

    A listed model gets its row. An unlisted model of a known provider gets that provider's
    default flags and no price; anything else gets the plain defaults and no price.
    """
    # The catalog never changes in a process, and every call's estimate and cost ask.
    known = _by_name.get(name)
    if known is not None:
        return known
    found = entry(name)
    if found is not None:
        price = found.price
        caps = found.capabilities if price is None else _with_price(found.capabilities, price)
    else:
        caps = _capabilities(load().providers.get(name.partition("/")[0], {}))
    if len(_by_name) >= _MAX_NAMES:  # names come from requests: a bound
        _by_name.clear()
    _by_name[name] = caps
    return caps


_MAX_NAMES = 4096
_by_name: dict[str, Capabilities] = {}


def _with_price(caps: Capabilities, price: Price) -> Capabilities:
    return dataclasses.replace(
        caps,
        price_input=price.input,
        price_output=price.output,
        price_cached_input=price.cached_input,
        price_cache_write=price.cache_write,
        price_tiers=price.tiers,
    )


class PriceLike(Protocol):
    """A price from config (``[prices."provider/model"]``): USD per million tokens."""

    @property
    def input(self) -> float: ...
    @property
    def output(self) -> float: ...
    @property
    def cached_input(self) -> float | None: ...


def with_override(caps: Capabilities, override: PriceLike | None) -> Capabilities:
    """``caps`` priced by a config override when there is one (the user knows best: a
    negotiated rate, a model the catalog lacks); cached input defaults to the input price."""
    if override is None:
        return caps
    return dataclasses.replace(
        caps,
        price_input=override.input,
        price_output=override.output,
        price_cached_input=override.cached_input,
    )
