"""``GET/PUT/DELETE /v1/budgets``: show, set and clear spending limits.

Limits live in config.toml under ``[budgets]`` (the daemon owns configuration), so a budget
set here and one written by hand are the same thing. Edits keep the file's comments and are
written only when the result is valid; what was spent comes from the budget manager.
"""

from __future__ import annotations

import re

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import query_environ, read_body, state_of
from superllmd.budget import BudgetManager
from superllmd.config import BudgetSettings
from superllmd.config_edit import set_key, unset_keys
from superllmd.errors import DaemonError, UsageError
from superllmd.protocol import BudgetSetRequest
from superllmd.state import DaemonState

__all__ = ["clear_budgets", "get_budgets", "put_budgets", "unset_keys"]

_SET = TypeAdapter(BudgetSetRequest)
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def _manager(state: DaemonState) -> BudgetManager:
    if state.budget is None:
        raise DaemonError("this daemon runs without budgets; restart it")
    return state.budget


def _scope_keys(provider: str | None, label: str | None) -> tuple[str, str]:
    """Dotted config keys of the (daily, monthly) limits of one scope; labels: daily only."""
    if provider is not None and label is not None:
        raise UsageError("a budget is for a provider or for a label, not both")
    for kind, name in (("provider", provider), ("label", label)):
        if name is not None and not _NAME.match(name):
            raise UsageError(f"{kind} {name!r}: budgets take names of letters, digits, - and _")
    if provider is not None:
        return (
            f"budgets.providers.{provider}.daily_usd",
            f"budgets.providers.{provider}.monthly_usd",
        )
    if label is not None:
        return f"budgets.labels.{label}", ""
    return "budgets.daily_usd", "budgets.monthly_usd"


def _toml_number(value: float) -> str:
    # Plain decimals, never "1e-05": what a person would write in the file by hand.
    text = f"{value:.10f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


async def get_budgets(request: Request) -> Response:
    state = state_of(request)
    settings = state.settings(query_environ(request) or None).budgets
    rows = await _manager(state).status(settings)
    return JSONResponse(
        {
            "path": str(state.paths.config_file),
            "budgets": rows,
            "block_unpriced": settings.block_unpriced,
            "warn_at": settings.warn_at,
        }
    )


async def put_budgets(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, _SET)
    provider, label = body.get("provider"), body.get("label")
    daily, monthly = body.get("daily_usd"), body.get("monthly_usd")
    if daily is None and monthly is None:
        raise UsageError("give a limit: --daily USD and/or --monthly USD")
    if any(v is not None and v < 0 for v in (daily, monthly)):
        raise UsageError("a budget is a number of US dollars, 0 or more")
    daily_key, monthly_key = _scope_keys(provider, label)
    if monthly is not None and not monthly_key:
        raise UsageError("label budgets are daily; use --daily USD with --label")
    path = state.paths.config_file
    written = []
    for key, value in ((daily_key, daily), (monthly_key, monthly)):
        if value is not None:
            set_key(path, key, _toml_number(value), {})
            written.append(key)
    state.config.invalidate()
    return JSONResponse({"path": str(path), "set": written})


async def clear_budgets(request: Request) -> Response:
    state = state_of(request)
    provider = request.query_params.get("provider") or None
    label = request.query_params.get("label") or None
    keys = [k for k in _scope_keys(provider, label) if k]
    path = state.paths.config_file
    removed = unset_keys(path, keys)
    state.config.invalidate()
    left = _still_set(state.settings(None).budgets, provider, label)
    if left:
        raise UsageError(
            f"{', '.join(left)} is still set, by a SUPERLLM_BUDGETS__* variable in the "
            f"daemon's environment or in a form this command cannot edit; edit {path}"
        )
    return JSONResponse({"path": str(path), "cleared": removed})


def _still_set(settings: BudgetSettings, provider: str | None, label: str | None) -> list[str]:
    if provider is not None:
        limits = settings.providers.get(provider)
        if limits is None:
            return []
        return [
            n
            for n, v in (("daily", limits.daily_usd), ("monthly", limits.monthly_usd))
            if v is not None
        ]
    if label is not None:
        return ["daily"] if label in settings.labels else []
    return [
        n
        for n, v in (("daily", settings.daily_usd), ("monthly", settings.monthly_usd))
        if v is not None
    ]
