"""The hooks that write the ledger: one row per provider-call attempt, one per run.

A run's row is queued as ``running`` with its first call, and a call's row as ``in_flight``
when its attempt starts and settled (one upsert) when
it ends, so a daemon killed mid-call leaves rows the next start marks ``interrupted``, and a
settled row is always complete: every write is one statement in one transaction. The run's
row, its fragments and its conversation turn are queued together when it finishes, and the
run waits for the commit before the client hears ``run.finished`` -- so whatever a client
was told, the ledger has.

Nothing here blocks: rows are built on the event loop (microseconds) and written by the
ledger's thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from superllmd.errors import SuperllmError
from superllmd.ledger.base import Backend, Statement
from superllmd.orchestrator.hooks import CallInfo, CallStatus, RunInfo
from superllmd.protocol import Event, RunResult
from superllmd.providers.base import Completion, TokenUsage

__all__ = ["SCRATCH_KEY", "LedgerRecorder", "durable"]

#: Where a route leaves the run's prepared context (conversations.Prepared) for the recorder.
SCRATCH_KEY = "ledger.prepared"

_CALL_COLUMNS = (
    "id, time, ended, run_id, mode, provider, model, participant, role, round, attempt, label, "
    "input_tokens, output_tokens, cached_tokens, cost_usd, unpriced, latency_ms, status, "
    "error_code, token"
)
_SETTLE = (
    f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({', '.join('?' * 21)}) "
    "ON CONFLICT (id) DO UPDATE SET ended = excluded.ended, input_tokens = excluded.input_tokens, "
    "output_tokens = excluded.output_tokens, cached_tokens = excluded.cached_tokens, "
    "cost_usd = excluded.cost_usd, unpriced = excluded.unpriced, "
    "latency_ms = excluded.latency_ms, status = excluded.status, error_code = excluded.error_code"
)
_RUN_COLUMNS = (
    "id, time, finished, mode, label, conversation_id, participants, prompt, answer, agreement, "
    "input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms, status, error_code, "
    "request, result, transcript, token"
)
# An upsert, not INSERT OR REPLACE: REPLACE deletes the running row without firing the
# delete trigger (SQLite fires none for REPLACE unless recursive_triggers is on), so the
# search index kept the old row's words under a rowid that no longer exists.
_FINISH_RUN = (
    f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 21)}) ON CONFLICT (id) DO UPDATE "
    "SET " + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS.split(", ")[1:])
)
# Streamed pieces repeat what the message events hold whole: not worth keeping.
_TRANSIENT = {"delta", "judge.delta"}
# A run's totals from its calls' rows: what an unfinished run did use.
_RUN_SUMS = (
    "input_tokens = (SELECT coalesce(sum(input_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "output_tokens = (SELECT coalesce(sum(output_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "cached_tokens = (SELECT coalesce(sum(cached_tokens), 0) FROM calls WHERE run_id = runs.id), "
    "cost_usd = (SELECT sum(cost_usd) FROM calls WHERE run_id = runs.id)"
)
# A run whose client went away (Ctrl-C) before it finished: interrupted, with what it used.
_ABANDONED = (
    "UPDATE runs SET status = 'interrupted', error_code = 'client_gone', finished = ?, "
    f"{_RUN_SUMS} WHERE id = ? AND status = 'running'"
)
# A call of such a run that settles after it was marked (its task cancelled a little later).
_RESUM = f"UPDATE runs SET {_RUN_SUMS} WHERE id = ? AND status = 'interrupted'"
_STARTED = "ledger.run_row"  # RunInfo.scratch: the run's row is queued


class LedgerRecorder:
    """CallHook and RunHook that write calls, runs, fragments and conversation turns.

    ``log_prompts(environ)`` says whether text may be stored for a request from that
    environment (``[daemon] log_prompts``); ``on_run(run, prepared, answer, log_prompts)``
    lets the conversation store take the finished turn.
    """

    def __init__(
        self,
        ledger: Backend,
        *,
        log_prompts: Callable[[Mapping[str, str]], bool] = lambda _: True,
        on_run: Callable[[RunInfo, Any, str | None, bool], Sequence[Statement]] | None = None,
    ) -> None:
        self.ledger = ledger
        self.log_prompts = log_prompts
        self.on_run = on_run

    # -- calls ----------------------------------------------------------------------------

    async def before_call(self, call: CallInfo) -> Completion | None:
        run, target = call.run, call.target
        if not run.scratch.get(_STARTED):
            # The run's row exists from its first call on ('running', with its prompt), so a
            # run the daemon did not live to finish is still listed; run_finished replaces
            # it, a client gone or recovery marks it interrupted.
            run.scratch[_STARTED] = True
            prepared = run.scratch.get(SCRATCH_KEY)
            prompt = prepared.user_prompt if prepared is not None else None
            self.ledger.write(
                "INSERT OR IGNORE INTO runs (id, time, mode, label, conversation_id, prompt, "
                "status, token) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)",
                (
                    run.run_id,
                    run.started_at,
                    run.mode,
                    run.label,
                    run.conversation_id,
                    prompt if prompt is not None and self.log_prompts(run.environ) else None,
                    run.token,
                ),
            )
        self.ledger.write(
            f"INSERT OR IGNORE INTO calls ({_CALL_COLUMNS}) VALUES ({', '.join('?' * 21)})",
            (
                call.call_id,
                call.started_at,
                None,
                run.run_id,
                run.mode,
                target.provider.id,
                target.model,
                call.participant,
                call.role,
                call.round,
                call.attempt,
                run.label,
                0,
                0,
                0,
                None,
                0,
                None,
                "in_flight",
                None,
                run.token,
            ),
        )
        return None

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None:
        run, target = call.run, call.target
        usage = completion.usage if completion is not None else None
        unpriced = status == "ok" and completion is not None and cost_usd is None
        settle = (
            _SETTLE,
            (
                call.call_id,
                call.started_at,
                time.time(),
                run.run_id,
                run.mode,
                target.provider.id,
                target.model,
                call.participant,
                call.role,
                call.round,
                call.attempt,
                run.label,
                usage.input_tokens if usage else 0,
                usage.output_tokens if usage else 0,
                usage.cached_tokens if usage else 0,
                cost_usd,
                int(unpriced),
                latency_ms,
                status,
                error.code if error is not None else None,
                run.token,
            ),
        )
        self.ledger.write_many((settle, (_RESUM, (run.run_id,))))

    def call_progress(self, call: CallInfo, usage: TokenUsage, cost_usd: float | None) -> None:
        """A streaming attempt's usage so far on its in-flight row: after ``kill -9`` the
        next start marks it interrupted with these tokens and this cost, not zero."""
        self.ledger.write(
            "UPDATE calls SET input_tokens = ?, output_tokens = ?, cached_tokens = ?, "
            "cost_usd = ?, unpriced = ? WHERE id = ? AND status = 'in_flight'",
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cached_tokens,
                cost_usd,
                int(cost_usd is None),
                call.call_id,
            ),
        )

    # -- runs -----------------------------------------------------------------------------

    async def run_finished(
        self,
        run: RunInfo,
        request: Mapping[str, Any],
        result: RunResult,
        transcript: Sequence[Event],
    ) -> None:
        keep_text = self.log_prompts(run.environ)
        prepared = run.scratch.get(SCRATCH_KEY)
        statements: list[Statement] = [
            (
                _FINISH_RUN,
                _run_row(run, request, result, transcript, prepared, keep_text),
            )
        ]
        if prepared is not None:
            statements += _fragment_rows(run.run_id, prepared, keep_text)
        if self.on_run is not None:
            statements += self.on_run(run, prepared, result.get("answer"), keep_text)
        self.ledger.write_many(statements)
        await self.ledger.barrier()


def _run_row(
    run: RunInfo,
    request: Mapping[str, Any],
    result: RunResult,
    transcript: Sequence[Event],
    prepared: Any,
    keep_text: bool,
) -> tuple[Any, ...]:
    error = result.get("error")
    participants = next(
        (e["participants"] for e in transcript if e["type"] == "run.started"),
        [p["model"] for p in result["participants"]],
    )
    prompt = prepared.user_prompt if prepared is not None else request.get("prompt")
    usage = result["usage"]
    return (
        run.run_id,
        run.started_at,
        time.time(),
        run.mode,
        run.label,
        run.conversation_id,
        json.dumps(participants),
        prompt if keep_text else None,
        result.get("answer") if keep_text else None,
        result.get("agreement"),
        usage["input_tokens"],
        usage["output_tokens"],
        usage["cached_tokens"],
        result["cost_usd"],
        result["latency_ms"],
        "error" if error else "ok",
        error["code"] if error else None,
        json.dumps(_public_request(request, keep_text)),
        json.dumps(result if keep_text else _without_text(result)),
        json.dumps([e for e in transcript if e["type"] not in _TRANSIENT]) if keep_text else None,
        run.token,
    )


def _public_request(request: Mapping[str, Any], keep_text: bool) -> dict[str, Any]:
    """The request as worth keeping: never ``env`` (it carries the client's keys), never the
    prompt (it is the run's ``prompt`` column: stored once; reads put it back), fragments by
    count (they are kept apart), images by size and type only, text only when prompts are
    logged."""
    skip = ("env", "attachments", "fragments", "prompt")
    out = {k: v for k, v in request.items() if k not in skip}
    if request.get("attachments"):
        out["attachments"] = [
            {"media_type": a.get("media_type"), "bytes": len(a.get("data", "")) * 3 // 4}
            for a in request["attachments"]
        ]
    if request.get("fragments"):
        out["fragments"] = len(request["fragments"])
    if not keep_text:
        for key in ("system", "workflow"):
            out.pop(key, None)
    return out


def _without_text(result: RunResult) -> dict[str, Any]:
    out: dict[str, Any] = dict(result)
    out["answer"] = None
    out["participants"] = [{**p, "answer": None} for p in result["participants"]]
    out["judge"] = None
    out.pop("report", None)
    return out


def _fragment_rows(run_id: str, prepared: Any, keep_text: bool) -> list[Statement]:
    now = time.time()
    rows: list[Statement] = []
    for position, (digest, text) in enumerate(
        zip(prepared.fragments, prepared.fragment_texts, strict=True)
    ):
        rows.append(
            (
                "INSERT INTO fragments (hash, created, size, content) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (hash) DO UPDATE SET content = coalesce(content, excluded.content)",
                (digest, now, len(text.encode()), text if keep_text else None),
            )
        )
        rows.append(
            (
                "INSERT OR IGNORE INTO run_fragments (run_id, hash, position) VALUES (?, ?, ?)",
                (run_id, digest, position),
            )
        )
    return rows


async def durable(
    events: AsyncIterator[Event], ledger: Backend | None, *, hold: bool = True
) -> AsyncIterator[Event]:
    """Pass ``events`` on, holding each answer back until the ledger has committed its call:
    a client that saw a ``message`` may rely on the ledger having it, and one that saw a
    call's first delta may rely on that call's row having tokens (its progress, written
    before the delta). Closing this closes ``events`` at once (a client gone: its calls are
    reported interrupted now, not at GC), and a run closed before ``run.finished`` has its
    row marked interrupted with what its calls used. ``hold=False`` keeps only that last
    part (a caller that waits for ``run.finished`` anyway)."""
    streaming: set[tuple[Any, Any, str]] = set()
    run_id: str | None = None
    finished = False
    try:
        async for event in events:
            kind = event["type"]
            run_id = event.get("run_id") or run_id
            finished = finished or kind == "run.finished"
            if ledger is None or not hold:
                pass
            elif kind in ("message", "judge.message"):
                await ledger.barrier()
            elif kind in ("delta", "judge.delta"):
                key = (event.get("participant"), event.get("round"), kind)
                if key not in streaming:
                    streaming.add(key)
                    await ledger.barrier()
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
        if ledger is not None and run_id is not None and not finished:
            ledger.write(_ABANDONED, (time.time(), run_id))
