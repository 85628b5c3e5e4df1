"""``GET /v1/providers``: every provider the registry offers, and where its key would come from.

The answer names the *source* of a key (``keyring``, ``$GROQ_API_KEY``, ``api_key_cmd``),
never its value. The client's environment applies to the request, as everywhere, but this
route needs to know only which variables are set, not what they hold: the CLI sends its
``SUPERLLM_*`` settings as ``NAME=value`` query parameters and the *names* of its other set
variables in ``present``, so no key crosses the socket to draw a table. ``api_key_cmd`` is
reported as configured without being run; running a user's command to list providers would
be a surprise (and may prompt for a password).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import PRESENT_PARAM, query_environ, state_of
from superllmd.config import ProviderSettings
from superllmd.providers.keys import KeyResolver

__all__ = ["PRESENT_PARAM", "list_providers"]


async def _key_source(
    keys: KeyResolver,
    provider_id: str,
    settings: ProviderSettings,
    names: tuple[str, ...],
    environ: dict[str, str],
) -> str | None:
    # Resolve without the command: see the module docstring.
    quiet = settings.model_copy(update={"api_key_cmd": None})
    found = await keys.resolve(provider_id, quiet, names, environ)
    if found is not None:
        return found.source
    return "api_key_cmd" if settings.api_key_cmd else None


async def list_providers(request: Request) -> Response:
    state = state_of(request)
    environ = query_environ(request, present=True)
    table = state.registry.provider_settings(state.settings(environ))
    breaker = state.caller.breaker
    circuits = breaker.snapshot() if breaker is not None else {}

    async def row(pid: str, kind_name: str, settings: ProviderSettings) -> dict[str, Any]:
        kind = state.registry.kinds[kind_name]
        names, needed = kind.key_plan(pid, settings)
        source = await _key_source(state.keys, pid, settings, names, environ)
        return {
            "id": pid,
            "kind": kind_name,
            "base_url": kind.describe(pid, settings) or None,
            "key_source": source,
            "key_env": list(names),
            "configured": source is not None or not needed,
            "models": list(settings.models),
            # closed / open / half_open: an open one is skipped by fallback chains.
            "circuit": circuits.get(pid, {"state": "closed"}),
        }

    rows = await asyncio.gather(
        *(row(pid, kind_name, settings) for pid, (kind_name, settings) in sorted(table.items()))
    )
    return JSONResponse(list(rows))
