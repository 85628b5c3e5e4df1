"""``GET /v1/health``: what the daemon is and whether it is ready."""

from __future__ import annotations

import asyncio
import os
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd import API_VERSION, __version__
from superllmd.api._common import env_names, state_of
from superllmd.errors import ConfigError
from superllmd.paths import daemon_paths
from superllmd.protocol import Health

__all__ = ["health"]


async def health(request: Request) -> Response:
    state = state_of(request)
    config_error: str | None = None
    ready: list[str] = []
    try:
        ready = sorted(state.registry.provider_settings(state.settings(None)))
    except ConfigError as exc:
        config_error = exc.message
    body: Health = {
        "version": __version__,
        "api_version": API_VERSION,
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - state.started, 3),
        "providers_ready": ready,
        "config_error": config_error,
        "paths": daemon_paths(state.paths),
    }
    body["env_names"], body["env_tag"] = env_names(state)
    body["tasks"] = len(asyncio.all_tasks())  # for the soak (bench/soak.py): flat or leaking
    if state.caller.breaker is not None:  # providers that failed lately, and their circuits
        body["circuits"] = state.caller.breaker.snapshot()
    return JSONResponse(body)
