"""Request parsing and error responses shared by the route modules."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from superllmd.errors import ConfigError, SuperllmError, UsageError
from superllmd.gateway import token_of
from superllmd.protocol import NDJSON, Event
from superllmd.state import DaemonState

__all__ = [
    "PRESENT_PARAM",
    "env_names",
    "error_response",
    "internal_error",
    "ndjson_response",
    "query_environ",
    "read_body",
    "state_of",
    "wants_stream",
]

T = TypeVar("T")
log = logging.getLogger("superllmd")

PRESENT_PARAM = "present"
_SET = "set"  # stands in for a value a GET route never sees
_ENV_PREFIX = "SUPERLLM_"


def state_of(request: Request) -> DaemonState:
    state: DaemonState = request.app.state.daemon
    return state


def _max_body_bytes(request: Request) -> int:
    try:
        megabytes = state_of(request).settings(None).daemon.max_request_mb
    except (SuperllmError, AttributeError):  # a broken config fails the request on its own
        megabytes = 32.0
    return int(megabytes * 1024 * 1024)


def _too_big(size: int, limit: int) -> UsageError:
    return UsageError(
        f"the request is {size / 1048576:.1f} MB, more than daemon.max_request_mb "
        f"({limit / 1048576:g}); send less, or raise it with "
        "`superllm config set daemon.max_request_mb N`"
    )


async def _read_limited(request: Request) -> bytes:
    """The body, refused past ``daemon.max_request_mb`` before it is all in memory."""
    limit = _max_body_bytes(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_big(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_big(size, limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    request._body = raw  # what Request.body() would have cached, for later readers
    return raw


async def read_body(request: Request, adapter: TypeAdapter[T]) -> T:
    raw = await _read_limited(request)
    if b"NaN" in raw or b"Infinity" in raw:  # cheap test first: a real parse only if needed
        _refuse_non_finite(raw)
    try:
        return adapter.validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"invalid request: {problems}") from None


def _refuse_non_finite(raw: bytes) -> None:
    """JSON has no NaN or Infinity; Python's parsers accept them, and they break every
    comparison (budgets, bounds) and the JSON sent upstream."""

    def refuse(token: str) -> None:
        raise UsageError(f"invalid request: {token} is not a number JSON allows; send a finite one")

    with contextlib.suppress(ValueError):  # not JSON at all: validation says so next
        json.loads(raw, parse_constant=refuse)


def wants_stream(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


def error_response(error: SuperllmError) -> JSONResponse:
    return JSONResponse({"error": error.to_dict()}, status_code=error.http_status)


def internal_error(exc: BaseException, where: str) -> SuperllmError:
    """Log an unexpected exception with its traceback; the error the client gets instead."""
    log.error("internal error while serving %s", where, exc_info=exc)
    return SuperllmError(
        f"internal error in the daemon ({type(exc).__name__}) while serving {where}; "
        "see `superllm daemon logs` and report it",
    )


def ndjson_response(events: AsyncIterator[Event]) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        run_id = ""
        try:
            async for event in events:
                run_id = str(event.get("run_id", run_id))
                yield json.dumps(event, separators=(",", ":")).encode() + b"\n"
        except Exception as exc:
            # Mid-stream the status is sent: end the stream with an error and a result, so the
            # client reports it instead of "the daemon stopped mid-answer".
            error = internal_error(exc, "a streamed run").to_dict()
            ending: tuple[dict[str, Any], ...] = (
                {"type": "error", "run_id": run_id, "participant": None, **error},
                {
                    "type": "run.finished",
                    "run_id": run_id,
                    "result": {"run_id": run_id, "error": error},
                },
            )
            for item in ending:
                yield json.dumps(item, separators=(",", ":")).encode() + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)


def query_environ(request: Request, *, present: bool = False) -> dict[str, str]:
    """The client's environment, as a GET or DELETE (no body) carries it: its ``SUPERLLM_*``
    settings as query parameters; with ``present``, also the *names* of its set provider
    variables (``present=A,B``), each standing for a value the route never needs to see."""
    if token_of(request) is not None:  # a token holder's environment is never used
        return {}
    params = request.query_params
    env = {k: v for k, v in params.items() if k.startswith(_ENV_PREFIX)}
    if present:
        for raw in params.get(PRESENT_PARAM, "").split(","):
            name = raw.strip()
            if name and not name.startswith(_ENV_PREFIX):
                env.setdefault(name, _SET)
    return env


def env_names(state: DaemonState) -> tuple[list[str], str]:
    """What a client forwards besides ``SUPERLLM_*`` (the registry's provider variables for
    the current config), and the tag that names this list (empty while config is broken)."""
    try:
        settings = state.settings(None)
    except ConfigError:
        return [], ""
    names = list(state.registry.env_names(settings))
    return names, hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
