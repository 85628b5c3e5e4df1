"""``POST /v1/keys/forget``: drop cached keys after ``superllm keys set|remove``.

Keys are written to the OS keyring by the CLI itself; the daemon only caches what it read,
so it must be told when the keyring changed. No key value ever crosses the socket here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import state_of

__all__ = ["forget"]


async def forget(request: Request) -> Response:
    state = state_of(request)
    provider = request.query_params.get("provider") or None
    state.keys.forget(provider)
    return JSONResponse({"forgotten": provider or "all"})
