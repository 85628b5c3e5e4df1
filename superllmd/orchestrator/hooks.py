"""Seams on the call path for the ledger, budgets and the response cache.

Every provider call passes through ``Caller.call``; each *attempt* is announced to the call
hooks before it is sent and after it settles, so the ledger can write one row per provider
call (an interrupted one included) and budgets can reserve and settle. Every run, when it
finishes, is handed to the run hooks with its transcript.

    before_call   async; may raise BudgetExceeded (nothing is sent), or return a Completion
                  to answer without calling the provider (the response cache)
    after_call    sync and quick (it runs during cancellation too): status is "ok", "error",
                  "refused" (by a budget: nothing sent), "interrupted" or "cached"
    call_progress optional, sync and quick: a streaming attempt's usage and cost so far
                  (ProgressHook), so what it used is known before it settles
    run_finished  async; the run's request, result and transcript
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from superllmd.errors import SuperllmError
from superllmd.ids import random_hex
from superllmd.protocol import Event, Mode, RunResult
from superllmd.providers.base import ChatRequest, Completion, TokenUsage

if TYPE_CHECKING:
    from superllmd.providers.registry import Target

__all__ = ["CallHook", "CallInfo", "CallStatus", "ProgressHook", "RunHook", "RunInfo"]

# "refused": a before_call hook (a budget) refused the attempt, so nothing was sent.
CallStatus = Literal["ok", "error", "refused", "interrupted", "cached"]

# Bounds for reserving money before a call (see CallInfo.input_token_bound). Chat formats add
# 3-4 tokens per message and 3 to prime the reply (OpenAI's cookbook); twice that is kept.
MESSAGE_OVERHEAD_TOKENS = 8
REQUEST_OVERHEAD_TOKENS = 16
# The worst vendor count for one image: gpt-4o-mini at high detail (2,833 + 5,667 per tile,
# 8 tiles) is about 48,200; Anthropic caps an image near 1,600, Gemini at 258 per tile.
IMAGE_TOKEN_BOUND = 48_500


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
    # The user and team the token belongs to, and their daily budgets (team gateways).
    user: str | None = None
    user_daily_usd: float | None = None
    team: str | None = None
    team_daily_usd: float | None = None
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
    call_id: str = field(default_factory=lambda: random_hex(16))
    started_at: float = field(default_factory=time.time)
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def estimated_input_tokens(self) -> int:
        # ~4 characters a token: a likely count, for rate limits (tpm), not for money.
        return max(sum(len(m.content) for m in self.request.messages) // 4, 1)

    @property
    def input_token_bound(self) -> int:
        """At most this many input tokens, whatever the vendor's tokenizer: what a budget
        reserves. Byte-level BPE (OpenAI, Anthropic, Llama, Mistral) and SentencePiece with
        byte fallback (Gemini) never spend more than one token per UTF-8 byte; chat formats
        add a few tokens per message (OpenAI documents 3-4) and per request; options (tools,
        schemas) are sent as JSON; an image costs at most IMAGE_TOKEN_BOUND."""
        request = self.request
        total = REQUEST_OVERHEAD_TOKENS
        for message in request.messages:
            total += len(message.content.encode("utf-8", "surrogatepass"))
            total += MESSAGE_OVERHEAD_TOKENS + IMAGE_TOKEN_BOUND * len(message.attachments)
        total += sum(len(s.encode("utf-8", "surrogatepass")) for s in request.stop)
        if request.options:
            total += len(json.dumps(request.options, default=str).encode())
        return total


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


class ProgressHook(Protocol):
    """A call hook that also wants a streaming attempt's usage before it settles."""

    def call_progress(self, call: CallInfo, usage: TokenUsage, cost_usd: float | None) -> None: ...


class RunHook(Protocol):
    async def run_finished(
        self,
        run: RunInfo,
        request: Mapping[str, Any],
        result: RunResult,
        transcript: Sequence[Event],
    ) -> None: ...
