"""``POST /v1/embed``: embeddings from any provider that offers them."""

from __future__ import annotations

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import read_body, state_of
from superllmd.errors import UsageError
from superllmd.gateway import environ_of, token_of
from superllmd.protocol import EmbedRequest

__all__ = ["embed"]

_EMBED = TypeAdapter(EmbedRequest)


async def embed(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _EMBED)
    environ = environ_of(body, token_of(request)) or {}
    settings = state.settings(environ or None)
    name = body.get("model") or settings.default_embedding_model
    if not name:
        raise UsageError(
            "no embedding model: pass -m provider/model (e.g. openai/text-embedding-3-small) "
            "or set default_embedding_model"
        )
    if not body["texts"]:
        raise UsageError("nothing to embed: give texts as arguments or lines on stdin")
    target = (await state.resolve(name, settings, environ))[0]
    vectors = await target.provider.embed(target.model, list(body["texts"]))
    return JSONResponse(
        {
            "model": target.name,
            "dimensions": len(vectors[0]) if vectors else 0,
            "vectors": vectors,
        }
    )
