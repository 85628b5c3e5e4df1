"""Forgetting on request: ``POST /v1/runs/forget`` and ``DELETE /v1/conversations/{id}``.

What goes is text: a run's prompt, answer, request, result and transcript (its row in
``superllm log``), its conversation messages and fragments. What stays is money: the
``calls`` rows, with their tokens and costs, so usage and budgets do not change when the
history is cleaned.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from superllmd.api._common import read_body, state_of
from superllmd.api.usage import ledger_of
from superllmd.errors import UsageError
from superllmd.ledger import queries
from superllmd.ledger.base import Conn
from superllmd.protocol import ForgetRunsRequest

__all__ = ["delete_conversation", "forget_runs"]

_FORGET = TypeAdapter(ForgetRunsRequest)
_IDS = "(SELECT value FROM json_each(?))"


def _run_ids(conn: Conn, run_id: str | None, before: float | None) -> list[str]:
    if run_id is not None:
        escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2", (escaped + "%",)
        ).fetchall()
        if not rows:
            raise UsageError(f"no run {run_id!r}; `superllm log` lists them")
        if len(rows) > 1:
            raise UsageError(f"{run_id!r} matches several runs; give more of the id")
        return [str(rows[0][0])]
    return [str(r[0]) for r in conn.execute("SELECT id FROM runs WHERE time < ?", (before,))]


async def forget_runs(request: Request) -> Response:
    state = state_of(request)
    ledger = ledger_of(state)
    body = await read_body(request, _FORGET)
    run_id, when = body.get("run_id"), body.get("before")
    if (run_id is None) == (when is None):
        raise UsageError("give a run id or a time to forget runs before, not both")
    before = queries.parse_when(when) if when is not None else None
    await ledger.barrier()
    ids = await ledger.read(lambda conn: _run_ids(conn, run_id, before))
    if ids:
        packed = json.dumps(ids)
        statements: list[tuple[str, tuple[object, ...]]] = [
            (f"DELETE FROM messages WHERE run_id IN {_IDS}", (packed,)),
            (f"DELETE FROM run_fragments WHERE run_id IN {_IDS}", (packed,)),
            (f"DELETE FROM runs WHERE id IN {_IDS}", (packed,)),
            ("DELETE FROM fragments WHERE hash NOT IN (SELECT hash FROM run_fragments)", ()),
        ]
        if before is not None:
            statements.append(("DELETE FROM response_cache WHERE time < ?", (before,)))
        ledger.write_many(statements)
        await ledger.barrier()
    return JSONResponse({"runs": len(ids), "run_ids": ids})


async def delete_conversation(request: Request) -> Response:
    state = state_of(request)
    ledger = ledger_of(state)
    cid = request.path_params["conversation_id"]
    await ledger.barrier()
    found = await ledger.read(
        lambda conn: conn.execute("SELECT 1 FROM conversations WHERE id = ?", (cid,)).fetchone()
    )
    if found is None:
        raise UsageError(f"no conversation {cid!r}; `superllm conversations list` shows them")
    ledger.write_many(
        [
            ("DELETE FROM messages WHERE conversation_id = ?", (cid,)),
            ("UPDATE runs SET conversation_id = NULL WHERE conversation_id = ?", (cid,)),
            ("DELETE FROM conversations WHERE id = ?", (cid,)),
        ]
    )
    await ledger.barrier()
    state.conversations.forget(cid)
    return JSONResponse({"conversation_id": cid, "deleted": True})
