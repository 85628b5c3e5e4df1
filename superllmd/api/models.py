"""``GET /v1/models``: the models superllm knows, with capabilities and prices.

From the shipped catalog, each configured provider's ``models``, the local models found on
this machine, and each provider's own model list as ``POST /v1/models/refresh`` last cached
it (a listed model the catalog does not know is unpriced; its window is the list's). Filters
as query parameters: ``provider``, ``capability`` (repeatable or comma-separated),
``max_price`` (USD per million tokens, input and output alike; unpriced models never pass
it). No remote listing is fetched here: it must answer at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import query_environ, state_of
from superllmd.api.listings import cache_of, endpoint
from superllmd.config import Settings
from superllmd.errors import SuperllmError, UsageError
from superllmd.listings import ServedModel
from superllmd.providers import catalog
from superllmd.providers.base import Capabilities
from superllmd.providers.selection import CAPABILITIES, has_capabilities
from superllmd.state import DaemonState

__all__ = ["known_models", "list_models"]


def _row(name: str, caps: Capabilities, latency: float | None, listed: bool) -> dict[str, Any]:
    entry = catalog.entry(name)
    row: dict[str, Any] = {"model": name, "provider": name.partition("/")[0]}
    row.update(dataclasses.asdict(caps))
    row["priced"] = caps.price_input is not None and caps.price_output is not None
    row["price_as_of"] = entry.price.as_of.isoformat() if entry and entry.price else None
    row["latency_ms"] = None if latency is None else round(latency)
    row["listed"] = listed
    return row


def known_models(
    state: DaemonState,
    settings: Settings,
    environ: Mapping[str, str],
    listed: set[str] | None = None,
) -> dict[str, Capabilities]:
    """Every model of a configured provider: the catalog's, the config's, local ones and the
    cached lists; the names found in a cached list are added to ``listed``."""
    table = state.registry.provider_settings(settings)
    cache = cache_of(state.paths)
    names: dict[str, Capabilities] = {}
    for name in catalog.load().models:
        if name.partition("/")[0] in table:
            names[name] = catalog.capabilities(name)
    for pid, (kind_name, provider_settings) in table.items():
        kind = state.registry.kinds[kind_name]
        configured = [*provider_settings.models, *kind.embedded_models(provider_settings)]
        cached = cache.load(pid)
        if not configured and cached is None:
            continue
        try:
            provider = kind.create(pid, provider_settings, environ)
        except SuperllmError:  # not usable as configured (e.g. Azure without an endpoint)
            continue
        for model in configured:
            names.setdefault(f"{pid}/{model}", provider.capabilities(model))
        # A list fetched from another server (the base URL changed since) is not this one's.
        if cached is not None and cached.base_url != endpoint(provider, kind, provider_settings):
            cached = None
        for served in cached.models if cached else ():
            name = f"{pid}/{served.id}"
            if listed is not None:
                listed.add(name)
            if name not in names:
                names[name] = _with_listed_limits(provider.capabilities(served.id), served)
    return names


def _with_listed_limits(caps: Capabilities, served: ServedModel) -> Capabilities:
    """The catalog's limits where it has them, else what the provider's list said."""
    return dataclasses.replace(
        caps,
        context_window=caps.context_window or served.context_window,
        max_output=caps.max_output or served.max_output,
    )


async def list_models(request: Request) -> Response:
    state = state_of(request)
    params = request.query_params
    environ = query_environ(request)
    settings = state.settings(environ)
    wanted = [c for raw in params.getlist("capability") for c in raw.split(",") if c]
    if bad := [c for c in wanted if c not in CAPABILITIES]:
        raise UsageError(
            f"unknown capability {', '.join(bad)}; choose from {', '.join(CAPABILITIES)}"
        )
    try:
        max_price = float(params["max_price"]) if "max_price" in params else None
    except ValueError:
        raise UsageError("max_price takes a number of USD per million tokens") from None
    only = params.get("provider")
    listed: set[str] = set()
    names = known_models(state, settings, environ, listed)
    rows = []
    for name, caps in sorted(names.items()):
        if only and name.partition("/")[0] != only:
            continue
        if wanted and not has_capabilities(caps, wanted):
            continue
        if max_price is not None and not (
            caps.price_input is not None
            and caps.price_output is not None
            and max(caps.price_input, caps.price_output) <= max_price
        ):
            continue
        rows.append(_row(name, caps, state.latency.ms.get(name), name in listed))
    return JSONResponse(rows)
