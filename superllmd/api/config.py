"""``GET /v1/config`` (effective settings) and ``PUT /v1/config`` (set one key)."""

from __future__ import annotations

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import query_environ, read_body, state_of
from superllmd.config_edit import set_key
from superllmd.protocol import ConfigSetRequest

__all__ = ["get_config", "put_config"]

_SET = TypeAdapter(ConfigSetRequest)


async def get_config(request: Request) -> Response:
    state = state_of(request)
    settings = state.settings(query_environ(request))
    return JSONResponse(
        {"path": str(state.paths.config_file), "settings": settings.model_dump(mode="json")}
    )


async def put_config(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _SET)
    set_key(state.paths.config_file, body["key"], body["value"], {})
    state.config.invalidate()
    return JSONResponse({"path": str(state.paths.config_file), "key": body["key"]})
