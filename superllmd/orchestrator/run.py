"""What every mode shares: calling a model (limits, retries, events) and the run context.

``Caller.call`` is the one place a provider is called: it waits for the provider's limits,
retries retryable failures with backoff (honouring the provider's retry-after), and turns
what happens into events. ``RunContext`` is what a mode works with: parallel calls with a
quorum, the run's own budget (calls, tokens, wall time), the transcript, and the result.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from superllmd.errors import BudgetExceeded, ProviderError, SuperllmError
from superllmd.ids import random_hex
from superllmd.orchestrator.hooks import CallHook, CallInfo, CallStatus, RunHook, RunInfo
from superllmd.orchestrator.tooluse import calls_info
from superllmd.protocol import ErrorInfo, Event, ParticipantResult, RunResult, Usage
from superllmd.providers.base import (
    ChatRequest,
    Completion,
    Message,
    TokenUsage,
    ToolCallDelta,
)
from superllmd.providers.breaker import CircuitBreaker
from superllmd.providers.limits import ProviderLimits
from superllmd.providers.registry import Target
from superllmd.providers.selection import LatencyBook

__all__ = [
    "CallOutcome",
    "Caller",
    "RetryPolicy",
    "RunBudget",
    "RunBudgetExhausted",
    "all_failed",
    "error_event",
    "new_run_id",
    "sum_usage",
    "total_cost",
]

Role = Literal["participant", "judge"]

#: How often a streaming call's usage so far is handed to the hooks (see Caller._progress).
PROGRESS_EVERY_S = 0.5


def new_run_id() -> str:
    # Sortable by time, unique without coordination: ms timestamp + 48 random bits.
    return f"r{int(time.time() * 1000):x}{random_hex(6)}"


@dataclass
class CallOutcome:
    """How one call ended; exactly one of completion and error is set once it has."""

    target: Target
    participant: str = ""
    round: int = 0
    role: Role = "participant"
    completion: Completion | None = None
    error: SuperllmError | None = None
    latency_ms: int = 0
    cost_usd: float | None = None
    attempts: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.completion is not None

    @property
    def text(self) -> str:
        return self.completion.text if self.completion else ""

    def result(self) -> ParticipantResult:
        usage = self.completion.usage if self.completion else TokenUsage()
        error: ErrorInfo | None = None
        if self.error is not None:
            error = {"code": self.error.code, "message": self.error.message}
        return {
            "model": self.target.name,
            "answer": self.completion.text if self.completion else None,
            "error": error,
            "usage": usage_dict(usage),
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
        }


def usage_dict(usage: TokenUsage) -> Usage:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
    }


def sum_usage(outcomes: Sequence[CallOutcome]) -> Usage:
    totals = [0, 0, 0]
    for o in outcomes:
        if o.completion:
            u = o.completion.usage
            totals[0] += u.input_tokens
            totals[1] += u.output_tokens
            totals[2] += u.cached_tokens
    return {"input_tokens": totals[0], "output_tokens": totals[1], "cached_tokens": totals[2]}


def total_cost(outcomes: Sequence[CallOutcome]) -> float | None:
    """The sum, or None when any call that ran is unpriced (never pretend it was free)."""
    ran = [o for o in outcomes if o.completion is not None]
    if any(o.cost_usd is None for o in ran):
        return None
    return sum(o.cost_usd or 0.0 for o in ran)


def known_cost(outcomes: Sequence[CallOutcome]) -> tuple[float, int]:
    """(USD of the priced calls that ran, how many calls that ran had no price): what is
    shown when ``total_cost`` is unknown, so a known cost is never thrown away."""
    ran = [o for o in outcomes if o.completion is not None]
    return sum(o.cost_usd or 0.0 for o in ran), sum(o.cost_usd is None for o in ran)


def error_event(run_id: str, participant: str | None, error: SuperllmError) -> Event:
    event: Event = {
        "type": "error",
        "run_id": run_id,
        "participant": participant,
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
    }
    retry_after = error.details.get("retry_after")
    if isinstance(retry_after, int | float) and retry_after > 0:
        event["retry_after"] = float(retry_after)  # type: ignore[typeddict-unknown-key]
    return event


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a provider's retry-after wins when it gives one."""

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0
    max_retry_after: float = 60.0

    def wait(self, attempt: int, error: SuperllmError, rng: random.Random) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if attempt >= self.attempts or not error.retryable:
            return None
        retry_after = error.details.get("retry_after")
        if isinstance(retry_after, int | float) and retry_after > 0:
            return None if retry_after > self.max_retry_after else float(retry_after)
        backoff: float = min(self.base * 2 ** (attempt - 1), self.cap)
        return backoff * (1 - 0.25 * rng.random())


