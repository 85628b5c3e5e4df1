"""Seams on the call path for the ledger, budgets and the response cache.

Every provider call passes through ``Caller.call``; each *attempt* is announced to the call
hooks before it is sent and after it settles, so the ledger can write one row per provider
call (an interrupted one included) and budgets can reserve and settle. Every run, when it
finishes, is handed to the run hooks with its transcript.

    before_call   async; may raise BudgetExceeded (nothing is sent), or return a Completion
                  to answer without calling the provider (the response cache)
    after_call    sync and quick (it runs during cancellation too): status is "ok", "error",
                  "interrupted" or "cached"
    run_finished  async; the run's request, result and transcript
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from superllmd.errors import SuperllmError
from superllmd.protocol import Event, Mode, RunResult
from superllmd.providers.base import ChatRequest, Completion

if TYPE_CHECKING:
    from superllmd.providers.registry import Target

__all__ = ["CallHook", "CallInfo", "CallStatus", "RunHook", "RunInfo"]

CallStatus = Literal["ok", "error", "interrupted", "cached"]


@dataclass
class RunInfo:
    """What hooks need to know about the run a call belongs to."""

    run_id: str
    mode: Mode
    label: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    max_cost: float | None = None  # --max-cost: USD for the whole run
    no_cache: bool = False
    cache_ttl: float | None = None
    conversation_id: str | None = None
    # The gateway token a TCP-door run is made for (None on the socket door): its name goes
    # on every ledger row of the run, and its daily budget is one more budget the run obeys.
    token: str | None = None
    token_daily_usd: float | None = None
    started_at: float = field(default_factory=time.time)
    # Hook-private bookkeeping for the whole run (e.g. what it has reserved and spent).
    scratch: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallInfo:
    """One attempt of one provider call."""

    run: RunInfo
    target: Target
    request: ChatRequest
    participant: str
    role: str
    round: int
    attempt: int
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.time)
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def estimated_input_tokens(self) -> int:
        # ~4 characters a token: good enough to reserve a budget before the real count.
        return max(sum(len(m.content) for m in self.request.messages) // 4, 1)


class CallHook(Protocol):
    async def before_call(self, call: CallInfo) -> Completion | None: ...

    def after_call(
        self,
        call: CallInfo,
        status: CallStatus,
        completion: Completion | None,
        error: SuperllmError | None,
        cost_usd: float | None,
        latency_ms: int,
    ) -> None: ...


class RunHook(Protocol):
    async def run_finished(
        self,
        run: RunInfo,
        request: Mapping[str, Any],
        result: RunResult,
        transcript: Sequence[Event],
    ) -> None: ...
