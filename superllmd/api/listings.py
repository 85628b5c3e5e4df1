"""``POST /v1/models/refresh``: ask providers which models they serve, and cache the lists.

Each provider's ``served_models()`` goes straight to its models list endpoint (``/v1/models``,
``/api/tags``, the vendors' own), under a deadline (default 10 s), and the list is written to
the cache folder with its fetch time (see :mod:`superllmd.listings`). ``GET /v1/models`` then
offers those models too: a model the catalog does not know is shown unpriced. One provider's
failure is its own row (``ok: false`` and the error), never the batch's.

Without ids, the providers worth checking are refreshed (as by ``superllm providers check``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import read_body, state_of
from superllmd.api.checks import DEFAULT_TIMEOUT, require_known, worth_checking
from superllmd.config import ProviderSettings
from superllmd.errors import ProviderError, ProviderTimeout, SuperllmError
from superllmd.gateway import environ_of, token_of
from superllmd.listings import Listing, ListingCache
from superllmd.paths import Paths
from superllmd.protocol import ModelListing, ModelsRefreshRequest
from superllmd.providers.base import Provider, ProviderKind
from superllmd.state import DaemonState

__all__ = ["cache_of", "endpoint", "refresh_models"]

_BODY = TypeAdapter(ModelsRefreshRequest)
log = logging.getLogger(__name__)


def cache_of(paths: Paths) -> ListingCache:
    """Where the daemon keeps the lists (``cache/models/``)."""
    return ListingCache(paths.cache_dir / "models")


def endpoint(provider: Provider, kind: ProviderKind, settings: ProviderSettings) -> str:
    """Where ``provider`` is served from, as a cached list records it."""
    base_url = getattr(provider, "base_url", None)
    return base_url if isinstance(base_url, str) else kind.describe(provider.id, settings)


async def refresh_models(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _BODY)
    env = environ_of(body, token_of(request))
    settings = state.settings(env)
    environ: Mapping[str, str] = os.environ if env is None else env
    table = state.registry.provider_settings(settings)
    ids = list(dict.fromkeys(body.get("ids") or ())) or await worth_checking(
        state, settings, environ
    )
    require_known(ids, table)
    timeout = body.get("timeout", DEFAULT_TIMEOUT)
    rows = await asyncio.gather(
        *(_refresh(state, pid, *table[pid], environ, timeout) for pid in ids)
    )
    return JSONResponse(list(rows))


async def _refresh(
    state: DaemonState,
    pid: str,
    kind_name: str,
    settings: ProviderSettings,
    environ: Mapping[str, str],
    timeout: float,
) -> ModelListing:
    kind = state.registry.kinds[kind_name]
    probe = settings.model_copy(update={"timeout": min(settings.timeout, timeout)})
    started = time.monotonic()
    error: SuperllmError | None = None
    listing: Listing | None = None
    try:
        async with asyncio.timeout(timeout):
            provider = kind.create(pid, probe, environ)
            served = await provider.served_models()
        unique = list({m.id: m for m in served}.values())
        listing = cache_of(state.paths).save(pid, endpoint(provider, kind, settings), unique)
    except TimeoutError:
        error = ProviderTimeout(f"{pid} did not list its models within {timeout:g} s", provider=pid)
    except SuperllmError as exc:
        error = exc
    except OSError as exc:  # the cache folder: the list was fetched but cannot be kept
        error = SuperllmError(f"cannot write the model list of {pid}: {exc.strerror or exc}")
    except Exception as exc:  # a plugin's bug: its row says so, the batch goes on
        log.warning("listing the models of %s raised %s", pid, type(exc).__name__)
        error = ProviderError(
            f"{pid} failed with {type(exc).__name__}, an error its plugin does not translate",
            provider=pid,
        )
    return {
        "id": pid,
        "ok": error is None,
        "count": len(listing.models) if listing else 0,
        "fetched_at": listing.fetched_at.isoformat(timespec="seconds") if listing else None,
        "latency_ms": round((time.monotonic() - started) * 1000),
        "error": None if error is None else {"code": error.code, "message": error.message},
    }
