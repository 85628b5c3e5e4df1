"""What the OpenAI and Anthropic dialects share: reading bodies, priming a run's events,
SSE framing, images given as data URLs, and the status an error answers with.

A vendor answers an error found before it starts its reply with an HTTP status; once the 200
header is out, errors only travel in-band. ``prime`` reads a run's events until the first
one that commits to an answer (text, a finished message, the run's end or its error), so a
bad model, a spent budget or a provider that fails at once still gets a real status.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from superllmd.errors import ProviderError, SuperllmError, UsageError, from_dict
from superllmd.gateway import GatewayToken, token_of
from superllmd.protocol import Event, RunResult
from superllmd.state import DaemonState

__all__ = [
    "Primed",
    "data_url_image",
    "dumps",
    "gateway_token",
    "prime",
    "read_json",
    "run_error",
    "sse",
    "state_of",
    "status_of",
]

T = TypeVar("T")
_COMMITTING = {"delta", "judge.delta", "tool_call.delta", "message", "run.finished"}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def state_of(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


def gateway_token(request: Request) -> GatewayToken | None:
    """The caller's token, set by the TCP door's auth middleware; None on the socket."""
    return token_of(request)


async def read_json(request: Request, adapter: TypeAdapter[T]) -> T:
    raw = await request.body()
    try:
        return adapter.validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UsageError(f"invalid request: {where}: {first['msg']}", param=where) from None


def data_url_image(url: str) -> dict[str, str]:
    """An attachment from ``data:image/png;base64,...``; remote URLs are refused (the daemon
    fetches nothing on a caller's behalf)."""
    if not url.startswith("data:"):
        raise UsageError(
            "images must be given inline as data: URLs (data:image/png;base64,...), "
            "not fetched from a URL",
            param="image_url",
        )
    head, _, data = url[5:].partition(",")
    media_type, _, encoding = head.partition(";")
    if encoding != "base64":
        raise UsageError("image data URLs must be base64-encoded", param="image_url")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError("the image data URL is not valid base64", param="image_url") from None
    return {"media_type": media_type, "data": data}


@dataclass
class Primed:
    """A run's first events (read before answering) and the rest of its stream."""

    head: list[Event]
    rest: AsyncIterator[Event]

    async def events(self) -> AsyncIterator[Event]:
        for event in self.head:
            yield event
        async for event in self.rest:
            yield event

    async def aclose(self) -> None:
        aclose = getattr(self.rest, "aclose", None)
        if aclose is not None:
            await aclose()


async def prime(events: AsyncIterator[Event]) -> Primed:
    """Read until the run commits to an answer. Raises what the run raises before it starts,
    and the run's own error when it failed before any text."""
    head: list[Event] = []
    iterator = aiter(events)
    try:
        async for event in iterator:
            head.append(event)
            kind = event["type"]
            if kind == "error" and event.get("participant") is None:
                raise run_error(event)
            if kind in _COMMITTING:
                break
    except BaseException:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        raise
    return Primed(head, iterator)


def run_error(event: Mapping[str, Any]) -> SuperllmError:
    """The exception an ``error`` event or a result's ``error`` stands for."""
    return from_dict({k: v for k, v in event.items() if k not in {"type", "run_id"}})


def result_error(result: RunResult) -> SuperllmError | None:
    error = result.get("error")
    return None if error is None else from_dict(dict(error))


def status_of(error: SuperllmError) -> int:
    """The HTTP status a gateway answers: the caller's faults as 4xx, the upstream's as 5xx.

    A provider refusing superllm's own key (or a key missing, or the key's rights) is not
    the caller's 401 or 403: it is a bad gateway. (A caller's bad token never gets here: the
    door answers it; a token's model patterns are ``forbidden``, the caller's 403.) The
    check is by code, since an error read back from a run's events keeps its code only.
    """
    if isinstance(error, ProviderError) and error.code in {"auth", "permission"}:
        return 502
    if error.code in {"context_too_long", "config", "bad_request", "usage"}:
        return 400
    if error.code == "no_agreement":
        return 422
    if error.code == "cancelled":
        return 499
    return error.http_status


def retry_after(error: SuperllmError) -> dict[str, str]:
    value = error.details.get("retry_after")
    if isinstance(value, int | float) and value > 0:
        return {"retry-after": str(max(int(value + 0.999), 1))}
    # A 429 always says when to come back; a limit without a hint is worth a second's wait.
    return {"retry-after": "1"} if status_of(error) == 429 else {}
