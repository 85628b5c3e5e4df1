"""``GET /v1/usage``: totals and a breakdown from the ledger.

Query parameters: ``by`` (day, week, month, provider, model, mode, label), ``since`` and
``until`` (``7d``, ``today``, ``2025-01-31``, ...; read in the daemon's local time),
``provider``, ``model``, ``mode``, ``label``. The answer::

    {"by": "day", "since": 1736000000.0, "until": null,
     "totals": {"calls", "input_tokens", "output_tokens", "cached_tokens", "cost_usd",
                "cache_hits", "errors"},
     "rows": [{"day": "2025-01-31", ...same figures...}]}

``cost_usd`` is null where a call of an unpriced model is included: unknown, never 0;
``known_cost_usd`` and ``unpriced_calls`` then say what is known and how many calls were not.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import state_of
from superllmd.errors import DaemonError
from superllmd.ledger import queries
from superllmd.ledger.base import Backend
from superllmd.state import DaemonState

__all__ = ["ledger_of", "usage"]


def ledger_of(state: DaemonState) -> Backend:
    if state.ledger is None:
        raise DaemonError("this daemon runs without a ledger; restart it with `superllm daemon`")
    return state.ledger


async def usage(request: Request) -> Response:
    ledger = ledger_of(state_of(request))
    params = request.query_params
    since = queries.parse_when(params.get("since"))
    until = queries.parse_when(params.get("until"), end=True)
    by = params.get("by") or "day"
    filters = {k: params.get(k) or None for k in ("provider", "model", "mode", "label")}
    await ledger.barrier()  # every call settled so far is counted
    report = await ledger.read(
        lambda conn: queries.usage_report(conn, by=by, since=since, until=until, **filters)
    )
    return JSONResponse(report)
