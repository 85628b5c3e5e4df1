"""``/v1/gateway/users`` and ``/v1/gateway/teams``: a team gateway's users and teams
(socket door only; see superllmd/gateway/people.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# typing_extensions, not typing: pydantic needs its TypedDict before Python 3.12.
from typing_extensions import TypedDict

from superllmd.api._common import read_body, state_of
from superllmd.errors import UsageError

__all__ = [
    "create_team",
    "create_user",
    "list_teams",
    "list_users",
    "remove_team",
    "remove_user",
]


class PersonRequest(TypedDict, total=False):
    name: str
    team: str | None
    budget_daily: Annotated[float, Field(ge=0)] | None


_CREATE = TypeAdapter(PersonRequest)


async def _body(request: Request) -> PersonRequest:
    body = await read_body(request, _CREATE)
    if not body.get("name"):
        raise UsageError("a name is needed")
    return body


async def create_user(request: Request) -> Response:
    body = await _body(request)
    await state_of(request).people.create_user(
        body["name"], body.get("team"), body.get("budget_daily")
    )
    return JSONResponse({"user": body["name"]})


async def create_team(request: Request) -> Response:
    body = await _body(request)
    await state_of(request).people.create_team(body["name"], body.get("budget_daily"))
    return JSONResponse({"team": body["name"]})


async def list_users(request: Request) -> Response:
    return JSONResponse({"users": await state_of(request).people.list("user")})


async def list_teams(request: Request) -> Response:
    return JSONResponse({"teams": await state_of(request).people.list("team")})


async def remove_user(request: Request) -> Response:
    name = request.path_params["name"]
    await state_of(request).people.remove("user", name)
    return JSONResponse({"removed": name})


async def remove_team(request: Request) -> Response:
    name = request.path_params["name"]
    await state_of(request).people.remove("team", name)
    return JSONResponse({"removed": name})
