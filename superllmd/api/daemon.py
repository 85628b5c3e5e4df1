"""``POST /v1/shutdown``: stop accepting work, finish what is in flight, exit."""

from __future__ import annotations

import os

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import state_of

__all__ = ["shutdown"]


async def shutdown(request: Request) -> Response:
    state = state_of(request)
    # Answer first, then stop: the client learns the pid to wait for.
    return JSONResponse(
        {"stopping": True, "pid": os.getpid()}, background=BackgroundTask(state.request_shutdown)
    )
