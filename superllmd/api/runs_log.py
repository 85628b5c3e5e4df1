"""``GET /v1/runs[/{run_id}]`` and ``GET /v1/conversations[/{id}]``: history from the ledger.

``/v1/runs`` lists the latest runs (``limit``, ``mode``, ``label``, ``since``,
``conversation_id``), or with ``search`` the runs whose prompt or answer contain every word
(SQLite FTS5), best first. ``/v1/runs/{run_id}`` is one run in full: request, result,
transcript (every participant, round and judge decision), calls and fragments; a unique
prefix of the id will do.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import state_of
from superllmd.api.usage import ledger_of
from superllmd.errors import UsageError
from superllmd.ledger import history, queries

__all__ = ["conversation", "conversations", "list_runs", "show_run"]

MAX_LIMIT = 1000


def _limit(request: Request, default: int = 20) -> int:
    raw = request.query_params.get("limit")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise UsageError(f"limit takes a number, not {raw!r}") from None
    return max(1, min(value, MAX_LIMIT))


async def list_runs(request: Request) -> Response:
    ledger = ledger_of(state_of(request))
    params = request.query_params
    limit = _limit(request)
    search = params.get("search")
    await ledger.barrier()
    runs: list[dict[str, Any]]
    if search is not None:
        runs = await ledger.read(lambda conn: history.search_runs(conn, search, limit=limit))
    else:
        since = queries.parse_when(params.get("since"))
        runs = await ledger.read(
            lambda conn: history.list_runs(
                conn,
                limit=limit,
                mode=params.get("mode") or None,
                label=params.get("label") or None,
                since=since,
                conversation_id=params.get("conversation_id") or None,
            )
        )
    return JSONResponse({"runs": runs})


async def show_run(request: Request) -> Response:
    ledger = ledger_of(state_of(request))
    run_id = request.path_params["run_id"]
    await ledger.barrier()
    return JSONResponse(await ledger.read(lambda conn: history.get_run(conn, run_id)))


async def conversations(request: Request) -> Response:
    ledger = ledger_of(state_of(request))
    limit = _limit(request)
    await ledger.barrier()
    found = await ledger.read(lambda conn: history.list_conversations(conn, limit=limit))
    return JSONResponse({"conversations": found})


async def conversation(request: Request) -> Response:
    ledger = ledger_of(state_of(request))
    cid = request.path_params["conversation_id"]
    await ledger.barrier()
    messages = await ledger.read(lambda conn: history.conversation_messages(conn, cid))
    if messages is None:
        raise UsageError(f"no conversation {cid!r}; `superllm log` shows each run's")
    return JSONResponse(
        {
            "conversation_id": cid,
            "messages": [{"role": role, "content": content} for role, content in messages],
        }
    )
