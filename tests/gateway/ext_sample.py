"""An extension module for the route-table test: what dialects and mcp provide."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from superllmd.gateway import door_of, token_of


async def _whoami(request: Request) -> JSONResponse:
    token = token_of(request)
    return JSONResponse({"door": door_of(request), "token": token.name if token else None})


def routes() -> list[BaseRoute]:
    return [Route("/v1/whoami", _whoami, methods=["GET"])]
