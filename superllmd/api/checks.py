"""``POST /v1/providers/{id}/check`` and ``POST /v1/providers/check``: is a provider answering?

A check makes the cheapest real call a dialect offers: its live model list, or, for a dialect
without one (or a server without the route), a one-token completion with the provider's first
known model. It goes straight to the provider, not through the caller: a health check must
see the first failure as it is, not after retries, and must not touch rate-limit budgets.

Each check has a deadline (default 10 s), enforced around the whole call and passed down as
the provider's HTTP timeout. The answer per provider is
``{"id", "ok", "latency_ms", "via", "model", "error": {"code", "message"} | null}``; errors
are the provider boundary's own messages, which never contain a key.

Without ids, the batch route checks the providers worth checking: those configured in
config.toml, those with a key at hand, and those with an embedded model. Presets for local
servers that may not be running (LM Studio, vLLM...) are left out unless named.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import read_body, state_of
from superllmd.config import ProviderSettings, Settings
from superllmd.errors import (
    BadRequest,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    SuperllmError,
    UnknownProvider,
    UsageError,
)
from superllmd.gateway import environ_of, token_of
from superllmd.providers.base import ChatRequest, Message, Provider
from superllmd.providers.registry import Registry
from superllmd.state import DaemonState

__all__ = [
    "DEFAULT_TIMEOUT",
    "CheckRequest",
    "check_provider",
    "check_providers",
    "require_known",
    "worth_checking",
]

DEFAULT_TIMEOUT = 10.0
log = logging.getLogger(__name__)


class CheckRequest(BaseModel):
    """The body of both routes; ``env`` is the client's environment, for this request only."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list)
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=600)
    env: dict[str, str] | None = None


_BODY = TypeAdapter(CheckRequest)


async def check_providers(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _BODY)
    env = _client_env(request, body)
    settings = state.settings(env)
    environ = _environ(env)
    table = state.registry.provider_settings(settings)
    ids = list(dict.fromkeys(body.ids)) or await worth_checking(state, settings, environ)
    require_known(ids, table)
    results = await asyncio.gather(
        *(_check(state.registry, pid, table[pid], environ, body.timeout) for pid in ids)
    )
    return JSONResponse(list(results))


async def check_provider(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _BODY)
    if body.ids:
        raise UsageError("this route checks the provider in its path; drop `ids`")
    pid = request.path_params["provider_id"]
    env = _client_env(request, body)
    table = state.registry.provider_settings(state.settings(env))
    require_known([pid], table)
    result = await _check(state.registry, pid, table[pid], _environ(env), body.timeout)
    return JSONResponse(result)


def _client_env(request: Request, body: CheckRequest) -> Mapping[str, str] | None:
    """The client's environment by the one rule every route reads it with (``environ_of``)."""
    return environ_of({"env": body.env}, token_of(request))


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def require_known(ids: list[str], table: Mapping[str, tuple[str, ProviderSettings]]) -> None:
    """Refuse (exit 2) ids the registry does not offer, naming those it does."""
    unknown = [pid for pid in ids if pid not in table]
    if unknown:
        raise UnknownProvider(
            f"unknown provider {', '.join(unknown)} (known: {', '.join(sorted(table))}); "
            "see `superllm providers list`"
        )


async def worth_checking(
    state: DaemonState, settings: Settings, environ: Mapping[str, str]
) -> list[str]:
    """The providers a batch reaches without ids: configured, keyed, or embedded."""
    chosen = []
    for pid, (kind_name, provider_settings) in sorted(
        state.registry.provider_settings(settings).items()
    ):
        kind = state.registry.kinds[kind_name]
        names, needed = kind.key_plan(pid, provider_settings)
        if (
            pid in settings.providers
            or kind.embedded_models(provider_settings)
            or (needed and await state.keys.resolve(pid, provider_settings, names, environ))
        ):
            chosen.append(pid)
    return chosen


async def _check(
    registry: Registry,
    pid: str,
    entry: tuple[str, ProviderSettings],
    environ: Mapping[str, str],
    timeout: float,
) -> dict[str, Any]:
    kind_name, settings = entry
    # No configured models, so a dialect with a live list really asks the server.
    probe = settings.model_copy(update={"timeout": min(settings.timeout, timeout), "models": []})
    outcome: dict[str, Any] = {"via": None, "model": None}
    started = time.monotonic()
    error: SuperllmError | None = None
    try:
        async with asyncio.timeout(timeout):
            provider = registry.kinds[kind_name].create(pid, probe, environ)
            outcome = await _probe(provider, settings.models)
    except TimeoutError:
        error = ProviderTimeout(f"{pid} did not answer within {timeout:g} s", provider=pid)
    except SuperllmError as exc:
        error = exc
    except Exception as exc:  # a plugin's bug: reported, never a 500 for the whole batch
        # Only the type: the text of an exception nobody translated may quote a key.
        log.warning("checking %s raised %s", pid, type(exc).__name__)
        error = ProviderError(
            f"{pid} failed with {type(exc).__name__}, an error its plugin does not translate",
            provider=pid,
        )
    return {
        "id": pid,
        "ok": error is None,
        "latency_ms": round((time.monotonic() - started) * 1000),
        **outcome,
        "error": None if error is None else {"code": error.code, "message": error.message},
    }


async def _probe(provider: Provider, known_models: list[str]) -> dict[str, Any]:
    """The cheapest call that proves the provider answers, and how it was made."""
    own = await provider.health()
    if own is not None:
        return {"via": "health", "model": own}
    if type(provider).list_models is not Provider.list_models:
        try:
            await provider.list_models()
            return {"via": "list_models", "model": None}
        except (ModelNotFound, BadRequest):
            if not known_models:  # no other way to ask; the server's answer is the result
                raise
    if not known_models:
        raise UsageError(
            f"{provider.id} lists no models, so there is nothing cheap to call; set "
            f"providers.{provider.id}.models"
        )
    model = known_models[0]
    ping = ChatRequest(model=model, messages=(Message("user", "ping"),), max_tokens=1)
    await provider.complete(ping)
    return {"via": "complete", "model": model}
