"""What every mode shares: calling a model (limits, retries, events) and the run context.

``Caller.call`` is the one place a provider is called: it waits for the provider's limits,
retries retryable failures with backoff (honouring the provider's retry-after), and turns
what happens into events. ``RunContext`` is what a mode works with: parallel calls with a
quorum, the run's own budget (calls, tokens, wall time), the transcript, and the result.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from superllmd.errors import ProviderError, SuperllmError
from superllmd.protocol import ErrorInfo, Event, ParticipantResult, RunResult, Usage
from superllmd.providers.base import ChatRequest, Completion, Message, TokenUsage
from superllmd.providers.limits import ProviderLimits
from superllmd.providers.registry import Target
from superllmd.providers.selection import LatencyBook

__all__ = [
    "CallOutcome",
    "Caller",
    "RetryPolicy",
    "RunBudget",
    "RunBudgetExhausted",
    "error_event",
    "new_run_id",
    "sum_usage",
    "total_cost",
]

Role = Literal["participant", "judge"]


def new_run_id() -> str:
    # Sortable by time, unique without coordination: ms timestamp + 48 random bits.
    return f"r{int(time.time() * 1000):x}{secrets.token_hex(6)}"


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


def error_event(run_id: str, participant: str | None, error: SuperllmError) -> Event:
    return {
        "type": "error",
        "run_id": run_id,
        "participant": participant,
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
    }


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
    ) -> AsyncIterator[Event]:
        """Call one model, yielding delta/retry events, then ``message`` or ``error``.

        Provider errors end up on ``outcome`` and in an ``error`` event, never raised. A
        stream that broke after text was shown is not retried: the reader saw it.
        """
        name = participant or target.name
        out = outcome if outcome is not None else CallOutcome(target)
        out.participant, out.round, out.role = name, round_, role
        delta_type: Literal["delta", "judge.delta"] = "judge.delta" if role == "judge" else "delta"
        estimate = sum(len(m.content) for m in request.messages) // 4 + (request.max_tokens or 0)
        started = time.perf_counter()
        while True:
            out.attempts += 1
            shown = False
            try:
                async with self.limits.slot(target.provider.id, target.provider.settings, estimate):
                    if stream:
                        async for item in target.provider.stream(request):
                            if isinstance(item, Completion):
                                out.completion = item
                            else:
                                shown = True
                                yield {  # type: ignore[misc]
                                    "type": delta_type,
                                    "run_id": run_id,
                                    "participant": name,
                                    "round": round_,
                                    "text": item.text,
                                }
                    else:
                        out.completion = await target.provider.complete(request)
                out.error = None
                break
            except (ProviderError, SuperllmError) as exc:
                out.error = exc
                wait = None if shown else self.retry.wait(out.attempts, exc, self.rng)
                if wait is None:
                    break
                yield {
                    "type": "retry",
                    "run_id": run_id,
                    "participant": name,
                    "attempt": out.attempts,
                    "code": exc.code,
                    "message": exc.message,
                    "wait_s": round(wait, 3),
                }
                await self.sleep(wait)
        out.latency_ms = int((time.perf_counter() - started) * 1000)
        if out.completion is not None:
            if self.latency is not None:
                self.latency.record(target.name, out.latency_ms)
            out.cost_usd = target.provider.estimate_cost(target.model, out.completion.usage)
            message_type: Literal["message", "judge.message"] = (
                "judge.message" if role == "judge" else "message"
            )
            yield {  # type: ignore[misc]
                "type": message_type,
                "run_id": run_id,
                "participant": name,
                "round": round_,
                "text": out.completion.text,
                "usage": usage_dict(out.completion.usage),
                "cost_usd": out.cost_usd,
                "latency_ms": out.latency_ms,
            }
        elif out.error is not None:
            yield error_event(run_id, name, out.error)


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
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "conversation_id": None,
        "calls": sum(o.attempts for o in outcomes),
    }