class RunBudgetExhausted(Exception):
    """The run's own --max-calls/--max-tokens/--timeout is spent; modes stop with what they
    have and say so in ``stopped``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RunBudget:
    max_calls: int | None = None
    max_tokens: int | None = None
    deadline: float | None = None  # time.monotonic() value
    calls: int = 0
    tokens: int = 0

    def take_call(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise RunBudgetExhausted(f"max calls ({self.max_calls}) reached")
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise RunBudgetExhausted(f"max tokens ({self.max_tokens}) reached")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise RunBudgetExhausted("timeout reached")
        self.calls += 1

    def add(self, usage: TokenUsage) -> None:
        self.tokens += usage.input_tokens + usage.output_tokens

    def remaining_time(self) -> float | None:
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)


Emit = Callable[[Event], Awaitable[None] | None]


@dataclass
class Caller:
    """Calls providers for every mode: limits, retries, events."""

    limits: ProviderLimits = field(default_factory=ProviderLimits)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    latency: LatencyBook | None = None
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    hooks: list[CallHook] = field(default_factory=list)
    run_hooks: list[RunHook] = field(default_factory=list)
    # Per-provider circuits (providers/breaker.py): fallback chains skip an open one. It is
    # also one of ``hooks``, which is how it sees every attempt.
    breaker: CircuitBreaker | None = None

    async def run_finished(
        self,
        run: RunInfo,
        request: Mapping[str, Any],
        result: RunResult,
        transcript: Sequence[Event],
    ) -> None:
        for hook in self.run_hooks:
            await hook.run_finished(run, request, result, transcript)

    async def _before(self, call: CallInfo) -> Completion | None:
        for hook in self.hooks:
            cached = await hook.before_call(call)
            if cached is not None:
                return cached
        return None

    def _after(
        self,
        call: CallInfo,
        status: CallStatus,
        out: CallOutcome,
        started: float,
        partial: Completion | None = None,
    ) -> None:
        latency = int((time.perf_counter() - started) * 1000)
        completion = out.completion or partial
        cost = None
        if completion is not None and status != "cached":  # an answer from the cache is free
            cost = call.target.provider.estimate_cost(call.target.model, completion.usage)
        elif completion is not None:
            cost = 0.0
        if out.completion is not None:  # the one price of the call: hooks, message, result
            out.cost_usd = cost
        for hook in self.hooks:
            hook.after_call(call, status, completion, out.error, cost, latency)

    async def call(
        self,
        run_id: str,
        target: Target,
        request: ChatRequest,
        *,
        stream: bool,
        round_: int = 0,
        participant: str | None = None,
        role: Role = "participant",
        outcome: CallOutcome | None = None,
        run: RunInfo | None = None,
    ) -> AsyncIterator[Event]:
        """Call one model, yielding delta/retry events, then ``message`` or ``error``.

        Provider errors end up on ``outcome`` and in an ``error`` event, never raised. A
        stream that broke after text was shown is not retried: the reader saw it. Each
        attempt is announced to the call hooks (hooks.py), an interrupted one included.
        """
        run = run if run is not None else RunInfo(run_id, "ask")
        name = participant or target.name
        out = outcome if outcome is not None else CallOutcome(target)
        out.participant, out.round, out.role = name, round_, role
        started = time.perf_counter()
        while True:
            out.attempts += 1
            call = CallInfo(run, target, request, name, role, round_, out.attempts)
            shown = False
            async for event in self._attempt(call, out, stream):
                shown = True
                yield event
            if out.error is None:
                break
            wait = None if shown else self.retry.wait(out.attempts, out.error, self.rng)
            if wait is None:
                break
            yield {
                "type": "retry",
                "run_id": run_id,
                "participant": name,
                "attempt": out.attempts,
                "code": out.error.code,
                "message": out.error.message,
                "wait_s": round(wait, 3),
            }
            await self.sleep(wait)
        out.latency_ms = int((time.perf_counter() - started) * 1000)
        if out.completion is not None:
            if self.latency is not None and not out.cached:
                self.latency.record(target.name, out.latency_ms)
            message: Any = {
                "type": "judge.message" if role == "judge" else "message",
                "run_id": run_id,
                "participant": name,
                "round": round_,
                "text": out.completion.text,
                "usage": usage_dict(out.completion.usage),
                "cost_usd": out.cost_usd,
                "latency_ms": out.latency_ms,
                "finish_reason": out.completion.finish_reason,
            }
            if out.completion.tool_calls:
                message["tool_calls"] = calls_info(out.completion.tool_calls)
            yield message
        elif out.error is not None:
            yield error_event(run_id, name, out.error)

    async def _attempt(
        self, call: CallInfo, out: CallOutcome, stream: bool
    ) -> AsyncIterator[Event]:
        """One attempt: its text deltas as events; the ending goes on ``out`` and, exactly
        once, to the hooks: settled, failed, or cut short (cancelled, the client gone)."""
        target = call.target
        delta_type = "judge.delta" if call.role == "judge" else "delta"
        started = time.perf_counter()
        status: CallStatus = "interrupted"
        out.error = None
        sent, received = False, 0  # for the usage of an attempt cut short
        reported = -1.0  # when progress last went to the hooks (monotonic); -1: never
        try:
            cached = await self._before(call)
            if cached is not None:
                out.completion, out.cached, status = cached, True, "cached"
                if stream and cached.text:
                    yield self._delta(call, delta_type, cached.text)
                return
            # Read after the hooks: a budget may have capped the answer's max_tokens.
            request = call.request
            estimate = call.estimated_input_tokens + (request.max_tokens or 0)
            async with self.limits.slot(target.provider.id, target.provider.settings, estimate):
                sent = True
                if stream:
                    async for item in target.provider.stream(request):
                        if isinstance(item, Completion):
                            out.completion = item
                            self._progress(call, item.usage)
                        elif isinstance(item, ToolCallDelta):
                            yield self._tool_delta(call, item)
                        else:
                            received += len(item.text)
                            now = time.monotonic()
                            if reported < 0 or now - reported >= PROGRESS_EVERY_S:
                                reported = now
                                self._progress(call, self._partial_usage(call, received))
                            yield self._delta(call, delta_type, item.text)
                else:
                    out.completion = await target.provider.complete(request)
            status = "ok"
        except (ProviderError, SuperllmError) as exc:
            out.error, out.completion = exc, None
            # A budget refused the call before it was sent: not the provider's failure.
            status = "refused" if isinstance(exc, BudgetExceeded) and not sent else "error"
        finally:
            partial = None
            if out.completion is None and out.error is None and sent:
                # Cut short (Ctrl-C, a client gone, shutdown): the vendor bills the prompt and
                # what it streamed, so the ledger and budgets count them (chars/4 estimates).
                usage = self._partial_usage(call, received)
                partial = Completion("", usage, finish_reason="interrupted")
            self._after(call, status, out, started, partial)

    @staticmethod
    def _tool_delta(call: CallInfo, item: ToolCallDelta) -> Event:
        event: Event = {
            "type": "tool_call.delta",
            "run_id": call.run.run_id,
            "participant": call.participant,
            "round": call.round,
            "index": item.index,
            "arguments": item.arguments,
        }
        if item.id is not None:
            event["id"] = item.id  # type: ignore[typeddict-unknown-key]
        if item.name is not None:
            event["name"] = item.name  # type: ignore[typeddict-unknown-key]
        return event

    @staticmethod
    def _partial_usage(call: CallInfo, received: int) -> TokenUsage:
        # The vendor bills the prompt and what it streamed: chars/4 estimates of both.
        return TokenUsage(call.estimated_input_tokens, -(-received // 4))

    def _progress(self, call: CallInfo, usage: TokenUsage) -> None:
        """Tell the hooks what a streaming attempt has used so far, so a daemon killed before
        it settles still leaves its tokens and cost (the first delta, then at most every
        PROGRESS_EVERY_S, and the stream's own usage as soon as it arrives)."""
        cost = call.target.provider.estimate_cost(call.target.model, usage)
        for hook in self.hooks:
            progress = getattr(hook, "call_progress", None)
            if progress is not None:
                progress(call, usage, cost)

    @staticmethod
    def _delta(call: CallInfo, kind: str, text: str) -> Event:
        return {  # type: ignore[return-value,misc]
            "type": kind,
            "run_id": call.run.run_id,
            "participant": call.participant,
            "round": call.round,
            "text": text,
        }


def all_failed(message: str, errors: Sequence[SuperllmError]) -> SuperllmError:
    """The error of a step whose every call failed: the budget's refusal when it refused them
    all (nothing was sent: exit 5), else a provider error saying ``message`` (exit 4)."""
    if errors and all(isinstance(e, BudgetExceeded) for e in errors):
        return errors[0]
    return ProviderError(message)


def messages_of(system: str | None, prompt: str) -> tuple[Message, ...]:
    head = (Message("system", system),) if system else ()
    return (*head, Message("user", prompt))


def base_result(
    run_id: str, mode: Any, outcomes: Sequence[CallOutcome], started: float
) -> RunResult:
    return {
        "run_id": run_id,
        "mode": mode,
        "answer": None,
        "participants": [],
        "judge": None,
        "usage": sum_usage(outcomes),
        "cost_usd": total_cost(outcomes),
        "known_cost_usd": known_cost(outcomes)[0],
        "unpriced_calls": known_cost(outcomes)[1],
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "conversation_id": None,
        "calls": sum(o.attempts for o in outcomes),
    }
