"""``/v1/gateway/tokens``: create, list and revoke the TCP door's tokens (socket door only)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# typing_extensions, not typing: pydantic needs its TypedDict before Python 3.12.
from typing_extensions import TypedDict

from superllmd.api._common import read_body, state_of
from superllmd.errors import UsageError

__all__ = ["create_token", "list_tokens", "revoke_token"]


class TokenRequest(TypedDict, total=False):
    name: str
    budget_daily: Annotated[float, Field(ge=0)] | None
    rpm: Annotated[int, Field(ge=1)] | None
    tpm: Annotated[int, Field(ge=1)] | None
    models: list[str]
    expires: float | None
    user: str | None


_CREATE = TypeAdapter(TokenRequest)


async def create_token(request: Request) -> Response:
    body = await read_body(request, _CREATE)
    name = body.get("name")
    if not name:
        raise UsageError("a token needs a name")
    secret = await state_of(request).tokens.create(
        name,
        budget_daily=body.get("budget_daily"),
        rpm=body.get("rpm"),
        tpm=body.get("tpm"),
        models=body.get("models"),
        expires=body.get("expires"),
        user=body.get("user"),
    )
    return JSONResponse({"name": name, "token": secret})


async def list_tokens(request: Request) -> Response:
    return JSONResponse({"tokens": await state_of(request).tokens.list()})


async def revoke_token(request: Request) -> Response:
    name = request.path_params["name"]
    if not await state_of(request).tokens.revoke(name):
        raise UsageError(f"no live token named {name!r}; see `superllm serve token list`")
    return JSONResponse({"revoked": name})
