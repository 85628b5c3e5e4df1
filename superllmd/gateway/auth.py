"""The TCP door's token check: pure ASGI, before any route, on every request.

The token comes in ``Authorization: Bearer ...`` (OpenAI clients, curl) or ``x-api-key``
(Anthropic clients). It is checked per request, not per connection, so a token revoked or
expired while a keep-alive connection stays open is refused on that connection's next
request. An admitted request carries the token in ``scope["state"]``, and its answer the
``x-ratelimit-*`` headers. Refusals use one error body that the native client, OpenAI's
SDK and Anthropic's SDK all read: ``{"type": "error", "error": {"type", "code", "message"}}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from superllmd.errors import GatewayDenied, GatewayRateLimited, SuperllmError
from superllmd.gateway import DOOR_KEY, TOKEN_KEY

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from superllmd.gateway.limits import TokenLimits
    from superllmd.gateway.tokens import TokenStore

__all__ = ["TokenAuth", "error_body"]

_VENDOR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    402: "insufficient_quota",
    400: "invalid_request_error",
    404: "not_found_error",
}


def error_body(error: SuperllmError) -> bytes:
    """An error both vendors' SDKs and superllm's own client understand."""
    kind = _VENDOR_TYPES.get(error.http_status, "api_error")
    return json.dumps(
        {"type": "error", "error": {**error.to_dict(), "type": kind, "param": None}}
    ).encode()


def _secret(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and rest.strip():
                return str(rest.strip())
        elif name == b"x-api-key" and value:
            return str(value.decode("latin-1").strip())
    return None


class TokenAuth:
    """Wraps the TCP door's app: 401 without a live token, 429 over its rpm/tpm."""

    def __init__(self, app: ASGIApp, tokens: TokenStore, limits: TokenLimits) -> None:
        self.app = app
        self.tokens = tokens
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = []
        token = None
        try:
            secret = _secret(scope)
            if secret is None:
                raise GatewayDenied(
                    "this door needs a token: send `Authorization: Bearer TOKEN` (or "
                    "`x-api-key: TOKEN`); create one with `superllm serve token create NAME`"
                )
            token = await self.tokens.check(secret)
            if token is None:
                raise GatewayDenied(
                    "the token is unknown, revoked or expired; create a new one with "
                    "`superllm serve token create NAME`"
                )
            headers = await self.limits.check(token)
        except SuperllmError as exc:
            if token is not None and isinstance(exc, GatewayRateLimited):
                # A 429 tells of the limits too, as OpenAI's do: of the window that refused
                # (every instance's, when the windows are shared).
                headers = exc.limit_headers or self.limits.headers(token)
            await _refuse(scope, receive, send, exc, headers)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state[DOOR_KEY] = "tcp"
        state[TOKEN_KEY] = token
        if not headers or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    error: SuperllmError,
    limits: list[tuple[bytes, bytes]],
) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 4401 if error.http_status == 401 else 4429})
        return
    headers = [(b"content-type", b"application/json"), *limits]
    if error.http_status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if isinstance(error, GatewayRateLimited):
        headers.append((b"retry-after", str(error.details.get("retry_after", 1)).encode()))
    body = error_body(error)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
